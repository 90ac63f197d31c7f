"""A mixed workload against a running server: query threads and writer threads; each
write is immediately read back (dense search with the write's ``seq`` as ``min_seq``)
on a fresh connection, so the read usually lands on another worker process.
Used by tests/test_server_concurrency.py (short) and bench/soak_server.py (long)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

WORDS = ("river flood storm rain valley bank money market price rate city council election vote team match "
         "goal player music song film actor school student teacher doctor hospital virus science space rocket "
         "planet ocean island forest fire mountain snow winter summer garden flower bread cheese wine coffee "
         "train station airport flight ship harbour bridge road car engine computer software network data "
         "police court judge law prison army war peace treaty king queen church castle museum painting book "
         "poem novel story history ancient modern farm cattle wheat corn fish bird horse dog cat mouse").split()


@dataclass
class Outcome:
    queries: int = 0
    writes: int = 0
    checks: int = 0
    missed: list[str] = field(default_factory=list)  # written, then not found with min_seq
    errors: list[str] = field(default_factory=list)
    read_workers: Counter = field(default_factory=Counter)
    cross_worker_checks: int = 0  # read back through another worker than the one that wrote
    latencies: list[float] = field(default_factory=list)


def seed(url: str, collection: str, n: int = 200) -> None:
    rng = random.Random(1)
    with httpx.Client(base_url=url, timeout=60) as http:
        http.post("/v1/collections", json={"name": collection})
        docs = [{"id": f"seed{i}", "text": " ".join(rng.sample(WORDS, 8))} for i in range(n)]
        response = http.post(f"/v1/collections/{collection}/documents", json={"documents": docs})
        response.raise_for_status()


def run(url: str, collection: str, seconds: float, queriers: int = 8, writers: int = 2) -> Outcome:
    outcome = Outcome()
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    path = f"/v1/collections/{collection}"

    def note_error(what: str) -> None:
        with lock:
            outcome.errors.append(what)

    def query(worker: int) -> None:
        rng = random.Random(100 + worker)
        with httpx.Client(base_url=url, timeout=60) as http:
            while time.monotonic() < stop:
                body = {"query": " ".join(rng.sample(WORDS, 3)), "k": 10,
                        "mode": rng.choice(["dense", "hybrid", "lexical"])}
                started = time.perf_counter()
                try:
                    response = http.post(path + "/search", json=body)
                except httpx.HTTPError as exc:
                    note_error(f"query: {exc!r}")
                    continue
                elapsed = time.perf_counter() - started
                with lock:
                    outcome.queries += 1
                    outcome.latencies.append(elapsed)
                    outcome.read_workers[response.headers.get("x-vecdex-worker")] += 1
                if response.status_code != 200:
                    note_error(f"query {response.status_code}: {response.text[:200]}")

    def write(worker: int) -> None:
        rng = random.Random(200 + worker)
        i = 0
        with httpx.Client(base_url=url, timeout=60) as http:
            while time.monotonic() < stop:
                i += 1
                doc_id = f"w{worker}-{i}"
                text = " ".join(rng.sample(WORDS, 8))
                try:
                    response = http.post(path + "/documents", json={"documents": [{"id": doc_id, "text": text}]})
                    if response.status_code != 200:
                        note_error(f"write {response.status_code}: {response.text[:200]}")
                        continue
                    seq = response.json()["seq"]
                    wrote_on = response.headers.get("x-vecdex-worker")
                    # A fresh connection: the kernel hands it to any worker.
                    check = httpx.post(url + path + "/search", timeout=60,
                                       json={"query": text, "k": 3, "mode": "dense", "min_seq": seq})
                except httpx.HTTPError as exc:
                    note_error(f"write/check: {exc!r}")
                    continue
                with lock:
                    outcome.writes += 1
                    outcome.checks += 1
                    outcome.cross_worker_checks += check.headers.get("x-vecdex-worker") != wrote_on
                if check.status_code != 200:
                    note_error(f"check {check.status_code}: {check.text[:200]}")
                elif doc_id not in [h["id"] for h in check.json()["hits"]]:
                    with lock:
                        outcome.missed.append(doc_id)

    threads = [threading.Thread(target=query, args=(i,)) for i in range(queriers)]
    threads += [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome
