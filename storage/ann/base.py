"""The whole contract of a vector index backend.

Vectors are L2-normalised float32, so inner product = cosine. Ids are int64 chunk
ids from the SQL store. A backend never decides what is true: it is a cache of
the store and can always be rebuilt from it.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

# Below this many queries a search runs on one OpenMP thread: splitting a single
# query across threads costs more than it saves, and on a busy machine OpenMP's
# waiting threads turn a 1 ms search into 10-40 ms (measured: bench/bench_query.py).
SMALL_BATCH = 20
_threads_lock = threading.Lock()


@contextmanager
def faiss_threads(n_queries: int) -> Iterator[None]:
    """Run FAISS single-threaded for small query batches, on all cores otherwise.

    The setting is left in place afterwards: flipping OpenMP's thread count back
    and forth on every query costs more than the search itself.
    """
    import faiss

    wanted = 1 if n_queries < SMALL_BATCH else (os.cpu_count() or 1)
    with _threads_lock:
        if faiss.omp_get_max_threads() != wanted:
            faiss.omp_set_num_threads(wanted)
    yield


class VectorIndex(ABC):
    """A searchable set of (id, unit vector) pairs."""

    backend: str = ""

    def __init__(self, spec: dict[str, Any], dimension: int):
        self.spec = spec
        self.dimension = dimension

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
