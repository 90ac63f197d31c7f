"""Distributed indexing (``vecdex index --ray``) on a real local Ray cluster, started
once for the module (Ray takes seconds to start): folder, JSONL, CSV and Parquet
inputs give the documents and vectors local indexing gives; bad input is skipped
and counted (``--strict`` stops with one line); a driver killed mid-run is
resumed by running it again; PostgreSQL gets its writes from the workers."""

from __future__ import annotations

import csv
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, TESTS, run_vecdex

ray = pytest.importorskip("ray", reason="needs the [ray] extra")

from sqlalchemy import select  # noqa: E402
from vecdex.indexer.distributed import index_paths  # noqa: E402
from vecdex.indexer.readers import ReadOptions, read_inputs  # noqa: E402
from vecdex.search import Vecdex  # noqa: E402
from vecdex.storage import schema  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    """A 2-CPU local cluster with a small object store (the test machine is shared)."""
    ray.init(num_cpus=2, object_store_memory=200 * 2**20, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, lee_lines) -> Path:
    """Every input kind, with one bad record in each line-based file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path_factory.mktemp("ray-corpus")
    folder = root / "notes"
    (folder / "sub").mkdir(parents=True)
    for i in range(12):
        (folder / ("sub" if i % 3 == 0 else "") / f"n{i}.txt").write_text(lee_lines[i], "utf-8")
    (folder / "empty.md").write_text("  \n", "utf-8")  # a problem: empty document
    with open(root / "a.jsonl", "w", encoding="utf-8") as handle:
        for i in range(300):
            handle.write(json.dumps({"key": f"j{i}", "body": f"{lee_lines[(i * 3) % 300]} {lee_lines[(i * 7) % 300]}",
                                     "year": 1990 + i % 30}) + "\n")
        handle.write('{"key": "broken", "body": \n')  # malformed JSON
    with open(root / "b.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["key", "body", "topic"])
        for i in range(200):
            writer.writerow([f"c{i}", lee_lines[(i * 11) % 300], f"t{i % 5}"])
        handle.write("c-short,only two fields\n")  # wrong field count: a problem
    rows = [{"key": f"p{i}", "body": lee_lines[(i * 13) % 300], "score": float(i) / 7} for i in range(100)]
    pq.write_table(pa.Table.from_pylist(rows), root / "c.parquet", row_group_size=40)
    return root


def _inputs(corpus: Path) -> list[str]:
    return [str(corpus / "notes"), str(corpus / "a.jsonl"), str(corpus / "b.csv"), str(corpus / "c.parquet")]


def _options() -> ReadOptions:
    return ReadOptions(id_field="key", text_field="body")


def _stored(target) -> tuple[dict, dict]:
    """(documents by id, chunks by (id, ordinal)) of the store's one collection."""
    docs, ch = schema.documents, schema.chunks
    with Vecdex(target) as vx, vx.store.reading() as conn:
        documents = {r[0]: tuple(r[1:]) for r in conn.execute(
            select(docs.c.ext_id, docs.c.text, docs.c.metadata, docs.c.content_hash, docs.c.source))}
        chunks = {(r[0], r[1]): (r[2], r[3], np.frombuffer(bytes(r[4]), "<f4")) for r in conn.execute(
            select(docs.c.ext_id, ch.c.ordinal, ch.c.start, ch.c.end, ch.c.vector)
            .select_from(ch.join(docs, docs.c.id == ch.c.document_id)))}
    return documents, chunks


def _same_as_local(target, local_db: Path) -> None:
    documents, chunks = _stored(target)
    local_documents, local_chunks = _stored(local_db)
    assert documents == local_documents
    assert chunks.keys() == local_chunks.keys()
    for key, (start, end, vector) in chunks.items():
        assert (start, end) == local_chunks[key][:2], key
        # Batches differ from the local run's: BLAS may sum in another order (last-bit differences).
        np.testing.assert_allclose(vector, local_chunks[key][2], atol=1e-6, rtol=0)


@pytest.fixture(scope="module")
def local_db(tmp_path_factory, corpus) -> Path:
    db = tmp_path_factory.mktemp("ray-local") / "local.db"
    with Vecdex(db) as vx:
        vx.collection("news", create=True).add(read_inputs(_inputs(corpus), _options()), workers=1)
    return db


def test_every_input_kind_gives_the_local_documents_and_vectors(cluster, corpus, local_db, tmp_path, monkeypatch):
    from vecdex.indexer import distributed

    monkeypatch.setattr(distributed, "PARQUET_PART_ROWS", 40)  # c.parquet (3 row groups) is read in 3 parts
    monkeypatch.setattr(distributed, "PART_BYTES", 50_000)  # a.jsonl (~200 KB) in several
    from vecdex.indexer.readers import InputFile, line_parts

    jsonl_parts = len(line_parts(InputFile(str(corpus / "a.jsonl"), "a.jsonl", "jsonl", ""), _options(), 50_000))
    assert jsonl_parts > 2
    db = tmp_path / "ray.db"
    with Vecdex(db) as vx:
        coll = vx.collection("news", create=True)
        shown = {"docs": 0, "chunks": 0, "files": []}  # what the driver's progress bar is fed
        report = index_paths(coll, _inputs(corpus), _options(), workers=2,
                             progress=lambda n: shown.update(docs=shown["docs"] + n),
                             chunk_progress=lambda n: shown.update(chunks=shown["chunks"] + n),
                             files_progress=lambda done, total: shown["files"].append((done, total)))
        assert (report.added, report.updated, report.unchanged) == (12 + 300 + 200 + 100, 0, 0)
        assert shown["docs"] == 612 and shown["chunks"] == report.chunks
        parts = 14 + jsonl_parts + 3  # 13 notes and b.csv whole, a.jsonl and c.parquet in parts
        assert shown["files"][0] == (0, parts) and shown["files"][-1] == (parts, parts)
        assert report.failed == 3 and report.problem_counts == {"empty": 1, "bad-record": 2}
        shown = sorted(str(Path(p.source).relative_to(corpus)) for p in report.problems)
        assert shown == ["a.jsonl:301", "b.csv:202", "notes/empty.md"]
        assert coll.index().count() == report.chunks == vx.store.counts(coll.info.id)[1]
        assert coll.search("bushfires near Sydney", k=3)  # the FAISS index was built after the load
        again = index_paths(coll, _inputs(corpus), _options())  # skip-unchanged by content hash
        assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 612, 0)
        assert again.failed == 3
    _same_as_local(db, local_db)


def test_strict_stops_with_one_line_and_a_bad_shard_is_counted(cluster, corpus, tmp_path):
    db = tmp_path / "s.db"
    strict = run_vecdex("index", str(corpus / "a.jsonl"), "--id-field", "key", "--text-field", "body",
                        "--ray", cluster, "--strict", db=db)
    assert strict.returncode == 1
    lines = strict.stderr.decode().strip().splitlines()
    # The last line (Ray's C++ core may log an actor warning before it): the input's bad line, named.
    assert lines[-1].startswith("vecdex: error: ") and "a.jsonl:301: malformed JSON" in lines[-1], lines
    assert not [line for line in lines if line.startswith("vecdex:")][:-1], lines
    assert b"Traceback" not in strict.stderr
    relaxed = run_vecdex("index", str(corpus / "b.csv"), "--id-field", "key", "--text-field", "body",
                         "--ray", cluster, "--json", db=db)
    assert relaxed.returncode == 0, relaxed.stderr.decode()[-800:]
    summary = json.loads(relaxed.stdout.decode().splitlines()[-1])
    assert summary["added"] == 200 and summary["failed"] == 1
    assert "b.csv:202: row has 2 fields, the header has 3" in relaxed.stderr.decode()


@pytest.fixture(scope="module")
def shards(tmp_path_factory, lee_lines) -> Path:
    """6,000 news-length documents in 6 JSONL shards: long enough to kill mid-run."""
    root = tmp_path_factory.mktemp("ray-shards")
    for shard in range(6):
        with open(root / f"part-{shard}.jsonl", "w", encoding="utf-8") as handle:
            for i in range(shard * 1000, (shard + 1) * 1000):
                text = " ".join(lee_lines[(i * 7 + j) % len(lee_lines)] for j in range(3))
                handle.write(json.dumps({"id": f"d{i}", "text": text}) + "\n")
    return root


def test_a_killed_driver_is_resumed_by_running_again(cluster, shards, tmp_path):
    db = tmp_path / "k.db"
    env = {"PYTHONPATH": str(TESTS)}
    import os
    import shutil

    script = shutil.which("vecdex")
    command = ([script] if script else [sys.executable, "-m", "vecdex"]) + [
        "--db", str(db), "index", str(shards), "--ray", cluster, "-q"]
    driver = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, cwd=REPO)
    stored = 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and driver.poll() is None:
        stored = _count(db)
        if stored:
            break
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert driver.returncode == -signal.SIGKILL, driver.stderr.read().decode()[-800:]
    at_kill = _count(db)
    assert 0 < at_kill < 6000, at_kill  # killed mid-run, with batches committed
    with Vecdex(db) as vx:
        report = index_paths(vx.collection("default"), [str(shards)], ReadOptions())
        assert report.unchanged == at_kill and report.added == 6000 - at_kill and report.failed == 0
        coll = vx.collection("default")
        n_docs, n_chunks = vx.store.counts(coll.info.id)
        assert n_docs == 6000 and coll.index().count() == n_chunks
        assert not coll.check().problems
    documents, chunks = _stored(db)
    assert sorted(documents) == sorted(f"d{i}" for i in range(6000))
    per_doc: dict[str, list[int]] = {}
    for ext_id, ordinal in chunks:
        per_doc.setdefault(ext_id, []).append(ordinal)
    assert all(sorted(o) == list(range(len(o))) for o in per_doc.values())  # no chunk written twice


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM documents").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_postgresql_is_written_from_the_workers(cluster, corpus, local_db, pg_url):
    with Vecdex(pg_url) as vx:
        coll = vx.collection("news", create=True)
        report = index_paths(coll, _inputs(corpus), _options(), workers=2)
        assert (report.added, report.failed) == (612, 3) and report.chunks == vx.store.counts(coll.info.id)[1]
        assert coll.index().count() == report.chunks
        again = index_paths(coll, _inputs(corpus), _options())
        assert (again.added, again.updated, again.unchanged) == (0, 0, 612)
    documents, _ = _stored(pg_url)
    assert len(documents) == 612
    _same_as_local(pg_url, local_db)


def test_stdin_and_a_missing_extra_are_one_line_errors(tmp_path, monkeypatch):
    from vecdex.errors import ConfigError, InputError

    with Vecdex(tmp_path / "e.db") as vx:
        coll = vx.collection("x", create=True)
        with pytest.raises(InputError, match="not stdin"):
            index_paths(coll, ["-"], ReadOptions())
        monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
        note = tmp_path / "n.txt"
        note.write_text("a note about rain", "utf-8")
        with pytest.raises(ConfigError, match=r"pip install 'vecdex\[ray\]'"):
            index_paths(coll, [str(note)], ReadOptions())


def test_a_document_the_model_fails_on_is_skipped_not_the_batch(tmp_path, monkeypatch):
    """The actor's own code, in this process: one document that makes the model
    raise becomes that document's problem; the rest of its batch is embedded."""
    from vecdex.indexer.distributed import EmbedActor, _item_row
    from vecdex.indexer.readers import Record

    db = tmp_path / "f.db"
    with Vecdex(db) as vx:
        info = vx.collection("x", create=True).info
    monkeypatch.setenv("VECDEX_ELMO_THREADS", "1")  # the actor sets it (once per actor process) if unset
    actor = EmbedActor(str(db), info, write=False, strict=False)
    real = actor.embedder.embed

    def embed(pieces):
        if any("BOOM" in p for p in pieces):
            raise RuntimeError("the model choked\non this")
        return real(pieces)

    monkeypatch.setattr(actor.embedder, "embed", embed)
    rows = [_item_row(Record(f"r{i}", text, {}, f"in:{i}")) for i, text in
            enumerate(["rain fell on the river", "BOOM goes the dynamite", "the bank raised rates"])]
    out = actor._embed(rows)
    assert [r["kind"] for r in out] == ["record", "problem", "record"]
    assert out[1]["source"] == "in:1" and out[1]["message"] == "could not embed: the model choked"
