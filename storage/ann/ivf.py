"""Inverted-file indexes: ``ivf`` (IVF + exact vectors) and ``ivfpq`` (IVF + product
quantisation, optionally re-ranked exactly from the stored vectors).

IVF stores chunk ids in its lists, so it removes ids and filters with an
``IDSelectorBatch`` natively. Files are loaded memory-mapped (``IO_FLAG_MMAP``):
opening costs what reading the pages that are searched costs. A mapped index is
read-only, so the first write copies its lists into memory.

Training needs rows. ``nlist`` (and PQ's ``nbits``) are capped by what the rows
at build time can train; :meth:`needs_rebuild` asks for a rebuild once the index
has grown enough that a better-trained one is worth it.
"""

from __future__ import annotations

import math
from typing import Any

import faiss
import numpy as np

from .base import VectorIndex, set_faiss_threads
from .spec import IndexSpecError, ivf_nlist

TRAIN_PER_LIST = 39          # FAISS's minimum training rows per centroid
MAX_TRAIN_PER_LIST = 256     # FAISS samples this many per centroid anyway
RERANK_K_FACTOR = 8


class IVFIndex(VectorIndex):
    backend = "ivf"
    mmap = True

    def __init__(self, spec: dict[str, Any], dimension: int, index: faiss.IndexIVF | None = None):
        super().__init__(spec, dimension)
        self.index = index
        self._mapped = False

    # -- sizing ------------------------------------------------------------------------

    def wanted_nlist(self, n_rows: int) -> int:
        nlist = int(self.spec["nlist"]) if "nlist" in self.spec else ivf_nlist(n_rows)
        return max(1, min(nlist, n_rows // TRAIN_PER_LIST if n_rows >= TRAIN_PER_LIST else 1))

    def nprobe(self) -> int:
        if "nprobe" in self.spec:
            return int(self.spec["nprobe"])
        nlist = self.index.nlist if self.index is not None else 1
        # Word vectors are not well clustered: ~1/16 of the lists keeps recall@10 >= 0.9.
        return min(nlist, max(16, nlist // 16))

    def factory_string(self, nlist: int, n_rows: int) -> str:
        return f"IVF{nlist},Flat"

    # -- writes ----------------------------------------------------------------------------

    def _train(self, vectors: np.ndarray, n_rows: int | None = None) -> None:
        """Train on ``vectors`` (a sample of ``n_rows``, or all rows), sized for ``n_rows``."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n_rows = n_rows or len(vectors)
        nlist = self.wanted_nlist(n_rows)
        index = faiss.index_factory(self.dimension, self.factory_string(nlist, n_rows), faiss.METRIC_INNER_PRODUCT)
        cap = nlist * MAX_TRAIN_PER_LIST
        sample = vectors
        if len(vectors) > cap:
            rng = np.random.default_rng(1234)  # deterministic: the same store builds the same index
            sample = vectors[np.sort(rng.choice(len(vectors), cap, replace=False))]
        set_faiss_threads(len(sample))  # k-means: all cores
        index.train(sample)
        self.index = index
        self._mapped = False

    def build(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._train(vectors)
        self.add(ids, vectors)

    def build_pages(self, pages, n_rows: int) -> None:
        """Two passes over one snapshot: a seeded sample of about what training uses
        (deterministic: the same store trains the same index), then every row."""
        if not n_rows:
            return
        nlist = self.wanted_nlist(n_rows)
        keep = min(1.0, 2 * nlist * MAX_TRAIN_PER_LIST / n_rows)  # _train subsamples to its cap
        rng = np.random.default_rng(1234)
        sample = [vectors[rng.random(len(ids)) < keep] if keep < 1 else vectors for ids, vectors in pages()]
        self._train(np.concatenate(sample) if sample else np.zeros((0, self.dimension), np.float32), n_rows)
        del sample
        for ids, vectors in pages():
            self.add(ids, vectors)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        if self.index is None:  # built empty: train on the first rows that arrive
            self._train(vectors)
        self._writable()
        set_faiss_threads(len(ids))
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids) and self.index is not None and self.index.ntotal:
            self._writable()
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))

    def _writable(self) -> None:
        """Copy memory-mapped (read-only) lists into memory before the first write."""
        if not self._mapped:
            return
        source = self.index.invlists
        lists = faiss.ArrayInvertedLists(source.nlist, source.code_size)
        for number in range(source.nlist):
            size = source.list_size(number)
            if size:
                lists.add_entries(number, size, source.get_ids(number), source.get_codes(number))
        self.index.replace_invlists(lists, True)
        lists.this.disown()  # the index owns it now
        self._mapped = False

    def needs_rebuild(self) -> bool:
        if self.index is None:
            return False
        n = int(self.index.ntotal)
        return self.wanted_nlist(n) >= 2 * self.index.nlist

    # -- reads --------------------------------------------------------------------------------

    def _params(self, params: dict[str, Any] | None, allowed: np.ndarray | None):
        search_params = faiss.SearchParametersIVF()
        search_params.nprobe = int((params or {}).get("nprobe", self.nprobe()))
        keep = None
        if allowed is not None:
            keep = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            search_params.sel = keep
        return search_params, keep

    def search(self, queries, k, params=None, allowed=None):
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        k = max(1, min(int(k), max(self.count(), 1)))
        if self.index is None or not self.index.ntotal:
            return np.full((len(queries), k), -np.inf, dtype=np.float32), np.full((len(queries), k), -1, dtype=np.int64)
        search_params, _keep = self._params(params, allowed)
        set_faiss_threads(len(queries))
        return self.index.search(queries, k, params=search_params)

    def count(self) -> int:
        return int(self.index.ntotal) if self.index is not None else 0

    def describe(self) -> dict[str, Any]:
        out = {"backend": self.backend, "vectors": self.count()}
        if self.index is not None:
            out.update(nlist=int(self.index.nlist), nprobe=self.nprobe(), memory_mapped=self._mapped)
        return out

    # -- files ------------------------------------------------------------------------------------

    def save(self, path: str) -> None:
        if self.index is None:  # nothing trained yet: an empty flat file marks "no rows"
            faiss.write_index(faiss.IndexFlatIP(self.dimension), path)
        else:
            faiss.write_index(self.index, path)

    @classmethod
    def load(cls, path, spec, dimension):
        try:
            index = faiss.read_index(path, faiss.IO_FLAG_MMAP)
            mapped = True
        except RuntimeError:
            index = faiss.read_index(path)
            mapped = False
        if index.d != dimension:
            raise ValueError(f"index dimension {index.d} != collection dimension {dimension}")
        if isinstance(index, faiss.IndexFlat) and index.ntotal == 0:
            return cls(spec, dimension, None)
        if not isinstance(index, faiss.IndexIVF):
            raise ValueError(f"{path} is not an IVF index")
        if mapped:
            # The mapped lists are OnDiskInvertedLists, which start prefetch threads
            # on every search: ~1 ms per query for pages the OS cache already holds.
            faiss.downcast_InvertedLists(index.invlists).prefetch_nthread = 0
        out = cls(spec, dimension, index)
        out._mapped = mapped
        return out


class IVFPQIndex(IVFIndex):
    """IVF with PQ codes (``m`` bytes-ish per vector); ``rerank=1`` re-scores a
    shortlist of ``k_factor``·k candidates with the exact stored vectors."""

    backend = "ivfpq"

    def pq_m(self) -> int:
        if "m" in self.spec:
            m = int(self.spec["m"])
            if self.dimension % m:
                raise IndexSpecError(f"ivfpq m={m} must divide the dimension {self.dimension}")
            return m
        # About 4 dimensions per sub-quantiser: a quarter of the float32 bytes... at 8 bits, 1/16.
        divisors = [m for m in range(1, self.dimension + 1) if self.dimension % m == 0]
        return min(divisors, key=lambda m: (abs(m - self.dimension / 4), -m))

    def pq_nbits(self, n_rows: int) -> int:
        # PQ trains 2**nbits centroids per sub-space: cap nbits by the rows we have.
        nbits = int(self.spec.get("nbits", 8))
        return max(1, min(nbits, int(math.log2(max(n_rows // TRAIN_PER_LIST, 2)))))

    def factory_string(self, nlist: int, n_rows: int) -> str:
        return f"IVF{nlist},PQ{self.pq_m()}x{self.pq_nbits(n_rows)}np"  # np: no polysemous training (slow, unused)

    def needs_rebuild(self) -> bool:
        if self.index is None:
            return False
        return super().needs_rebuild() or self.pq_nbits(int(self.index.ntotal)) > self.index.pq.nbits

    def search(self, queries, k, params=None, allowed=None):
        rerank = bool(int(self.spec.get("rerank", 1))) and self.vector_source is not None
        if not rerank:
            return super().search(queries, k, params, allowed)
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        k = max(1, min(int(k), max(self.count(), 1)))
        factor = int((params or {}).get("k_factor", self.spec.get("k_factor", RERANK_K_FACTOR)))
        _, shortlist = super().search(queries, k * factor, params, allowed)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, candidates in enumerate(shortlist):
            candidates, vectors = self.vector_source(candidates[candidates >= 0])
            if not len(candidates):
                continue
            exact = vectors @ queries[row]
            order = np.argsort(-exact, kind="stable")[:k]
            scores[row, : len(order)] = exact[order]
            ids[row, : len(order)] = candidates[order]
        return scores, ids

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.index is not None:
            pq = self.index.pq
            out.update(m=int(pq.M), nbits=int(pq.nbits), rerank=bool(int(self.spec.get("rerank", 1))))
        return out
