"""Real texts that ship with gensim, by corpus, for tests that compare code paths."""

from __future__ import annotations

import bz2
from functools import lru_cache
from pathlib import Path

from vecdex.indexer.textio import decode


def _path(name: str) -> Path:
    from gensim.test.utils import datapath

    return Path(datapath(name))


def _lines(name: str) -> list[str]:
    text, _ = decode(_path(name).read_bytes())  # some are not all UTF-8
    return [line for line in text.splitlines() if line.strip()]


def _wiki(name: str, size: int = 3000, limit: int = 400) -> list[str]:
    """Wiki dumps cut into pieces of a few KB (markup, tables, many languages)."""
    # decode() honours the byte-order mark: the Bulgarian dump is UTF-16, which read
    # as UTF-8 was a NUL after every character (documents no store keeps)
    text, _ = decode(bz2.decompress(_path(name).read_bytes()))
    return [text[i : i + size] for i in range(0, min(len(text), size * limit), size)]


@lru_cache(maxsize=None)
def corpus(name: str) -> tuple[str, ...]:
    """One corpus as a tuple of documents."""
    if name == "lee":  # news articles, one per line
        return tuple(_lines("lee_background.cor") + _lines("lee.cor"))
    if name == "newsgroups":  # mail posts: quotes, signatures, code, ASCII art
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
        from quality import newsgroups

        return tuple(post["text"] for post in newsgroups())
    if name == "word-similarity":  # the pair files' lines, and each file whole
        files = ("wordsim353.tsv", "simlex999.txt", "questions-words.txt")
        return tuple(line for f in files for line in _lines(f)[:3000]) + tuple(
            decode(_path(f).read_bytes())[0] for f in files)
    if name == "reviews":  # movie review snippets
        return tuple(_lines("pang_lee_polarity.cor"))
    if name == "prose":  # a novel's opening, paragraph texts, tokenised news
        docs = [decode(_path(f).read_bytes())[0] for f in ("crime-and-punishment.txt", "para2para_text1.txt",
                                                          "para2para_text2.txt", "alldata-id-10.txt")]
        return tuple(docs + _lines("head500.noblanks.cor")[:200])
    if name == "enwiki":
        return tuple(_wiki("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"))
    if name == "bgwiki":
        return tuple(_wiki("bgwiki-latest-pages-articles-shortened.xml.bz2", size=1500))  # UTF-16: half the text
    raise KeyError(name)


CORPORA = ("lee", "newsgroups", "word-similarity", "reviews", "prose", "enwiki", "bgwiki")
