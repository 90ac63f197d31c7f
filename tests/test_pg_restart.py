"""A PostgreSQL crash-restart in the middle of a run, on a throwaway cluster of
this test's own (initdb + pg_ctl on a free port; the machine's server is never
touched): nothing acknowledged is lost, nothing half-written is visible, and a
process that was reading before the restart answers again after it."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from serving import free_port

from vecdex.errors import VecdexError


def _pg_program(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def _as_postgres(command: list[str]) -> list[str]:
    """initdb refuses root: run the cluster as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture
def own_cluster():
    initdb, pg_ctl = _pg_program("initdb"), _pg_program("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed")
    # not under pytest's temp folder: the postgres user cannot enter root's
    folder = Path(tempfile.mkdtemp(prefix="vecdex-test-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", free_port()
    subprocess.run(_as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "postgres"]), check=True,
                   capture_output=True, timeout=120)
    ctl = _as_postgres([pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
                        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"])

    def control(action: str, *extra: str) -> None:
        subprocess.run(ctl + [*extra, action], check=True, capture_output=True, timeout=120)

    control("start")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", control
    finally:
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True,
                       timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_server_crash_restart_mid_run_loses_nothing_acknowledged(own_cluster):
    from vecdex.search import Vecdex

    url, control = own_cluster
    acknowledged: list[int] = []
    refused: list[str] = []
    stop = threading.Event()
    with Vecdex(url) as reader:
        reader.collection("c", create=True, embedder="fake")

        def write() -> None:
            n = 0
            with Vecdex(url) as vx:
                coll = vx.collection("c")
                while not stop.is_set():
                    batch = [{"id": f"b{n}-{j}", "text": f"batch {n} document {j} words", "metadata": {"batch": n}}
                             for j in range(20)]
                    try:
                        coll.add(batch)
                        acknowledged.append(n)
                    except VecdexError as exc:  # the server went away: this batch was not acknowledged
                        refused.append(str(exc))
                        time.sleep(0.1)
                    n += 1

        writer = threading.Thread(target=write)
        writer.start()
        try:
            r = reader.collection("c")
            deadline = time.monotonic() + 60
            while len(acknowledged) < 5 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert r.search("batch document", k=3, mode="dense")
            control("restart", "-m", "immediate")  # a crash: no shutdown checkpoint, recovery from the WAL
            before = len(acknowledged)
            while len(acknowledged) < before + 5 and time.monotonic() < deadline + 60:
                time.sleep(0.02)
        finally:
            stop.set()
            writer.join(60)
        assert len(acknowledged) >= before + 5  # writes resumed after the restart

        # The reader of before the restart answers again (its connections are made anew).
        for _attempt in range(50):
            try:
                hits = r.search("batch document words", k=3, mode="dense", min_seq=r.store_seq())
                break
            except VecdexError:
                time.sleep(0.1)
        assert hits

    assert all("\n" not in message and "postgres@127.0.0.1" in message for message in refused), refused
    with Vecdex(url) as vx:
        per_batch = Counter(d["metadata"]["batch"] for d in vx.collection("c").documents())
    assert set(per_batch.values()) == {20}  # whole batches only
    assert set(acknowledged) <= set(per_batch)  # nothing acknowledged lost
