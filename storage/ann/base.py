"""The whole contract of a vector index backend.

Vectors are L2-normalised float32, so inner product = cosine. Ids are int64 chunk
ids from the SQL store. A backend never decides what is true: it is a cache of
the store and can always be rebuilt from it.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from typing import Any, Callable, Iterator

import numpy as np

#: Fetches exact stored vectors for chunk ids -> (ids still stored, their vectors);
#: the index cache installs one so compressed backends can re-rank their shortlist.
VectorSource = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray]"]
# Below this many queries a search runs on one OpenMP thread: splitting a single
# query across threads costs more than it saves, and on a busy machine OpenMP's
# waiting threads turn a 1 ms search into 10-40 ms (measured: bench/bench_query.py).
SMALL_BATCH = 20
_threads_lock = threading.Lock()
_ALL_CORES = os.cpu_count() or 1


def set_faiss_threads(n_queries: int) -> None:
    """Set FAISS to one thread for small query batches, all cores otherwise.

    Called before each FAISS call rather than wrapped around it: the setting is
    left in place, because flipping OpenMP's thread count back and forth on every
    query costs more than the search itself, and a context manager alone costs a
    few percent of a single HNSW query.
    """
    import faiss

    wanted = 1 if n_queries < SMALL_BATCH else _ALL_CORES
    if faiss.omp_get_max_threads() != wanted:
        with _threads_lock:
            faiss.omp_set_num_threads(wanted)


def positions_to_ids(positions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """FAISS result positions (-1: no result) -> chunk ids through a label array."""
    if not len(labels):
        return np.full_like(positions, -1)
    ids = labels[positions]  # -1 picks the last label: put right below
    missing = positions < 0
    if np.count_nonzero(missing):
        ids[missing] = -1
    return ids


class VectorIndex(ABC):
    """A searchable set of (id, unit vector) pairs."""

    backend: str = ""
    #: True when search is exact (brute force): filters need no exact fallback.
    exact: bool = False
    #: True when the file can be memory-mapped on load (read cost, not copy cost).
    mmap: bool = False

    def __init__(self, spec: dict[str, Any], dimension: int):
        self.spec = spec
        self.dimension = dimension
        self.vector_source: VectorSource | None = None

    @abstractmethod
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under the given ids (ids not present yet)."""

    @abstractmethod
    def remove(self, ids: np.ndarray) -> None:
        """Remove ids; unknown ids are ignored."""

    @abstractmethod
    def search(
        self, queries: np.ndarray, k: int, params: dict[str, Any] | None = None, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row; missing slots have id -1.

        ``allowed`` restricts results to those ids; ``params`` are per-call knobs
        that must never change shared state.
        """

    @abstractmethod
    def count(self) -> int:
        """How many vectors are searchable."""

    @abstractmethod
    def save(self, path: str) -> None:
        """Write the index to ``path`` (the caller makes it atomic)."""

    @classmethod
    @abstractmethod
    def load(cls, path: str, spec: dict[str, Any], dimension: int) -> "VectorIndex":
        """Read an index written by :meth:`save`."""

    def build(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Fill an empty index from scratch (backends that train override this)."""
        self.add(ids, vectors)

    def build_pages(self, pages: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]], n_rows: int) -> None:
        """Fill an empty index from ``pages()`` ((ids, vectors) pages, ``n_rows`` in all),
        never holding more than a page besides the index (trained backends override
        this to sample first: ``pages()`` can be iterated again). A backend that
        overrides only :meth:`build` gets every row at once, as it asks."""
        if type(self).build is not VectorIndex.build:
            parts = list(pages())
            dim = self.dimension
            self.build(np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64),
                       np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, dim), np.float32))
            return
        for ids, vectors in pages():
            self.add(ids, vectors)

    def needs_rebuild(self) -> bool:
        """True when a rebuild from the store would serve better than catching up
        (HNSW full of tombstones, IVF trained on far fewer rows than it holds)."""
        return False

    def describe(self) -> dict[str, Any]:
        """Facts about the built index for ``info`` (effective parameters, tombstones)."""
        return {"backend": self.backend, "vectors": self.count()}
