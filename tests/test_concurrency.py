"""Many processes on one store: writers queue (busy timeout, retried BEGIN
IMMEDIATE) instead of failing, readers never block writers, a search started
after a delete committed never returns the deleted document, and two ``vecdex
index`` runs into one collection both finish with nothing lost or duplicated."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import TESTS

from vecdex.search import Vecdex
from vecdex.storage import store as store_module


def vecdex(db, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    return subprocess.Popen([sys.executable, "-m", "vecdex", "--db", str(db), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_two_index_runs_into_one_collection_both_finish(tmp_path, lee_lines):
    db = tmp_path / "s.db"
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    # overlapping ids: 0-1499 in a, 1000-2499 in b (the same text for shared ids)
    texts = {i: " ".join(lee_lines[(i * 5 + j) % len(lee_lines)] for j in range(2)) for i in range(2500)}
    for path, ids in ((a, range(0, 1500)), (b, range(1000, 2500))):
        path.write_text("".join(json.dumps({"id": f"d{i}", "text": texts[i]}) + "\n" for i in ids))
    first = vecdex(db, "index", str(a), "--json", "-q", "--workers", "1")
    time.sleep(0.3)
    second = vecdex(db, "index", str(b), "--json", "-q", "--workers", "1")
    results = [p.communicate(timeout=600) for p in (first, second)]
    for proc, (out, err) in zip((first, second), results):
        assert proc.returncode == 0, err.decode()[-2000:]
    summaries = [json.loads(out.decode().splitlines()[-1]) for out, _ in results]
    assert sum(s["added"] for s in summaries) + sum(s["unchanged"] + s["updated"] for s in summaries) == 3000
    with sqlite3.connect(db) as raw:
        rows = raw.execute("SELECT ext_id, text FROM documents").fetchall()
        assert len(rows) == 2500 and len({r[0] for r in rows}) == 2500
        assert all(texts[int(ext[1:])] == text for ext, text in rows)
        assert raw.execute("SELECT count(*) FROM documents d WHERE NOT EXISTS "
                           "(SELECT 1 FROM chunks c WHERE c.document_id = d.id)").fetchone()[0] == 0
    with Vecdex(db) as vx:
        coll = vx.collection("default")
        assert coll.index().count() == coll.stats()["chunks"]
        assert vx.check().ok


def test_writers_queue_for_the_lock_instead_of_failing(tmp_path, monkeypatch):
    """A writer holding the lock longer than the busy timeout: the other waits
    (retried BEGIN IMMEDIATE) and then commits."""
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 50)
    db = tmp_path / "s.db"
    with Vecdex(db) as vx:
        coll = vx.collection("v", create=True, embedder="precomputed", dimension=4)
        coll.add_vectors(["a"], np.eye(4, dtype=np.float32)[:1])
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.6, holder.execute, args=("COMMIT",))
    release.start()
    try:
        with Vecdex(db) as vx:
            vx.collection("v").add_vectors(["b"], np.eye(4, dtype=np.float32)[1:2])
            assert vx.collection("v").stats()["documents"] == 2
    finally:
        release.join()
        holder.close()


def test_readers_never_block_a_writer(tmp_path):
    db = tmp_path / "s.db"
    with Vecdex(db) as vx:
        coll = vx.collection("v", create=True, embedder="precomputed", dimension=4)
        coll.add_vectors(["a", "b"], np.eye(4, dtype=np.float32)[:2])
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM documents").fetchone()[0] == 2  # an open read snapshot
    with Vecdex(db) as vx:
        vx.collection("v").add_vectors(["c"], np.eye(4, dtype=np.float32)[2:3])
        vx.collection("v").delete(["a"])
    assert reader.execute("SELECT count(*) FROM documents").fetchone()[0] == 2  # still its snapshot
    reader.execute("COMMIT")
    reader.close()


def test_a_search_after_a_committed_delete_never_returns_it(tmp_path):
    db = tmp_path / "s.db"
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((40, 8)).astype(np.float32)
    with Vecdex(db) as writer, Vecdex(db) as searcher:
        writer.collection("v", create=True, embedder="precomputed", dimension=8).add_vectors(
            [f"d{i}" for i in range(40)], vectors)
        coll = searcher.collection("v")
        for i in range(40):
            assert coll.search_vector(vectors[i], k=1)[0].id == f"d{i}"  # warm: index and hit rows in memory
        for i in range(0, 40, 3):
            writer.collection("v").delete([f"d{i}"])
            hits = coll.search_vector(vectors[i], k=40)
            assert f"d{i}" not in {h.id for h in hits}
