"""An interrupt (Ctrl-C) landing inside a bulk insert: the call raises
KeyboardInterrupt at once, and the process's next write does not wait for the
write lock its interrupted transaction held (it waited ~2 minutes: the closed
driver connection lived on while the traceback held its unfinished statement)."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
from sqlalchemy import event
from vecdex.indexer import pipeline
from vecdex.search import Vecdex
from vecdex.storage import store as store_module

DIM = 8


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_ctrl_c_inside_an_insert_leaves_no_lock_behind(tmp_path, monkeypatch):
    # A lock still held shows as a failed write after 2 s instead of a long wait.
    monkeypatch.setattr(store_module, "WRITE_LOCK_WAIT_S", 2.0)
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)
    rng = np.random.default_rng(1)
    with Vecdex(tmp_path / "s.db") as vx:
        coll = vx.collection("c", create=True, embedder="precomputed", dimension=DIM, index="flat")
        coll.add_vectors([f"a{i}" for i in range(100)], unit(rng.standard_normal((100, DIM))))

        inserting = threading.Event()

        @event.listens_for(vx.store.engine, "before_cursor_execute")
        def note(conn, cursor, statement, parameters, context, executemany):
            if executemany and statement.startswith("INSERT INTO chunks"):
                inserting.set()

        def ctrl_c() -> None:
            # Ctrl-C while the driver steps through a long insert's rows.
            if inserting.wait(60):
                time.sleep(0.02)
                os.kill(os.getpid(), signal.SIGINT)

        monkeypatch.setattr(pipeline, "VECTOR_BATCH_DOCS", 400_000)  # one long insert
        threading.Thread(target=ctrl_c, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            coll.add_vectors([f"b{i}" for i in range(400_000)], unit(rng.standard_normal((400_000, DIM))))
        assert inserting.is_set()

        # The interrupted batch left nothing; the process writes and searches on.
        coll.add_vectors(["c0"], unit(rng.standard_normal((1, DIM))))
        assert coll.count() == 101
        assert len(coll.search_vector(unit(rng.standard_normal((1, DIM)))[0], k=200)) == 101


def test_ctrl_c_while_the_lexical_catch_up_starts_leaves_close_clean(tmp_path, monkeypatch):
    """An interrupt inside the background catch-up's Thread.start(): closing the store
    afterwards (the CLI's `with vx:` on the way out) must not fail with "cannot join
    thread before it is started" in place of the interrupt (found by the Ctrl-C test
    of `vecdex index`, late in the run: exit 1 and a traceback instead of 130)."""
    vx = Vecdex(tmp_path / "s.db")
    coll = vx.collection("c", create=True, embedder="precomputed", dimension=DIM, index="flat")
    coll.add_vectors(["a", "b"], unit(np.random.default_rng(2).standard_normal((2, DIM))), ["x y", "y z"])

    def interrupted_start(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(threading.Thread, "start", interrupted_start)
    with pytest.raises(KeyboardInterrupt):
        vx.lexical.catch_up_soon(coll.info.id)
    monkeypatch.undo()
    vx.close()  # no RuntimeError
    with Vecdex(tmp_path / "s.db") as again:  # and the next search catches up as usual
        assert [h.id for h in again.collection("c").search("z", mode="lexical")] == ["b"]
