"""Real corpora for the benchmarks, built from text that ships with gensim.

- news-length documents (~3 KB): consecutive Lee background articles joined;
- one-line documents: the sentences of the Lee background and Lee test corpora,
  repeated with a counter to reach the wanted count (ids differ, text is real).
"""

from __future__ import annotations

import json
from pathlib import Path

from gensim.test.utils import datapath
from vecdex.indexer.textio import decode


def lee_articles() -> list[str]:
    return Path(datapath("lee_background.cor")).read_text("utf-8").splitlines()


def news_documents(n: int, target_bytes: int = 3000) -> list[str]:
    articles = lee_articles()
    docs, i = [], 0
    while len(docs) < n:
        parts, size = [], 0
        while size < target_bytes * 0.8:
            text = articles[i % len(articles)]
            parts.append(text)
            size += len(text) + 2
            i += 1
        docs.append("\n\n".join(parts))
    return docs


def sentences() -> list[str]:
    from sentence_splitter import SentenceSplitter

    splitter = SentenceSplitter("en")
    out = []
    for name in ("lee_background.cor", "lee.cor"):
        text, _ = decode(Path(datapath(name)).read_bytes())  # lee.cor is not all UTF-8
        for line in text.splitlines():
            out.extend(s for s in splitter.split(line) if len(s.split()) >= 3)
    return out


def one_line_documents(n: int) -> list[str]:
    base = sentences()
    return [base[i % len(base)] if i < len(base) else f"{base[i % len(base)]} ({i // len(base)})" for i in range(n)]


def sample_queries(n: int, words: int = 6, seed: int = 0) -> list[str]:
    """``n`` text queries: the first ``words`` words of random real sentences (seeded)."""
    import numpy as np

    pool = sentences()
    rng = np.random.default_rng(seed)
    return [" ".join(pool[i].split()[:words]) for i in rng.integers(0, len(pool), n)]


def write_jsonl(path: Path, texts: list[str]) -> int:
    with open(path, "w", encoding="utf-8") as handle:
        for i, text in enumerate(texts):
            handle.write(json.dumps({"id": str(i), "text": text}) + "\n")
    return path.stat().st_size


def write_lines(path: Path, texts: list[str]) -> int:
    path.write_text("\n".join(texts) + "\n", "utf-8")
    return path.stat().st_size
