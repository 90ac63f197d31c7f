"""Pick a vector index backend by the collection's index spec ``{"type": ...}``.

``auto`` is resolved here from the row count and dimension (see
:mod:`storage.ann.spec`); the index cache writes the choice back into the
collection's spec, as txtai's ANN factory does with its config.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import VectorIndex
from .spec import IndexSpecError, concrete, parse_index_spec, validate_spec

BACKENDS = {
    "flat": "vecdex.storage.ann.flat:FlatIndex",
    "hnsw": "vecdex.storage.ann.hnsw:HNSWIndex",
    "ivf": "vecdex.storage.ann.ivf:IVFIndex",
    "ivfpq": "vecdex.storage.ann.ivf:IVFPQIndex",
}
DEFAULT_INDEX_SPEC = {"type": "auto"}

__all__ = ["BACKENDS", "DEFAULT_INDEX_SPEC", "IndexSpecError", "backend_class", "create_index", "load_index",
           "parse_index_spec", "validate_spec", "concrete"]


def backend_class(spec: dict[str, Any]) -> type[VectorIndex]:
    kind = spec.get("type", "flat")
    if kind == "auto":
        kind = (spec.get("resolved") or {"type": "flat"})["type"]
    if kind not in BACKENDS:
        raise IndexSpecError(f"unknown index type {kind!r} (choose from {', '.join(BACKENDS)}, auto)")
    module_name, _, class_name = BACKENDS[kind].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_index(spec: dict[str, Any], dimension: int, n_vectors: int = 0) -> VectorIndex:
    """A new, empty index for a concrete ``spec`` (not ``auto``: resolve it first)."""
    spec = concrete(spec, n_vectors, dimension)
    return backend_class(spec)(spec, dimension)


def load_index(path: str, spec: dict[str, Any], dimension: int) -> VectorIndex:
    """Read a file written by the backend of ``spec`` (auto: of its recorded choice)."""
    if spec.get("type") == "auto":
        spec = spec.get("resolved") or {"type": "flat"}
    return backend_class(spec).load(path, spec, dimension)
