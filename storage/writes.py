"""The store's writes: documents, vectors, deletions and the tombstones they leave.

:class:`StoreWrites` is a part of :class:`~storage.store.Store` (which provides
``writing()``, ``reading()``, ``_new_ids``, ``_lock_collection`` and
``_collection_from_row``). Every write is one transaction that also bumps the
collection's ``seq``: the write counter every cache catches up from.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from sqlalchemy import Connection, bindparam, func, insert, select, text, update

from ..errors import InputError, StoreError
from . import schema
from .reads import batched
from .text_rules import NUL, document_problem

#: Which of a batch's external ids a collection holds (built once: a statement made
#: per batch coerced each of its 500 ids again: 0.16 -> 0.11 s per 100k ids).
_EXISTING_IDS = select(schema.documents.c.ext_id, schema.documents.c.id).where(
    schema.documents.c.collection_id == bindparam("collection_id"),
    schema.documents.c.ext_id.in_(bindparam("ext_ids", expanding=True)))


@functools.lru_cache(maxsize=8)
def _existing_ids_sql(n_ids: int) -> str:
    return f"SELECT ext_id, id FROM documents WHERE collection_id = ? AND ext_id IN ({','.join('?' * n_ids)})"


if TYPE_CHECKING:
    from .store import CollectionInfo

# Tombstones outlive the writer's own catch-up by this long, so that every other
# process holding an index of the collection can catch up from them too.
TOMBSTONE_KEEP_SECONDS = float(os.environ.get("VECDEX_TOMBSTONE_SECONDS", 3600))


class StaleEmbedderError(StoreError):
    """Vectors were computed with an embedder state the collection no longer has
    (another process refitted it meanwhile); nothing was written."""


class CollectionChangedError(StoreError):
    """The collection was written to while an operation prepared a change based on
    its earlier state; nothing was written."""


@dataclass
class DocumentWrite:
    """A document ready to be stored: its chunks' spans and unit vectors."""

    ext_id: str
    text: str
    metadata_json: str  # JSON object text, stored as is
    content_hash: str
    source: str | None
    spans: list[tuple[int, int]]
    vectors: np.ndarray  # (len(spans), dim) float32


@dataclass
class WriteResult:
    seq: int
    added: int = 0
    updated: int = 0
    chunk_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    removed_chunk_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def vector_to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


class StoreWrites:
    """Write transactions of a store (mixed into :class:`~storage.store.Store`)."""

    def existing_hashes(self, collection_id: int, ext_ids: Sequence[str]) -> dict[str, str]:
        """ext_id -> content hash for the ids already stored."""
        docs = schema.documents
        found: dict[str, str] = {}
        with self.reading() as conn:
            for part in batched([e for e in ext_ids if NUL not in e]):  # never stored (text_rules)
                rows = conn.execute(
                    select(docs.c.ext_id, docs.c.content_hash).where(
                        docs.c.collection_id == collection_id, docs.c.ext_id.in_(part)
                    )
                )
                found.update({r[0]: r[1] for r in rows})
        return found

    def _bump_seq(self, conn: Connection, collection_id: int, embedder_spec: dict[str, Any] | None = None) -> int:
        """Count one more write; with ``embedder_spec``, refuse it (the transaction rolls
        back) unless that is still the collection's spec. One statement."""
        cols = schema.collections
        row = conn.execute(
            update(cols).where(cols.c.id == collection_id).values(seq=cols.c.seq + 1, updated_at=time.time())
            .returning(cols.c.seq, cols.c.embedder)
        ).one()
        if embedder_spec is not None and row[1] != embedder_spec:
            raise StaleEmbedderError(
                "the collection's embedder was refitted by another process during this run; "
                "nothing of this batch was written: run the command again"
            )
        return int(row[0])

    def _remove_chunks_of(self, conn: Connection, collection_id: int, document_ids: list[int], seq: int) -> np.ndarray:
        """Delete the chunks of these documents and log them as tombstones."""
        ch = schema.chunks
        removed: list[int] = []
        for part in batched(document_ids):
            removed.extend(r[0] for r in conn.execute(select(ch.c.id).where(ch.c.document_id.in_(part))))
        if removed:
            conn.execute(
                insert(schema.chunk_tombstones),
                [{"collection_id": collection_id, "chunk_id": cid, "seq": seq, "created_at": time.time()}
                 for cid in removed],
            )
            for part in batched(removed):
                conn.execute(ch.delete().where(ch.c.id.in_(part)))
        return np.asarray(removed, dtype=np.int64)

    def _existing_ids(self, conn: Connection, collection_id: int, ext_ids: list[str]) -> dict[str, int]:
        """External id -> row id of those of ``ext_ids`` the collection holds. On
        SQLite the statement goes to the driver as it is (SQLAlchemy expanded the
        500 placeholders of each batch one by one: 0.11 -> 0.04 s per 100k ids)."""
        existing: dict[str, int] = {}
        for part in batched(ext_ids):
            if self.kind == "sqlite":
                rows = conn.exec_driver_sql(_existing_ids_sql(len(part)), (collection_id, *part))
            else:
                rows = conn.execute(_EXISTING_IDS, {"collection_id": collection_id, "ext_ids": part})
            existing.update(iter(rows))
        return existing

    def write_documents(
        self, collection_id: int, batch: Sequence[DocumentWrite], embedder_spec: dict[str, Any] | None = None
    ) -> WriteResult:
        """Upsert a batch of documents (unique ext_ids) and their chunks in one transaction.

        The bulk inserts go straight to the driver with positional rows: at tens of
        thousands of rows a second, per-row statement compilation would dominate.
        With ``embedder_spec``, the write is refused (:class:`StaleEmbedderError`)
        unless it is still the collection's spec: stored vectors always match the
        stored pooling state, even when another process refits meanwhile.
        """
        for d in batch:  # the readers skip these; this guards every other way in (vectors, copy)
            refused = document_problem(d.ext_id, d.text, d.metadata_json)
            if refused is not None:
                raise InputError(f"document {d.ext_id!r}: {refused}")
        docs = schema.documents
        now = time.time()
        with self.writing() as conn:
            seq = self._bump_seq(conn, collection_id, embedder_spec)
            existing = self._existing_ids(conn, collection_id, [d.ext_id for d in batch])
            removed = self._remove_chunks_of(conn, collection_id, list(existing.values()), seq)
            doc_ids = iter(self._new_ids(conn, "documents", sum(d.ext_id not in existing for d in batch)))
            chunk_ids = self._new_ids(conn, "chunks", sum(len(d.spans) for d in batch))
            next_chunk = iter(chunk_ids)
            new_rows, updates, chunk_rows = [], [], []
            for doc in batch:
                document_id = existing.get(doc.ext_id)
                if document_id is None:
                    document_id = next(doc_ids)
                    new_rows.append((document_id, collection_id, doc.ext_id, doc.text, doc.metadata_json,
                                     doc.content_hash, doc.source, now, now, seq))
                else:
                    updates.append((doc.text, doc.metadata_json, doc.content_hash, doc.source, now, seq, document_id))
                vectors = np.asarray(doc.vectors, dtype="<f4")
                for ordinal, (start, end) in enumerate(doc.spans):
                    chunk_rows.append((next(next_chunk), collection_id, document_id, ordinal, start, end, seq,
                                       vectors[ordinal].tobytes()))
            if new_rows:
                conn.exec_driver_sql(
                    "INSERT INTO documents (id, collection_id, ext_id, text, metadata, content_hash, source, "
                    "created_at, updated_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", new_rows)
            if updates:
                # seq: the document log the lexical index catches up from (migration 3).
                conn.exec_driver_sql(
                    "UPDATE documents SET text = ?, metadata = ?, content_hash = ?, source = ?, updated_at = ?, "
                    "seq = ? WHERE id = ?", updates)
            if chunk_rows:
                conn.exec_driver_sql(
                    'INSERT INTO chunks (id, collection_id, document_id, ordinal, start, "end", seq, vector) '
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", chunk_rows)
        return WriteResult(
            seq=seq, added=len(new_rows), updated=len(updates),
            chunk_ids=np.asarray(chunk_ids, dtype=np.int64), removed_chunk_ids=removed,
        )

    def replace_vectors(
        self, state: CollectionInfo, spec: dict[str, Any], chunk_ids: Sequence[int],
        vectors: Sequence[np.ndarray | None],
    ) -> tuple[int, int]:
        """Swap in re-embedded vectors and the embedder spec that made them, in one short
        write transaction, if the collection is still exactly at ``state`` (its seq and
        generation): otherwise :class:`CollectionChangedError` and nothing is written,
        so stored vectors never mix two states. A None vector drops its chunk (no word
        known any more). The generation is bumped: FAISS files of the old vectors retire.
        Returns (chunks rewritten, chunks dropped)."""
        cols = schema.collections
        with self.writing() as conn:
            current = conn.execute(select(cols.c.seq, cols.c.generation).where(cols.c.id == state.id)
                                   .with_for_update()).first()
            if current is None or (int(current[0]), int(current[1])) != (state.seq, state.generation):
                raise CollectionChangedError(
                    f"collection {state.name!r} changed while it was being re-embedded; nothing was written")
            seq = self._bump_seq(conn, state.id)
            kept = [(cid, v) for cid, v in zip(chunk_ids, vectors) if v is not None]
            dropped = [cid for cid, v in zip(chunk_ids, vectors) if v is None]
            if kept:
                conn.exec_driver_sql("UPDATE chunks SET vector = ?, seq = ? WHERE id = ?",
                                     [(vector_to_blob(v), seq, cid) for cid, v in kept])
            if dropped:
                self._remove_chunk_ids(conn, state.id, dropped, seq)
            conn.execute(update(cols).where(cols.c.id == state.id)
                         .values(embedder=spec, generation=cols.c.generation + 1, updated_at=time.time()))
        return len(kept), len(dropped)

    def _remove_chunk_ids(self, conn: Connection, collection_id: int, chunk_ids: list[int], seq: int) -> None:
        conn.execute(
            insert(schema.chunk_tombstones),
            [{"collection_id": collection_id, "chunk_id": cid, "seq": seq, "created_at": time.time()}
             for cid in chunk_ids],
        )
        for part in batched(chunk_ids):
            conn.execute(schema.chunks.delete().where(schema.chunks.c.id.in_(part)))

    def delete_documents(self, collection_id: int, ext_ids: Sequence[str]) -> tuple[list[str], WriteResult]:
        """Delete documents by external id; returns (ids not found, result)."""
        docs = schema.documents
        with self.writing() as conn:
            self._lock_collection(conn, collection_id)  # the ids found stay ours until commit
            found: dict[str, int] = {}
            for part in batched([e for e in ext_ids if NUL not in e]):  # never stored (text_rules)
                rows = conn.execute(
                    select(docs.c.ext_id, docs.c.id).where(docs.c.collection_id == collection_id, docs.c.ext_id.in_(part))
                )
                found.update({r[0]: r[1] for r in rows})
            missing = [e for e in ext_ids if e not in found]
            if not found:
                return missing, WriteResult(seq=-1)
            seq = self._bump_seq(conn, collection_id)
            removed = self._remove_chunks_of(conn, collection_id, list(found.values()), seq)
            conn.exec_driver_sql(
                "INSERT INTO document_tombstones (collection_id, document_id, seq, created_at) VALUES (?, ?, ?, ?)",
                [(collection_id, document_id, seq, time.time()) for document_id in found.values()])
            for part in batched(list(found.values())):
                conn.execute(docs.delete().where(docs.c.id.in_(part)))
        return missing, WriteResult(seq=seq, removed_chunk_ids=removed)

    def index_synced(self, state: CollectionInfo, covered_seq: int, choice: dict[str, Any] | None) -> CollectionInfo:
        """What a writer records once its index covers ``covered_seq``, in one write
        transaction: ``auto``'s new ``choice`` of index type (a new generation of files
        when the index type changes), and the tombstones the index no longer needs.
        Only if the collection is still at ``state``'s generation (a reindex or refit
        in between makes both moot). Returns the collection's state after it."""
        cols = schema.collections
        values: dict[str, Any] = {"updated_at": cols.c.updated_at}
        if choice is not None:
            spec = state.index_spec
            previous = spec.get("resolved") or {"type": "flat"}  # what auto built before recording
            # efSearch alone is a search setting: the same files stay valid.
            same_files = {k: v for k, v in previous.items() if k != "efSearch"} == {
                k: v for k, v in choice.items() if k != "efSearch"}
            values = {"index_spec": {**spec, "resolved": choice}, "updated_at": time.time(),
                      "generation": cols.c.generation + int(not same_files)}
        with self.writing() as conn:
            row = conn.execute(update(cols).where(cols.c.id == state.id, cols.c.generation == state.generation)
                               .values(**values).returning(*cols.c)).first()
            if row is None:  # another generation meanwhile: leave its tombstones and spec alone
                row = conn.execute(select(cols).where(cols.c.id == state.id)).first()
                if row is None:
                    raise StoreError(f"collection {state.name!r} no longer exists")
            else:
                self._prune_tombstones(conn, state.id, covered_seq)
        return self._collection_from_row(row)

    @staticmethod
    def _prune_tombstones(conn: Connection, collection_id: int, up_to_seq: int,
                          keep_seconds: float | None = None) -> int:
        """Forget tombstones this process's index covers once they are ``keep_seconds``
        old (default ``TOMBSTONE_KEEP_SECONDS``): meanwhile, other processes holding
        older indexes catch up from them instead of rebuilding. Records the highest
        seq forgotten (the floor below which no index can be caught up). Returns how
        many were forgotten."""
        tomb = schema.chunk_tombstones
        keep = TOMBSTONE_KEEP_SECONDS if keep_seconds is None else keep_seconds
        condition = (tomb.c.collection_id == collection_id, tomb.c.seq <= up_to_seq,
                     tomb.c.created_at <= time.time() - keep)
        floor = conn.execute(select(func.max(tomb.c.seq)).where(*condition)).scalar()
        if floor is None:
            return 0
        gone = conn.execute(tomb.delete().where(*condition)).rowcount
        larger = ("GREATEST(CAST(vecdex_meta.value AS BIGINT), CAST(excluded.value AS BIGINT))"
                  if conn.dialect.name == "postgresql" else "max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))")
        conn.execute(text("INSERT INTO vecdex_meta (key, value) VALUES (:key, :value) ON CONFLICT (key) DO UPDATE "
                          f"SET value = CAST({larger} AS TEXT)"),
                     {"key": f"tombstone_floor:{collection_id}", "value": str(int(floor))})
        return int(gone)

    def prune_tombstones(self, collection_id: int, up_to_seq: int, keep_seconds: float | None = None) -> int:
        """:meth:`_prune_tombstones` in a transaction of its own."""
        with self.writing() as conn:
            return self._prune_tombstones(conn, collection_id, up_to_seq, keep_seconds)
