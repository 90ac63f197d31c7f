"""Exact search: FAISS flat inner product behind an id map."""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

from storage.ann.base import VectorIndex, faiss_threads


class FlatIndex(VectorIndex):
    backend = "flat"

    def __init__(self, spec: dict[str, Any], dimension: int, index: faiss.Index | None = None):
        super().__init__(spec, dimension)
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, queries, k, params=None, allowed=None):
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = max(1, min(int(k), max(self.count(), 1)))
        with faiss_threads(len(queries)):
            if allowed is not None:
                selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
                return self.index.search(queries, k, params=faiss.SearchParameters(sel=selector))
            return self.index.search(queries, k)

    def count(self) -> int:
        return int(self.index.ntotal)

    def save(self, path: str) -> None:
        faiss.write_index(self.index, path)

    @classmethod
    def load(cls, path, spec, dimension):
        index = faiss.read_index(path)
        if index.d != dimension:
            raise ValueError(f"index dimension {index.d} != collection dimension {dimension}")
        return cls(spec, dimension, index)
