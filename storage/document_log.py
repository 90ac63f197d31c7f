"""Document-level reads of the store for the lexical index and lexical hits.

The lexical index (:mod:`storage.lexical_cache`) is derived from ``documents``:
it is caught up from the document log (``documents.seq``: the batch that last
wrote a document; ``document_tombstones``: the batch that removed one) or
rebuilt from every document. Hits read only the rows they return.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Iterator, NamedTuple, Sequence

from sqlalchemy import select

from ..errors import StoreError
from . import writes as writes_module
from . import schema
from .filters import Filter, filter_clause
from .store import SQL_PARAM_CHUNK, Store

#: Documents read per round while rebuilding (bounded memory for any store size).
SCAN_ROWS = 2048


class DocumentRow(NamedTuple):
    id: int
    text: str
    metadata_json: str


@dataclass
class DocumentChanges:
    """What happened to a collection's documents after some seq, from one snapshot."""

    seq: int  # the collection's seq in that snapshot
    pruned_seq: int  # tombstones up to this seq are gone: an index covering less must rebuild
    written: list[DocumentRow]  # inserted or updated after the seq
    removed: list[int]  # document ids deleted after the seq
    count: int  # documents in the collection


def store_id(store: Store) -> str:
    """The store's random identifier (migration 3): tells a cache whose store it came from."""
    with store.reading() as conn:
        row = conn.exec_driver_sql("SELECT value FROM vecdex_meta WHERE key = 'store_id'").first()
    return str(row[0]) if row else ""


def changes_since(store: Store, collection_id: int, since_seq: int) -> DocumentChanges:
    """Documents written and removed after ``since_seq`` (one read transaction)."""
    with store.reading() as conn:
        state = conn.exec_driver_sql(
            "SELECT seq, documents_pruned_seq FROM collections WHERE id = ?", (collection_id,)).first()
        if state is None:
            raise StoreError(f"collection {collection_id} no longer exists")
        written = [DocumentRow(*r) for r in conn.exec_driver_sql(
            "SELECT id, text, metadata FROM documents WHERE collection_id = ? AND seq > ? ORDER BY id",
            (collection_id, since_seq))]
        removed = [r[0] for r in conn.exec_driver_sql(
            "SELECT document_id FROM document_tombstones WHERE collection_id = ? AND seq > ?",
            (collection_id, since_seq))]
        count = conn.exec_driver_sql(
            "SELECT count(*) FROM documents WHERE collection_id = ?", (collection_id,)).scalar_one()
    return DocumentChanges(int(state[0]), int(state[1]), written, removed, int(count))


def scan_documents(store: Store, collection_id: int) -> tuple[int, int, Iterator[list[DocumentRow]]]:
    """(seq, document count, rows in blocks) of one snapshot, for a rebuild.

    A connection of its own holds the read transaction until the iterator is
    exhausted or closed, so every block belongs to the state ``seq`` names
    (plain sqlite3: SQLAlchemy's row handling doubled the cost of a rebuild).
    """
    if store.kind != "sqlite":
        return _scan_documents_sql(store, collection_id)
    conn = store.connect_raw()  # read-only stores: opened read-only, as the store is
    try:
        conn.execute("PRAGMA busy_timeout = 60000")
        conn.execute("BEGIN")
        state = conn.execute("SELECT seq FROM collections WHERE id = ?", (collection_id,)).fetchone()
        if state is None:
            raise StoreError(f"collection {collection_id} no longer exists")
        count = conn.execute("SELECT count(*) FROM documents WHERE collection_id = ?", (collection_id,)).fetchone()[0]
    except BaseException:
        conn.close()
        raise

    def blocks() -> Iterator[list[DocumentRow]]:
        try:
            cursor = conn.execute(
                "SELECT id, text, metadata FROM documents WHERE collection_id = ? ORDER BY id", (collection_id,))
            while True:
                rows = cursor.fetchmany(SCAN_ROWS)
                if not rows:
                    return
                yield rows
        finally:
            conn.close()

    return int(state[0]), int(count), blocks()


def _scan_documents_sql(store: Store, collection_id: int) -> tuple[int, int, Iterator[list[DocumentRow]]]:
    """:func:`scan_documents` for a server store: one read transaction (a snapshot)
    held open while the blocks stream from a server-side cursor."""
    context = store.reading()
    conn = context.__enter__()
    try:
        state = conn.exec_driver_sql("SELECT seq FROM collections WHERE id = ?", (collection_id,)).first()
        if state is None:
            raise StoreError(f"collection {collection_id} no longer exists")
        count = conn.exec_driver_sql(
            "SELECT count(*) FROM documents WHERE collection_id = ?", (collection_id,)).scalar_one()
    except BaseException as exc:
        context.__exit__(type(exc), exc, exc.__traceback__)
        raise

    def blocks() -> Iterator[list[DocumentRow]]:
        try:
            rows = conn.execution_options(stream_results=True, max_row_buffer=SCAN_ROWS).exec_driver_sql(
                "SELECT id, text, metadata FROM documents WHERE collection_id = ? ORDER BY id", (collection_id,))
            for block in rows.partitions(SCAN_ROWS):
                yield [tuple(r) for r in block]
        finally:
            context.__exit__(None, None, None)

    return int(state[0]), int(count), blocks()


def prune_tombstones(store: Store, collection_id: int, up_to_seq: int) -> None:
    """Forget document tombstones a lexical index covers, recording how far (so an
    index that covers less knows it cannot catch up and rebuilds instead)."""
    # Kept TOMBSTONE_KEEP_SECONDS after this process covered them: other processes'
    # indexes catch up from them meanwhile instead of rebuilding.
    if store.read_only:
        return
    where = "collection_id = ? AND seq <= ? AND created_at <= ?"
    params = (collection_id, up_to_seq, time.time() - writes_module.TOMBSTONE_KEEP_SECONDS)
    with store.reading() as conn:  # the common case, nothing old enough, takes no write lock
        if conn.exec_driver_sql(f"SELECT 1 FROM document_tombstones WHERE {where} LIMIT 1", params).first() is None:
            return
    with store.writing() as conn:
        floor = conn.exec_driver_sql(f"SELECT max(seq) FROM document_tombstones WHERE {where}", params).scalar()
        if floor is None:
            return
        conn.exec_driver_sql(f"DELETE FROM document_tombstones WHERE {where}", params)
        conn.exec_driver_sql(
            "UPDATE collections SET documents_pruned_seq = CASE WHEN documents_pruned_seq < ? THEN ? "
            "ELSE documents_pruned_seq END WHERE id = ?", (floor, floor, collection_id))


@functools.lru_cache(maxsize=64)
def _rows_sql(n_ids: int) -> str:
    return f"SELECT id, ext_id, metadata, text FROM documents WHERE id IN ({','.join('?' * n_ids)})"


def document_rows(store: Store, document_ids: Sequence[int]) -> dict[int, tuple[str, str, str]]:
    """Row id -> (external id, metadata JSON, text), for the hits a search returns."""
    out: dict[int, tuple[str, str, str]] = {}
    reader = store._reader()
    ids = list(document_ids)
    for start in range(0, len(ids), SQL_PARAM_CHUNK):
        part = ids[start : start + SQL_PARAM_CHUNK]
        out.update((r[0], r[1:]) for r in reader.execute(_rows_sql(len(part)), part))
    return out


def matching_documents(store: Store, document_ids: Sequence[int], filters: Sequence[Filter]) -> set[int]:
    """Which of these documents the metadata ``filters`` accept: the store's word on
    filters tantivy could not express exactly."""
    if not document_ids:
        return set()
    docs = schema.documents
    query = select(docs.c.id).where(docs.c.id.in_([int(i) for i in document_ids]),
                                    filter_clause(filters, docs.c.metadata, store.json))
    with store.reading() as conn:
        return set(conn.execute(query).scalars())
