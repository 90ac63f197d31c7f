"""A tiny deterministic embedder for plumbing tests (no model files needed).

Each word gets a fixed pseudo-random 16-d vector derived from its CRC32, so texts
sharing words are close. Words starting with "unk" are unknown to the model.
"""

from __future__ import annotations

import zlib
from typing import Any, Sequence

import numpy as np
from vecdex.indexer import tokenize
from vecdex.indexer.embedders.base import Embedder, Embeddings, normalise_rows

DIM = 16


def word_vector(word: str) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(word.encode())).standard_normal(DIM).astype(np.float32)


class FakeEmbedder(Embedder):
    kind = "fake"
    parallel_safe = True

    @classmethod
    def from_options(cls, model: str | None = None, **_: Any) -> "FakeEmbedder":
        return cls({"kind": "fake", "model": model or "fake-16", "fingerprint": "fake", "dimension": DIM})

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "FakeEmbedder":
        return cls(spec)

    def tokenize(self, text: str) -> list[str]:
        return tokenize.words(text)

    def embed(self, texts: Sequence[str]) -> Embeddings:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        known = np.zeros(len(texts), dtype=bool)
        for i, text in enumerate(texts):
            words = [w.lower() for w in self.tokenize(text) if not w.lower().startswith("unk")]
            if words:
                out[i] = np.mean([word_vector(w) for w in words], axis=0)
                known[i] = True
        return Embeddings(normalise_rows(out), known)
