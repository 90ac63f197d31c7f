"""Indexing throughput, end to end into the store, against baselines in the same run.

    python bench/bench_index.py [--news 3000] [--lines 100000]

Prints documents/s and MB/s for (a) news-length documents (~3 KB, real Lee
articles) and (b) one-line documents (real sentences), through the same path
as ``vecdex index`` (reader -> chunking -> embedding -> SQLite -> FAISS file).
Baselines measured on the same documents in the same process:
- sentence-splitter alone on one core (the cost floor for splitting news text);
- embedding alone (tokenise + average GloVe vectors, one core, no storage).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpora import news_documents, one_line_documents, write_jsonl, write_lines  # noqa: E402


def index_file(path: Path, fmt: str, workers: int | None) -> tuple[float, int]:
    from indexer.readers import ReadOptions, read_inputs
    from search import Vecdex

    with tempfile.TemporaryDirectory() as tmp:
        with Vecdex(Path(tmp) / "bench.db") as vx:
            coll = vx.collection("bench", create=True)
            started = time.perf_counter()
            report = coll.add(read_inputs([str(path)], ReadOptions(format=fmt)), workers=workers)
            elapsed = time.perf_counter() - started
    return elapsed, report.documents


def splitter_alone(texts: list[str]) -> float:
    from sentence_splitter import SentenceSplitter

    splitter = SentenceSplitter("en")
    started = time.perf_counter()
    for text in texts:
        splitter.split(text)
    return time.perf_counter() - started


def embedding_alone(texts: list[str]) -> float:
    from indexer.embedders import create_embedder

    embedder = create_embedder("static")
    started = time.perf_counter()
    for i in range(0, len(texts), 512):
        embedder.embed(texts[i : i + 512])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--news", type=int, default=3000, help="news-length documents")
    parser.add_argument("--lines", type=int, default=100_000, help="one-line documents")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    from indexer.embedders import create_embedder

    create_embedder("static")  # warm the model cache so both runs start equal

    with tempfile.TemporaryDirectory() as tmp:
        news = news_documents(args.news)
        news_path = Path(tmp) / "news.jsonl"
        news_bytes = write_jsonl(news_path, news)
        avg = sum(len(t.encode()) for t in news) / len(news)
        seconds, n = index_file(news_path, "jsonl", args.workers)
        split_s = splitter_alone(news[: min(len(news), 1000)]) * len(news) / min(len(news), 1000)
        print(f"\nnews-length documents: {n:,} docs, {avg / 1000:.1f} KB average, {news_bytes / 1e6:.1f} MB")
        print(f"  vecdex index        {n / seconds:8,.0f} docs/s  {news_bytes / 1e6 / seconds:6.2f} MB/s  ({seconds:.1f} s)")
        print(f"  splitter alone, 1 core {n / split_s:5,.0f} docs/s  -> vecdex / splitter = {split_s / seconds:.2f}x")
        print(f"  target >= 700 docs/s: {'met' if n / seconds >= 700 else 'NOT met'}")

        lines = one_line_documents(args.lines)
        lines_path = Path(tmp) / "lines.txt"
        lines_bytes = write_lines(lines_path, lines)
        seconds, n = index_file(lines_path, "lines", args.workers)
        embed_s = embedding_alone(lines)
        print(f"\none-line documents: {n:,} docs, {lines_bytes / 1e6:.1f} MB")
        print(f"  vecdex index        {n / seconds:8,.0f} docs/s  {lines_bytes / 1e6 / seconds:6.2f} MB/s  ({seconds:.1f} s)")
        print(f"  embedding alone, 1 core {n / embed_s:6,.0f} docs/s  -> vecdex / embedding = {embed_s / seconds:.2f}x")
        print(f"  target >= 20,000 docs/s: {'met' if n / seconds >= 20000 else 'NOT met'}")


if __name__ == "__main__":
    main()
