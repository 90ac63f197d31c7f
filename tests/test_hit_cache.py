"""Hit rows in memory (search/hit_cache.py): the answers SQLite gives, never stale."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from vecdex.indexer.chunking import ChunkingSpec
from vecdex.search import Vecdex, hit_cache


@pytest.fixture
def soon(monkeypatch):
    """Build the cache after 3 searches instead of 64."""
    monkeypatch.setattr(hit_cache, "HIT_CACHE_AFTER", 3)
    monkeypatch.delenv("VECDEX_HIT_CACHE_MB", raising=False)


def _docs(lines: list[str], n: int = 120) -> list[dict]:
    return [{"id": f"d{i}", "text": line, "metadata": {"n": i, "even": i % 2 == 0}} for i, line in enumerate(lines[:n])]


def _answers(hits_lists) -> list[list[tuple]]:
    return [[(h.id, round(h.score, 5), h.snippet, h.metadata, h.span, h.rank) for h in hits] for hits in hits_lists]


def _all_ways(coll, vectors) -> list[list[tuple]]:
    """One query at a time, as a batch, and 'similar' (which excludes a document)."""
    single = _answers(coll.search_vector(v, k=7) for v in vectors)
    batch = _answers(coll.search_vectors(np.stack(vectors), k=7))
    similar = _answers(coll.similar(f"d{i}", k=5, mode="dense") for i in range(0, 40, 7))
    return single + batch + similar


def test_cached_rows_give_the_answers_sqlite_gives(soon, db_path, lee_lines, monkeypatch):
    with Vecdex(db_path) as vx:
        coll = vx.collection("c", create=True, embedder="fake", chunking=ChunkingSpec(max_tokens=24))  # several chunks a document
        coll.add(_docs(lee_lines))
        vectors = [coll.embed_query(line[:120]) for line in lee_lines[:30]]
        warm = _all_ways(coll, vectors)
        coll._hit_rows.wait()  # built off the query path
        cache = coll._hit_rows.cache
        assert cache is not None and len(cache.rows) == coll.stats()["chunks"] > coll.stats()["documents"]
        cached = _all_ways(coll, vectors)
        assert coll._hit_rows.cache is cache  # nothing changed: the same copy served every search
    monkeypatch.setenv("VECDEX_HIT_CACHE_MB", "0")
    with Vecdex(db_path) as vx:
        plain = vx.collection("c")
        reference = _all_ways(plain, vectors)
        assert plain._hit_rows.cache is None
    assert warm == cached == reference


def test_a_write_makes_the_cache_stale_and_it_is_rebuilt_later(soon, db_path, lee_lines):
    docs = _docs(lee_lines, 60)
    with Vecdex(db_path) as vx:
        coll = vx.collection("c", create=True, embedder="fake")
        coll.add(docs)
        probe = coll.embed_query(docs[3]["text"])
        for _ in range(4):
            assert coll.search_vector(probe, k=3)[0].metadata == {"n": 3, "even": False}
        coll._hit_rows.wait()
        old = coll._hit_rows.cache
        assert old is not None
        # Same text, new metadata (an upsert writes new chunks), and a delete.
        coll.add([{"id": "d3", "text": docs[3]["text"], "metadata": {"n": 3, "changed": True}}])
        neighbours = [h.id for h in coll.search_vector(probe, k=10)]
        coll.delete([neighbours[1]])
        hits = coll.search_vector(probe, k=10)
        assert hits[0].id == "d3" and hits[0].metadata == {"n": 3, "changed": True}
        assert neighbours[1] not in [h.id for h in hits]
        for _ in range(4):
            assert coll.search_vector(probe, k=10)[0].metadata == {"n": 3, "changed": True}
        coll._hit_rows.wait()
        new = coll._hit_rows.cache
        assert new is not None and new is not old and new.state != old.state
        assert neighbours[1] not in {row.ext_id for row in new.rows.values()}


def test_a_write_through_another_connection_is_seen(soon, db_path, lee_lines):
    docs = _docs(lee_lines, 40)
    with Vecdex(db_path) as reader, Vecdex(db_path) as writer:
        coll = reader.collection("c", create=True, embedder="fake")
        coll.add(docs)
        probe = coll.embed_query(docs[5]["text"])
        for _ in range(4):
            coll.search_vector(probe, k=3)
        coll._hit_rows.wait()
        assert coll._hit_rows.cache is not None
        writer.collection("c").add([{"id": "d5", "text": docs[5]["text"], "metadata": {"by": "writer"}}])
        assert coll.search_vector(probe, k=3)[0].metadata == {"by": "writer"}


def test_a_collection_over_the_memory_budget_keeps_reading_sqlite(soon, db_path, lee_lines, monkeypatch):
    monkeypatch.setenv("VECDEX_HIT_CACHE_MB", "0.01")  # ~10 KB: less than 60 documents' rows
    with Vecdex(db_path) as vx:
        coll = vx.collection("c", create=True, embedder="fake")
        coll.add(_docs(lee_lines, 60))
        probe = coll.embed_query(lee_lines[7])
        answers = [[h.id for h in coll.search_vector(probe, k=5)] for _ in range(6)]
        coll._hit_rows.wait()
        answers += [[h.id for h in coll.search_vector(probe, k=5)] for _ in range(3)]
        assert coll._hit_rows.cache is None and coll._hit_rows._too_big is not None
        assert answers[0][0] == "d7" and all(a == answers[0] for a in answers)


def test_the_build_never_runs_in_a_searching_thread(soon, db_path, lee_lines, monkeypatch):
    """The search that makes the cache due returns at once; the copy arrives later."""
    with Vecdex(db_path) as vx:
        coll = vx.collection("c", create=True, embedder="fake")
        coll.add(_docs(lee_lines, 30))
        probe = coll.embed_query(lee_lines[2])
        release = threading.Event()
        real_read = hit_cache.HitCache.read
        threads = []

        def slow_read(*args, **kwargs):
            threads.append(threading.current_thread())
            release.wait(30)
            return real_read(*args, **kwargs)

        monkeypatch.setattr(hit_cache.HitCache, "read", staticmethod(slow_read))
        for _ in range(5):  # the build is due at the 3rd and blocked: searches go on from SQLite
            assert coll.search_vector(probe, k=3)[0].id == "d2"
        assert coll._hit_rows.cache is None
        release.set()
        coll._hit_rows.wait()
        assert threads and all(t is not threading.main_thread() for t in threads)
        assert coll.search_vector(probe, k=3)[0].id == "d2" and coll._hit_rows.cache is not None


@pytest.mark.parametrize("spacing", [1, 3])  # dense ids (direct array) and sparse ones (binary search)
def test_chunk_documents_map_answers_like_a_dict(spacing):
    from vecdex.search.hit_cache import ChunkDocuments

    rng = np.random.default_rng(spacing)
    chunk_ids = np.arange(1000, 1000 + 5000 * spacing, spacing, dtype=np.int64)
    chunk_ids = np.sort(rng.choice(chunk_ids, 4000, replace=False))  # some ids missing in between
    document_ids = rng.integers(0, 10**9, len(chunk_ids))
    mapped = ChunkDocuments(chunk_ids, document_ids)
    assert (mapped._direct is not None) == (spacing == 1)
    truth = dict(zip(chunk_ids.tolist(), document_ids.tolist()))
    asked = np.concatenate([rng.integers(-5, 1000 + 5000 * spacing + 50, 500), [-1, 0, 999, chunk_ids[0],
                                                                                 chunk_ids[-1], chunk_ids[-1] + 1]])
    assert mapped.lookup(asked.astype(np.int64)).tolist() == [truth.get(int(c), -1) for c in asked]
    assert ChunkDocuments(np.zeros(0, np.int64), np.zeros(0, np.int64)).lookup(np.array([3])).tolist() == [-1]
