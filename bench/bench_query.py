"""Query latency: warm in-process, raw FAISS baseline in the same run, cold CLI, --help.

    python bench/bench_query.py [--docs 100000] [--queries 300]

Builds a collection of one-line documents (real sentences), then times
- vecdex warm search (embed query + FAISS + map to documents + snippets), p50/p95,
  in dense mode (what the raw FAISS baseline compares with), and in hybrid (the
  default: dense + BM25 fused) and lexical mode;
- raw FAISS search of the same pre-embedded queries on the same index, p50/p95,
  and the ratio vecdex / raw;
- a cold `vecdex query` (new process: imports, model load, index load), median of
  several runs, against a bare `python -c pass` start in the same run;
- `vecdex --help`.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from corpora import one_line_documents, sample_queries  # noqa: E402
from timing import options, percentiles  # noqa: E402


def timed_runs(command: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    args = options(__doc__, docs=100_000, queries=300, cold_runs=7)
    from vecdex.search import Vecdex

    tmp = Path(tempfile.mkdtemp())
    db = tmp / "bench.db"
    try:
        with Vecdex(db) as vx:
            coll = vx.collection("default", create=True)
            started = time.perf_counter()
            coll.add((str(i), t) for i, t in enumerate(one_line_documents(args.docs)))
            print(f"indexed {args.docs:,} one-line documents in {time.perf_counter() - started:.1f} s")
            queries = sample_queries(args.queries)
            latency: dict[str, list[float]] = {}
            for mode in ("dense", "hybrid", "lexical"):
                for q in queries[:20]:
                    coll.search(q, k=10, mode=mode)  # warm-up: index and model loaded, caches hot
                latency[mode] = []
                for q in queries:
                    started = time.perf_counter()
                    coll.search(q, k=10, mode=mode)
                    latency[mode].append(time.perf_counter() - started)
            warm = latency["dense"]
            index = coll.index()
            vectors = np.stack([coll.embed_query(q) for q in queries]).astype(np.float32)
            raw = []
            from vecdex.storage.ann.base import set_faiss_threads

            set_faiss_threads(1)  # the same threading vecdex uses for one query
            for v in vectors:
                started = time.perf_counter()
                index.index.search(v.reshape(1, -1), 10)
                raw.append(time.perf_counter() - started)
            (w50, w95), (r50, r95) = percentiles(warm), percentiles(raw)
            print(f"\nwarm query, {index.count():,} chunks ({args.queries} queries, k=10)")
            print(f"  vecdex dense       p50 {w50:6.3f} ms  p95 {w95:6.3f} ms")
            for mode in ("hybrid", "lexical"):
                m50, m95 = percentiles(latency[mode])
                print(f"  vecdex {mode:<11} p50 {m50:6.3f} ms  p95 {m95:6.3f} ms"
                      + ("   (the default mode)" if mode == "hybrid" else ""))
            print(f"  raw FAISS search   p50 {r50:6.3f} ms  p95 {r95:6.3f} ms")
            print(f"  ratio dense/raw    p50 {w50 / r50:6.2f}x   (target: dense p50 <= 2 ms: {'met' if w50 <= 2 else 'NOT met'})")

        env = {**os.environ, "PYTHONPATH": str(REPO)}
        script = shutil.which("vecdex")
        base = [script] if script else [sys.executable, "-m", "vecdex"]
        python_start = timed_runs([sys.executable, "-c", "pass"], args.cold_runs, env)
        cold = timed_runs(base + ["--db", str(db), "query", queries[0], "-k", "10"], args.cold_runs, env)
        helptime = timed_runs(base + ["--help"], args.cold_runs, env)
        print(f"\ncold CLI (median of {args.cold_runs})")
        print(f"  python -c pass     {python_start * 1000:7.0f} ms")
        print(f"  vecdex query       {cold * 1000:7.0f} ms  = {cold / python_start:.1f}x python start"
              f"  (target <= 1500 ms: {'met' if cold <= 1.5 else 'NOT met'})")
        print(f"  vecdex --help      {helptime * 1000:7.0f} ms  = {helptime / python_start:.1f}x python start"
              f"  (target <= 300 ms: {'met' if helptime <= 0.3 else 'NOT met'})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
