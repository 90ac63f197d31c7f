"""The Python API: open a store, index documents, search, find similar, delete.

    from search import Vecdex

    vx = Vecdex("notes.db")
    docs = vx.collection("notes", create=True)
    docs.add([{"id": "a", "text": "The river bank flooded.", "metadata": {"year": 2020}}])
    for hit in docs.search("flood near the river", k=5, where=["year>=2019"]):
        print(hit.id, round(hit.score, 3), hit.snippet)
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from indexer.chunking import ChunkingSpec
from indexer.embedders.base import Embedder, EmbedderError
from indexer.embedders.factory import create_embedder, embedder_from_spec
from indexer.readers import Problem, Record
from search import lexical
from search.filters import compile_filters, normalise_filters
from search.hit_cache import HitCache, HitRows
from search.hybrid import Ranking, fuse
from storage.ann.factory import DEFAULT_INDEX_SPEC
from storage.ann.spec import (
    IndexSpecError,
    check_dimension,
    format_spec,
    parse_index_spec,
    search_params,
)
from storage.index_cache import IndexCache
from storage.store import ChunkHit, CollectionInfo, DocumentWrite, Store, StoreError

if TYPE_CHECKING:
    from indexer.pipeline import IndexReport

DEFAULT_DB = "vecdex.db"
DEFAULT_COLLECTION = "default"
SNIPPET_CHARS = 280
# Filters matching at most this many chunks (or this share of them) are searched
# exactly over their rows instead of through an approximate index.
EXACT_FILTER_ROWS = 2048
EXACT_FILTER_SHARE = 0.01
VECTOR_BATCH = 2048
_UNREAD = object()  # a chunk row not looked up yet (None: looked up, gone)


class QueryError(Exception):
    """A query that cannot be answered as asked (no known words, unknown id)."""


class ModelMismatchError(Exception):
    """An attempt to add to a collection with a different model than it was built with."""


@dataclass(slots=True)
class Hit:
    """One search result: a document, its best chunk's cosine and that chunk's text."""

    id: str
    score: float
    snippet: str
    metadata: dict[str, Any]
    rank: int = 0
    span: tuple[int, int] = (0, 0)

    def as_dict(self, query: str | None = None) -> dict[str, Any]:
        out = {"query": query, "rank": self.rank, "id": self.id, "score": round(float(self.score), 6),
               "snippet": self.snippet, "metadata": self.metadata}
        return out


def default_db_path() -> str:
    return os.environ.get("VECDEX_DB") or DEFAULT_DB


def make_snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    if len(text) <= limit and "  " not in text and text.isprintable():  # already flat: the common case
        return text.strip()
    flat = " ".join(text.split())  # collapse whitespace (faster than a regex on the hot path)
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit)
    return flat[: cut if cut > limit // 2 else limit].rstrip() + "…"


# layers/pooling: an ELMo collection pooled another way holds incomparable vectors.
_MODEL_KEYS = ("kind", "model", "fingerprint", "dimension", "layers", "pooling")


def _same_model(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in _MODEL_KEYS)


def _model_difference(wanted: dict[str, Any], stored: dict[str, Any]) -> str:
    """What differs, e.g. "pooling max (collection: mean)"."""
    diffs = [f"{k} {wanted.get(k)} (collection: {stored.get(k)})" for k in _MODEL_KEYS
             if k != "fingerprint" and wanted.get(k) != stored.get(k)]
    return "; ".join(diffs) or "the model files changed (fingerprint differs)"


#: Pooling options of an embedder spec that change its vectors (static embedder).
POOLING_KEYS = ("pooling", "sif_a", "word_freq", "components", "fit")


def _pooling_difference(wanted: dict[str, Any], stored: dict[str, Any], asked: dict[str, Any]) -> str | None:
    """A description of the stored pooling when an option the caller set differs from it."""
    defaults = {"pooling": "mean", "components": 0}
    stored_pooling = {k: stored.get(k, defaults.get(k)) for k in POOLING_KEYS}
    if all(wanted.get(k) == stored_pooling[k] for k in asked if k in POOLING_KEYS and asked[k] is not None):
        return None
    return ", ".join(f"{k}={v}" for k, v in stored_pooling.items() if v is not None)


class Collection:
    """A named set of documents embedded one way. Get one from :meth:`Vecdex.collection`."""

    def __init__(self, vecdex: "Vecdex", info: CollectionInfo):
        self._vx = vecdex
        self.info = info
        self._embedder: Embedder | None = None
        self._index: tuple[int, Any] | None = None  # (store data_version, index) last checked
        self._index_state: tuple[int, int] | None = None  # (generation, seq) that index covers
        self._chunks_per_doc = 1.0
        self._hit_rows = HitRows(vecdex.store, info.id)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def embedder(self) -> Embedder:
        # Rebuilt when the stored spec changed (a refit by this or another process).
        if self._embedder is None or self._embedder.spec != self.info.embedder:
            self._embedder = embedder_from_spec(self.info.embedder)
        return self._embedder

    def _refresh(self) -> CollectionInfo:
        info = self._vx.store.get_collection(self.info.name)
        if info is None:
            raise StoreError(f"collection {self.info.name!r} no longer exists")
        self.info = info
        return info

    def _current(self) -> CollectionInfo:
        """The collection's row, reread only when its generation changed (a reindex
        or refit by this or another process): one tiny query otherwise."""
        state = self._vx.store.collection_state(self.info.id)
        if state is None or state[1] != self.info.generation:
            self._refresh()
        return self.info

    def index(self):
        """The up-to-date vector index (built or caught up from the store if needed)."""
        # While no connection has committed anything, the index we hold is current:
        # one PRAGMA instead of re-reading the collection on every search.
        version = self._vx.store.data_version()
        if self._index is not None and self._index[0] == version:
            return self._index[1]
        index = self._vx.indexes.get(self._refresh())
        n_docs, n_chunks = self._vx.store.counts(self.info.id)
        self._chunks_per_doc = n_chunks / n_docs if n_docs else 1.0
        self._index_state = self._vx.indexes.open_state(self.info.id, index)
        self._index = (version, index)
        return index

    # -- writes ------------------------------------------------------------------------

    def add(
        self,
        documents: Iterable[Mapping[str, Any] | Sequence[Any] | Record | Problem],
        *,
        strict: bool = False,
        workers: int | None = None,
        progress=None,
    ) -> "IndexReport":
        """Insert or update documents by id; unchanged ones are skipped.

        Each document is a dict ``{"id", "text", "metadata"?}``, a tuple
        ``(id, text[, metadata])``, or a :class:`indexer.readers.Record`.
        """
        if self.info.embedder.get("kind") == "precomputed":
            raise EmbedderError(
                f"collection {self.name!r} holds precomputed vectors: add documents with add_vectors()"
            )
        from indexer.pipeline import Indexer  # not needed (nor imported) on the query path

        indexer = Indexer(self._vx.store, self._refresh(), self.embedder, workers=workers, progress=progress)
        try:
            report = indexer.run((_as_record(d) for d in documents), strict=strict)
        finally:
            self._sync_index()
        if self._refit_due():
            self.refit()
        return report

    upsert = add

    def delete(self, ids: Sequence[str]) -> list[str]:
        """Delete documents by id; returns the ids that were not found."""
        missing, _ = self._vx.store.delete_documents(self.info.id, [str(i) for i in ids])
        self._sync_index()
        return missing

    def add_vectors(
        self,
        ids: Sequence[str],
        vectors: Any,
        texts: Sequence[str] | None = None,
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> "IndexReport":
        """Insert or update documents with the application's own vectors.

        Only for collections made with ``embedder="precomputed", dimension=D``:
        vectors from another model would not be comparable with a text model's.
        Vectors are L2-normalised (search is cosine); unchanged documents are skipped.
        """
        if self.info.embedder.get("kind") != "precomputed":
            raise ModelMismatchError(
                f"collection {self.name!r} embeds text with {self.info.embedder.get('model')}; vectors from "
                "elsewhere are not comparable. Make a collection with embedder='precomputed', dimension=D"
            )
        ids = [str(i) for i in ids]
        matrix = self._query_matrix(vectors) if len(ids) else np.zeros((0, self.embedder.dimension), np.float32)
        texts = list(texts) if texts is not None else [""] * len(ids)
        metadata = list(metadata) if metadata is not None else [None] * len(ids)
        if not (len(matrix) == len(ids) == len(texts) == len(metadata)):
            raise QueryError(f"{len(ids)} ids, {len(matrix)} vectors, {len(texts)} texts, {len(metadata)} metadata: "
                             "they must be as many")
        if len(set(ids)) != len(ids):
            raise QueryError("ids must be unique within one call")
        from indexer.pipeline import IndexReport, canonical_metadata, content_hash  # writes only

        report = IndexReport()
        started = time.perf_counter()
        try:
            for start in range(0, len(ids), VECTOR_BATCH):
                part = range(start, min(start + VECTOR_BATCH, len(ids)))
                writes = []
                for i in part:
                    meta = canonical_metadata(dict(metadata[i] or {}))
                    # The vector is part of the content: a changed vector is an update.
                    digest = content_hash(texts[i] + "\x00" + matrix[i].astype("<f4").tobytes().hex(), meta)
                    writes.append(DocumentWrite(ext_id=ids[i], text=texts[i], metadata_json=meta, content_hash=digest,
                                                source=None, spans=[(0, len(texts[i]))], vectors=matrix[i : i + 1]))
                stored = self._vx.store.existing_hashes(self.info.id, [w.ext_id for w in writes])
                changed = [w for w in writes if stored.get(w.ext_id) != w.content_hash]
                report.unchanged += len(writes) - len(changed)
                if changed:
                    result = self._vx.store.write_documents(self.info.id, changed)
                    report.added += result.added
                    report.updated += result.updated
                    report.chunks += len(changed)
        finally:
            report.seconds = time.perf_counter() - started
            self._sync_index()
        return report

    def reindex(self, index: str | dict[str, Any] | None = None) -> dict[str, Any]:
        """Rebuild the vector index, with another spec if given (``"hnsw:M=32"``).

        Without a spec the current one is rebuilt; ``auto`` chooses afresh.
        """
        info = self._refresh()
        spec = parse_index_spec(index) if index is not None else dict(info.index_spec)
        spec.pop("resolved", None)
        check_dimension(spec, int(info.embedder["dimension"]))
        started = time.perf_counter()
        self._vx.store.update_index_spec(info.id, spec)  # new generation: old files retire
        self._vx.indexes.forget(info.id)
        self._sync_index()
        return {"collection": self.name, "index": self.info.index_spec, "seconds": time.perf_counter() - started}

    def _refit_due(self) -> bool:
        """A collection-fitted embedder is refitted when the collection has doubled
        since its last fit (amortised O(1) per document), or while its fit is
        still incomplete (too little text so far) and new text has arrived."""
        spec = self.info.embedder
        if spec.get("fit") != "collection":
            return False
        _, n_chunks = self._vx.store.counts(self.info.id)
        fitted = spec.get("fitted")
        if n_chunks == 0:
            return False
        if not fitted:
            return True
        done = int(fitted.get("documents", 0))
        incomplete = (spec.get("components") and not fitted.get("components")) or (
            spec.get("word_freq") == "corpus" and not fitted.get("word_probs")
        )
        return n_chunks >= 2 * done or (bool(incomplete) and n_chunks > done)

    def refit(self) -> dict[str, Any]:
        """Refit a collection-fitted pooling state (word frequencies, common
        components) on the collection's own chunks and re-embed every chunk.

        The new state and all re-embedded vectors are written in one transaction
        (with a new index generation), so stored vectors always match the stored
        state, also after a crash. Collections fitted on the model or a named
        corpus have nothing to refit (their state does not depend on the documents).
        """
        info = self._refresh()
        base = embedder_from_spec(info.embedder)
        if not getattr(base, "needs_collection_fit", False):
            return {"refitted": False, "reason": f"fit is {info.embedder.get('fit')!r}, not 'collection'"}

        def embed(texts: list[str]):
            fitted = base.fitted_on(texts)
            out = fitted.embed(texts)
            return fitted.spec, [out.vectors[i] if out.known[i] else None for i in range(len(texts))]

        kept, dropped = self._vx.store.rewrite_vectors(info.id, embed)
        self._sync_index()
        fitted = self.info.embedder.get("fitted") or {}
        return {"refitted": True, "chunks": kept, "dropped": dropped,
                "fitted": {k: v for k, v in fitted.items() if k not in ("components", "word_probs")},
                "components": bool(fitted.get("components")), "corpus_word_freq": bool(fitted.get("word_probs"))}

    def _sync_index(self) -> None:
        """Bring the FAISS file up to the store's state and forget covered tombstones."""
        info = self._refresh()
        self._vx.indexes.get(info)
        self._vx.store.prune_tombstones(info.id, self._vx.indexes.covered_seq(info))
        self._refresh()  # auto may just have recorded its choice

    # -- reads ---------------------------------------------------------------------------

    def embed_query(self, query: str) -> np.ndarray:
        vector = self.embedder.embed_one(query)
        if vector is None:
            raise self._unknown_words(query)
        return vector

    def _unknown_words(self, query: str) -> QueryError:
        shown = query if len(query) < 60 else query[:57] + "..."
        return QueryError(
            f"none of the words in {shown!r} are known to the model {self.embedder.model_name}; "
            "try other words"
        )

    def search(self, query: str, k: int = 10, where: Any = None, *, mode: str | Ranking | None = None,
               nprobe: int | None = None, ef: int | None = None, **ranking: Any) -> list[Hit]:
        """The k best documents for ``query``.

        ``mode`` is ``"dense"`` (closest in meaning: cosine of the best chunk),
        ``"lexical"`` (BM25 over the words) or ``"hybrid"`` (both, fused; the
        default); ``fusion="score"|"rrf"|"minmax"``, ``dense_weight``,
        ``lexical_weight`` and ``rrf_k`` tune the fusion (see :mod:`search.hybrid`).
        In hybrid mode a query none of whose words the model knows still finds
        exact word matches; it is an error only when neither side can answer.
        ``nprobe`` (IVF lists probed) and ``ef`` (HNSW efSearch) trade speed for
        recall of the dense side on this call only.
        """
        return self._search(query, k, where, Ranking.of(mode, **ranking), knobs={"nprobe": nprobe, "ef": ef})

    def _search(self, query: str, k: int, where: Any, options: Ranking, vector: np.ndarray | None = None,
                unknown: bool = False, knobs: dict[str, int | None] | None = None) -> list[Hit]:
        """One query; ``vector`` (or ``unknown``) when the caller embedded it already."""
        if k < 1:
            raise QueryError("k must be at least 1")
        if options.mode == "dense":
            if unknown:
                raise self._unknown_words(query)
            return self._dense(query, k, where, vector=vector, knobs=knobs)
        terms = lexical.query_terms(query)
        if options.mode == "lexical":
            if not terms:
                raise QueryError(f"no words to search for in {_shown(query)}")
            return self._lexical(terms, k, where)
        depth = options.depth(k)
        try:
            if unknown:
                raise self._unknown_words(query)
            dense, dense_error = self._dense(query, depth, where, vector=vector, knobs=knobs), None
        except QueryError as exc:
            dense, dense_error = [], exc
        words = self._lexical(terms, depth, where) if terms else []
        if dense_error is not None and not words:
            raise dense_error
        return _fused(dense, words, options, k)

    def _dense(self, query: str, k: int, where: Any, exclude_document: int | None = None,
               vector: np.ndarray | None = None, knobs: dict[str, int | None] | None = None) -> list[Hit]:
        knobs = knobs or {}
        if vector is not None:
            return self.search_vector(vector, k, where, exclude_document=exclude_document, **knobs)
        # A refit (new embedder state, new index generation) between embedding the
        # query and searching would compare vectors of two states: retry once.
        for _ in range(2):
            generation = self._current().generation
            hits = self.search_vector(self.embed_query(query), k, where, exclude_document=exclude_document, **knobs)
            if self.info.generation == generation:  # search_vector rereads it
                break
        return hits

    def _lexical(self, terms: list[str], k: int, where: Any, exclude_document: int | None = None) -> list[Hit]:
        found = lexical.search(self._vx.store, self.info.id, terms, k, where, exclude_document=exclude_document)
        return [Hit(h.ext_id, h.score, make_snippet(h.snippet), h.metadata, i) for i, h in enumerate(found, 1)]

    def search_many(self, queries: Sequence[str], k: int = 10, where: Any = None, *,
                    mode: str | Ranking | None = None, nprobe: int | None = None, ef: int | None = None,
                    **ranking: Any) -> list[list[Hit] | QueryError]:
        """Several queries; a query that cannot be answered yields its QueryError in place.

        The queries are embedded together: a contextual model (ELMo) batches them.
        """
        options = Ranking.of(mode, **ranking)
        queries = list(queries)
        embedded = self.embedder.embed(queries) if queries and options.mode != "lexical" else None
        results: list[list[Hit] | QueryError] = []
        for i, query in enumerate(queries):
            known = embedded is not None and bool(embedded.known[i])
            try:
                results.append(self._search(query, k, where, options, embedded.vectors[i] if known else None,
                                            unknown=embedded is not None and not known,
                                            knobs={"nprobe": nprobe, "ef": ef}))
            except QueryError as exc:
                results.append(exc)
        return results

    def similar(self, doc_id: str, k: int = 10, where: Any = None, *, mode: str | Ranking | None = None,
                nprobe: int | None = None, ef: int | None = None, **ranking: Any) -> list[Hit]:
        """Documents most like a stored one (itself excluded), in any ranking mode.

        Dense: the centroid of its chunk vectors; lexical: BM25 for its most
        distinctive words (tf-idf); hybrid: both, fused.
        """
        options = Ranking.of(mode, **ranking)
        if k < 1:
            raise QueryError("k must be at least 1")
        found = self._vx.store.document_vectors(self._refresh(), str(doc_id))
        if found is None:
            raise QueryError(f"no document with id {doc_id!r} in collection {self.name!r}")
        document_row, vectors = found
        depth = k if options.mode != "hybrid" else options.depth(k)
        dense: list[Hit] = []
        if options.mode != "lexical":
            if len(vectors) == 0 and options.mode == "dense":
                raise QueryError(f"document {doc_id!r} has no vector (none of its words are known to the model)")
            if len(vectors):
                centroid = vectors.mean(axis=0)
                centroid /= np.linalg.norm(centroid) or 1.0
                dense = self.search_vector(centroid, depth, where, exclude_document=document_row,
                                           nprobe=nprobe, ef=ef)
            if options.mode == "dense":
                return dense
        document = self._vx.store.get_document(self.info.id, str(doc_id)) or {"text": ""}
        terms = lexical.document_terms(self._vx.store, document["text"], self._vx.store.counts(self.info.id)[0])
        words = self._lexical(terms, depth, where, exclude_document=document_row) if terms else []
        if options.mode == "lexical":
            if not terms:
                raise QueryError(f"document {doc_id!r} shares no indexed word with other documents")
            return words
        if not dense and not words and len(vectors) == 0 and not terms:
            raise QueryError(f"document {doc_id!r} has neither a vector nor words shared with other documents")
        return _fused(dense, words, options, k)

    def search_vector(
        self, vector: np.ndarray, k: int = 10, where: Any = None, *, exclude_document: int | None = None,
        nprobe: int | None = None, ef: int | None = None,
    ) -> list[Hit]:
        """Search by a vector of the collection's dimension (normalised here, so cosine).

        ``nprobe`` / ``ef`` override the index's IVF probes / HNSW efSearch for this
        call only (other threads searching at the same time are not affected).
        """
        if where is not None:
            return self.search_vectors(np.asarray(vector, dtype=np.float32).reshape(1, -1), k, where,
                                       exclude_document=exclude_document, nprobe=nprobe, ef=ef)[0]
        # One unfiltered query, the common case, without the batch bookkeeping: at
        # 400k vectors an HNSW search takes ~0.25 ms, so every few microseconds of
        # glue show in bench/bench_ann.py's ratio against raw FAISS.
        query, params, index, cache = self._prepare_search(vector, k, nprobe, ef)
        available = index.count()
        fetch = self._fetch_size(k, exclude_document, available)
        while fetch:
            scores, ids = index.search(query, fetch, params)
            id_list = ids[0].tolist()
            rows: dict[int, ChunkHit | None] = self._hit_rows.read([c for c in id_list[:k] if c >= 0], cache)
            hits = self._collapse(scores[0], id_list, k, exclude_document, rows, cache)
            if len(hits) == k or fetch >= available:
                return hits
            fetch = min(available, fetch * 4)  # documents repeated in the ranking: look deeper
        return []

    def search_vectors(
        self, vectors: Any, k: int = 10, where: Any = None, *, exclude_document: int | None = None,
        nprobe: int | None = None, ef: int | None = None,
    ) -> list[list[Hit]]:
        """Many query vectors at once (one FAISS call and one SQL lookup per round)."""
        matrix, params, index, cache = self._prepare_search(vectors, k, nprobe, ef)
        allowed = None
        available = index.count()
        filters = normalise_filters(where)
        if filters:
            sql, sql_params = compile_filters(filters)
            allowed = self._vx.store.filtered_chunk_ids(self.info.id, sql, sql_params)
            available = len(allowed)
            # A very selective filter: scoring its few rows exactly beats steering an
            # approximate index towards them (and can never miss one).
            if not index.exact and available <= max(EXACT_FILTER_ROWS, EXACT_FILTER_SHARE * index.count()):
                return [self._exact(row, allowed, k, exclude_document, cache) for row in matrix]
        results: list[list[Hit]] = [[] for _ in matrix]
        pending = list(range(len(matrix))) if available else []
        fetch = self._fetch_size(k, exclude_document, available)
        while pending:
            queries = matrix if len(pending) == len(matrix) else matrix[pending]
            scores, ids = index.search(queries, fetch, params, allowed)
            # The first k chunks of every query in one read; more only if documents repeat.
            head = ids[:, :k]
            rows: dict[int, ChunkHit | None] = self._hit_rows.read(list(set(head[head >= 0].tolist())), cache)
            short = []
            for row, query in enumerate(pending):
                results[query] = self._collapse(scores[row], ids[row].tolist(), k, exclude_document, rows, cache)
                if len(results[query]) < k and fetch < available:
                    short.append(query)
            pending, fetch = short, min(available, fetch * 4)
        if allowed is not None and not index.exact:
            # An approximate index may still come back short of k under a filter:
            # then the matching rows are scored exactly (filters stay exact).
            for query, hits in enumerate(results):
                if len(hits) < min(k, available):
                    results[query] = self._exact(matrix[query], allowed, k, exclude_document, cache)
        return results

    def _prepare_search(self, vectors: Any, k: int, nprobe: int | None, ef: int | None):
        """What every vector search starts with: a checked k, unit query rows, the
        per-call knobs, the up-to-date index and where its hit rows are read."""
        if k < 1:
            raise QueryError("k must be at least 1")
        matrix = self._query_matrix(vectors)
        params = search_params(nprobe, ef)
        index = self.index()
        return matrix, params, index, self._hit_rows.source(self._index_state)

    def _fetch_size(self, k: int, exclude_document: int | None, available: int) -> int:
        """Chunks to ask the index for: k documents' worth (one round when documents
        are one chunk, as words or short texts are); callers widen if documents repeat."""
        extra = 0 if self._chunks_per_doc <= 1.0 else int(k * self._chunks_per_doc * 2)
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
               cache: HitCache | None = None) -> list[Hit]:
        """Brute-force cosine over the given chunks' stored vectors."""
        ids, vectors = self._vx.store.chunk_vectors(self.info.id, chunk_ids, int(self.info.embedder["dimension"]))
        scores = vectors @ vector
        order = np.argsort(-scores, kind="stable")
        return self._collapse(scores[order], ids[order].tolist(), k, exclude_document, {}, cache)

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
            metadata = {} if row.metadata_json == "{}" else json.loads(row.metadata_json)
            hits.append(Hit(row.ext_id, score, make_snippet(row.snippet), metadata, len(hits) + 1, (row.start, row.end)))
            if len(hits) == k:
                break
        return hits

    def get(self, doc_id: str) -> dict[str, Any] | None:
        return self._vx.store.get_document(self.info.id, str(doc_id))

    def stats(self) -> dict[str, Any]:
        """Counts, model, dimension, index and file sizes (what ``vecdex info`` shows)."""
        info = self._refresh()
        n_docs, n_chunks = self._vx.store.counts(info.id)
        index_file = self._vx.indexes.file_for(info)
        spec = info.embedder
        return {
            "collection": info.name,
            "documents": n_docs,
            "chunks": n_chunks,
            "dimension": spec["dimension"],
            "model": spec.get("model"),
            "embedder": spec,
            "chunking": info.chunking,
            "index": info.index_spec,
            "index_description": format_spec(info.index_spec),
            "index_file": str(index_file) if index_file else None,
            "index_file_bytes": index_file.stat().st_size if index_file else 0,
            "index_up_to_date": bool(index_file) and index_file.name.endswith(f"-s{info.seq}.faiss"),
            "db_path": str(self._vx.store.path),
            "db_bytes": _db_bytes(self._vx.store.path),
            # Hit rows this process holds in memory (search/hit_cache.py); 0 until
            # the collection has been searched often enough.
            "hit_cache_bytes": self._hit_rows.cache.nbytes if self._hit_rows.cache is not None else 0,
            "writes": info.seq,
            "created_at": info.created_at,
            "updated_at": info.updated_at,
        }


def _shown(query: str) -> str:
    return repr(query if len(query) < 60 else query[:57] + "...")


def _fused(dense: list[Hit], words: list[Hit], options: Ranking, k: int) -> list[Hit]:
    fused = fuse(dense, words, key=lambda h: h.id, score=lambda h: h.score, ranking=options, k=k)
    return [Hit(h.id, score, h.snippet, h.metadata, rank, h.span) for rank, (h, score) in enumerate(fused, 1)]


def _db_bytes(path) -> int:
    total = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            total += os.path.getsize(f"{path}{suffix}")
        except OSError:
            pass
    return total


def _as_record(doc: Any) -> Record | Problem:
    if isinstance(doc, (Record, Problem)):
        return doc
    if isinstance(doc, Mapping):
        if "id" not in doc or "text" not in doc:
            return Problem(str(doc.get("id", "?")), "a document needs 'id' and 'text'", "bad-record")
        text = doc["text"]
        if not isinstance(text, str) or not text.strip():
            return Problem(str(doc["id"]), "empty document" if isinstance(text, str) else "text must be a string", "empty")
        return Record(str(doc["id"]), text, dict(doc.get("metadata") or {}), str(doc["id"]))
    doc_id, text, *rest = doc
    if not isinstance(text, str) or not text.strip():
        return Problem(str(doc_id), "empty document", "empty")
    return Record(str(doc_id), text, dict(rest[0]) if rest and rest[0] else {}, str(doc_id))


class Vecdex:
    """A vecdex store on disk: one SQLite file plus its FAISS cache folder."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, create: bool = True):
        self.store = Store(path or default_db_path(), create=create)
        self.indexes = IndexCache(self.store)

    def __enter__(self) -> "Vecdex":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    def collections(self) -> list[CollectionInfo]:
        return self.store.list_collections()

    def collection(
        self,
        name: str = DEFAULT_COLLECTION,
        *,
        create: bool = False,
        embedder: str | None = None,
        model: str | None = None,
        chunking: ChunkingSpec | None = None,
        index: str | dict[str, Any] | None = None,
        **embedder_options: Any,
    ) -> Collection:
        """Open a collection; with ``create=True`` make it if missing.

        ``embedder`` (default "static") and ``model`` choose how a new collection
        embeds. For an existing one, whatever is given must match what it was
        built with: vectors from two models (or two chunkings) do not mix.
        ``index`` is the vector index spec of a new collection (``"auto"`` by
        default; ``"hnsw:M=32,efSearch=64"``, ``"ivf:nlist=1024"``, ``"flat"``...);
        an existing collection changes index with :meth:`Collection.reindex`.
        """
        wanted_index = parse_index_spec(index) if index is not None else None
        info = self.store.get_collection(name)
        if info is not None:
            current = {k: v for k, v in info.index_spec.items() if k != "resolved"}
            if wanted_index is not None and wanted_index != current:
                raise IndexSpecError(
                    f"collection {name!r} already has index {format_spec(current)}; "
                    f"change it with: vecdex reindex --collection {name} --index SPEC"
                )
            self._check_same_setup(info, embedder, model, chunking, embedder_options)
            return Collection(self, info)
        if not create:
            raise StoreError(
                f"no collection named {name!r} in {self.store.path} "
                f"(collections: {', '.join(c.name for c in self.collections()) or 'none yet'})"
            )
        new_embedder = create_embedder(embedder or "static", model=model, **embedder_options)
        wanted_index = wanted_index or dict(DEFAULT_INDEX_SPEC)
        check_dimension(wanted_index, new_embedder.dimension)
        chunking = chunking or getattr(new_embedder, "default_chunking", None) or ChunkingSpec()
        info = self.store.create_collection(
            name, new_embedder.spec, wanted_index, chunking.to_dict()
        )
        if not _same_model(new_embedder.spec, info.embedder):  # another process created it first
            raise ModelMismatchError(f"collection {name!r} was just created with another model")
        collection = Collection(self, info)
        collection._embedder = new_embedder
        return collection

    @staticmethod
    def _check_same_setup(info: CollectionInfo, embedder: str | None, model: str | None,
                          chunking: ChunkingSpec | None, embedder_options: dict[str, Any]) -> None:
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
            if not _same_model(wanted.spec, stored):
                raise ModelMismatchError(
                    f"collection {info.name!r} was built with {stored.get('kind')} model "
                    f"{stored.get('model')} ({stored.get('dimension')}d); {wanted.spec.get('model')} is a "
                    f"different model [{_model_difference(wanted.spec, stored)}]. Use another --collection "
                    "or the model the collection was built with"
                )
            differs = _pooling_difference(wanted.spec, stored, embedder_options)
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


__all__ = [
    "Collection", "Hit", "ModelMismatchError", "QueryError", "Vecdex", "EmbedderError", "StoreError", "IndexSpecError",
    "default_db_path",
]
