"""Pick an embedder class by kind: "static" (word vectors) or "elmo" (TF Hub)."""

from __future__ import annotations

import importlib
import json
from typing import Any

from .base import Embedder, EmbedderError

# kind -> "module:Class"; modules are imported only when that kind is used, so a
# GloVe query never pays for TensorFlow.
EMBEDDERS = {
    "static": "vecdex.indexer.embedders.static:StaticEmbedder",
    "elmo": "vecdex.indexer.embedders.elmo:ElmoEmbedder",
    "precomputed": "vecdex.indexer.embedders.precomputed:PrecomputedEmbedder",
    "transformer": "vecdex.indexer.embedders.transformer:TransformerEmbedder",
}

_model_cache: dict[str, Embedder] = {}


def _embedder_class(kind: str) -> type[Embedder]:
    if kind not in EMBEDDERS:
        raise EmbedderError(f"unknown embedder {kind!r} (choose from {', '.join(sorted(EMBEDDERS))})")
    module_name, _, class_name = EMBEDDERS[kind].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


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
