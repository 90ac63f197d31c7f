"""add_vectors into an empty collection builds its first vector index from the
vectors it kept in memory, instead of reading them back from the store; the
index must be exactly the one a rebuild from the store gives, on both stores,
and the store's word wins whenever anything else was written meanwhile."""

from __future__ import annotations

import numpy as np
import pytest
from vecdex.indexer import pipeline
from vecdex.search import Vecdex
from vecdex.storage.store import Store

DIM = 8


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def exact_top(vx: Vecdex, collection, query: np.ndarray, k: int) -> list[str]:
    """The k nearest documents by brute force over the store's own vectors."""
    info = collection._refresh()
    with vx.store.vector_scan(info) as scan:
        ids, vectors = map(np.concatenate, zip(*scan.pages()))
    owner = {row.chunk_id: row.ext_id for row in vx.store.chunk_hits(ids.tolist()).values()}
    order = np.argsort(-(vectors @ query), kind="stable")
    return [owner[int(i)] for i in ids[order][:k]]


def scans(monkeypatch) -> list[int]:
    """Counts store scans of every vector (a rebuild's read)."""
    calls: list[int] = []
    real = Store.vector_scan

    def counted(self, *args, **kwargs):
        calls.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "vector_scan", counted)
    return calls


def test_first_index_is_built_from_the_written_vectors(store_target, monkeypatch):
    monkeypatch.setattr(pipeline, "VECTOR_BATCH_DOCS", 7)  # five batches, chunk ids from each
    rng = np.random.default_rng(3)
    vectors = unit(rng.standard_normal((30, DIM)))
    with Vecdex(store_target) as vx:
        coll = vx.collection("c", create=True, embedder="precomputed", dimension=DIM, index="flat")
        calls = scans(monkeypatch)
        report = coll.add_vectors([f"d{i}" for i in range(30)], vectors)
        assert report.added == 30 and not calls  # built from memory, not read back
        index = vx.indexes._open[(coll.info.id, coll.info.generation)][0]
        assert index.count() == 30
        for q in vectors[::3]:
            assert [h.id for h in coll.search_vector(q, k=5)] == exact_top(vx, coll, q, 5)

    # The saved file is the same index: a fresh process loads it and answers alike.
    with Vecdex(store_target) as vx:
        coll = vx.collection("c")
        for q in vectors[::5]:
            assert [h.id for h in coll.search_vector(q, k=5)] == exact_top(vx, coll, q, 5)
        assert vx.indexes.last_action == "file"


def test_a_second_call_catches_up_from_the_store(store_target, monkeypatch):
    """Into a collection that already has rows nothing is kept in memory: the index
    is caught up from the store, and rewritten documents keep only their new vectors."""
    monkeypatch.setattr(pipeline, "VECTOR_BATCH_DOCS", 4)
    rng = np.random.default_rng(5)
    vectors = unit(rng.standard_normal((12, DIM)))
    with Vecdex(store_target) as vx:
        coll = vx.collection("c", create=True, embedder="precomputed", dimension=DIM, index="flat")
        coll.add_vectors([f"d{i}" for i in range(12)], vectors)
        newer = unit(rng.standard_normal((12, DIM)))
        calls = scans(monkeypatch)
        coll.add_vectors([f"d{i}" for i in range(12)], newer)  # not empty now: caught up from the store
        assert not calls  # a catch-up, not a rebuild
        for q in newer[::3]:
            assert [h.id for h in coll.search_vector(q, k=4)] == exact_top(vx, coll, q, 4)


def test_a_write_from_elsewhere_in_between_makes_it_read_the_store(store_target, monkeypatch, tmp_path):
    """Another connection writes to the collection after this call's last batch
    and before its index is built: the kept vectors are not all the collection's
    any more, so the index is built from the store (and holds the other write)."""
    rng = np.random.default_rng(11)
    vectors = unit(rng.standard_normal((20, DIM)))
    other_vector = unit(rng.standard_normal((1, DIM)))
    monkeypatch.setenv("VECDEX_CACHE_DIR", str(tmp_path / "cache-a"))
    with Vecdex(store_target) as vx, Vecdex(store_target) as other:
        coll = vx.collection("c", create=True, embedder="precomputed", dimension=DIM, index="flat")
        real_run = pipeline.Indexer.run_vectors

        def then_another_writer(self, records, matrix):
            report = real_run(self, records, matrix)
            if self.store is vx.store:  # this call, not the other writer's own
                other.collection("c").add_vectors(["elsewhere"], other_vector)
            return report

        monkeypatch.setattr(pipeline.Indexer, "run_vectors", then_another_writer)
        calls = scans(monkeypatch)
        coll.add_vectors([f"d{i}" for i in range(20)], vectors)
        assert calls  # rebuilt from the store
        assert coll.search_vector(other_vector[0], k=1)[0].id == "elsewhere"
        assert vx.indexes._open[(coll.info.id, coll.info.generation)][0].count() == 21
