"""Indexing throughput, end to end into the store, against baselines in the same run.

    python bench/bench_index.py [--news 3000] [--lines 100000]

Prints documents/s and MB/s for (a) news-length documents (~3 KB, real Lee
articles) and (b) one-line documents (real sentences), through the same path
as ``vecdex index`` (reader -> chunking -> embedding -> SQLite -> FAISS file).
Baselines measured on the same documents in the same process (CPU time, one core):
- sentence-splitter alone, as installed (the cost floor of splitting news text);
- embedding alone (tokenise + average GloVe vectors, no storage).
Then the cost of durable commits (the default) against the bulk-load opt-out
(``--durability-only`` runs just that). Wall-clock rates drift with whatever else runs on the machine, so the CPU time
per document (main process and workers) and the rate it allows on free cores
are printed too.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpora import news_documents, one_line_documents, write_jsonl, write_lines  # noqa: E402


def cpu_seconds() -> tuple[float, float]:
    """CPU time of this process and of its finished children (the workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def index_file(path: Path, fmt: str, workers: int | None) -> tuple[float, int, float, float]:
    """(wall seconds, documents, main-process CPU s, worker CPU s) of one indexing run."""
    from vecdex.indexer.readers import ReadOptions, read_inputs
    from vecdex.search import Vecdex

    with tempfile.TemporaryDirectory() as tmp:
        with Vecdex(Path(tmp) / "bench.db") as vx:
            coll = vx.collection("bench", create=True)
            main0, kids0 = cpu_seconds()
            started = time.perf_counter()
            report = coll.add(read_inputs([str(path)], ReadOptions(format=fmt)), workers=workers)
            elapsed = time.perf_counter() - started
            main1, kids1 = cpu_seconds()
    return elapsed, report.documents, main1 - main0, kids1 - kids0


def print_cpu(n: int, main_cpu: float, worker_cpu: float) -> None:
    """CPU per document is what a loaded machine cannot distort much: it says what
    two free cores would reach (the main process is one serial lane)."""
    cores = os.cpu_count() or 1
    ceiling = min(cores * n / (main_cpu + worker_cpu), n / main_cpu if main_cpu else float("inf"))
    print(f"  cpu per doc         main {main_cpu / n * 1000:.3f} ms + workers {worker_cpu / n * 1000:.3f} ms"
          f"  -> on {cores} free cores at most {ceiling:,.0f} docs/s")


def splitter_alone(texts: list[str]) -> float:
    """The sentence-splitter package as installed, one core (CPU seconds)."""
    from sentence_splitter import SentenceSplitter

    splitter = SentenceSplitter("en")
    started = sum(cpu_seconds())
    for text in texts:
        splitter.split(text)
    return sum(cpu_seconds()) - started


def embedding_alone(texts: list[str]) -> float:
    """Tokenise + average GloVe vectors, one core, no storage (CPU seconds)."""
    from vecdex.indexer.embedders import create_embedder

    embedder = create_embedder("static")
    started = sum(cpu_seconds())
    for i in range(0, len(texts), 4096):
        embedder.embed(texts[i : i + 4096])
    return sum(cpu_seconds()) - started


def durability_cost(lines: list[str], rounds: int = 3) -> None:
    """Durable commits (synchronous=FULL, the default) against the bulk-load opt-out
    (NORMAL), interleaved A/B, best of ``rounds``: a bulk load (one commit per
    4,096 lines) and single-document commits (one fsync each)."""
    import numpy as np

    from vecdex.search import Vecdex

    def bulk(durable: bool) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            with Vecdex(Path(tmp) / "d.db", durable=durable) as vx:
                coll = vx.collection("d", create=True)
                started = time.perf_counter()
                coll.add(((str(i), t) for i, t in enumerate(lines)), workers=1)
                return time.perf_counter() - started

    def singles(durable: bool, n: int = 200) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            with Vecdex(Path(tmp) / "d.db", durable=durable) as vx:
                coll = vx.collection("d", create=True, embedder="precomputed", dimension=8)
                vectors = np.random.default_rng(0).standard_normal((n, 8)).astype(np.float32)
                started = time.perf_counter()
                for i in range(n):
                    coll.add_vectors([str(i)], vectors[i : i + 1])
                return (time.perf_counter() - started) / n

    best: dict[tuple[str, bool], float] = {}
    for _ in range(rounds):
        for durable in (True, False):
            for name, run in (("bulk", bulk), ("single", singles)):
                t = run(durable)
                best[(name, durable)] = min(best.get((name, durable), float("inf")), t)
    print(f"\ndurability (synchronous FULL, the default, vs NORMAL, the opt-out; best of {rounds}, interleaved):")
    print(f"  bulk load {len(lines):,} lines   FULL {len(lines) / best[('bulk', True)]:8,.0f} docs/s   "
          f"NORMAL {len(lines) / best[('bulk', False)]:8,.0f} docs/s   "
          f"FULL/NORMAL time = {best[('bulk', True)] / best[('bulk', False)]:.2f}x")
    print(f"  one document per commit    FULL {best[('single', True)] * 1000:8.2f} ms     "
          f"NORMAL {best[('single', False)] * 1000:8.2f} ms     "
          f"FULL/NORMAL time = {best[('single', True)] / best[('single', False)]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--news", type=int, default=3000, help="news-length documents")
    parser.add_argument("--lines", type=int, default=100_000, help="one-line documents")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--durability-only", action="store_true",
                        help="only the cost of durable commits (FULL vs NORMAL)")
    args = parser.parse_args()
    if args.durability_only:
        durability_cost(one_line_documents(min(args.lines, 20_000)))
        return
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    from vecdex.indexer.embedders import create_embedder

    create_embedder("static")  # warm the model cache so both runs start equal

    with tempfile.TemporaryDirectory() as tmp:
        news = news_documents(args.news)
        news_path = Path(tmp) / "news.jsonl"
        news_bytes = write_jsonl(news_path, news)
        avg = sum(len(t.encode()) for t in news) / len(news)
        seconds, n, main_cpu, worker_cpu = index_file(news_path, "jsonl", args.workers)
        split_s = splitter_alone(news[: min(len(news), 1000)]) * len(news) / min(len(news), 1000)
        print(f"\nnews-length documents: {n:,} docs, {avg / 1000:.1f} KB average, {news_bytes / 1e6:.1f} MB")
        print(f"  vecdex index        {n / seconds:8,.0f} docs/s  {news_bytes / 1e6 / seconds:6.2f} MB/s  ({seconds:.1f} s)")
        print_cpu(n, main_cpu, worker_cpu)
        print(f"  splitter alone      {n / split_s:8,.0f} docs/s per core (CPU time)"
              f"  -> vecdex wall / splitter = {split_s / seconds:.2f}x")
        print(f"  target >= 700 docs/s: {'met' if n / seconds >= 700 else 'NOT met'}")

        lines = one_line_documents(args.lines)
        lines_path = Path(tmp) / "lines.txt"
        lines_bytes = write_lines(lines_path, lines)
        seconds, n, main_cpu, worker_cpu = index_file(lines_path, "lines", args.workers)
        embed_s = embedding_alone(lines)
        print(f"\none-line documents: {n:,} docs, {lines_bytes / 1e6:.1f} MB")
        print(f"  vecdex index        {n / seconds:8,.0f} docs/s  {lines_bytes / 1e6 / seconds:6.2f} MB/s  ({seconds:.1f} s)")
        print_cpu(n, main_cpu, worker_cpu)
        print(f"  embedding alone     {n / embed_s:8,.0f} docs/s per core (CPU time)"
              f"  -> vecdex wall / embedding = {embed_s / seconds:.2f}x")
        print(f"  target >= 20,000 docs/s: {'met' if n / seconds >= 20000 else 'NOT met'}")
    durability_cost(lines[:20_000])


if __name__ == "__main__":
    main()
