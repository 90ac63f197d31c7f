"""Small writes are cheap: the worker pool outlives one add() and is reused by the next."""

from __future__ import annotations

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
