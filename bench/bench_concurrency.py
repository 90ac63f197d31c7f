"""Many processes on one store: query throughput and latency of 1, 4 and 8 reader
processes, without and with a writer process upserting and deleting, in one run.

    python bench/bench_concurrency.py [--docs 20000] [--seconds 8]

Each reader is its own process (its own connections and index), running dense
queries on real sentences for ``--seconds``; the writer upserts 100-document
batches and deletes 10 documents in turn, as fast as it can. Printed per
configuration: queries/s (all readers), p50/p95 latency, the writer's commits/s,
and how the readers kept their index current (caught up vs rebuilt: a delete
must not cost other processes a rebuild). The 1-reader, no-writer row is the
baseline the others are compared with (ratios); the machine has few cores, so
more readers than cores share them.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpora import one_line_documents  # noqa: E402


def reader(db: str, queries: list[str], seconds: float, go, out) -> None:
    from vecdex.search import Vecdex

    with Vecdex(db, create=False) as vx:
        coll = vx.collection("c")
        coll.search(queries[0], k=10, mode="dense")  # warm: model, index
        actions: dict[str, int] = {}
        get = vx.indexes.get

        def counted_get(*args, **kwargs):  # how each index refresh was done
            index = get(*args, **kwargs)
            actions[vx.indexes.last_action] = actions.get(vx.indexes.last_action, 0) + 1
            return index

        vx.indexes.get = counted_get
        latencies = []
        out.put(("ready",))
        go.wait()
        deadline = time.time() + seconds
        i = 0
        while time.time() < deadline:
            started = time.perf_counter()
            coll.search(queries[i % len(queries)], k=10, mode="dense")
            latencies.append(time.perf_counter() - started)
            i += 1
    out.put(("reader", latencies, actions))


def writer(db: str, texts: list[str], seconds: float, go, out) -> None:
    from vecdex.search import Vecdex

    commits = 0
    with Vecdex(db, create=False) as vx:
        coll = vx.collection("c")
        coll.add([("w-warm", texts[0])], workers=1)  # model loaded before the clock starts
        out.put(("ready",))
        go.wait()
        deadline = time.time() + seconds
        n = 0
        while time.time() < deadline:
            batch = [(f"w{n + j}", texts[(n + j) % len(texts)]) for j in range(100)]
            coll.add(batch, workers=1)
            coll.delete([f"w{n + j}" for j in range(0, 100, 10)])
            commits += 2
            n += 100
    out.put(("writer", commits, seconds))


def run(db: str, queries: list[str], texts: list[str], readers: int, with_writer: bool, seconds: float) -> dict:
    ctx = multiprocessing.get_context("spawn")
    out, go = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=reader, args=(db, queries, seconds, go, out)) for _ in range(readers)]
    if with_writer:
        procs.append(ctx.Process(target=writer, args=(db, texts, seconds, go, out)))
    for p in procs:
        p.start()
    for _ in procs:  # every process imported and warm before the clock starts
        assert out.get(timeout=600) == ("ready",)
    go.set()
    results = [out.get(timeout=seconds + 300) for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(x for r in results if r[0] == "reader" for x in r[1])
    actions: dict[str, int] = {}
    for r in results:
        if r[0] == "reader":
            for key, value in r[2].items():
                actions[key] = actions.get(key, 0) + value
    commits = next((r[1] / r[2] for r in results if r[0] == "writer"), 0.0)
    return {"qps": len(latencies) / seconds, "p50": statistics.median(latencies) * 1000,
            "p95": latencies[int(0.95 * (len(latencies) - 1))] * 1000, "commits": commits, "actions": actions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    from vecdex.search import Vecdex

    texts = one_line_documents(args.docs + 2000)
    docs, queries = texts[: args.docs], texts[args.docs : args.docs + 500]
    print(f"machine: {os.cpu_count()} cores; {args.docs:,} one-line documents; {args.seconds:.0f} s per configuration")
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "c.db")
        with Vecdex(db) as vx:
            vx.collection("c", create=True).add(((str(i), t) for i, t in enumerate(docs)))
            vx.collection("c").search(queries[0], k=1, mode="dense")  # the index file exists
        rows = []
        for readers in (1, 4, 8):
            for with_writer in (False, True):
                rows.append((readers, with_writer, run(db, queries, docs, readers, with_writer, args.seconds)))
    base = rows[0][2]["qps"]
    print(f"\n{'readers':>7} {'writer':>6} {'queries/s':>10} {'x 1 reader':>10} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'commits/s':>9}  reader index updates")
    for readers, with_writer, r in rows:
        updates = ", ".join(f"{k} {v}" for k, v in sorted(r["actions"].items()) if k != "memory")
        print(f"{readers:>7} {'yes' if with_writer else 'no':>6} {r['qps']:>10,.0f} {r['qps'] / base:>10.2f} "
              f"{r['p50']:>7.2f} {r['p95']:>7.2f} {r['commits']:>9.1f}  {updates or '-'}")


if __name__ == "__main__":
    main()
