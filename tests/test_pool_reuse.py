"""Small writes are cheap: the worker pool outlives one add() and is reused by the next."""

from __future__ import annotations

import pytest
from vecdex.indexer import pipeline


def _docs(lines: list[str], start: int, n: int) -> list[dict]:
    # ~1 KB each, so that a call spans several batches and reaches the workers
    return [{"id": f"d{i}", "text": " ".join(lines[(i + j) % len(lines)] for j in range(2))}
            for i in range(start, start + n)]


def test_the_worker_pool_is_reused_by_the_next_add(vx, lee_lines):
    pipeline.shutdown_pool()
    coll = vx.collection("pool", create=True, embedder="fake")
    first = coll.add(_docs(lee_lines, 0, 150), workers=2)
    pool = pipeline._shared.get("pool")
    assert pool is not None and first.added == 150
    workers = set(pool._processes)
    second = coll.add(_docs(lee_lines, 150, 150), workers=2)
    assert second.added == 150
    assert pipeline._shared.get("pool") is pool and set(pool._processes) == workers  # same live workers
    assert {h.id for h in coll.search("the", 500, mode="lexical")} == {f"d{i}" for i in range(300)}
    # Another embedder (or worker count) gets a pool of its own; the old one is shut down.
    other = vx.collection("other", create=True, embedder="fake", model="fake-other")
    other.add(_docs(lee_lines, 0, 150), workers=2)
    assert pipeline._shared.get("pool") is not pool
    pipeline.shutdown_pool()
    assert pipeline._shared.get("pool") is None


def _index_in_a_child(db: str, texts: list[str]) -> None:
    from vecdex.search import Vecdex

    with Vecdex(db) as vx:
        report = vx.collection("child", create=True).add(
            [{"id": f"d{i}", "text": t} for i, t in enumerate(texts)], workers=2)
        assert report.added == len(texts)
        assert pipeline._shared.get("pool") is not None  # the pool was used and is still up


def test_a_multiprocessing_child_that_indexed_exits(tmp_path, lee_lines):
    """multiprocessing joins a child's non-daemon children when it exits, before
    anything else runs: the shared pool's idle workers kept such a child (a
    benchmark's writer) waiting forever; the pool is now stopped first."""
    import multiprocessing

    texts = [" ".join(lee_lines[(i + j) % len(lee_lines)] for j in range(2)) for i in range(300)]
    child = multiprocessing.get_context("spawn").Process(target=_index_in_a_child,
                                                         args=(str(tmp_path / "child.db"), texts))
    child.start()
    child.join(180)
    if child.exitcode is None:
        child.kill()
        child.join()
        pytest.fail("the child did not exit after indexing")
    assert child.exitcode == 0
