"""HTTP cost of `vecdex serve`: the same searches in-process and over HTTP, in one run.

    python bench/bench_server.py                 # 100k news-length documents (built once, kept in --db)
    python bench/bench_server.py --n 5000        # a quick run

For single searches (one query per request) and batched searches (``queries``, 32 per
request), in dense mode (``--mode hybrid`` for the default mode): latency p50/p99 of one client issuing requests back to back,
and requests/s of --clients concurrent clients, in-process (the library called from
threads) and through `vecdex serve` with 1 and 2 workers. Passes are interleaved
(in-process, 1 worker, 2 workers, repeat) and the best of --passes kept: the machine
is noisy, ratios between runs of the same pass are what to read. CPU seconds per
request (client + server processes) are printed too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import httpx  # noqa: E402
from corpora import news_documents, sentences, write_jsonl  # noqa: E402
from serving import Server  # noqa: E402

import vecdex  # noqa: E402

COLLECTION = "bench"  # --collection
MODE = "dense"  # --mode
BATCH = 32


def build(db: Path, n: int) -> None:
    if db.exists():
        with vecdex.Vecdex(db) as vx:
            if any(c.name == COLLECTION for c in vx.collections()) and vx.collection(COLLECTION).count() >= n:
                return
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "news.jsonl"
        write_jsonl(source, news_documents(n))
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vecdex", "--db", str(db), "index", str(source), "-c", COLLECTION, "-q"],
                       check=True)
        print(f"indexed {n:,} news-length documents in {time.perf_counter() - started:.0f} s")
    with vecdex.Vecdex(db) as vx:  # build the index file once, outside the measurements
        vx.collection(COLLECTION).search("warm up", k=10, mode=MODE)


def cpu_seconds(pids: list[int]) -> float:
    """User+system CPU of these processes and their children (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    wanted, total = set(pids), 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) in wanted or int(fields[1]) in wanted:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


class InProcess:
    name = "in-process"

    def __init__(self, db: Path):
        self.vx = vecdex.Vecdex(db)
        self.coll = self.vx.collection(COLLECTION)

    def single(self, query: str) -> None:
        self.coll.search(query, k=10, mode=MODE)

    def batch(self, queries: list[str]) -> None:
        self.coll.search_many(queries, k=10, mode=MODE)

    def pids(self) -> list[int]:
        return []


class OverHttp:
    def __init__(self, server: Server, workers: int):
        self.name = f"HTTP, {workers} worker{'s' if workers > 1 else ''}"
        self.server = server
        self.local = threading.local()

    def http(self) -> httpx.Client:
        client = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = httpx.Client(base_url=self.server.url, timeout=60)
        return client

    def single(self, query: str) -> None:
        response = self.http().post(f"/v1/collections/{COLLECTION}/search",
                                    json={"query": query, "k": 10, "mode": MODE})
        response.raise_for_status()

    def batch(self, queries: list[str]) -> None:
        response = self.http().post(f"/v1/collections/{COLLECTION}/search",
                                    json={"queries": queries, "k": 10, "mode": MODE})
        response.raise_for_status()

    def pids(self) -> list[int]:
        return [self.server.process.pid]


def latencies(target, calls: list) -> list[float]:
    out = []
    for call in calls:
        started = time.perf_counter()
        call(target)
        out.append(time.perf_counter() - started)
    return out


def throughput(target, calls: list, clients: int, seconds: float) -> tuple[float, float]:
    """(requests/s, CPU seconds per request of this process and the target's server)."""
    done = [0] * clients
    stop = time.monotonic() + seconds

    def loop(i: int) -> None:
        j = i
        while time.monotonic() < stop:
            calls[j % len(calls)](target)
            j += clients
            done[i] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    cpu0, wall0 = time.process_time() + cpu_seconds(target.pids()), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - wall0, time.process_time() + cpu_seconds(target.pids()) - cpu0
    total = sum(done)
    return total / wall, cpu / max(total, 1)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    global COLLECTION, MODE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="news-length documents")
    parser.add_argument("--db", type=Path, default=None, help="store to build or reuse [/tmp/vecdex-bench-server-N.db]")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput measurement")
    parser.add_argument("--collection", default=COLLECTION, help="collection of --db to search [bench]")
    parser.add_argument("--mode", default=MODE, choices=("dense", "hybrid", "lexical"))
    args = parser.parse_args()
    COLLECTION, MODE = args.collection, args.mode
    db = args.db or Path(tempfile.gettempdir()) / f"vecdex-bench-server-{args.n}.db"
    build(db, args.n)
    texts = sentences()[: args.queries]
    single = [lambda t, q=q: t.single(q) for q in texts]
    batched = [lambda t, i=i: t.batch(texts[i:i + BATCH]) for i in range(0, len(texts) - BATCH + 1, BATCH)]

    servers = [Server(db, "--workers", str(w)) for w in (1, 2)]
    try:
        for server in servers:
            server.wait_ready(300)
        targets = [InProcess(db)] + [OverHttp(s, w) for s, w in zip(servers, (1, 2))]
        for target in targets:  # warm: hit rows in memory, connections open
            for call in single[:100]:
                call(target)
        best: dict[tuple[str, str], dict[str, float]] = {}
        for p in range(args.passes):
            for target in targets:
                for kind, calls in (("single", single), ("batch of 32", batched)):
                    lat = latencies(target, calls)
                    rps, cpu = throughput(target, calls, args.clients, args.seconds)
                    row = {"p50": pct(lat, 0.5), "p99": pct(lat, 0.99), "rps": rps, "cpu_ms": cpu * 1000}
                    key = (kind, target.name)
                    old = best.get(key)
                    best[key] = row if old is None else {
                        "p50": min(old["p50"], row["p50"]), "p99": min(old["p99"], row["p99"]),
                        "rps": max(old["rps"], row["rps"]), "cpu_ms": min(old["cpu_ms"], row["cpu_ms"])}
            print(f"pass {p + 1}/{args.passes} done", flush=True)
    finally:
        for server in servers:
            server.stop()
    load = os.getloadavg()[0]
    print(f"\n{args.n:,} news-length documents, {MODE} k=10, {args.clients} clients for throughput, "
          f"best of {args.passes} interleaved passes (load {load:.1f} on {os.cpu_count()} cores)")
    print(f"{'kind':<12} {'target':<18} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'CPU ms/req':>11} "
          f"{'p50 +ms':>8} {'req/s ratio':>11}")
    for kind in ("single", "batch of 32"):
        base = best[(kind, "in-process")]
        for target in targets:
            row = best[(kind, target.name)]
            print(f"{kind:<12} {target.name:<18} {row['p50']:8.2f} {row['p99']:8.2f} {row['rps']:8.0f} "
                  f"{row['cpu_ms']:11.2f} {row['p50'] - base['p50']:8.2f} {row['rps'] / base['rps']:11.2f}")
    print("p50 +ms: what HTTP adds to the in-process p50 of the same searches (goal: under 1 ms for single).")


if __name__ == "__main__":
    main()
