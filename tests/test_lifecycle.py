"""Process lifecycle of ``vecdex index``: workers die with their parent, Ctrl-C is
clean at every phase, saves interrupted by a kill leave no temp file for good.

Real subprocesses on a real corpus (Lee news paragraphs, GloVe), killed or
interrupted at several points of a run, as a user or the OOM killer would.
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
from processes import alive, descendants, wait_until

from vecdex.search.commands.interrupts import MESSAGE


N_DOCS = LEE_NEWS_DOCS


@pytest.fixture
def corpus(lee_news_jsonl):
    return lee_news_jsonl


def start(db, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    return subprocess.Popen([sys.executable, "-m", "vecdex", "--db", str(db), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def stored(db) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as raw:
            return raw.execute("SELECT count(*) FROM documents").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_workers_die_when_the_parent_is_killed(tmp_path, corpus):
    db = tmp_path / "s.db"
    proc = start(db, "index", str(corpus), "--quiet", "--workers", "2")
    workers: list[int] = []
    try:
        assert wait_until(lambda: len(descendants(proc.pid)) >= 2, 120), "no pool workers started"
        workers = descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)  # only the parent, as the OOM killer does
        proc.wait()
        assert wait_until(lambda: not any(alive(p) for p in workers), 10), \
            f"workers outlived their parent: {[p for p in workers if alive(p)]}"
    finally:
        for pid in workers + descendants(proc.pid):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def _interrupt_when(proc, db, phase: str) -> None:
    if phase == "startup":
        time.sleep(0.8)  # imports, model loading
    else:
        at_least = {"first-commit": 1, "mid-run": N_DOCS // 3, "late": N_DOCS - 200}[phase]
        wait_until(lambda: proc.poll() is not None or stored(db) >= at_least, 120, step=0.002)
    os.killpg(proc.pid, signal.SIGINT)  # the terminal sends Ctrl-C to the whole group


def _assert_clean_interrupt(proc, before: list[int]) -> None:
    try:
        out, err = proc.communicate(timeout=30)  # the bug this guards against: a hang
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("an interrupted vecdex did not exit") from None
    if proc.returncode == 0 or (proc.returncode == -signal.SIGINT and not err.strip()):
        # It finished before the interrupt arrived, or the signal came during the
        # interpreter's own shutdown (default handler again: the shell shows 130).
        return
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 130, err.decode()[-2000:]
    assert lines == [MESSAGE], err.decode()[-2000:]
    assert wait_until(lambda: not any(alive(p) for p in before), 10), "a worker outlived the interrupt"


@pytest.mark.slow
@pytest.mark.parametrize("phase,workers", [("startup", "2"), ("first-commit", "1"), ("first-commit", "2"),
                                           ("mid-run", "2"), ("late", "1"), ("late", "2")])
def test_ctrl_c_is_clean_at_every_phase_of_index(tmp_path, corpus, phase, workers):
    db = tmp_path / "s.db"
    proc = start(db, "index", str(corpus), "--quiet", "--workers", workers)
    _interrupt_when(proc, db, phase)
    _assert_clean_interrupt(proc, descendants(proc.pid))
    kept = stored(db)
    rerun = start(db, "index", str(corpus), "--quiet", "--json", "--workers", workers)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()[-2000:]  # no lock left behind
    summary = json.loads(out.decode().splitlines()[-1])
    assert summary["unchanged"] == kept and summary["added"] == N_DOCS - kept
    assert stored(db) == N_DOCS
    assert not list(db.parent.glob("*.faiss/.*.tmp"))


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.4, 1.2])
def test_ctrl_c_during_query_and_reindex(tmp_path, corpus, delay):
    db = tmp_path / "s.db"
    done = start(db, "index", str(corpus), "--quiet")
    assert done.wait(300) == 0
    for args in (["query", "bushfire threatens homes"], ["reindex", "--index", "hnsw"]):
        proc = start(db, *args)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)
        _assert_clean_interrupt(proc, [])
    check = start(db, "query", "bushfire", "-k", "3", "--json")
    out, err = check.communicate(timeout=120)
    assert check.returncode == 0, err.decode()
    assert len(out.decode().strip().splitlines()) == 3


def test_temp_files_of_an_interrupted_save_are_removed_on_next_open(tmp_path):
    from vecdex.search import Vecdex

    db = tmp_path / "s.db"
    with Vecdex(db) as vx:
        coll = vx.collection("c", create=True, embedder="fake")
        coll.add([{"id": "a", "text": "alpha beta"}])
        folder = vx.indexes.folder
    # what a writer killed mid-save leaves: its pid is gone
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = folder / f".{next(folder.glob('*.faiss')).name}.{dead.pid}.abc123.tmp"
    leftover.write_bytes(b"half a file")
    # and one of a save still under way in a living process: kept
    ours = folder / f".c9-g0-s1-0.faiss.{os.getpid()}.xyz.tmp"
    ours.write_bytes(b"in progress")
    with Vecdex(db) as vx:
        assert vx.collection("c").search_vector([1.0] * vx.collection("c").embedder.dimension, k=1)
    assert not leftover.exists()
    assert ours.exists()
