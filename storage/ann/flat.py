"""Exact search: FAISS ``IndexFlatIP`` (brute-force inner product = cosine).

Chunk ids are kept in our own array beside the flat index (row i of the index
is chunk ``labels[i]``) rather than in an ``IndexIDMap``: the id map translates
results inside an OpenMP region on every search, and on a busy machine that
region's thread hand-off alone can cost milliseconds per single query. The file
holds the index and the labels together (one ``.npz``).
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

from .base import VectorIndex, positions_to_ids, set_faiss_threads
from .hnsw import bitmap_selector


class FlatIndex(VectorIndex):
    backend = "flat"
    exact = True

    def __init__(self, spec: dict[str, Any], dimension: int, index: faiss.IndexFlatIP | None = None,
                 labels: np.ndarray | None = None):
        super().__init__(spec, dimension)
        self.index = index if index is not None else faiss.IndexFlatIP(dimension)
        self.labels = labels if labels is not None else np.zeros(0, dtype=np.int64)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
            self.labels = np.concatenate([self.labels, np.asarray(ids, dtype=np.int64)])

    def remove(self, ids: np.ndarray) -> None:
        if not len(ids) or not len(self.labels):
            return
        gone = np.isin(self.labels, np.asarray(ids, dtype=np.int64))
        if gone.any():
            # IndexFlat.remove_ids compacts the rows in order, as the mask does the labels.
            self.index.remove_ids(faiss.IDSelectorBatch(np.flatnonzero(gone).astype(np.int64)))
            self.labels = self.labels[~gone]

    def search(self, queries, k, params=None, allowed=None):
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        k = max(1, min(int(k), max(self.count(), 1)))
        set_faiss_threads(len(queries))
        if allowed is not None:
            selector, _bits = bitmap_selector(np.isin(self.labels, np.asarray(allowed, dtype=np.int64)))
            scores, rows = self.index.search(queries, k, params=faiss.SearchParameters(sel=selector))
        else:
            scores, rows = self.index.search(queries, k)
        return scores, positions_to_ids(rows, self.labels)

    def count(self) -> int:
        return int(self.index.ntotal)

    def save(self, path: str) -> None:
        with open(path, "wb") as handle:
            np.savez(handle, faiss=faiss.serialize_index(self.index), labels=self.labels)

    @classmethod
    def load(cls, path, spec, dimension):
        with np.load(path, allow_pickle=False) as data:
            index = faiss.deserialize_index(data["faiss"])
            labels = data["labels"].astype(np.int64)
        if not isinstance(index, faiss.IndexFlat) or index.d != dimension:
            raise ValueError(f"{path} is not a flat index of dimension {dimension}")
        if len(labels) != index.ntotal:
            raise ValueError(f"{path}: label map does not match the index")
        return cls(spec, dimension, index, labels)
