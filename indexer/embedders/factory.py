"""Pick an embedder class by kind: "static" (word vectors) or "elmo" (TF Hub)."""

from __future__ import annotations

import json
from typing import Any

from ...storage.registry import Registry
from .base import Embedder, EmbedderError

# kind -> "module:Class"; modules are imported only when that kind is used, so a
# GloVe query never pays for TensorFlow.
EMBEDDERS = {
    "static": "vecdex.indexer.embedders.static:StaticEmbedder",
    "elmo": "vecdex.indexer.embedders.elmo:ElmoEmbedder",
    "precomputed": "vecdex.indexer.embedders.precomputed:PrecomputedEmbedder",
}

#: The embedder kinds; ``embedders.register("mine", "pkg.module:MyEmbedder")`` adds one
#: (EMBEDDERS, the dict it wraps, can still be extended directly).
embedders: Registry[Embedder] = Registry("embedder", EMBEDDERS, EmbedderError)

_model_cache: dict[str, Embedder] = {}


def _embedder_class(kind: str) -> type[Embedder]:
    return embedders.get(kind)


def _spec_key(spec: dict[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True)


def create_embedder(kind: str = "static", **options: Any) -> Embedder:
    """A new embedder from user options, e.g. ``create_embedder("static", model=path)``."""
    embedder = _embedder_class(kind).from_options(**options)
    _model_cache.setdefault(_spec_key(embedder.spec), embedder)
    return embedder


def embedder_from_spec(spec: dict[str, Any]) -> Embedder:
    """The embedder a collection's recorded spec describes (loaded once per process)."""
    key = _spec_key(spec)
    if key not in _model_cache:
        _model_cache[key] = _embedder_class(spec["kind"]).from_spec(spec)
    return _model_cache[key]
