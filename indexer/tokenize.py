"""Word tokenisation shared by chunking and static embedders.

Tokens are runs of letters/digits, keeping inner apostrophes and hyphens
("don't", "well-known"); a static model that lacks a compound falls back to its
parts. Punctuation is dropped: averaged over a sentence it only adds noise.
"""

from __future__ import annotations

import re

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



def count(text: str, start: int = 0, end: int | None = None) -> int:
    """Number of tokens of ``text[start:end]``."""
    piece = text[start:end] if start or end is not None else text
    return len(words(piece))
