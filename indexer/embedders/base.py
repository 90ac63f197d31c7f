"""The contract every embedder implements.

An embedder turns texts into L2-normalised float32 vectors. Its ``spec`` is a plain
JSON-able dict that records everything needed to build the same embedder again
(kind, model identity and fingerprint, tokenisation, pooling); a collection stores
it, and queries are embedded from it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from ...errors import EmbedderError  # noqa: F401  (re-exported: embedders raise it)


@dataclass
class Embeddings:
    """Vectors for a batch of texts.

    ``vectors`` is (n, dimension) float32, each row L2-normalised; ``known`` marks
    rows that had at least one token the model knows (the others are all zero and
    must not be stored or searched with).
    """

    vectors: np.ndarray
    known: np.ndarray


class Embedder(ABC):
    """Turns texts into unit vectors; built from, and described by, a spec dict."""

    #: Registry key in the factory ("static", "elmo", ...).
    kind: str = ""
    #: True when several worker processes may each build this embedder cheaply.
    parallel_safe: bool = False

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec

    @property
    def dimension(self) -> int:
        return int(self.spec["dimension"])

    @property
    def model_name(self) -> str:
        return str(self.spec.get("model", self.kind))

    @abstractmethod
    def tokenize(self, text: str) -> list[str]:
        """The tokens this embedder would pool over (used for chunk budgets)."""

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of this model's own tokens, for chunk budgets counted in
        them (``ChunkingSpec(tokens="model")``). Word tokens unless overridden."""
        from .. import tokenize

        return tokenize.word_spans(text)

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> Embeddings:
        """Embed texts; rows come back in input order."""

    def embed_one(self, text: str) -> np.ndarray | None:
        """One text's vector, or None when no token of it is known to the model."""
        result = self.embed([text])
        return result.vectors[0] if bool(result.known[0]) else None


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """L2-normalise rows in place where possible; zero rows stay zero."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix
