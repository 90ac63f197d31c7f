"""The "embedder" of collections that hold the application's own vectors.

It records the dimension (and an optional model name the app gives) so vectors
added later and query vectors are checked against it. It embeds no text: a text
query on such a collection gets a clear error instead of a meaningless vector.
"""

from __future__ import annotations

from typing import Any, Sequence

from .. import tokenize
from .base import Embedder, EmbedderError, Embeddings


class PrecomputedEmbedder(Embedder):
    kind = "precomputed"
    parallel_safe = True

    @classmethod
    def from_options(cls, model: str | None = None, dimension: int | None = None, **_: Any) -> "PrecomputedEmbedder":
        try:
            dimension = int(dimension) if dimension is not None else 0
        except (TypeError, ValueError):
            dimension = 0
        if dimension < 1:
            raise EmbedderError("a collection of precomputed vectors needs their dimension (e.g. dimension=384)")
        name = model or f"precomputed-{dimension}d"
        return cls({"kind": cls.kind, "model": name, "fingerprint": f"precomputed:{name}", "dimension": dimension})

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "PrecomputedEmbedder":
        return cls(spec)

    def tokenize(self, text: str) -> list[str]:
        return tokenize.words(text)

    def embed(self, texts: Sequence[str]) -> Embeddings:
        raise EmbedderError(
            f"this collection holds precomputed {self.dimension}-d vectors ({self.model_name}) and embeds no "
            "text: add documents with their vectors and search by vector (vecdex query --vector)"
        )
