"""An approximate index plus the rows committed after it, scored exactly.

Adding rows to an HNSW graph or an IVF index is slow (an HNSW add of 10k rows
takes seconds), so a search that must cover a write another process just
committed (``min_seq``) should not wait for it. :class:`DeltaIndex` answers
from the FAISS index it wraps (the state of its file) and from the rows written
since, kept as their stored vectors and scored by brute force (one matrix
product), merging the two rankings by score. Those rows' scores are exact
cosines, so no committed row is ever missed or mis-scored while it waits to be
folded into the graph; the index cache folds them in (and saves the file) on the
next write through this process, or once there are more than it bounds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import VectorIndex

#: Rows of the exact delta at most, counted in floats (rows x dimension): about
#: 1 ms of matrix product per query at this size; beyond it the delta is folded
#: into the FAISS index (what a catch-up always did).
DELTA_MAX_FLOATS = 2**20
DELTA_MIN_ROWS = 1000


def delta_limit(dimension: int) -> int:
    """How many rows the exact delta may hold for vectors of this dimension."""
    return max(DELTA_MIN_ROWS, DELTA_MAX_FLOATS // max(dimension, 1))


class DeltaIndex(VectorIndex):
    """``base`` (an approximate index) plus exactly scored ``ids``/``vectors``.

    Never mutated once handed out: :meth:`with_changes` returns a new one (other
    threads may be searching this one); removals reach the base in place, as a
    catch-up always did (a tombstone only hides rows).
    """

    def __init__(self, base: VectorIndex, ids: np.ndarray, vectors: np.ndarray):
        super().__init__(base.spec, base.dimension)
        self.base = base
        self.ids = np.asarray(ids, dtype=np.int64)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(self.ids), base.dimension)
        self.backend = base.backend
        self.exact = base.exact
        self.mmap = base.mmap

    # -- what the cache calls -----------------------------------------------------------

    def with_changes(self, removed: np.ndarray, ids: np.ndarray, vectors: np.ndarray) -> "DeltaIndex":
        """A new delta index: ``removed`` gone (from the base too), then ``ids`` added."""
        self.base.remove(removed)
        keep = ~np.isin(self.ids, np.asarray(removed, dtype=np.int64)) if len(removed) else slice(None)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(ids), self.dimension)
        return DeltaIndex(self.base, np.concatenate([self.ids[keep], np.asarray(ids, dtype=np.int64)]),
                          np.concatenate([self.vectors[keep], vectors]))

    def folded(self) -> VectorIndex:
        """The base with the delta rows added (slow for HNSW: the cache decides when)."""
        self.base.add(self.ids, self.vectors)
        return self.base

    # -- the VectorIndex contract ---------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        raise TypeError("a DeltaIndex is immutable: use with_changes()")

    def remove(self, ids: np.ndarray) -> None:
        raise TypeError("a DeltaIndex is immutable: use with_changes()")

    def search(self, queries, k, params=None, allowed=None):
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        scores, ids = self.base.search(queries, k, params, allowed)
        rows = self.vectors
        row_ids = self.ids
        if allowed is not None:
            mask = np.isin(row_ids, np.asarray(allowed, dtype=np.int64))
            rows, row_ids = rows[mask], row_ids[mask]
        if not len(row_ids):
            return scores, ids
        exact = queries @ rows.T  # cosine: unit rows
        scores = np.where(ids >= 0, scores, -np.inf)
        all_scores = np.concatenate([scores, exact], axis=1)
        all_ids = np.concatenate([ids, np.broadcast_to(row_ids, exact.shape)], axis=1)
        width = min(int(k), all_scores.shape[1])
        order = np.argsort(-all_scores, axis=1, kind="stable")[:, :width]
        top_scores = np.take_along_axis(all_scores, order, axis=1)
        top_ids = np.take_along_axis(all_ids, order, axis=1)
        top_ids[~np.isfinite(top_scores)] = -1
        return top_scores.astype(np.float32), top_ids

    def count(self) -> int:
        return self.base.count() + len(self.ids)

    def save(self, path: str) -> None:
        raise TypeError("a DeltaIndex is not saved: fold it first")

    @classmethod
    def load(cls, path, spec, dimension):
        raise TypeError("a DeltaIndex is never saved")

    def needs_rebuild(self) -> bool:
        return self.base.needs_rebuild()

    def describe(self) -> dict[str, Any]:
        return {**self.base.describe(), "vectors": self.count(), "exact_delta": len(self.ids)}

    @property
    def vector_source(self):
        return self.base.vector_source

    @vector_source.setter
    def vector_source(self, source) -> None:
        # set by VectorIndex.__init__ before base exists
        if "base" in self.__dict__:
            self.base.vector_source = source

    def __getattr__(self, name: str):
        # backend-specific knobs (set_ef_search, ef_search, nprobe, ...) are the base's
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)
