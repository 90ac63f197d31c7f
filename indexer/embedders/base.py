"""The contract every embedder implements.

An embedder turns texts into L2-normalised float32 vectors. Its ``spec`` is a plain
JSON-able dict that records everything needed to build the same embedder again
(kind, model identity and fingerprint, tokenisation, pooling); a collection stores
it, and queries are embedded from it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from ...errors import EmbedderError  # noqa: F401  (re-exported: embedders raise it)

if TYPE_CHECKING:
    from ..chunking import ChunkingSpec


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
    """Turns texts into unit vectors; built from, and described by, a spec dict.

    A subclass implements :meth:`from_options`, :meth:`from_spec`,
    :meth:`tokenize` and :meth:`embed`; the class attributes and the methods
    with defaults below are everything else callers rely on.
    """

    #: Registry key in the factory ("static", "elmo", ...).
    kind: ClassVar[str] = ""
    #: True when several worker processes may each build this embedder cheaply.
    parallel_safe: ClassVar[bool] = False
    #: How a new collection of this embedder cuts documents (None: the global default).
    default_chunking: ClassVar["ChunkingSpec | None"] = None
    #: Text per indexing batch (None: the pipeline's default); slow models ask for less.
    batch_bytes: ClassVar[int | None] = None
    #: True when a word's vector depends on its sentence (then :meth:`word_vectors` works).
    contextual: ClassVar[bool] = False
    #: Spec keys that decide whether two specs give comparable vectors: vectors
    #: from two models, or one ELMo model pooled two ways, do not mix.
    model_keys: ClassVar[tuple[str, ...]] = ("kind", "model", "fingerprint", "dimension", "layers", "pooling")

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec

    # -- construction ------------------------------------------------------------------------

    @classmethod
    @abstractmethod
    def from_options(cls, **options: Any) -> "Embedder":
        """A new embedder from user options (``model=``, pooling options...)."""

    @classmethod
    @abstractmethod
    def from_spec(cls, spec: dict[str, Any]) -> "Embedder":
        """The embedder a recorded spec describes (refusing a changed model)."""

    # -- what it is ------------------------------------------------------------------------------

    @property
    def dimension(self) -> int:
        return int(self.spec["dimension"])

    @property
    def model_name(self) -> str:
        return str(self.spec.get("model", self.kind))

    def same_model(self, spec: dict[str, Any]) -> bool:
        """True when vectors of ``spec`` can be searched with this embedder's vectors."""
        return all(self.spec.get(k) == spec.get(k) for k in self.model_keys)

    def model_difference(self, spec: dict[str, Any]) -> str:
        """What differs from ``spec``, e.g. "pooling max (collection: mean)"."""
        diffs = [f"{k} {self.spec.get(k)} (collection: {spec.get(k)})" for k in self.model_keys
                 if k != "fingerprint" and self.spec.get(k) != spec.get(k)]
        return "; ".join(diffs) or "the model files changed (fingerprint differs)"

    # -- fitting on the collection -------------------------------------------------------------

    @property
    def needs_collection_fit(self) -> bool:
        """True when this embedder's state is fitted on the collection it embeds
        (then the collection is refitted as it grows; see ``Collection.refit``)."""
        return False

    def fitted_on(self, texts: Sequence[str]) -> "Embedder":
        """This embedder with its state fitted on ``texts`` (nothing to fit: itself)."""
        return self

    # -- embedding ----------------------------------------------------------------------------

    @abstractmethod
    def tokenize(self, text: str) -> list[str]:
        """The tokens this embedder would pool over (used for chunk budgets)."""

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> Embeddings:
        """Embed texts; rows come back in input order."""

    def embed_one(self, text: str) -> np.ndarray | None:
        """One text's vector, or None when no token of it is known to the model."""
        result = self.embed([text])
        return result.vectors[0] if bool(result.known[0]) else None

    def word_vectors(self, text: str) -> list[tuple[str, np.ndarray]]:
        """Each token of ``text`` with its vector in this context (contextual embedders)."""
        raise EmbedderError(f"{self.kind} embedders give a word one vector whatever the sentence")


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """L2-normalise rows in place where possible; zero rows stay zero."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix
