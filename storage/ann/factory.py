"""Pick a vector index backend by the collection's index spec ``{"type": ...}``.

``auto`` is resolved here from the row count and dimension (see
:mod:`storage.ann.spec`); the index cache writes the choice back into the
collection's spec, as txtai's ANN factory does with its config.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry
from .base import VectorIndex
from .spec import IndexSpecError, concrete, parse_index_spec, validate_spec

BACKENDS = {
    "flat": "vecdex.storage.ann.flat:FlatIndex",
    "hnsw": "vecdex.storage.ann.hnsw:HNSWIndex",
    "ivf": "vecdex.storage.ann.ivf:IVFIndex",
    "ivfpq": "vecdex.storage.ann.ivf:IVFPQIndex",
}
DEFAULT_INDEX_SPEC = {"type": "auto"}
#: The index types by name (``index_types.register("mine", "pkg.module:MyIndex")``).
index_types: Registry[VectorIndex] = Registry("index type", BACKENDS, IndexSpecError, extra_names=("auto",))

__all__ = ["BACKENDS", "DEFAULT_INDEX_SPEC", "IndexSpecError", "backend_class", "create_index", "index_types", "load_index",
           "parse_index_spec", "validate_spec", "concrete"]


def backend_class(spec: dict[str, Any]) -> type[VectorIndex]:
    kind = spec.get("type", "flat")
    if kind == "auto":
        kind = (spec.get("resolved") or {"type": "flat"})["type"]
    return index_types.get(kind)


def create_index(spec: dict[str, Any], dimension: int, n_vectors: int = 0) -> VectorIndex:
    """A new, empty index for a concrete ``spec`` (not ``auto``: resolve it first)."""
    spec = concrete(spec, n_vectors, dimension)
    return backend_class(spec)(spec, dimension)


def load_index(path: str, spec: dict[str, Any], dimension: int) -> VectorIndex:
    """Read a file written by the backend of ``spec`` (auto: of its recorded choice)."""
    if spec.get("type") == "auto":
        spec = spec.get("resolved") or {"type": "flat"}
    return backend_class(spec).load(path, spec, dimension)
