"""Split long documents into chunks of whole sentences, with exact character spans.

Short documents (within the token budget) are one chunk and never reach the
sentence splitter, which is the slowest step of indexing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from . import tokenize
from .sentences import sentence_bounds, sentence_spans  # noqa: F401 (sentence_spans: public here too)

DEFAULT_MAX_TOKENS = 128


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


def whole_text(text: str, spec: ChunkingSpec) -> tuple[list[tuple[int, int]] | None, tuple[int, int]]:
    """(the chunks when they need no tokenising, else None; the text's stripped span)."""
    stripped = (len(text) - len(text.lstrip()), len(text.rstrip()))
    if stripped[1] <= stripped[0]:
        return [], stripped
    # A token and its separator take at least two characters, so short texts
    # cannot exceed the budget: don't even tokenise them.
    if spec.unit == "budget" and stripped[1] - stripped[0] < 2 * spec.max_tokens:
        return [stripped], stripped
    return None, stripped


def chunk_spans(text: str, spec: ChunkingSpec) -> list[tuple[int, int]]:
    """Chunks of ``text`` as (start, end) character spans, in order."""
    chunks, stripped = whole_text(text, spec)
    if chunks is not None:
        return chunks
    before = tokenize.tokens_before(text)
    if spec.unit == "budget" and before[-1] <= spec.max_tokens:
        return [stripped]
    # Sentences are separated by whitespace, which no token holds, so a
    # sentence's tokens are the text's tokens that start inside it.
    starts, ends = sentence_bounds(text, spec.language)
    counts = before[ends] - before[starts]
    return pack_sentences(text, zip(starts.tolist(), ends.tolist(), counts.tolist()), spec)


def pack_sentences(text: str, sentences: Iterable[tuple[int, int, int]], spec: ChunkingSpec) -> list[tuple[int, int]]:
    """Chunks from (start, end, tokens) sentences: packed up to the budget, or one
    per sentence; a sentence over the budget is cut at word boundaries."""
    chunks: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    current_tokens = 0
    for start, end, tokens in sentences:
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
