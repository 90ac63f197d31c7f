"""The SQLite store: schema and migrations, upserts, deletes, the tombstone log."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from vecdex.storage.migrations import LATEST_VERSION
from vecdex.storage.store import DocumentWrite, Store, StoreError


def doc(ext_id: str, n_chunks: int = 1, text: str = "some text here") -> DocumentWrite:
    rng = np.random.default_rng(len(ext_id) + n_chunks)
    return DocumentWrite(ext_id, text, f'{{"k": "{ext_id}"}}', f"hash-{ext_id}-{text}", None,
                         [(0, len(text))] * n_chunks, rng.standard_normal((n_chunks, 4)).astype(np.float32))


@pytest.fixture
def store(db_path):
    store = Store(db_path)
    yield store
    store.close()


@pytest.fixture
def coll(store):
    return store.create_collection("c", {"kind": "fake", "dimension": 4}, {"type": "flat"}, {"max_tokens": 10})


def test_new_store_is_wal_and_records_schema_version(store, db_path):
    assert store.schema_version() == LATEST_VERSION
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_applies_no_migration_twice(db_path):
    Store(db_path).close()
    again = Store(db_path)
    assert again.schema_version() == LATEST_VERSION
    again.close()


def test_foreign_sqlite_file_and_garbage_file_are_refused(tmp_path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as raw:
        raw.execute("CREATE TABLE people (name TEXT)")
    with pytest.raises(StoreError, match="not a vecdex store"):
        Store(other)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(StoreError, match="not a vecdex store"):
        Store(garbage)


def test_missing_store_when_not_creating(tmp_path):
    with pytest.raises(StoreError, match="no vecdex store"):
        Store(tmp_path / "absent.db", create=False)
    assert not (tmp_path / "absent.db").exists()


def test_upsert_replaces_chunks_and_logs_tombstones(store, coll):
    first = store.write_documents(coll.id, [doc("a", 2), doc("b", 1)])
    assert (first.added, first.updated, len(first.chunk_ids)) == (2, 0, 3)
    second = store.write_documents(coll.id, [doc("a", 1, "new text")])
    assert (second.added, second.updated) == (0, 1)
    assert sorted(second.removed_chunk_ids.tolist()) == sorted(first.chunk_ids[:2].tolist())
    assert store.counts(coll.id) == (2, 2)
    assert store.get_document(coll.id, "a")["text"] == "new text"
    info = store.get_collection("c")
    seq, removed, ids, vectors, total = store.vector_state(info, since_seq=first.seq)
    assert seq == second.seq and total == 2
    assert sorted(removed.tolist()) == sorted(first.chunk_ids[:2].tolist())
    assert ids.tolist() == second.chunk_ids.tolist() and vectors.shape == (1, 4)


def test_delete_reports_missing_ids_and_bumps_seq(store, coll):
    store.write_documents(coll.id, [doc("a"), doc("b")])
    missing, result = store.delete_documents(coll.id, ["a", "zz"])
    assert missing == ["zz"] and len(result.removed_chunk_ids) == 1
    assert store.counts(coll.id) == (1, 1)
    missing, result = store.delete_documents(coll.id, ["nothing"])
    assert missing == ["nothing"] and result.seq == -1  # no write happened


def test_vectors_round_trip_exactly(store, coll):
    written = doc("a", 3)
    store.write_documents(coll.id, [written])
    _, stored = store.document_vectors(store.get_collection("c"), "a")
    assert np.array_equal(stored, written.vectors)


def test_create_collection_is_idempotent(store, coll):
    again = store.create_collection("c", {"kind": "other", "dimension": 9}, {"type": "flat"}, {})
    assert again.id == coll.id and again.embedder["kind"] == "fake"
