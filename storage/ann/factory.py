"""Pick a vector index backend by the collection's index spec ``{"type": ...}``."""

from __future__ import annotations

import importlib
from typing import Any

from storage.ann.base import VectorIndex

BACKENDS = {
    "flat": "storage.ann.flat:FlatIndex",
}
DEFAULT_INDEX_SPEC = {"type": "flat"}


class IndexSpecError(ValueError):
    """The user asked for an index type or parameter that does not exist."""


def backend_class(spec: dict[str, Any]) -> type[VectorIndex]:
    kind = spec.get("type", "flat")
    if kind not in BACKENDS:
        raise IndexSpecError(f"unknown index type {kind!r} (choose from {', '.join(BACKENDS)})")
    module_name, _, class_name = BACKENDS[kind].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_index(spec: dict[str, Any], dimension: int, n_vectors: int = 0) -> VectorIndex:
    """A new, empty index for ``spec`` sized for about ``n_vectors`` rows."""
    return backend_class(spec)(spec, dimension)


def load_index(path: str, spec: dict[str, Any], dimension: int) -> VectorIndex:
    return backend_class(spec).load(path, spec, dimension)
