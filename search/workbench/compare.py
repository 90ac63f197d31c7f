"""Compare one word's vectors in two sentences: the polysemy demonstration.

A contextual model (ELMo) gives "bank" different vectors in "deposit money at the
bank" and "the river bank"; a static model gives the word one vector everywhere,
so the cosine is 1.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import VecdexError
from ...indexer.embedders.base import Embedder


class CompareError(VecdexError):
    """The word is not in a sentence, or the model has no vector for it."""


@dataclass
class WordComparison:
    word: str
    cosine: float
    contextual: bool  # False: a static model, one vector per word whatever the context
    positions: tuple[int, int]  # token index of the word in each sentence
    model: str
    kind: str

    def as_dict(self, sentences: tuple[str, str]) -> dict[str, Any]:
        return {"word": self.word, "sentence1": sentences[0], "sentence2": sentences[1],
                "cosine": round(self.cosine, 6), "contextual": self.contextual,
                "positions": list(self.positions), "embedder": self.kind, "model": self.model}


def _position(tokens: list[str], word: str, which: int) -> int:
    lowered = word.lower()
    for i, token in enumerate(tokens):
        if token.lower() == lowered:
            return i
    shown = " ".join(tokens) if len(tokens) < 30 else " ".join(tokens[:27]) + " ..."
    raise CompareError(f"{word!r} is not a word of sentence {which} (its tokens: {shown})")


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        raise CompareError("the model gives this word a zero vector; no cosine to show")
    return float(np.dot(a, b) / (na * nb))


def compare_word(embedder: Embedder, sentence1: str, sentence2: str, word: str) -> WordComparison:
    """Cosine between ``word``'s vector in each sentence (first occurrence, any case)."""
    word = word.strip()
    if not word:
        raise CompareError("give a word to compare (--word)")
    if embedder.contextual:  # the vector depends on the whole sentence
        pairs = [embedder.word_vectors(s) for s in (sentence1, sentence2)]
        positions = tuple(_position([t for t, _ in p], word, n + 1) for n, p in enumerate(pairs))
        a, b = (p[i][1] for p, i in zip(pairs, positions))
        return WordComparison(word, _cosine(a, b), True, positions, embedder.model_name, embedder.kind)
    # Static: the word's vector is the same in any sentence; look it up in each anyway,
    # so the answer shows what the model actually does.
    positions = tuple(_position(embedder.tokenize(s), word, n + 1) for n, s in enumerate((sentence1, sentence2)))
    tokens = [embedder.tokenize(s)[i] for s, i in zip((sentence1, sentence2), positions)]
    embedded = embedder.embed(tokens)
    if not embedded.known.all():
        raise CompareError(f"the model {embedder.model_name} has no vector for {word!r}")
    a, b = embedded.vectors
    return WordComparison(word, _cosine(a, b), False, positions, embedder.model_name, embedder.kind)
