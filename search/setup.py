"""What an existing collection's setup must match: vectors of two models, two
poolings or two chunkings never mix in one collection, and a model with a window
needs chunks that fit it. :meth:`Vecdex.collection` checks these before use."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError, ModelMismatchError
from ..indexer.chunking import ChunkingSpec
from ..indexer.embedders.base import Embedder
from ..indexer.embedders.factory import create_embedder
from ..storage.ann.spec import IndexSpecError, format_spec
from ..storage.store import CollectionInfo

#: Pooling options of an embedder spec that change its vectors (static embedder).
POOLING_KEYS = ("pooling", "sif_a", "word_freq", "components", "fit")


def pooling_difference(wanted: dict[str, Any], stored: dict[str, Any], asked: dict[str, Any]) -> str | None:
    """A description of the stored pooling when an option the caller set differs from it."""
    defaults = {"pooling": "mean", "components": 0}
    stored_pooling = {k: stored.get(k, defaults.get(k)) for k in POOLING_KEYS}
    if all(wanted.get(k) == stored_pooling[k] for k in asked if k in POOLING_KEYS and asked[k] is not None):
        return None
    return ", ".join(f"{k}={v}" for k, v in stored_pooling.items() if v is not None)


def check_window(embedder: Embedder, chunking: ChunkingSpec) -> None:
    """A model with a window (a transformer) needs chunks that fit it, counted in its tokens."""
    limit = getattr(embedder, "max_chunk_tokens", None)
    if limit is None:
        return
    if chunking.tokens != "model":
        raise ConfigError(f"{embedder.model_name} reads at most {limit} of its own tokens: chunk budgets for it "
                          "count those (ChunkingSpec(..., tokens='model'))")
    if chunking.max_tokens > limit:
        raise ConfigError(f"chunks of {chunking.max_tokens} tokens do not fit {embedder.model_name}'s window "
                          f"({limit} word pieces besides its special tokens); use --chunk-tokens {limit} or less")


def check_same_setup(info: CollectionInfo, wanted_index: dict[str, Any] | None, embedder: str | None,
                     model: str | None, chunking: ChunkingSpec | None, embedder_options: dict[str, Any]) -> None:
    """Refuse (one-line :class:`IndexSpecError` / :class:`ModelMismatchError`) an index
    spec, embedder, model, pooling or chunking the existing collection ``info`` was not
    built with; what the caller leaves out (None) is the collection's own."""
    name = info.name
    current = {k: v for k, v in info.index_spec.items() if k != "resolved"}
    if wanted_index is not None and wanted_index != current:
        raise IndexSpecError(
            f"collection {name!r} already has index {format_spec(current)}; "
            f"change it with: vecdex reindex --collection {name} --index SPEC"
        )
    stored = info.embedder
    # Naming only the kind the collection already has asks for nothing new: the
    # recorded model is used (loading a default model here could need a download).
    if embedder not in (None, stored.get("kind")) or model is not None or embedder_options:
        kind = embedder or stored.get("kind", "static")
        options = dict(embedder_options)
        if kind == stored.get("kind") and "pooling" in stored:
            # Pooling the caller did not ask about is the collection's own, not
            # today's default (a collection built with plain mean stays usable).
            options.setdefault("pooling", stored["pooling"])
        wanted = create_embedder(kind, model=model, **options)
        if not wanted.same_model(stored):
            raise ModelMismatchError(
                f"collection {info.name!r} was built with {stored.get('kind')} model "
                f"{stored.get('model')} ({stored.get('dimension')}d); {wanted.spec.get('model')} is a "
                f"different model [{wanted.model_difference(stored)}]. Use another --collection "
                "or the model the collection was built with"
            )
        differs = pooling_difference(wanted.spec, stored, embedder_options)
        if differs:
            raise ModelMismatchError(
                f"collection {info.name!r} was built with {differs}; its vectors cannot be mixed with "
                "other pooling. Use another --collection, or leave the pooling options out"
            )
    if chunking is not None and chunking.to_dict() != info.chunking:
        raise ModelMismatchError(
            f"collection {info.name!r} cuts documents into chunks of {info.chunking.get('max_tokens')} "
            f"tokens; it cannot mix in chunks of {chunking.max_tokens}. Use another --collection"
        )
