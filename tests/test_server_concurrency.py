"""Several worker processes, many clients, writes and reads at once; shutdown and kills.

The >= 30 s version of the first test is ``python bench/soak_server.py``."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest
import server_workload
from serving import Server

import vecdex


@pytest.mark.slow
def test_four_workers_eight_readers_two_writers_read_their_writes(tmp_path):
    with Server(tmp_path / "busy.db", "--workers", "4") as server:
        server_workload.seed(server.url, "busy")
        outcome = server_workload.run(server.url, "busy", seconds=12)
        log = server.output()
    assert outcome.errors == [], log[-3000:]
    assert outcome.missed == []
    assert outcome.writes >= 10 and outcome.queries >= 50, (outcome.writes, outcome.queries)
    assert len(outcome.read_workers) >= 2  # the load really was spread over worker processes
    assert outcome.cross_worker_checks > 0  # ...and writes were read back through other workers
    assert "database is locked" not in log and "Traceback" not in log


@pytest.mark.slow
def test_sigterm_finishes_requests_in_flight(tmp_path):
    server = Server(tmp_path / "term.db").wait_ready()
    client = vecdex.Client(server.url)
    coll = client.collection("term", create=True)
    words = server_workload.WORDS
    docs = [{"id": f"t{i}", "text": ". ".join(" ".join(words[(i + j) % len(words):][:12]) for j in range(30))}
            for i in range(1000)]
    result: dict = {}

    def big_write():
        try:
            result["report"] = coll.add(docs)
        except Exception as exc:  # noqa: BLE001  (reported by the assertions below)
            result["error"] = exc

    writer = threading.Thread(target=big_write)
    writer.start()
    time.sleep(0.5)  # the request is being handled (1000 long documents take seconds to embed)
    assert writer.is_alive()
    server.process.send_signal(signal.SIGTERM)
    writer.join(120)
    returncode = server.stop()
    assert "error" not in result, result.get("error")
    assert result["report"].added == 1000
    # uvicorn shuts down gracefully, then re-raises the signal it caught (exit status -15).
    assert returncode in (0, -signal.SIGTERM)
    assert "Finished server process" in server.output()
    with vecdex.Vecdex(tmp_path / "term.db") as vx:
        assert vx.collection("term").count() == 1000
    with pytest.raises(vecdex.VecdexError):
        client.collections()  # no longer listening
    client.close()


@pytest.mark.slow
def test_sigkill_mid_write_loses_nothing_acknowledged(tmp_path):
    db = tmp_path / "kill.db"
    server = Server(db).wait_ready()
    acknowledged: list[str] = []
    stop = threading.Event()

    def keep_writing():
        rng_words = server_workload.WORDS
        i = 0
        with httpx.Client(base_url=server.url, timeout=30) as http:
            http.post("/v1/collections", json={"name": "kill"})
            while not stop.is_set():
                batch = [{"id": f"k{i + j}", "text": " ".join(rng_words[(i + j) % 50:][:10])} for j in range(50)]
                try:
                    response = http.post("/v1/collections/kill/documents", json={"documents": batch})
                except httpx.HTTPError:
                    return  # the server is gone: this batch was never acknowledged
                if response.status_code == 200:
                    acknowledged.extend(d["id"] for d in batch)
                i += 50

    writer = threading.Thread(target=keep_writing)
    writer.start()
    deadline = time.monotonic() + 120
    while len(acknowledged) < 200 and time.monotonic() < deadline and writer.is_alive():
        time.sleep(0.05)
    time.sleep(0.13)  # somewhere inside the next batch
    server.stop(signal.SIGKILL)
    stop.set()
    writer.join(30)
    assert len(acknowledged) >= 100
    with vecdex.Vecdex(db) as vx:
        coll = vx.collection("kill")
        stored = {d["id"] for d in coll.documents()}
        assert set(acknowledged) <= stored
        assert coll.search("river flood", k=3, mode="dense")
    with Server(db) as again:  # and it serves again
        assert vecdex.Client(again.url).collection("kill").count() == len(stored)
