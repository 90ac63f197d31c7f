"""``vecdex check [--repair]`` and ``Collection.check()`` on real damage."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from conftest import run_vecdex

from vecdex.search import Vecdex

TEXTS = ["the river flooded the town after days of rain. " * 40 + "Residents left by boat.",
         "election results were announced today", "a bushfire threatens homes in the hills",
         "the central bank raised interest rates again", "the team won the football final"]


@pytest.fixture
def store(tmp_path):
    db = tmp_path / "s.db"
    with Vecdex(db) as vx:
        coll = vx.collection("c", create=True, embedder="fake")
        coll.add([{"id": f"d{i}", "text": t} for i, t in enumerate(TEXTS)])
        coll.search("river", k=2)  # an index file on disk
    return db


def documents(db):
    with sqlite3.connect(db) as raw:
        return sorted(raw.execute("SELECT ext_id, text, metadata FROM documents"))


def check(db, *args):
    result = run_vecdex("check", *args, db=db)
    return result.returncode, result.stdout.decode().strip().splitlines(), result.stderr.decode()


def index_file(db):
    return next(p for p in (db.parent / (db.name + ".faiss")).iterdir() if p.suffix == ".faiss")


def test_a_sound_store_is_ok(store):
    assert check(store) == (0, ["ok: no problems found"], "")
    with Vecdex(store) as vx:
        report = vx.collection("c").check()
        assert report.ok and report.problems == []


def test_a_damaged_index_file_is_reported_then_rebuilt(store):
    path = index_file(store)
    path.write_bytes(b"not faiss" * 50)
    code, lines, _ = check(store)
    assert code == 1 and len(lines) == 1 and lines[0].startswith(f"problem: c: index file {path.name} is unreadable")
    before = documents(store)
    code, lines, _ = check(store, "--repair")
    assert code == 0 and lines == ["repaired: c: rebuilt the index file from the store", "ok: no problems found"]
    assert documents(store) == before
    assert check(store)[0] == 0


def test_an_index_file_missing_rows_is_reported(store):
    with Vecdex(store) as vx:
        coll = vx.collection("c")
        index = coll.index()
        index.remove(np.array([1, 2], dtype=np.int64))
        vx.indexes._save(coll.info, index, coll.info.seq)  # a file that lost two vectors
    code, lines, _ = check(store, "--json")
    report = json.loads(lines[0])
    assert code == 1 and not report["ok"]
    assert any("holds" in p and "vectors after catching up" in p for p in report["problems"])
    assert check(store, "--repair")[0] == 0


def test_stray_files_and_temp_files_of_killed_saves(store):
    folder = store.parent / (store.name + ".faiss")
    (folder / "c1-g0-s1.faiss").write_bytes(b"an older vecdex's name")
    (folder / "c1-g0-s1-0123456789ab.faiss").write_bytes(b"another store's file")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    temp = folder / f".{index_file(store).name}.{dead.pid}.abc.tmp"
    temp.write_bytes(b"half")
    code, lines, _ = check(store)
    assert code == 1 and len(lines) == 2
    assert all(line.startswith("problem: stray file") for line in lines)
    assert not temp.exists()  # a dead writer's temp file goes on any open
    code, lines, _ = check(store, "--repair")
    assert code == 0 and len([line for line in lines if line.startswith("repaired: removed stray")]) == 2
    assert sorted(p.name for p in folder.iterdir()) == [index_file(store).name]


def test_bad_vectors_are_reported_and_never_repaired_away(store):
    with sqlite3.connect(store) as raw:
        dim = len(raw.execute("SELECT vector FROM chunks LIMIT 1").fetchone()[0]) // 4
        raw.execute("UPDATE chunks SET vector = ? WHERE id = 1", (b"\x00" * 12,))
        raw.execute("UPDATE chunks SET vector = ? WHERE id = 2", (np.full(dim, np.nan, "<f4").tobytes(),))
    raw.close()
    before = documents(store)
    for args in ((), ("--repair",)):
        code, lines, _ = check(store, *args)
        assert code == 1
        problems = [line for line in lines if line.startswith("problem:")]
        assert any(f"1 vectors are not {dim}-dimensional" in p for p in problems), lines
        assert any("NaN or infinite" in p for p in problems), lines
    assert documents(store) == before


def test_chunks_without_documents_and_documents_missing_chunks(store):
    with sqlite3.connect(store) as raw:
        multi = raw.execute("SELECT document_id FROM chunks GROUP BY document_id HAVING count(*) > 1").fetchone()
        assert multi, "the fixture needs a document of several chunks"
        raw.execute("DELETE FROM chunks WHERE document_id = ? AND ordinal = 0", multi)
        raw.execute("PRAGMA foreign_keys = OFF")
        raw.execute('INSERT INTO chunks (id, collection_id, document_id, ordinal, start, "end", seq, vector) '
                    "VALUES (999, 1, 999, 0, 0, 1, 1, ?)", (np.ones(16, "<f4").tobytes(),))
    raw.close()
    code, lines, _ = check(store)
    assert code == 1
    assert any("1 chunks without their document" in line for line in lines), lines
    assert any("chunks numbered up to" in line and "some are missing" in line for line in lines), lines
    assert any("does not find 1 of" in line and "(chunks 999)" in line for line in lines), lines
    before = documents(store)
    code, lines, _ = check(store, "--repair")
    assert "repaired: c: removed 1 chunks without their document" in lines
    assert documents(store) == before  # the document with a missing chunk is kept: it is the user's


def test_check_one_collection_and_unknown_collection(store):
    assert check(store, "--collection", "c")[0] == 0
    code, lines, err = check(store, "--collection", "nope")
    assert code == 1 and err.strip() == f"vecdex: error: no collection named 'nope' in {store}"


def test_check_never_creates_a_store(tmp_path):
    db = tmp_path / "none.db"
    code, _, err = check(db)
    assert code == 1 and "no vecdex store" in err and not os.path.exists(db)


def test_a_lexical_index_missing_a_document_is_reported_then_rebuilt(store):
    with Vecdex(store) as vx:
        vx.collection("c").search("river", k=1, mode="lexical")  # the lexical index on disk
    with sqlite3.connect(store) as raw:  # a row its log never announced (written behind vecdex's back)
        raw.execute("INSERT INTO documents (id, collection_id, ext_id, text, metadata, content_hash, source, "
                    "created_at, updated_at, seq) VALUES (99, 1, 'sneaky', 'volcano ash cloud', '{}', 'h', NULL, "
                    "0, 0, 0)")
    raw.close()
    code, lines, _ = check(store)
    assert code == 1 and any("lexical index holds 5 documents, the store 6" in line for line in lines), lines
    code, lines, _ = check(store, "--repair")
    assert "repaired: c: rebuilt the lexical index from the store" in lines and code == 0, lines
    with Vecdex(store) as vx:
        assert [h.id for h in vx.collection("c").search("volcano", k=1, mode="lexical")] == ["sneaky"]
