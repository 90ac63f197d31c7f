"""FAISS files are a cache: missing, stale, damaged or foreign files never give wrong answers."""

from __future__ import annotations

import numpy as np
import pytest
from vecdex.storage.index_cache import IndexCache
from vecdex.storage.store import DocumentWrite, Store


def write(store, coll, ids, seed=0):
    rng = np.random.default_rng(seed)
    docs = []
    for ext in ids:
        v = rng.standard_normal((1, 8)).astype(np.float32)
        v /= np.linalg.norm(v)
        docs.append(DocumentWrite(ext, f"text {ext}", "{}", f"h{ext}{seed}", None, [(0, 4)], v))
    return store.write_documents(coll.id, docs)


@pytest.fixture
def setup(db_path):
    store = Store(db_path)
    coll = store.create_collection("c", {"kind": "fake", "dimension": 8}, {"type": "flat"}, {})
    yield store, coll
    store.close()


def fresh(store):
    """A new cache object, as a new process would have."""
    return IndexCache(store)


def current(store):
    return store.get_collection("c")


def test_first_open_builds_and_saves_a_file_named_by_seq(setup):
    store, coll = setup
    write(store, coll, ["a", "b", "c"])
    cache = fresh(store)
    index = cache.get(current(store))
    assert cache.last_action == "rebuilt" and index.count() == 3
    assert cache.file_for(current(store)).name == cache.file_name(current(store), 1)
    assert cache.file_for(current(store)).name.startswith(f"c{coll.id}-g0-s1-")
    again = fresh(store)
    again.get(current(store))
    assert again.last_action == "file"


def test_stale_file_is_caught_up_not_rebuilt(setup):
    store, coll = setup
    first = write(store, coll, ["a", "b", "c"])
    fresh(store).get(current(store))
    write(store, coll, ["d"], seed=1)
    store.delete_documents(coll.id, ["a"])
    cache = fresh(store)
    index = cache.get(current(store))
    assert cache.last_action == "caught-up" and index.count() == 3
    _, ids = index.search(np.ones((1, 8), dtype=np.float32), 10)
    assert first.chunk_ids[0] not in ids[0].tolist()
    # the old file was replaced by the new one
    assert [p.name for p in cache.folder.iterdir()] == [cache.file_name(current(store), 3)]


def test_damaged_file_is_rebuilt(setup):
    store, coll = setup
    write(store, coll, ["a", "b"])
    cache = fresh(store)
    cache.get(current(store))
    path = cache.file_for(current(store))
    path.write_bytes(b"garbage" * 10)
    again = fresh(store)
    assert again.get(current(store)).count() == 2 and again.last_action == "rebuilt"


def test_file_claiming_a_future_state_is_ignored(setup):
    store, coll = setup
    write(store, coll, ["a", "b"])
    cache = fresh(store)
    cache.get(current(store))
    path = cache.file_for(current(store))
    path.rename(path.with_name(path.name.replace("-s1-", "-s99-")))
    again = fresh(store)
    assert again.get(current(store)).count() == 2 and again.last_action == "rebuilt"


def test_inconsistent_file_is_rebuilt(setup):
    store, coll = setup
    write(store, coll, ["a", "b"])
    cache = fresh(store)
    index = cache.get(current(store))
    index.remove(np.array([index_id for index_id in range(1, 3)], dtype=np.int64))
    cache._save(current(store), index, current(store).seq)  # a file that lost vectors
    again = fresh(store)
    assert again.get(current(store)).count() == 2 and again.last_action == "rebuilt"


def test_in_memory_index_follows_other_writers(setup, db_path):
    store, coll = setup
    write(store, coll, ["a"])
    cache = fresh(store)
    assert cache.get(current(store)).count() == 1
    other = Store(db_path)  # another process writing
    write(other, other.get_collection("c"), ["b", "c"], seed=3)
    other.close()
    assert cache.get(current(store)).count() == 3 and cache.last_action == "caught-up"


# -- rebuilds read the store a page at a time ------------------------------------------------


def _many(store, coll, n, dim, seed=0):
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for start in range(0, n, 5000):
        store.write_documents(coll.id, [
            DocumentWrite(f"d{i}", f"text {i}", "{}", f"h{i}", None, [(0, 4)], vectors[i : i + 1])
            for i in range(start, min(n, start + 5000))])


def test_vector_scan_pages_one_snapshot_again_and_again(any_store):
    coll = any_store.create_collection("c", {"kind": "fake", "dimension": 8}, {"type": "flat"}, {})
    write(any_store, coll, [f"d{i}" for i in range(10)])
    seq, _, ids, vectors, total = any_store.vector_state(current(any_store), None)
    with any_store.vector_scan(current(any_store), page_rows=3) as scan:
        write(any_store, coll, ["late"], seed=1)  # after the snapshot: not in it
        assert (scan.seq, scan.total) == (seq, total) == (1, 10)
        for _ in range(2):
            pages = list(scan.pages())
            assert [len(p[0]) for p in pages] == [3, 3, 3, 1]
            np.testing.assert_array_equal(np.concatenate([p[0] for p in pages]), ids)
            np.testing.assert_array_equal(np.concatenate([p[1] for p in pages]), vectors)


@pytest.fixture
def any_store(store_target):
    from vecdex.storage.backends import open_store

    store = open_store(store_target)
    yield store
    store.close()


@pytest.mark.parametrize("spec", [{"type": "flat"}, {"type": "ivf", "nlist": 16}])
def test_a_rebuild_holds_a_page_of_vectors_not_all_of_them(db_path, monkeypatch, spec):
    """A big load's first index build: besides the index's own copy (FAISS memory,
    which tracemalloc does not see), the rebuild allocates about a page, where
    reading everything at once held the rows' blobs, their join and the matrix."""
    import tracemalloc

    import faiss  # noqa: F401  (imported before measuring: its import is not the build)
    from vecdex.storage import reads

    monkeypatch.setattr(reads, "VECTOR_PAGE_ROWS", 2000)
    store = Store(db_path)
    coll = store.create_collection("c", {"kind": "fake", "dimension": 64}, spec, {})
    n = 40_000
    _many(store, coll, n, 64)
    all_vectors = n * 64 * 4
    tracemalloc.start()
    try:
        cache = fresh(store)
        index = cache.get(current(store), persist=False)  # saving the file is not the build
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert cache.last_action == "rebuilt" and index.count() == n
    # Reading everything at once peaked above 3x (blobs, their join, the matrix); now a page,
    # and for IVF its training sample (2 x 16 lists x 256 rows), stay under one copy.
    assert peak < all_vectors, (peak, all_vectors)
    _, _, ids, vectors, _ = store.vector_state(current(store), None)
    _, found = index.search(vectors[:50], 1, params={"nprobe": 16} if spec["type"] == "ivf" else None)
    assert (found[:, 0] == ids[:50]).all()  # every row is in, under its own id
    store.close()


def test_a_big_load_into_a_built_index_is_a_paged_rebuild_not_a_catch_up(db_path, monkeypatch):
    """More new rows than the index holds (and than CATCH_UP_MAX_ROWS): rebuilt from
    pages, not read all at once beside the index; a small write is still caught up."""
    import tracemalloc

    import faiss  # noqa: F401  (imported before measuring)
    from vecdex.storage import index_cache, reads

    monkeypatch.setattr(reads, "VECTOR_PAGE_ROWS", 2000)
    monkeypatch.setattr(index_cache, "CATCH_UP_MAX_ROWS", 1000)
    store = Store(db_path)
    coll = store.create_collection("c", {"kind": "fake", "dimension": 64}, {"type": "flat"}, {})
    _many(store, coll, 500, 64)
    cache = fresh(store)
    cache.get(current(store))
    _many(store, coll, 40_000, 64, seed=1)  # ids d0..: the first 500 are updates, the rest new
    tracemalloc.start()
    try:
        index = cache.get(current(store), persist=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert cache.last_action == "rebuilt" and index.count() == 40_000
    assert peak < 40_000 * 64 * 4, peak
    store.write_documents(coll.id, [DocumentWrite("extra", "t", "{}", "hx", None, [(0, 1)],
                                                  np.ones((1, 64), np.float32) / 8)])
    assert cache.get(current(store)).count() == 40_001 and cache.last_action == "caught-up"
    store.close()
