"""The store's reads: what the vector index, search, maps and refits read.

:class:`StoreReads` is a part of :class:`~storage.store.Store` (which provides
``reading()``, the per-thread plain ``_reader()`` and ``_collection_from_row``);
the search path's two hot reads use a plain sqlite3 connection, the rest
SQLAlchemy Core.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple, Sequence

import numpy as np
from sqlalchemy import func, select

from ..errors import StoreError
from . import schema
from .filters import Filter, filter_clause
from .text_rules import NUL

if TYPE_CHECKING:
    from .store import CollectionInfo

SQL_PARAM_CHUNK = 500  # stay well under SQLite's bound-parameter limit


class ChunkHit(NamedTuple):
    """What search needs to know about one chunk (a plain row: built per hit, per query)."""

    chunk_id: int
    document_id: int
    ext_id: str
    metadata_json: str  # decoded only for the hits a search returns
    snippet: str
    start: int
    end: int


class DocumentSample(NamedTuple):
    """A document as a map shows it."""

    ext_id: str
    text: str  # the first characters only
    metadata: dict[str, Any]


def blobs_to_matrix(blobs: Sequence[bytes], dimension: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dimension).astype(np.float32)


# A ChunkHit row, column for column.
_CHUNK_HIT_SELECT = (
    'SELECT c.id, c.document_id, d.ext_id, d.metadata, substr(d.text, c.start + 1, c."end" - c.start), '
    'c.start, c."end" FROM chunks c JOIN documents d ON d.id = c.document_id '
)


@functools.lru_cache(maxsize=64)
def _chunk_hits_sql(n_ids: int) -> str:
    """The hit lookup for n ids, built once per n (it runs on every search)."""
    return _CHUNK_HIT_SELECT + f'WHERE c.id IN ({",".join("?" * n_ids)})'


def _json_object(value: Any) -> dict[str, Any]:
    """Metadata as a dict (a JSON column gives a dict; JSON text is decoded)."""
    if isinstance(value, (bytes, str)):
        import json

        return json.loads(value) if value else {}
    return dict(value or {})


def batched(items: Sequence[Any], size: int = SQL_PARAM_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: Rows per page of an index rebuild's read (~13 MB of 50d vectors).
VECTOR_PAGE_ROWS = 65536


class VectorScan(NamedTuple):
    """A snapshot's chunk vectors, by pages (see :meth:`StoreReads.vector_scan`)."""

    seq: int
    total: int
    pages: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]]


class StoreReads:
    """Read queries of a store (mixed into :class:`~storage.store.Store`)."""

    # -- reads for the vector index -------------------------------------------------------

    def vector_state(
        self, collection: CollectionInfo, since_seq: int | None
    ) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, int]:
        """One snapshot of what a FAISS file needs to cover the current state.

        Returns (seq, removed chunk ids since ``since_seq``, added chunk ids, their
        vectors, total chunk count). ``since_seq=None`` means everything (a rebuild).
        Removed is None when tombstones after ``since_seq`` were already pruned:
        such an index cannot be caught up and must be rebuilt.
        """
        ch, tomb, cols = schema.chunks, schema.chunk_tombstones, schema.collections
        dim = int(collection.embedder["dimension"])
        with self.reading() as conn:
            seq = int(conn.execute(select(cols.c.seq).where(cols.c.id == collection.id)).scalar_one())
            query = select(ch.c.id, ch.c.vector).where(ch.c.collection_id == collection.id)
            removed = np.zeros(0, dtype=np.int64)
            if since_seq is not None and since_seq < self._tombstone_floor(conn, collection.id):
                return seq, None, np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32), -1
            if since_seq is not None:
                query = query.where(ch.c.seq > since_seq)
                removed = np.asarray(
                    [r[0] for r in conn.execute(
                        select(tomb.c.chunk_id).where(tomb.c.collection_id == collection.id, tomb.c.seq > since_seq)
                    )],
                    dtype=np.int64,
                )
            rows = conn.execute(query.order_by(ch.c.id)).all()
            total = int(conn.execute(select(func.count()).select_from(ch).where(ch.c.collection_id == collection.id)).scalar_one())
        ids = np.asarray([r[0] for r in rows], dtype=np.int64)
        return seq, removed, ids, blobs_to_matrix([r[1] for r in rows], dim), total

    def chunk_id_state(self, collection_id: int) -> tuple[int, int, np.ndarray]:
        """(seq, generation, every chunk id ascending) of a collection, from one
        snapshot: enough to tell whether vectors a write kept in memory are all of
        the collection's (:meth:`IndexCache.sync`'s ``written``). On SQLite through
        a plain connection: SQLAlchemy's rows cost ~0.3 s per 100k ids."""
        if self.kind == "sqlite":
            conn = self.connect_raw()
            try:
                conn.execute("PRAGMA busy_timeout = 60000")
                conn.execute("BEGIN")
                state = conn.execute("SELECT seq, generation FROM collections WHERE id = ?", (collection_id,)).fetchone()
                ids = conn.execute("SELECT id FROM chunks WHERE collection_id = ?", (collection_id,)).fetchall()
            finally:
                conn.close()
        else:
            ch, cols = schema.chunks, schema.collections
            with self.reading() as sa:
                state = sa.execute(select(cols.c.seq, cols.c.generation).where(cols.c.id == collection_id)).first()
                ids = sa.execute(select(ch.c.id).where(ch.c.collection_id == collection_id)).all()
        if state is None:
            raise StoreError(f"collection {collection_id} no longer exists")
        # Sorted here: ORDER BY made SQLite sort them in a temporary B-tree, slower.
        return int(state[0]), int(state[1]), np.sort(np.array(ids, dtype=np.int64).reshape(-1))

    def rows_since(self, collection: CollectionInfo, since_seq: int) -> int:
        """Chunks written after ``since_seq`` (an index range count: what a catch-up would read)."""
        ch = schema.chunks
        with self.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(ch).where(
                ch.c.collection_id == collection.id, ch.c.seq > since_seq)).scalar_one())

    @contextmanager
    def vector_scan(self, collection: CollectionInfo, page_rows: int | None = None) -> Iterator["VectorScan"]:
        """One snapshot of every chunk vector, to be read a page at a time (an index
        rebuild that never holds all vectors besides the index's own copy).

        Inside the ``with``: ``seq`` and ``total`` of the snapshot, and ``pages()``,
        which can be iterated more than once (a trained index samples first)."""
        ch, cols = schema.chunks, schema.collections
        dim = int(collection.embedder["dimension"])
        page_rows = page_rows or VECTOR_PAGE_ROWS
        with self.reading() as conn:
            seq = int(conn.execute(select(cols.c.seq).where(cols.c.id == collection.id)).scalar_one())
            total = int(conn.execute(
                select(func.count()).select_from(ch).where(ch.c.collection_id == collection.id)).scalar_one())
            query = (select(ch.c.id, ch.c.vector).where(ch.c.collection_id == collection.id).order_by(ch.c.id)
                     .execution_options(stream_results=True, yield_per=page_rows))

            def pages() -> Iterator[tuple[np.ndarray, np.ndarray]]:
                for rows in conn.execute(query).partitions(page_rows):
                    yield (np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                           blobs_to_matrix([r[1] for r in rows], dim))

            yield VectorScan(seq, total, pages)

    @staticmethod
    def _tombstone_floor(conn, collection_id: int) -> int:
        """The seq below which tombstones were forgotten (-1: none yet)."""
        row = conn.execute(select(schema.meta.c.value).where(
            schema.meta.c.key == f"tombstone_floor:{collection_id}")).first()
        return int(row[0]) if row else -1

    def chunk_texts(self, collection_id: int) -> tuple[CollectionInfo, list[int], list[str]]:
        """From one snapshot: the collection's row and every chunk's id and text, by id
        (what a refit fits on and re-embeds)."""
        docs, ch, cols = schema.documents, schema.chunks, schema.collections
        with self.reading() as conn:
            row = conn.execute(select(cols).where(cols.c.id == collection_id)).first()
            if row is None:
                raise StoreError(f"collection {collection_id} no longer exists")
            rows = conn.execute(
                select(ch.c.id, func.substr(docs.c.text, ch.c.start + 1, ch.c.end - ch.c.start))
                .select_from(ch.join(docs, docs.c.id == ch.c.document_id))
                .where(ch.c.collection_id == collection_id).order_by(ch.c.id)).all()
        return self._collection_from_row(row), [r[0] for r in rows], [r[1] for r in rows]

    # -- reads for search -------------------------------------------------------------------

    def chunk_hits(self, chunk_ids: Sequence[int]) -> dict[int, ChunkHit]:
        """Documents and snippet text for chunk ids (ids no longer stored are absent)."""
        out: dict[int, ChunkHit] = {}
        chunk_ids = list(chunk_ids)
        if not chunk_ids:
            return out
        reader, make = self._reader(), tuple.__new__  # tuple.__new__: _make's checks cost ~1 us a row here
        for part in batched(chunk_ids) if len(chunk_ids) > SQL_PARAM_CHUNK else (chunk_ids,):
            for row in reader.execute(_chunk_hits_sql(len(part)), part):
                out[row[0]] = make(ChunkHit, row)
        return out

    def chunk_documents(self, collection_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids ascending, the document row id of each) of a collection: what a
        hybrid search's dense side needs to fuse by document. A chunk never moves to
        another document (updates write new chunks), so the pairs stay true."""
        rows = list(self._reader().execute(
            "SELECT id, document_id FROM chunks WHERE collection_id = ? ORDER BY id", (collection_id,)))
        pairs = np.array(rows, dtype=np.int64).reshape(-1, 2)
        return np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])

    def chunk_document_ids(self, chunk_ids: Sequence[int]) -> dict[int, int]:
        """chunk id -> document row id for the chunk ids still stored."""
        out: dict[int, int] = {}
        reader = self._reader()
        for part in batched(list(chunk_ids)):
            rows = reader.execute(f"SELECT id, document_id FROM chunks WHERE id IN ({','.join('?' * len(part))})",
                                  list(part))
            out.update((int(r[0]), int(r[1])) for r in rows)
        return out

    def scan_chunk_hits(self, collection_id: int, consume: Callable[[Iterator[ChunkHit]], Any]) -> tuple[int, int, Any]:
        """Every chunk's hit row, by chunk id, from one snapshot: returns (seq,
        generation, ``consume(rows)``). Rows stream inside the read transaction,
        so ``consume`` sees exactly the state that (seq, generation) names."""
        with self.reading() as conn:
            state = conn.exec_driver_sql(
                "SELECT seq, generation FROM collections WHERE id = ?", (collection_id,)).first()
            if state is None:
                raise StoreError(f"collection {collection_id} no longer exists")
            rows = conn.exec_driver_sql(
                _CHUNK_HIT_SELECT + "WHERE c.collection_id = ? ORDER BY c.id", (collection_id,))
            make = tuple.__new__
            out = consume(make(ChunkHit, tuple(row)) for row in rows)
        return int(state[0]), int(state[1]), out

    def chunk_vectors(self, collection_id: int, chunk_ids: Sequence[int], dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids still stored, their exact vectors), in the order asked (for re-ranking
        and exact search over a filter's few rows). By primary key only: with the
        collection in the WHERE clause SQLite would scan the collection's index."""
        found: dict[int, bytes] = {}
        reader = self._reader()
        for part in batched([int(i) for i in chunk_ids]):
            rows = reader.execute(
                f"SELECT id, collection_id, vector FROM chunks WHERE id IN ({','.join('?' * len(part))})", list(part))
            found.update({r[0]: r[2] for r in rows if r[1] == collection_id})
        ids = [int(i) for i in chunk_ids if int(i) in found]
        return np.asarray(ids, dtype=np.int64), blobs_to_matrix([found[i] for i in ids], dimension)

    def document_vectors(self, collection: CollectionInfo, ext_id: str) -> tuple[int, np.ndarray] | None:
        """(document row id, its chunk vectors) or None when the id is not stored."""
        if NUL in ext_id:  # never stored (storage/text_rules.py); PostgreSQL refuses to compare it
            return None
        docs, ch = schema.documents, schema.chunks
        with self.reading() as conn:
            doc_id = conn.execute(
                select(docs.c.id).where(docs.c.collection_id == collection.id, docs.c.ext_id == ext_id)
            ).scalar()
            if doc_id is None:
                return None
            blobs = [r[0] for r in conn.execute(select(ch.c.vector).where(ch.c.document_id == doc_id).order_by(ch.c.ordinal))]
        return int(doc_id), blobs_to_matrix(blobs, int(collection.embedder["dimension"]))

    def filtered_chunk_ids(self, collection_id: int, filters: Sequence[Filter]) -> np.ndarray:
        """Chunk ids of documents whose metadata matches all ``filters``."""
        docs, ch = schema.documents, schema.chunks
        query = (select(ch.c.id).select_from(ch.join(docs, docs.c.id == ch.c.document_id))
                 .where(docs.c.collection_id == collection_id, filter_clause(filters, docs.c.metadata, self.json)))
        with self.reading() as conn:
            ids = [r[0] for r in conn.execute(query)]
        return np.asarray(ids, dtype=np.int64)

    def document_centroids(
        self, collection_id: int, dimension: int, pick: Callable[[np.ndarray], np.ndarray], text_chars: int
    ) -> tuple[int, list[DocumentSample], np.ndarray]:
        """Documents that have vectors, for a map: from one snapshot, their count and,
        for the row ids ``pick(all their row ids)`` keeps, each one's id, first
        ``text_chars`` characters and metadata, and the sum of its chunk vectors
        (float64, one row per picked document, in picked order)."""
        docs, ch = schema.documents, schema.chunks
        with self.reading() as conn:
            ids = np.asarray(conn.execute(
                select(docs.c.id).where(docs.c.collection_id == collection_id,
                                        docs.c.id.in_(select(ch.c.document_id).where(ch.c.collection_id == collection_id)))
                .order_by(docs.c.id)).scalars().all(), dtype=np.int64)
            total = len(ids)
            ids = pick(ids)
            position = {int(d): i for i, d in enumerate(ids.tolist())}
            found: dict[int, DocumentSample] = {}
            sums = np.zeros((len(ids), dimension), dtype=np.float64)
            for part in batched(ids.tolist()):
                meta = select(docs.c.id, docs.c.ext_id, func.substr(docs.c.text, 1, text_chars), docs.c.metadata)
                for doc_id, ext_id, prefix, metadata in conn.execute(meta.where(docs.c.id.in_(part))):
                    found[doc_id] = DocumentSample(ext_id, prefix, metadata)
                blobs = conn.execute(select(ch.c.document_id, ch.c.vector).where(ch.c.document_id.in_(part))
                                     .order_by(ch.c.document_id, ch.c.ordinal)).all()
                np.add.at(sums, [position[d] for d, _ in blobs], blobs_to_matrix([b for _, b in blobs], dimension))
        return total, [found[int(d)] for d in ids.tolist()], sums

    def counts(self, collection_id: int) -> tuple[int, int]:
        """(documents, chunks) in a collection."""
        with self.reading() as conn:
            n_docs = conn.execute(
                select(func.count()).select_from(schema.documents).where(schema.documents.c.collection_id == collection_id)
            ).scalar_one()
            n_chunks = conn.execute(
                select(func.count()).select_from(schema.chunks).where(schema.chunks.c.collection_id == collection_id)
            ).scalar_one()
        return int(n_docs), int(n_chunks)

    def document_page(self, collection_id: int, *, after: int = 0, limit: int = 100,
                      filters: Sequence[Filter] = ()) -> tuple[list[dict[str, Any]], int | None]:
        """One page of documents in storage order (row id), from the row after ``after``:
        (documents, row id to continue after, or None at the end). An upsert keeps a
        document's row, so paging while others write never repeats or skips a document
        that existed throughout. ``filters``: metadata filters, all must match."""
        docs = schema.documents
        query = (select(docs.c.id, docs.c.ext_id, docs.c.text, docs.c.metadata, docs.c.source, docs.c.created_at,
                        docs.c.updated_at)
                 .where(docs.c.collection_id == collection_id, docs.c.id > int(after))
                 .order_by(docs.c.id).limit(int(limit) + 1))
        if filters:
            query = query.where(filter_clause(filters, docs.c.metadata, self.json))
        with self.reading() as conn:
            rows = conn.execute(query).all()
        more = len(rows) > limit
        rows = rows[:limit]
        documents = [{"id": r[1], "text": r[2], "metadata": _json_object(r[3]), "source": r[4],
                      "created_at": r[5], "updated_at": r[6]} for r in rows]
        return documents, (int(rows[-1][0]) if more else None)

    def count_documents(self, collection_id: int) -> int:
        """Documents in a collection."""
        docs = schema.documents
        with self.reading() as conn:
            return int(conn.execute(select(func.count()).select_from(docs)
                                    .where(docs.c.collection_id == collection_id)).scalar_one())

    def document_ids(self, collection_id: int) -> list[str]:
        """Every document id of a collection, in storage order."""
        docs = schema.documents
        with self.reading() as conn:
            return [r[0] for r in conn.execute(select(docs.c.ext_id).where(docs.c.collection_id == collection_id)
                                               .order_by(docs.c.id))]

    def get_document(self, collection_id: int, ext_id: str) -> dict[str, Any] | None:
        if NUL in ext_id:  # never stored (storage/text_rules.py); PostgreSQL refuses to compare it
            return None
        docs = schema.documents
        with self.reading() as conn:
            row = conn.execute(
                select(docs).where(docs.c.collection_id == collection_id, docs.c.ext_id == ext_id)
            ).first()
        if row is None:
            return None
        m = row._mapping
        return {"id": m["ext_id"], "text": m["text"], "metadata": m["metadata"], "source": m["source"],
                "content_hash": m["content_hash"], "created_at": m["created_at"], "updated_at": m["updated_at"]}
