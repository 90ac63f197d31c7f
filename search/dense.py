"""Dense (vector) search over a collection's index: query rows, FAISS rounds,
exact scoring of filtered rows, chunk hits collapsed into document hits.

:class:`DenseSearch` is mixed into :class:`~vecdex.search.engine.Collection`,
which provides ``info``, ``index()``, ``_vx`` (the store), ``_hit_rows`` and
``_chunks_per_doc``.
"""

from __future__ import annotations

import json
import math
from typing import Any, NamedTuple

import numpy as np

from ..errors import QueryError
from ..storage.ann.spec import search_params
from ..storage.store import ChunkHit
from .filters import normalise_filters
from .hit_cache import HitCache
from .hits import Hit, check_k, make_snippet

# Filters matching at most this many chunks (or this share of them) are searched
# exactly over their rows instead of through an approximate index.
EXACT_FILTER_ROWS = 2048
EXACT_FILTER_SHARE = 0.01
_UNREAD = object()  # a chunk row not looked up yet (None: looked up, gone)


class DenseCandidate(NamedTuple):
    """A dense hit before its row, snippet and metadata are read (see ``light``)."""

    document_id: int  # the store's row id: what fusion matches the two sides on
    score: float
    chunk_id: int  # its best chunk: the snippet, if the hit is returned


def dense_hit(row: ChunkHit, score: float, rank: int) -> Hit:
    metadata = {} if row.metadata_json == "{}" else json.loads(row.metadata_json)
    return Hit(row.ext_id, score, make_snippet(row.snippet), metadata, rank, (row.start, row.end))


class DenseSearch:
    """Vector search methods of a collection."""

    def search_vector(
        self, vector: np.ndarray, k: int = 10, where: Any = None, *, exclude_document: int | None = None,
        nprobe: int | None = None, ef: int | None = None, light: bool = False, min_seq: int | None = None,
    ) -> list[Hit]:
        """Search by a vector of the collection's dimension (normalised here, so cosine).

        ``nprobe`` / ``ef`` override the index's IVF probes / HNSW efSearch for this
        call only (other threads searching at the same time are not affected).
        ``light``: :class:`DenseCandidate` rows instead of hits (fusion builds hits
        only for the few it returns). ``min_seq``: answer from a state covering at
        least that write (see :meth:`~search.engine.Collection.reach`).
        """
        if min_seq is not None:
            self.reach(min_seq, lexical=False)
        where = normalise_filters(where)
        if where:
            return self.search_vectors(np.asarray(vector, dtype=np.float32).reshape(1, -1), k, where,
                                       exclude_document=exclude_document, nprobe=nprobe, ef=ef, light=light)[0]
        # One unfiltered query, the common case, without the batch bookkeeping: at
        # 400k vectors an HNSW search takes ~0.25 ms, so every few microseconds of
        # glue show in bench/bench_ann.py's ratio against raw FAISS.
        query, params, index, cache = self._prepare_search(vector, k, nprobe, ef)
        available = index.count()
        fetch = self._fetch_size(k, exclude_document, available, light)
        while fetch:
            scores, ids = index.search(query, fetch, params)
            id_list = ids[0].tolist()
            if light:
                hits = self._candidates(scores[0], id_list, k, exclude_document)
            else:
                rows: dict[int, ChunkHit | None] = self._hit_rows.read([c for c in id_list[:k] if c >= 0], cache)
                hits = self._collapse(scores[0], id_list, k, exclude_document, rows, cache)
            if len(hits) == k or fetch >= available:
                return hits
            fetch = min(available, fetch * 4)  # documents repeated in the ranking: look deeper
        return []

    def search_vectors(
        self, vectors: Any, k: int = 10, where: Any = None, *, exclude_document: int | None = None,
        nprobe: int | None = None, ef: int | None = None, light: bool = False,
    ) -> list[list[Hit]]:
        """Many query vectors at once (one FAISS call and one SQL lookup per round)."""
        matrix, params, index, cache = self._prepare_search(vectors, k, nprobe, ef)
        allowed = None
        available = index.count()
        filters = normalise_filters(where)
        if filters:
            allowed = self._vx.store.filtered_chunk_ids(self.info.id, filters)
            available = len(allowed)
            # A very selective filter: scoring its few rows exactly beats steering an
            # approximate index towards them (and can never miss one).
            if not index.exact and available <= max(EXACT_FILTER_ROWS, EXACT_FILTER_SHARE * index.count()):
                return [self._exact(row, allowed, k, exclude_document, cache, light) for row in matrix]
        results: list[list[Hit]] = [[] for _ in matrix]
        pending = list(range(len(matrix))) if available else []
        fetch = self._fetch_size(k, exclude_document, available, light)
        while pending:
            queries = matrix if len(pending) == len(matrix) else matrix[pending]
            scores, ids = index.search(queries, fetch, params, allowed)
            # The first k chunks of every query in one read; more only if documents repeat.
            head = ids[:, :k]
            rows: dict[int, ChunkHit | None] = (
                {} if light else self._hit_rows.read(list(set(head[head >= 0].tolist())), cache))
            short = []
            for row, query in enumerate(pending):
                if light:
                    results[query] = self._candidates(scores[row], ids[row].tolist(), k, exclude_document)
                else:
                    results[query] = self._collapse(scores[row], ids[row].tolist(), k, exclude_document, rows, cache)
                if len(results[query]) < k and fetch < available:
                    short.append(query)
            pending, fetch = short, min(available, fetch * 4)
        if allowed is not None and not index.exact:
            # An approximate index may still come back short of k under a filter:
            # then the matching rows are scored exactly (filters stay exact).
            for query, hits in enumerate(results):
                if len(hits) < min(k, available):
                    results[query] = self._exact(matrix[query], allowed, k, exclude_document, cache, light)
        return results

    def _prepare_search(self, vectors: Any, k: int, nprobe: int | None, ef: int | None):
        """What every vector search starts with: a checked k, unit query rows, the
        per-call knobs, the up-to-date index and where its hit rows are read."""
        check_k(k)
        matrix = self._query_matrix(vectors)
        params = search_params(nprobe, ef)
        index = self.index()
        return matrix, params, index, self._hit_rows.source(self._index_state)

    def _fetch_size(self, k: int, exclude_document: int | None, available: int, light: bool = False) -> int:
        """Chunks to ask the index for: k documents' worth (one round when documents
        are one chunk, as words or short texts are); callers widen if documents repeat.
        Twice the average chunks per document for hits, once for a hybrid search's
        candidates: it asks for 50 documents, and an HNSW search for 2 x 50 documents'
        chunks raised efSearch to ~500, half of a hybrid query's dense time at 100k
        news articles (it still searches wider than a plain dense query's efSearch)."""
        per_document = 1 if light else 2
        extra = 0 if self._chunks_per_doc <= 1.0 else int(k * self._chunks_per_doc * per_document)
        return min(available, k + (exclude_document is not None) + extra)

    def _query_matrix(self, vectors: Any) -> np.ndarray:
        """Query vectors as unit float32 rows of the collection's dimension."""
        dimension = int(self.info.embedder["dimension"])
        if isinstance(vectors, np.ndarray):
            matrix = np.array(vectors, dtype=np.float32, ndmin=2)  # a copy: normalised in place below
        else:  # a list of rows (np.array on a list of arrays takes a slow path)
            matrix = np.array([np.asarray(v, dtype=np.float32) for v in vectors], dtype=np.float32, ndmin=2)
        if matrix.ndim != 2 or matrix.shape[1] != dimension:
            raise QueryError(f"vector has dimension {matrix.shape[-1]}, the collection {dimension}")
        if len(matrix) == 1:  # the common case, without the batch machinery
            norm = math.sqrt(float(np.dot(matrix[0], matrix[0])))
            if not math.isfinite(norm) or norm == 0:
                raise QueryError("query vectors must be finite and not all zero")
            matrix /= norm
            return matrix
        norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))[:, None]
        if not (np.isfinite(norms).all() and norms.all()):  # NaN/inf anywhere makes the norm non-finite
            raise QueryError("query vectors must be finite and not all zero")
        matrix /= norms
        return matrix

    def _exact(self, vector: np.ndarray, chunk_ids: np.ndarray, k: int, exclude_document: int | None,
               cache: HitCache | None = None, light: bool = False) -> list[Hit]:
        """Brute-force cosine over the given chunks' stored vectors."""
        ids, vectors = self._vx.store.chunk_vectors(self.info.id, chunk_ids, int(self.info.embedder["dimension"]))
        scores = vectors @ vector
        order = np.argsort(-scores, kind="stable")
        if light:
            return self._candidates(scores[order], ids[order].tolist(), k, exclude_document)
        return self._collapse(scores[order], ids[order].tolist(), k, exclude_document, {}, cache)

    def _candidates(self, scores: np.ndarray, id_list: list[int], k: int,
                    exclude_document: int | None) -> list[DenseCandidate]:
        """Chunk hits -> the k best documents as light candidates (document, score,
        best chunk): documents are looked up a block at a time, only as far down
        the ranking as it takes to fill k."""
        out: list[DenseCandidate] = []
        seen: set[int] = set()
        score_list = scores.tolist()
        position = 0
        while position < len(id_list) and len(out) < k:
            block = id_list[position : position + 2 * (k - len(out)) + 8]
            for offset, (chunk_id, document_id) in enumerate(zip(block, self._hit_rows.documents(block))):
                if chunk_id < 0 or document_id < 0 or document_id in seen or document_id == exclude_document:
                    continue
                seen.add(document_id)
                out.append(DenseCandidate(document_id, score_list[position + offset], chunk_id))
                if len(out) == k:
                    break
            position += len(block)
        return out

    def _collapse(self, scores: np.ndarray, id_list: list[int], k: int, exclude_document: int | None,
                  rows: dict[int, ChunkHit | None], cache: HitCache | None) -> list[Hit]:
        """Chunk hits -> document hits; a document scores as its best chunk.

        ``rows`` holds chunk rows read so far; missing ones are read (from
        ``cache`` or the store) a block at a time, only as far down the ranking
        as it takes to fill k documents.
        """
        hits: list[Hit] = []
        seen: set[int] = set()
        for position, (chunk_id, score) in enumerate(zip(id_list, scores.tolist())):
            if chunk_id < 0:
                continue
            row = rows.get(chunk_id, _UNREAD)
            if row is _UNREAD:
                block = [c for c in id_list[position : position + 2 * (k - len(hits)) + 8] if c >= 0]
                found = self._hit_rows.read(block, cache)
                rows.update({c: found.get(c) for c in block})
                row = rows[chunk_id]
            if row is None or row.document_id in seen or row.document_id == exclude_document:
                continue
            seen.add(row.document_id)
            hits.append(dense_hit(row, score, len(hits) + 1))
            if len(hits) == k:
                break
        return hits
