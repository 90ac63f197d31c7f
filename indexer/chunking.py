"""Split long documents into chunks of whole sentences, with exact character spans.

Short documents (within the token budget) are one chunk and never reach the
sentence splitter, which is the slowest step of indexing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from . import tokenize
from .sentences import sentence_bounds, sentence_spans  # noqa: F401 (sentence_spans: public here too)

DEFAULT_MAX_TOKENS = 128
#: What a chunk budget counts: word tokens (tokenize.words), or the embedder's own
#: tokens (a transformer's word pieces, so chunks fit the model's window).
TOKEN_UNITS = ("words", "model")
TokenSpans = Callable[[str], "list[tuple[int, int]]"]


@dataclass(frozen=True)
class ChunkingSpec:
    """How a collection cuts documents; stored with the collection.

    ``unit="budget"`` packs whole sentences up to ``max_tokens`` per chunk;
    ``unit="sentence"`` makes every sentence its own chunk (for contextual models).
    A sentence longer than ``max_tokens`` is cut at word boundaries either way.
    ``tokens`` says what is counted: ``"words"``, or ``"model"`` (the embedder's
    own tokenizer, e.g. word pieces; the pipeline passes its token spans).
    """

    max_tokens: int = DEFAULT_MAX_TOKENS
    unit: str = "budget"
    language: str = "en"
    tokens: str = "words"

    def to_dict(self) -> dict[str, Any]:
        data = {"max_tokens": self.max_tokens, "unit": self.unit, "language": self.language}
        if self.tokens != "words":  # collections made before token units existed compare equal
            data["tokens"] = self.tokens
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ChunkingSpec":
        return cls(int(data.get("max_tokens", DEFAULT_MAX_TOKENS)), data.get("unit", "budget"), data.get("language", "en"),
                   data.get("tokens", "words"))


def _cut_long(text: str, start: int, end: int, max_tokens: int,
              token_spans: TokenSpans = tokenize.word_spans) -> list[tuple[int, int]]:
    """Split text[start:end] into pieces of at most max_tokens tokens.

    Cuts fall before a token that has a gap before it where there is one, so
    word pieces of one word ("embed", "##ding") stay in the same piece.
    """
    spans = token_spans(text[start:end])
    cuts = [0]
    while len(spans) - cuts[-1] > max_tokens:
        cut = cuts[-1] + max_tokens
        while cut > cuts[-1] + 1 and spans[cut][0] == spans[cut - 1][1]:
            cut -= 1
        if spans[cut][0] == spans[cut - 1][1]:  # one word longer than the budget: cut inside it
            cut = cuts[-1] + max_tokens
        cuts.append(cut)
    pieces = []
    for n, first in enumerate(cuts):
        piece_start = start + (spans[first][0] if first else 0)
        piece_end = start + (spans[cuts[n + 1]][0] if n + 1 < len(cuts) else end - start)
        pieces.append((piece_start, _rstrip(text, piece_start, piece_end)))
    return pieces


def _rstrip(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def whole_text(text: str, spec: ChunkingSpec, min_chars: int = 2) -> tuple[list[tuple[int, int]] | None, tuple[int, int]]:
    """(the chunks when they need no tokenising, else None; the text's stripped span)."""
    stripped = (len(text) - len(text.lstrip()), len(text.rstrip()))
    if stripped[1] <= stripped[0]:
        return [], stripped
    # A word token and its separator take at least two characters (a word piece at
    # least one: min_chars), so short texts cannot exceed the budget: don't even
    # tokenise them.
    if spec.unit == "budget" and stripped[1] - stripped[0] < min_chars * spec.max_tokens:
        return [stripped], stripped
    return None, stripped


def _model_tokens_before(text: str, token_spans: TokenSpans) -> np.ndarray:
    """:func:`tokenize.tokens_before` for the model's own tokens."""
    starts = np.zeros(len(text) + 1, dtype=np.int64)
    for start, _end in token_spans(text):
        starts[start + 1] += 1
    return np.cumsum(starts)


def chunk_spans(text: str, spec: ChunkingSpec, token_spans: TokenSpans | None = None) -> list[tuple[int, int]]:
    """Chunks of ``text`` as (start, end) character spans, in order.

    ``token_spans`` gives the character spans of the tokens the budget counts
    (default: word tokens; a transformer passes its word pieces).
    """
    chunks, stripped = whole_text(text, spec, 2 if token_spans is None else 1)
    if chunks is not None:
        return chunks
    before = tokenize.tokens_before(text) if token_spans is None else _model_tokens_before(text, token_spans)
    if spec.unit == "budget" and before[-1] <= spec.max_tokens:
        return [stripped]
    # Sentences are separated by whitespace, which no token holds, so a
    # sentence's tokens are the text's tokens that start inside it.
    starts, ends = sentence_bounds(text, spec.language)
    counts = before[ends] - before[starts]
    return pack_sentences(text, zip(starts.tolist(), ends.tolist(), counts.tolist()), spec, token_spans)


def pack_sentences(text: str, sentences: Iterable[tuple[int, int, int]], spec: ChunkingSpec,
                   token_spans: TokenSpans | None = None) -> list[tuple[int, int]]:
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
            chunks.extend(_cut_long(text, start, end, spec.max_tokens, token_spans or tokenize.word_spans))
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
