"""all-MiniLM-L6-v2 on ONNX Runtime: embedding throughput and query latency, with
same-run baselines.

    python bench/bench_transformer.py              # 150 news-length documents (~3 KB)
    python bench/bench_transformer.py --docs 60 --passes 2

1. Embedding the chunks of news-length documents (consecutive Lee background
   articles joined to ~3 KB, gensim test data): length-sorted batches (vecdex's
   way) against input-order batches with the same limits, interleaved A-B-B-A,
   best of N per side; wall and CPU time, chunks/s and documents per CPU-second.
2. The same documents indexed end to end by the CLI in a fresh process
   (`vecdex index --embedder transformer`), against GloVe (the default) in the
   same run: documents/s, CPU seconds, peak RSS of each process.
3. Single-query latency, warm, dense mode, on those collections: MiniLM (query
   embedding + search) against GloVe; p50/p95 over the Lee test sentences.

Absolute speeds drift on a shared 2-core machine; read the ratios and the CPU times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from corpora import news_documents, sentences, write_jsonl  # noqa: E402

from vecdex.indexer.embedders.factory import create_embedder  # noqa: E402
from vecdex.indexer.pipeline import embed_records  # noqa: E402


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def embedding_ab(docs: list[str], passes: int) -> None:
    sorted_side = create_embedder("transformer")
    input_order = create_embedder("transformer", sort_by_length=False)
    chunking = sorted_side.default_chunking
    spans = embed_records(docs[:2], sorted_side, chunking)  # warm-up (first ORT runs allocate)
    del spans
    from vecdex.indexer.chunking import chunk_spans

    pieces = [d[s:e] for d in docs for s, e in chunk_spans(d, chunking, sorted_side.token_spans)]
    n_tokens = sum(len(sorted_side.tokenize(p)) + 2 for p in pieces)
    print(f"1. embedding {len(pieces)} chunks ({n_tokens:,} word pieces) of {len(docs)} documents, "
          f"{sum(map(len, docs)) / len(docs) / 1000:.1f} KB each; A-B-B-A x {passes}", flush=True)
    results: dict[str, list[tuple[float, float]]] = {"sorted": [], "input order": []}
    sides = {"sorted": sorted_side, "input order": input_order}
    for n in range(passes):
        order = ["sorted", "input order"] if n % 2 == 0 else ["input order", "sorted"]
        for name in order:
            results[name].append(timed(lambda: sides[name].embed(pieces)))
    for name, runs in results.items():
        wall, cpu = min(runs)
        print(f"   {name:12s} best wall {wall:6.2f} s ({len(pieces) / wall:5.1f} chunks/s, "
              f"{len(docs) / wall:5.2f} docs/s), CPU {cpu:6.2f} s ({len(docs) / cpu:5.2f} docs per CPU-second)")
    best = {k: min(v) for k, v in results.items()}
    print(f"   sorted / input order: {best['input order'][0] / best['sorted'][0]:.2f}x wall, "
          f"{best['input order'][1] / best['sorted'][1]:.2f}x CPU", flush=True)


def cli_index(corpus: Path, db: Path, embedder: str) -> tuple[float, float, float, dict]:
    """Index in a fresh process; (wall, CPU of the child, peak RSS MB of the child, report)."""
    code = ("import resource, sys; from vecdex.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "r = resource.getrusage(resource.RUSAGE_SELF)\n"
            # VmHWM: this process's own peak (ru_maxrss would carry the parent's over the fork)
            "hwm = int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])\n"
            "print('RUSAGE', r.ru_utime + r.ru_stime, hwm)")
    args = ["--db", str(db), "index", str(corpus), "--json", "-c", embedder, "--embedder", embedder]
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    report = json.loads(out.stdout.splitlines()[0])
    _, cpu, rss = out.stdout.splitlines()[-1].split()
    return wall, float(cpu), int(rss) / 1024, report


def query_latency(db: Path, name: str, queries: list[str]) -> tuple[float, float, float]:
    from vecdex.search import Vecdex

    with Vecdex(db) as vx:
        coll = vx.collection(name)
        for q in queries[:20]:
            coll.search(q, k=10, mode="dense")  # warm: model loaded, index open
        times = []
        for q in queries:
            started = time.perf_counter()
            coll.search(q, k=10, mode="dense")
            times.append(time.perf_counter() - started)
        embed_times = []
        for q in queries[:200]:
            started = time.perf_counter()
            coll.embedder.embed([q])
            embed_times.append(time.perf_counter() - started)
    times.sort()
    return 1000 * statistics.median(times), 1000 * times[int(0.95 * len(times))], 1000 * statistics.median(embed_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=150, help="news-length documents (default 150)")
    parser.add_argument("--passes", type=int, default=2, help="A-B pairs in part 1 (default 2)")
    parser.add_argument("--queries", type=int, default=300, help="queries in part 3 (default 300)")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    docs = news_documents(args.docs)
    embedding_ab(docs, args.passes)
    print(f"   this process's peak RSS so far: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "news.jsonl"
        write_jsonl(corpus, docs)
        db = Path(tmp) / "bench.db"
        print(f"\n2. vecdex index (CLI, fresh process), {len(docs)} documents:", flush=True)
        figures = {}
        for embedder in ("static", "transformer"):
            wall, cpu, rss, report = cli_index(corpus, db, embedder)
            figures[embedder] = (wall, cpu)
            print(f"   {embedder:12s} {wall:6.1f} s wall ({len(docs) / wall:7.1f} docs/s), {cpu:6.1f} CPU s "
                  f"({len(docs) / cpu:7.1f} docs per CPU-second), {report['chunks']} chunks, peak RSS {rss:.0f} MB",
                  flush=True)
        print(f"   GloVe / MiniLM: {figures['transformer'][0] / figures['static'][0]:.0f}x wall, "
              f"{figures['transformer'][1] / figures['static'][1]:.0f}x CPU")

        queries = sentences()[: args.queries]
        print(f"\n3. warm single queries, dense, {len(queries)} Lee sentences:", flush=True)
        for embedder in ("static", "transformer"):
            p50, p95, embed_ms = query_latency(db, embedder, queries)
            print(f"   {embedder:12s} p50 {p50:6.2f} ms, p95 {p95:6.2f} ms (query embedding alone p50 {embed_ms:.2f} ms)",
                  flush=True)


if __name__ == "__main__":
    main()
