"""Two hosts simulated: two ``vecdex serve`` processes, each with its own cache
folder, on one PostgreSQL database (real processes, real HTTP, real server).

Writes through one are read with ``min_seq`` through the other with no miss;
one killed with SIGKILL in the middle of a batch leaves whole batches only, the
other keeps answering, and the restarted one catches up from the store.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter

import httpx
import pytest
from serving import Server
from server_workload import WORDS

import vecdex


def _server(pg_url: str, tmp_path, name: str) -> Server:
    (tmp_path / name).mkdir(exist_ok=True)
    return Server(pg_url, "--read-timeout", "10", env={"VECDEX_CACHE_DIR": str(tmp_path / name / "cache")},
                  log_dir=tmp_path / name)


def _text(rng: random.Random) -> str:
    return " ".join(rng.sample(WORDS, 9))


def test_two_servers_on_one_database_read_each_others_writes_and_survive_a_kill(pg_url, tmp_path):
    a = _server(pg_url, tmp_path, "a")
    b = _server(pg_url, tmp_path, "b")
    try:
        a.wait_ready()
        b.wait_ready()
        rng = random.Random(14)
        with httpx.Client(base_url=a.url, timeout=30) as to_a, httpx.Client(base_url=b.url, timeout=30) as to_b:
            assert to_a.post("/v1/collections", json={"name": "hosts", "index": "hnsw"}).status_code == 201
            seed = [{"id": f"s{i}", "text": _text(rng)} for i in range(100)]
            assert to_a.post("/v1/collections/hosts/documents", json={"documents": seed}).status_code == 200
            assert to_b.post("/v1/collections/hosts/search", json={"query": "river", "k": 3}).status_code == 200

            # 1. writes through A, each read back through B with min_seq: no miss
            misses, modes = [], Counter()
            for i in range(300):
                doc = {"id": f"w{i}", "text": _text(rng)}
                written = to_a.post("/v1/collections/hosts/documents", json={"documents": [doc]})
                assert written.status_code == 200, written.text
                seq = written.json()["seq"]
                mode = ("dense", "hybrid", "lexical")[i % 3]
                found = to_b.post("/v1/collections/hosts/search",
                                  json={"query": doc["text"], "k": 10, "mode": mode, "min_seq": seq})
                assert found.status_code == 200, found.text
                assert found.json()["seq"] >= seq
                modes[mode] += 1
                if doc["id"] not in [h["id"] for h in found.json()["hits"]]:
                    misses.append((doc["id"], mode))
                if i % 25 == 24:  # deletes too: gone on B at once
                    gone = to_a.request("DELETE", "/v1/collections/hosts/documents", json={"ids": [doc["id"]]})
                    assert gone.json()["deleted"] == 1
                    after = to_b.post("/v1/collections/hosts/search",
                                      json={"query": doc["text"], "k": 10, "mode": mode,
                                            "min_seq": gone.json()["seq"]})
                    if doc["id"] in [h["id"] for h in after.json()["hits"]]:
                        misses.append((doc["id"], "deleted"))
            assert misses == [] and modes["dense"] == 100

            # 2. A killed in the middle of a batch of 20: whole batches only; B keeps answering
            acknowledged: list[int] = []
            stop = threading.Event()

            def write_batches() -> None:
                n = 0
                with httpx.Client(base_url=a.url, timeout=30) as http:
                    while not stop.is_set():
                        batch = [{"id": f"b{n}-{j}", "text": _text(random.Random(n * 100 + j)),
                                  "metadata": {"batch": n}} for j in range(20)]
                        try:
                            response = http.post("/v1/collections/hosts/documents", json={"documents": batch})
                        except httpx.HTTPError:
                            return  # A is gone: this batch was never acknowledged
                        if response.status_code == 200:
                            acknowledged.append(n)
                        n += 1

            reads_on_b: list[int] = []

            def read_b() -> None:
                with httpx.Client(base_url=b.url, timeout=30) as http:
                    while not stop.is_set():
                        reads_on_b.append(http.post("/v1/collections/hosts/search",
                                                    json={"query": "river storm", "k": 5}).status_code)

            threads = [threading.Thread(target=write_batches), threading.Thread(target=read_b)]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 60
            while len(acknowledged) < 5 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.03)  # inside the next batch, most likely
            a.stop(signal.SIGKILL)
            killed_at = len(reads_on_b)
            while len(reads_on_b) < killed_at + 20 and time.monotonic() < deadline:
                time.sleep(0.02)  # B answers after A is gone
            stop.set()
            for thread in threads:
                thread.join(30)
            assert len(acknowledged) >= 5
            assert len(reads_on_b) >= killed_at + 20 and set(reads_on_b) == {200}

            with vecdex.Vecdex(pg_url) as vx:
                per_batch = Counter(d["metadata"]["batch"] for d in vx.collection("hosts").documents()
                                    if "batch" in d["metadata"])
            assert set(per_batch.values()) <= {20}  # nothing half-written
            assert set(acknowledged) <= set(per_batch)  # nothing acknowledged lost

            # 3. B writes meanwhile; A restarted (its old cache folder) catches up with min_seq
            late = {"id": "late", "text": _text(rng)}
            seq = to_b.post("/v1/collections/hosts/documents", json={"documents": [late]}).json()["seq"]
            with _server(pg_url, tmp_path, "a") as again, httpx.Client(base_url=again.url, timeout=30) as to_again:
                for mode in ("dense", "lexical", "hybrid"):
                    found = to_again.post("/v1/collections/hosts/search",
                                          json={"query": late["text"], "k": 10, "mode": mode, "min_seq": seq})
                    assert "late" in [h["id"] for h in found.json()["hits"]], (mode, found.text)
                count = to_again.get("/v1/collections/hosts/count", params={"min_seq": seq}).json()["count"]
                assert count == 100 + 300 - 12 + 20 * len(per_batch) + 1
    finally:
        for server in (a, b):
            server.stop()
