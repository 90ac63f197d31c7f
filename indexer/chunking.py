"""Split long documents into chunks of whole sentences, with exact character spans.

Short documents (within the token budget) are one chunk and never reach the
sentence splitter, which is the slowest step of indexing.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

from indexer import tokenize

DEFAULT_MAX_TOKENS = 128
_NON_SPACE_RUN = re.compile(r"\S+")
_splitters: dict[str, Any] = {}


def _splitter(language: str):
    if language not in _splitters:
        from sentence_splitter import SentenceSplitter

        _splitters[language] = SentenceSplitter(language=language)
    return _splitters[language]


@dataclass(frozen=True)
class ChunkingSpec:
    """How a collection cuts documents; stored with the collection.

    ``unit="budget"`` packs whole sentences up to ``max_tokens`` per chunk;
    ``unit="sentence"`` makes every sentence its own chunk (for contextual models).
    A sentence longer than ``max_tokens`` is cut at word boundaries either way.
    """

    max_tokens: int = DEFAULT_MAX_TOKENS
    unit: str = "budget"
    language: str = "en"

    def to_dict(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens, "unit": self.unit, "language": self.language}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ChunkingSpec":
        return cls(int(data.get("max_tokens", DEFAULT_MAX_TOKENS)), data.get("unit", "budget"), data.get("language", "en"))


def sentence_spans(text: str, language: str = "en") -> list[tuple[int, int]]:
    """Character spans of the sentences ``sentence-splitter`` finds in ``text``.

    The splitter returns sentences with whitespace normalised but every other
    character kept in order, so sentences are mapped back to the original text by
    counting non-space characters.
    """
    runs = [(m.start(), m.end()) for m in _NON_SPACE_RUN.finditer(text)]
    if not runs:
        return []
    cumulative = [0]
    for start, end in runs:
        cumulative.append(cumulative[-1] + end - start)

    def position(char_index: int) -> int:
        run = bisect.bisect_right(cumulative, char_index) - 1
        return runs[run][0] + char_index - cumulative[run]

    spans = []
    consumed = 0
    for sentence in _splitter(language).split(text):
        n = len("".join(sentence.split()))
        if n == 0:
            continue
        spans.append((position(consumed), position(consumed + n - 1) + 1))
        consumed += n
    return spans


def _cut_long(text: str, start: int, end: int, max_tokens: int) -> list[tuple[int, int]]:
    """Split text[start:end] into pieces of at most max_tokens word tokens."""
    token_spans = tokenize.word_spans(text[start:end])
    pieces = []
    for i in range(0, len(token_spans), max_tokens):
        group = token_spans[i : i + max_tokens]
        piece_start = start + (group[0][0] if i else 0)
        piece_end = start + (token_spans[i + max_tokens][0] if i + max_tokens < len(token_spans) else end - start)
        pieces.append((piece_start, _rstrip(text, piece_start, piece_end)))
    return pieces


def _rstrip(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def chunk_spans(text: str, spec: ChunkingSpec) -> list[tuple[int, int]]:
    """Chunks of ``text`` as (start, end) character spans, in order."""
    stripped_start = len(text) - len(text.lstrip())
    stripped_end = len(text.rstrip())
    if stripped_end <= stripped_start:
        return []
    if spec.unit == "budget":
        # A token and its separator take at least two characters, so short texts
        # cannot exceed the budget: don't even count their tokens.
        if stripped_end - stripped_start < 2 * spec.max_tokens or len(tokenize.words(text)) <= spec.max_tokens:
            return [(stripped_start, stripped_end)]
    chunks: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    current_tokens = 0
    for start, end in sentence_spans(text, spec.language):
        tokens = len(tokenize.words(text[start:end]))
        if tokens > spec.max_tokens:
            if current:
                chunks.append(current)
                current, current_tokens = None, 0
            chunks.extend(_cut_long(text, start, end, spec.max_tokens))
            continue
        if spec.unit == "sentence":
            chunks.append((start, end))
            continue
        if current and current_tokens + tokens <= spec.max_tokens:
            current = (current[0], end)
            current_tokens += tokens
        else:
            if current:
                chunks.append(current)
            current, current_tokens = (start, end), tokens
    if current:
        chunks.append(current)
    return chunks
