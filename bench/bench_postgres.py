"""PostgreSQL store against SQLite, in the same run, on the same news corpus.

    python bench/bench_postgres.py [--docs 1000] [--catch-up 10000] [--cold 50000] [--queries 200]
                                   [--passes 2] [--server postgresql+psycopg://postgres@127.0.0.1/postgres]

Each figure is measured on both stores in the same run, interleaved (SQLite,
PostgreSQL, SQLite, ...), best of ``--passes``, with the CPU time of this
process beside the wall time where the work is in it (the machine is shared:
wall times swing 2-5x). Writers are separate processes, timed from a start
signal given once each has its model loaded.

- indexing: news-length documents (~3 KB, GloVe 50d), docs/s, one writer; and
  two writer processes adding halves of the corpus to one collection at once;
- warm query p50 (dense and hybrid) on the indexed collection, with the mean CPU
  time per query: both stores answer from the same kind of caches and a
  PostgreSQL store learns of changes from notifications (no query per search),
  so the dense ratio should be near 1; hybrid reads its lexical hits' rows from
  the store (one round trip on PostgreSQL);
- catch-up: a reader with a warm index, then another writer adds ``--catch-up``
  one-line documents; the reader's next dense query (which brings its FAISS
  index up to the store's seq) is timed;
- cold open: the first dense query of a ``--cold``-chunk collection from a new
  process state with an empty cache folder (index rebuilt from stored vectors).

The PostgreSQL databases are made for the run (``vecdex_test_bench_*``) and
dropped after it; nothing else on the server is touched.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from corpora import news_documents, one_line_documents, sample_queries  # noqa: E402
from timing import clock, options, since  # noqa: E402


class Databases:
    """Fresh PostgreSQL databases for the run, dropped at the end."""

    def __init__(self, server: str):
        import psycopg
        from sqlalchemy.engine import make_url

        self.base = make_url(server)
        self.admin = psycopg.connect(self.base.set(drivername="postgresql").render_as_string(hide_password=False),
                                     autocommit=True)
        self.made: list[str] = []

    def new(self) -> str:
        name = f"vecdex_test_bench_{uuid.uuid4().hex[:10]}"
        self.admin.execute(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return self.base.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        for name in self.made:
            self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.close()


def _writer(target: str, docs: list[tuple[str, str]], cache: str, ready=None, go=None) -> None:
    os.environ["VECDEX_CACHE_DIR"] = cache
    from vecdex.search import Vecdex

    with Vecdex(target) as vx:
        coll = vx.collection("news")
        coll.embedder.embed(["warm up the model"])  # loaded before the clock starts
        if ready is not None:
            ready.set()
            go.wait()
        coll.add(docs)


def index_once(target: str, docs: list[tuple[str, str]], writers: int, cache: str) -> tuple[float, float]:
    """Wall time from the start signal until every writer committed (models already loaded)."""
    from vecdex.search import Vecdex

    with Vecdex(target) as vx:
        vx.collection("news", create=True)  # the collection exists before the writers race
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    readies = [context.Event() for _ in range(writers)]
    procs = [context.Process(target=_writer, args=(target, docs[i::writers], cache, readies[i], go))
             for i in range(writers)]
    for p in procs:
        p.start()
    for ready in readies:
        ready.wait()
    start = clock()
    go.set()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    return since(start)


def warm_p50(target: str, queries: list[str], mode: str) -> tuple[float, float]:
    """(p50 wall ms, mean CPU ms) per query of a process whose caches are warm."""
    from vecdex.search import Vecdex

    with Vecdex(target) as vx:
        coll = vx.collection("news")
        for q in queries[:20]:
            coll.search(q, k=10, mode=mode)
        samples = []
        cpu_start = time.process_time()
        for q in queries:
            started = time.perf_counter()
            coll.search(q, k=10, mode=mode)
            samples.append(time.perf_counter() - started)
        cpu = (time.process_time() - cpu_start) / len(queries)
    return statistics.median(samples) * 1000, cpu * 1000


def catch_up(target: str, extra: list[tuple[str, str]], query: str, cache: str) -> tuple[float, float]:
    from vecdex.search import Vecdex

    with Vecdex(target) as reader:
        coll = reader.collection("news")
        coll.search(query, k=10, mode="dense")  # warm
        _writer(target, extra, cache + "-writer")  # another process's cache: the reader catches up itself
        start = clock()
        coll.search(query, k=10, mode="dense")
        return since(start)


def cold_open(target: str, query: str, cache: str) -> tuple[float, float]:
    from vecdex.search import Vecdex

    shutil.rmtree(cache, ignore_errors=True)
    os.environ["VECDEX_CACHE_DIR"] = cache
    if "://" not in target:
        shutil.rmtree(target + ".faiss", ignore_errors=True)
    start = clock()
    with Vecdex(target) as vx:
        vx.collection("news").search(query, k=10, mode="dense")
    return since(start)


def main() -> None:
    args = options(__doc__, docs=1000, catch_up=10_000, cold=50_000, queries=200, passes=2, server=os.environ.get(
        "VECDEX_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    tmp = Path(tempfile.mkdtemp())
    dbs = Databases(args.server)
    os.environ["VECDEX_CACHE_DIR"] = str(tmp / "cache")
    try:
        docs = [(str(i), t) for i, t in enumerate(news_documents(args.docs))]
        stores = ("sqlite", "postgresql")

        def fresh(kind: str) -> str:
            return str(tmp / f"{uuid.uuid4().hex[:8]}.db") if kind == "sqlite" else dbs.new()

        print(f"indexing {len(docs):,} news documents (~3 KB, GloVe 50d), best of {args.passes} interleaved passes")
        kept: dict[str, str] = {}
        for writers in (1, 2):
            best: dict[str, tuple[float, float]] = {}
            for _ in range(args.passes):
                for kind in stores:
                    target = fresh(kind)
                    took = index_once(target, docs, writers, str(tmp / "cache"))
                    best[kind] = min(best.get(kind, took), took)
                    kept.setdefault(kind, target)
            for kind in stores:
                wall, cpu = best[kind]
                print(f"  {kind:<10} {writers} writer{'s' if writers > 1 else ' '}  {len(docs) / wall:8.0f} docs/s"
                      f"  ({wall:6.1f} s wall)")
            print(f"  PostgreSQL / SQLite docs/s: {best['sqlite'][0] / best['postgresql'][0]:.2f}")

        queries = sample_queries(args.queries)
        print(f"\nwarm query p50 ({args.queries} queries, k=10), best of {args.passes} interleaved passes")
        for mode in ("dense", "hybrid"):
            p50: dict[str, tuple[float, float]] = {}
            for _ in range(args.passes):  # interleaved: SQLite, PostgreSQL, SQLite, ...
                for kind in stores:
                    took = warm_p50(kept[kind], queries, mode)
                    p50[kind] = min(p50.get(kind, took), took)
            print(f"  {mode:<7} sqlite {p50['sqlite'][0]:6.3f} ms ({p50['sqlite'][1]:.3f} ms CPU)"
                  f"   postgresql {p50['postgresql'][0]:6.3f} ms ({p50['postgresql'][1]:.3f} ms CPU)"
                  f"   ratio {p50['postgresql'][0] / p50['sqlite'][0]:.2f}")

        extra = [(f"x{i}", t) for i, t in enumerate(one_line_documents(args.catch_up))]
        print(f"\ncatch-up: the first dense query after another process added {len(extra):,} one-line documents")
        for kind in stores:
            wall, cpu = catch_up(kept[kind], extra, queries[0], str(tmp / "cache"))
            print(f"  {kind:<10} {wall * 1000:8.0f} ms wall  {cpu * 1000:8.0f} ms CPU")

        print(f"\ncold open: first dense query of a {args.cold:,}-document collection, empty cache folder")
        big = [(str(i), t) for i, t in enumerate(one_line_documents(args.cold))]
        for kind in stores:
            target = fresh(kind)
            index_once(target, big, 1, str(tmp / "cache"))
            wall, cpu = cold_open(target, queries[0], str(tmp / f"cold-{kind}"))
            print(f"  {kind:<10} {wall * 1000:8.0f} ms wall  {cpu * 1000:8.0f} ms CPU")
    finally:
        dbs.drop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
