"""Sentence boundaries exactly as the ``sentence-splitter`` package draws them, faster.

``sentence-splitter`` (Koehn and Schroeder's heuristic) stays the reference: the
tests compare this module with the installed package on every document of
several real corpora. It spends most of its time running a regular expression
on every word, looking for words that end in a period (``...(\\.+)$``), although
only words whose last or second-to-last character is a period (``$`` also
matches before a final newline) can match. Here only those candidates are
examined, with the package's own patterns compiled once and the package's own
non-breaking prefix lists; every other step (the four whole-text substitutions,
splitting on spaces, the clean-up) is the package's, in the same order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import regex

# The package's four break-inserting substitutions, verbatim and in its order.
_BREAKS = [regex.compile(pattern, regex.UNICODE) for pattern in (
    # ?! followed by a sentence starter
    r'([?!]) +([\'"([\u00bf\u00A1\p{Initial_Punctuation}]*[\p{Uppercase_Letter}\p{Other_Letter}])',
    # multi-dots followed by a sentence starter
    r'(\.[\.]+) +([\'"([\u00bf\u00A1\p{Initial_Punctuation}]*[\p{Uppercase_Letter}\p{Other_Letter}])',
    # punctuation inside a quote or parenthesis, then a possible starter and upper case
    (r'([?!\.][\ ]*[\'")\]\p{Final_Punctuation}]+) +([\'"([\u00bf\u00A1\p{Initial_Punctuation}]*[\ ]*'
     r'[\p{Uppercase_Letter}\p{Other_Letter}])'),
    # punctuation, then starter punctuation (no "(" here, as in the package) and upper case
    r'([?!\.]) +([\'"[\u00bf\u00A1\p{Initial_Punctuation}]+[\ ]*[\p{Uppercase_Letter}\p{Other_Letter}])',
)]
_SPACES = regex.compile(r" +", regex.UNICODE)
_ENDS_IN_PERIOD = regex.compile(r"([\w\.\-]*)([\'\"\)\]\%\p{Final_Punctuation}]*)(\.+)$", regex.UNICODE)
_ACRONYM = regex.compile(r"(\.)[\p{Uppercase_Letter}\p{Other_Letter}\-]+(\.+)$", regex.UNICODE)
_NEXT_STARTS_SENTENCE = regex.compile(
    r"^([ ]*[\'\"([\u00bf\u00A1\p{Initial_Punctuation}]*[ ]*[\p{Uppercase_Letter}\p{Other_Letter}0-9])", regex.UNICODE)
_NEXT_IS_NUMBER = regex.compile(r"^[0-9]+", regex.UNICODE)

_DEFAULT, _NUMERIC_ONLY = 1, 2
_prefix_tables: dict[str, dict[str, int]] = {}


def _prefixes(language: str) -> dict[str, int]:
    """The package's non-breaking prefixes for ``language`` (prefix -> kind), read once."""
    table = _prefix_tables.get(language)
    if table is None:
        from sentence_splitter import SentenceSplitter, SentenceSplitterException

        try:
            stock = SentenceSplitter(language=language)
        except SentenceSplitterException as exc:
            from ..errors import InputError

            raise InputError(f"no sentence splitter for language {language!r}: {exc}") from exc
        # The package keeps the table in a private slot; reading it (rather than
        # re-parsing its files) guarantees the very same prefixes.
        raw = getattr(stock, "_SentenceSplitter__non_breaking_prefixes")
        table = {prefix: kind.value for prefix, kind in raw.items()}
        _prefix_tables[language] = table
    return table


def split(text: str, language: str = "en") -> list[str]:
    """``SentenceSplitter(language).split(text)``, same output, less work."""
    return _split_text(text, language).split("\n") if text else []


def _split_text(text: str, language: str) -> str:
    """The sentences of a non-empty ``text`` joined by newlines."""
    prefixes = _prefixes(language)
    for pattern in _BREAKS:
        text = pattern.sub("\\1\n\\2", text)
    # Splitting on runs of spaces is splitting on single ones when no two are adjacent.
    words = text.split(" ") if "  " not in text else _SPACES.split(text)
    last = len(words) - 1
    # Only a word whose last or second-to-last character is "." can match
    # _ENDS_IN_PERIOD: "(\.+)$", where "$" also matches before a final "\n".
    for i in [i for i, word in enumerate(words) if "." in word[-2:]]:
        if i == last:
            break
        word = words[i]
        match = _ENDS_IN_PERIOD.search(word)
        if match is None:
            continue
        prefix, starting_punct = match.group(1), match.group(2)
        kind = prefixes.get(prefix) if prefix and not starting_punct else None
        if kind == _DEFAULT:
            continue  # a known honorific ("Mr.")
        if _ACRONYM.search(word):
            continue  # an upper-case acronym ("U.S.")
        following = words[i + 1]
        if _NEXT_STARTS_SENTENCE.search(following):
            if not (kind == _NUMERIC_ONLY and _NEXT_IS_NUMBER.search(following)):
                words[i] = word + "\n"
    # The package rebuilds the text word by word with one space between words and
    # then squeezes runs of spaces; words hold no spaces, so a join is the same text.
    return " ".join(words).replace("\n ", "\n").replace(" \n", "\n").strip()


# str.isspace() is true only below U+3100; one table look-up per character.
_IS_SPACE = np.zeros(0x110000, dtype=bool)
_IS_SPACE[[c for c in range(0x3100) if chr(c).isspace()]] = True


def _codes(text: str) -> np.ndarray:
    """The code points of ``text`` as an array (one byte each when ASCII)."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def sentence_bounds(text: str, language: str = "en") -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the sentences :func:`split` finds in ``text``.

    The splitter changes whitespace but keeps every other character in order, so
    a sentence is located in the original text by counting non-space characters:
    the k-th sentence holds the non-space characters numbered from the sum of
    the sizes before it.
    """
    if not text:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    joined = _codes(_split_text(text, language))
    seen = np.zeros(len(joined) + 1, dtype=np.int64)  # non-space characters before each position
    np.cumsum(~_IS_SPACE[joined], out=seen[1:])
    cuts = np.concatenate(([0], np.flatnonzero(joined == 10), [len(joined)]))  # "\n" ends a sentence
    ends = seen[cuts[1:]]
    sizes = ends - seen[cuts[:-1]]
    keep = sizes > 0  # blank lines are no sentences
    ends, sizes = ends[keep], sizes[keep]
    positions = np.flatnonzero(~_IS_SPACE[_codes(text)])
    return positions[ends - sizes], positions[ends - 1] + 1


def sentence_spans(text: str, language: str = "en") -> list[tuple[int, int]]:
    """Character spans of the sentences :func:`split` finds in ``text``."""
    starts, ends = sentence_bounds(text, language)
    return list(zip(starts.tolist(), ends.tolist()))


def reference_spans(text: str, language: str = "en", splitter: Any = None) -> list[tuple[int, int]]:
    """The same spans from the installed package itself (tests and bench compare)."""
    from sentence_splitter import SentenceSplitter

    splitter = splitter or SentenceSplitter(language)
    positions = np.flatnonzero(~_IS_SPACE[_codes(text)])
    spans, consumed = [], 0
    for sentence in splitter.split(text):
        n = len("".join(sentence.split()))
        if n:
            spans.append((int(positions[consumed]), int(positions[consumed + n - 1]) + 1))
            consumed += n
    return spans
