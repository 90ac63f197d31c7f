"""Crash safety: ``kill -9`` at any moment of ``vecdex index`` leaves a consistent store.

Real subprocesses index a real corpus and are killed at several points (before
the first commit, after the first batches, mid-run, near the end). After each
kill the store must open, pass SQLite's integrity check, hold only complete
documents, answer queries from an index that matches the stored vectors, and a
re-run of the same command must finish the job.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import LEE_NEWS_DOCS, TESTS

N_DOCS = LEE_NEWS_DOCS


@pytest.fixture
def corpus(lee_news_jsonl):
    return lee_news_jsonl


def start_index(db, corpus, workers: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    return subprocess.Popen(
        [sys.executable, "-m", "vecdex", "--db", str(db), "index", str(corpus), "--quiet", "--workers", workers],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )


def stored_documents(db) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as raw:
            return raw.execute("SELECT count(*) FROM documents").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def kill_when(proc: subprocess.Popen, db, at_least: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if stored_documents(db) >= at_least:
            break
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: workers die too
    proc.wait()


def check_consistent(db) -> int:
    from vecdex.errors import StoreError
    from vecdex.search import Vecdex
    from vecdex.storage import opening

    if opening.inspect(db, create=True).new:
        # Killed before its first commit: an empty file, which a read refuses as not a
        # store yet (one line, nothing written) and the rerun makes into one.
        with pytest.raises(StoreError, match="not a vecdex store"):
            Vecdex(db, create=False)
        assert opening.inspect(db, create=True).new
        return 0
    Vecdex(db, create=False).close()
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orphans = raw.execute(
            "SELECT count(*) FROM documents d WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = d.id)"
        ).fetchone()[0]
        assert orphans == 0, "a document without its chunks was committed"
        n_docs = raw.execute("SELECT count(*) FROM documents").fetchone()[0]
    with Vecdex(db, create=False) as vx:
        if not vx.collections():
            return 0
        coll = vx.collection("default")
        index = coll.index()
        assert index.count() == coll.stats()["chunks"]
        if n_docs:
            hits = coll.search("bushfire threatens homes", k=5)
            assert len(hits) == min(5, n_docs)
            assert all(coll.get(h.id) is not None for h in hits)
    return n_docs


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("kill_at", [0, 1, N_DOCS // 3, N_DOCS - 300])
def test_kill_9_then_rerun(tmp_path, corpus, workers, kill_at):
    db = tmp_path / "crash.db"
    proc = start_index(db, corpus, workers)
    if kill_at == 0:
        time.sleep(0.3)  # dead before it could commit anything (still importing)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    else:
        kill_when(proc, db, kill_at)
    survived = check_consistent(db) if db.exists() else 0
    assert survived < N_DOCS or kill_at >= N_DOCS - 300
    rerun = start_index(db, corpus, workers)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()[-2000:]
    assert check_consistent(db) == N_DOCS
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    info = subprocess.run([sys.executable, "-m", "vecdex", "--db", str(db), "index", str(corpus), "--json", "-q"],
                          env=env, capture_output=True, check=True)
    summary = json.loads(info.stdout.decode().strip().splitlines()[-1])
    assert summary["unchanged"] == N_DOCS and summary["added"] == 0
