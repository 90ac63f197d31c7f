"""HNSW graph (FAISS ``IndexHNSWFlat``) with tombstones for deletes.

An HNSW graph cannot drop nodes, so a removed id becomes a tombstone: its graph
label is marked dead and searches skip dead labels through an ``IDSelectorBitmap``
(FAISS keeps walking the graph past them, so k results still come back; the
engine widens the search if a filter leaves fewer). Past a share of tombstones
(``compact``, default 0.2) :meth:`needs_rebuild` asks the index cache to rebuild
the graph from the store.

Graph labels are positions 0..n-1; ``labels`` maps them to chunk ids. Keeping our
own map (instead of ``IndexIDMap``) lets a chunk id that was removed come back as
a new label while its old one stays dead. The file holds the FAISS graph, the
label map and the tombstones together (one ``.npz``), so a file is always one
consistent state.
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

from .base import VectorIndex, positions_to_ids, set_faiss_threads
from .spec import HNSW_COMPACT, HNSW_DEFAULTS


def bitmap_selector(mask: np.ndarray) -> tuple[faiss.IDSelector, np.ndarray]:
    """An ``IDSelectorBitmap`` over labels; the bitmap must outlive the selector."""
    bits = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits)), bits


class HNSWIndex(VectorIndex):
    backend = "hnsw"

    def __init__(self, spec: dict[str, Any], dimension: int, index: faiss.IndexHNSWFlat | None = None,
                 labels: np.ndarray | None = None, dead: np.ndarray | None = None):
        super().__init__(spec, dimension)
        settings = {**HNSW_DEFAULTS, **{k: spec[k] for k in HNSW_DEFAULTS if k in spec}}
        if index is None:
            index = faiss.IndexHNSWFlat(dimension, int(settings["M"]), faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = int(settings["efConstruction"])
        index.hnsw.efSearch = int(settings["efSearch"])
        self.ef_search = int(settings["efSearch"])
        self.compact_at = float(spec.get("compact", HNSW_COMPACT))
        self.index = index
        self.labels = labels if labels is not None else np.zeros(0, dtype=np.int64)
        self.dead = dead if dead is not None else np.zeros(0, dtype=bool)
        self.n_dead = int(self.dead.sum())
        self._alive: tuple[faiss.IDSelector, np.ndarray] | None = None
        self._params_cache: dict[int, faiss.SearchParametersHNSW] = {}

    # -- writes ----------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        set_faiss_threads(len(ids))  # graph construction: all cores for big batches
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self.labels = np.concatenate([self.labels, np.asarray(ids, dtype=np.int64)])
        self.dead = np.concatenate([self.dead, np.zeros(len(ids), dtype=bool)])
        self._alive = None

    def remove(self, ids: np.ndarray) -> None:
        if not len(ids) or not len(self.labels):
            return
        hit = np.isin(self.labels, np.asarray(ids, dtype=np.int64)) & ~self.dead
        if hit.any():
            self.dead |= hit
            self.n_dead += int(hit.sum())
            self._alive = None

    def set_ef_search(self, ef: int) -> None:
        """A new default efSearch (auto, as the collection grows); per-call values still win."""
        self.index.hnsw.efSearch = int(ef)
        self.ef_search = int(ef)

    def needs_rebuild(self) -> bool:
        return self.n_dead > 0 and self.n_dead >= self.compact_at * max(len(self.labels), 1)

    # -- reads ------------------------------------------------------------------------

    def _selector(self, allowed: np.ndarray | None) -> tuple[faiss.IDSelector, np.ndarray] | None:
        if allowed is not None:
            return bitmap_selector(np.isin(self.labels, np.asarray(allowed, dtype=np.int64)) & ~self.dead)
        if not self.n_dead:
            return None
        if self._alive is None:
            self._alive = bitmap_selector(~self.dead)
        return self._alive

    def search(self, queries, k, params=None, allowed=None):
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        k = max(1, min(int(k), max(self.count(), 1)))
        # Per-call parameters: never touch index.hnsw.efSearch (shared by all threads).
        ef = params.get("efSearch", self.ef_search) if params else self.ef_search
        selector = self._selector(allowed)
        if selector is None:
            search_params = self._plain_params(ef)
        else:
            search_params = faiss.SearchParametersHNSW()
            search_params.efSearch = int(ef)
            search_params.sel = selector[0]
        set_faiss_threads(len(queries))
        scores, labels = self.index.search(queries, k, params=search_params)
        return scores, positions_to_ids(labels, self.labels)

    def _plain_params(self, ef: int) -> faiss.SearchParametersHNSW:
        """Unfiltered search parameters per efSearch value, made once: FAISS only
        reads them, so threads can share them."""
        cached = self._params_cache.get(ef)
        if cached is None:
            cached = faiss.SearchParametersHNSW()
            cached.efSearch = int(ef)
            self._params_cache[ef] = cached
        return cached

    def count(self) -> int:
        return len(self.labels) - self.n_dead

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "vectors": self.count(), "tombstones": self.n_dead,
                "M": int(self.index.hnsw.nb_neighbors(1)), "efConstruction": int(self.index.hnsw.efConstruction),
                "efSearch": self.ef_search}

    # -- files --------------------------------------------------------------------------

    def save(self, path: str) -> None:
        with open(path, "wb") as handle:
            np.savez(handle, faiss=faiss.serialize_index(self.index), labels=self.labels, dead=self.dead)

    @classmethod
    def load(cls, path, spec, dimension):
        with np.load(path, allow_pickle=False) as data:
            index = faiss.deserialize_index(data["faiss"])
            labels, dead = data["labels"].astype(np.int64), data["dead"].astype(bool)
        if not isinstance(index, faiss.IndexHNSWFlat) or index.d != dimension:
            raise ValueError(f"{path} is not an HNSW index of dimension {dimension}")
        if len(labels) != index.ntotal or len(dead) != index.ntotal:
            raise ValueError(f"{path}: label map does not match the graph")
        return cls(spec, dimension, index, labels, dead)
