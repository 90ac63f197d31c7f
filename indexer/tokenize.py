"""Word tokenisation shared by chunking and static embedders.

Tokens are runs of letters/digits, keeping inner apostrophes and hyphens
("don't", "well-known"); a static model that lacks a compound falls back to its
parts. Punctuation is dropped: averaged over a sentence it only adds noise.
"""

from __future__ import annotations

import re

import numpy as np
import regex

TOKENIZER_NAME = "words-v1"
# Letters and digits plus combining marks (Devanagari vowel signs, decomposed
# accents), with inner apostrophes and hyphens.
_WORD = r"[\p{L}\p{N}][\p{L}\p{M}\p{N}]*"
_JOIN = r"(?:['’\-]|(?<=\p{N})[.,](?=\p{N}))"  # "3.5" and "1,000" stay whole
_TOKEN_RE = regex.compile(rf"{_WORD}(?:{_JOIN}{_WORD})*")
# The same pattern for ASCII text, where \p{L} is [A-Za-z], \p{N} is [0-9] and
# there are no marks: the standard library's engine runs it about twice as fast.
_ASCII_TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:(?:['\-]|(?<=[0-9])[.,](?=[0-9]))[A-Za-z0-9]+)*")
_PART_RE = re.compile(r"['’\-]")


def words(text: str) -> list[str]:
    """Word tokens of ``text`` in order, case preserved."""
    return (_ASCII_TOKEN_RE if text.isascii() else _TOKEN_RE).findall(text)


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each token of :func:`words`."""
    return [m.span() for m in _TOKEN_RE.finditer(text)]


def parts(token: str) -> list[str]:
    """A compound token's pieces ("well-known" -> ["well", "known"])."""
    return [p for p in _PART_RE.split(token) if p]


def iter_word_spans(text: str, pos: int = 0):
    """Lazily, the (start, end) of each token of :func:`words` from ``pos`` on
    (a snippet needs the tokens near one place, not all of a long text)."""
    return (m.span() for m in _TOKEN_RE.finditer(text, pos))


# Character classes of the ASCII pattern, as bit flags per byte.
_ALNUM, _DIGIT, _INNER_JOIN, _NUMBER_JOIN = 1, 2, 4, 8
_CLASSES = np.zeros(256, dtype=np.uint8)
for _c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz":
    _CLASSES[_c] = _ALNUM
for _c in b"0123456789":
    _CLASSES[_c] = _ALNUM | _DIGIT
_CLASSES[[ord("'"), ord("-")]] = _INNER_JOIN
_CLASSES[[ord("."), ord(",")]] = _NUMBER_JOIN


def tokens_before(text: str) -> np.ndarray:
    """``before[i]``: how many tokens start before character ``i`` (``len(text) + 1`` entries).

    The tokens of a span that no token crosses are ``before[end] - before[start]``.
    ASCII text is classified byte by byte in numpy: a letter or digit starts a
    token unless it follows one, or follows "'" or "-" after one, or is a digit
    after "." or "," after a digit (the pattern's joins, taken greedily).
    """
    if text.isascii():
        classes = _CLASSES[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
        alnum = (classes & _ALNUM) != 0
        digit = (classes & _DIGIT) != 0
        joined = np.zeros(len(classes), dtype=bool)
        joined[1:] = alnum[:-1]
        joined[2:] |= ((classes[1:-1] & _INNER_JOIN) != 0) & alnum[:-2]
        joined[2:] |= ((classes[1:-1] & _NUMBER_JOIN) != 0) & digit[:-2] & digit[2:]
        starts = alnum & ~joined
    else:
        starts = np.zeros(len(text), dtype=bool)
        starts[[m.start() for m in _TOKEN_RE.finditer(text)]] = True
    before = np.zeros(len(text) + 1, dtype=np.int64)
    np.cumsum(starts, out=before[1:])
    return before
