"""Where the indexing work runs: a large input in the workers from its first batch,
a one-batch input in-process (no pool to start)."""

from __future__ import annotations

import os

from vecdex.indexer import pipeline


def _record_pids(monkeypatch, log):
    original = pipeline.embed_records

    def recording(texts, embedder, chunking):
        # Appends are atomic for short lines, from any process (workers are forked).
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        return original(texts, embedder, chunking)

    monkeypatch.setattr(pipeline, "embed_records", recording)


def _pids(log) -> list[int]:
    return [int(line) for line in log.read_text().split()]


def test_large_input_is_embedded_by_the_workers_from_the_first_batch(vx, tmp_path, monkeypatch, lee_lines):
    log = tmp_path / "pids"
    _record_pids(monkeypatch, log)
    docs = [(str(i), lee_lines[i % len(lee_lines)]) for i in range(3 * pipeline.FIRST_BATCH_DOCS)]
    report = vx.collection("big", create=True).add(docs, workers=2)
    assert report.added == len(docs)
    pids = _pids(log)
    assert len(pids) >= 2 and os.getpid() not in pids


def test_one_batch_input_stays_in_process(vx, tmp_path, monkeypatch, lee_lines):
    log = tmp_path / "pids"
    _record_pids(monkeypatch, log)
    report = vx.collection("small", create=True).add([(str(i), t) for i, t in enumerate(lee_lines[:20])], workers=2)
    assert report.added == 20
    assert _pids(log) == [os.getpid()]
