"""Rows committed after a reader's FAISS index are scored exactly (both stores).

A reader whose HNSW index (and file) predates a write through another
connection catches up without touching FAISS: the new rows are scored by brute
force from their stored vectors and merged with the graph's results. Each test
checks the write is found with its exact cosine, deletes and rewrites take
effect, and the next write through the reader folds the rows into FAISS.
"""

from __future__ import annotations

import numpy as np
import pytest
from vecdex.search import Vecdex
from vecdex.storage.ann import delta as delta_module
from vecdex.storage.ann.delta import DeltaIndex

DIM = 16


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def open_index(vx: Vecdex, collection) -> object:
    return vx.indexes._open[(collection.info.id, collection.info.generation)][0]


@pytest.fixture
def two_connections(store_target, tmp_path, monkeypatch):
    """A writer and a reader on one store, each with its own cache folder (a
    PostgreSQL store keeps caches per process; a SQLite one beside the file)."""
    monkeypatch.setenv("VECDEX_CACHE_DIR", str(tmp_path / "writer-cache"))
    writer = Vecdex(store_target)
    monkeypatch.setenv("VECDEX_CACHE_DIR", str(tmp_path / "reader-cache"))
    reader = Vecdex(store_target)
    yield writer, reader
    reader.close()
    writer.close()


def test_a_write_through_another_connection_is_found_with_its_exact_score(two_connections, store_target):
    writer, reader = two_connections
    rng = np.random.default_rng(7)
    base = unit(rng.standard_normal((300, DIM)))
    w = writer.collection("c", create=True, embedder="precomputed", dimension=DIM, index="hnsw:M=8,efSearch=16")
    w.add_vectors([f"d{i}" for i in range(300)], base)
    r = reader.collection("c")
    r.search_vector(base[0], k=3)  # the reader's index: the 300 rows, saved to its file
    file_before = reader.indexes.file_for(r._refresh())
    assert file_before is not None
    covered_before = reader.indexes.covered_by(file_before)[1]

    new = unit(rng.standard_normal((5, DIM)))
    report = w.add_vectors([f"new{i}" for i in range(5)], new)
    w.delete(["d1"])
    written = w.add_vectors(["d2"], unit(-base[2:3])).seq  # rewritten: its old vector must not be found
    assert written == w.store_seq()

    assert r.search_vector(new[0], k=1, min_seq=written)[0].id == "new0"
    index = open_index(reader, r)
    assert isinstance(index, DeltaIndex) and len(index.ids) == 6  # FAISS untouched: 5 new + d2 rewritten
    if reader.indexes.folder != writer.indexes.folder:  # PostgreSQL: the reader's own folder, file unchanged
        assert reader.indexes.covered_by(reader.indexes.file_for(r._refresh()))[1] == covered_before
    for i, vector in enumerate(new):
        query = unit(vector[None, :] + 0.05 * rng.standard_normal((1, DIM)))[0]
        hits = r.search_vector(query, k=3)
        assert hits[0].id == f"new{i}"
        assert hits[0].score == pytest.approx(float(query @ vector), abs=1e-6)
    assert "d1" not in {h.id for h in r.search_vector(base[1], k=5)}
    assert "d2" not in {h.id for h in r.search_vector(base[2], k=5)}
    assert r.search_vector(-base[2], k=1)[0].id == "d2"
    assert report.added == 5

    # A new process whose cache folder holds only the file from before the write
    with Vecdex(store_target) as again:  # $VECDEX_CACHE_DIR: still the reader's folder
        if reader.indexes.folder != writer.indexes.folder:
            assert again.indexes.folder == reader.indexes.folder
        query = unit(new[2:3] + 0.05 * rng.standard_normal((1, DIM)))[0]
        hits = again.collection("c").search_vector(query, k=1, min_seq=written)
        assert hits[0].id == "new2" and hits[0].score == pytest.approx(float(query @ new[2]), abs=1e-6)
        if reader.indexes.folder != writer.indexes.folder:  # PostgreSQL: that old file, plus the exact delta
            assert isinstance(open_index(again, again.collection("c")), DeltaIndex)

    # The reader's own next write folds the delta into FAISS and saves the file.
    r.add_vectors(["mine"], unit(rng.standard_normal((1, DIM))))
    folded = open_index(reader, r)
    assert not isinstance(folded, DeltaIndex) and folded.count() == 300 + 5 + 1 - 1
    assert reader.indexes.covered_by(reader.indexes.file_for(r._refresh()))[1] == r.store_seq()
    assert r.search_vector(new[3], k=1)[0].id == "new3"


def test_a_delta_past_its_bound_is_folded_into_faiss(two_connections, monkeypatch):
    writer, reader = two_connections
    monkeypatch.setattr(delta_module, "DELTA_MIN_ROWS", 10)
    monkeypatch.setattr(delta_module, "DELTA_MAX_FLOATS", 10 * DIM)
    rng = np.random.default_rng(3)
    w = writer.collection("c", create=True, embedder="precomputed", dimension=DIM, index="hnsw:M=8")
    w.add_vectors([f"d{i}" for i in range(50)], unit(rng.standard_normal((50, DIM))))
    r = reader.collection("c")
    r.search_vector(rng.standard_normal(DIM), k=1)
    w.add_vectors(["a", "b"], unit(rng.standard_normal((2, DIM))))
    r.catch_up()
    assert isinstance(open_index(reader, r), DeltaIndex)
    extra = unit(rng.standard_normal((20, DIM)))
    w.add_vectors([f"x{i}" for i in range(20)], extra)
    assert r.catch_up() == w.store_seq()
    index = open_index(reader, r)
    assert not isinstance(index, DeltaIndex) and index.count() == 72
    assert reader.indexes.covered_by(reader.indexes.file_for(r._refresh()))[1] == w.store_seq()  # saved
    assert r.search_vector(extra[4], k=1)[0].id == "x4"


def test_a_filtered_search_sees_delta_rows(two_connections):
    writer, reader = two_connections
    rng = np.random.default_rng(5)
    w = writer.collection("c", create=True, embedder="precomputed", dimension=DIM, index="hnsw:M=8")
    vectors = unit(rng.standard_normal((100, DIM)))
    w.add_vectors([f"d{i}" for i in range(100)], vectors, metadata=[{"g": i % 2} for i in range(100)])
    r = reader.collection("c")
    r.search_vector(vectors[0], k=1)
    w.add_vectors(["late"], vectors[:1], metadata=[{"g": 1}])
    r.catch_up()
    assert isinstance(open_index(reader, r), DeltaIndex)
    hits = r.search_vector(vectors[0], k=2, where={"g": 1})
    assert hits[0].id == "late" and hits[0].score == pytest.approx(1.0, abs=1e-6)
    assert {h.id for h in r.search_vector(vectors[0], k=2, where={"g": 0})} >= {"d0"}
