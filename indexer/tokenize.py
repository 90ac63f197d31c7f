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
_PART_RE = re.compile(r"['’\-]")


def words(text: str) -> list[str]:
    """Word tokens of ``text`` in order, case preserved."""
    return _TOKEN_RE.findall(text)


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
