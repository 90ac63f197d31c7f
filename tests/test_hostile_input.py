"""Hostile but realistic input: each case is one line naming the problem (file and
line where there is one), a non-zero exit or a skip that is counted, and a store
left exactly as it was."""

from __future__ import annotations

import codecs
import json
import os
import sqlite3

import pytest
from conftest import run_vecdex

LINES = ["the river flooded the town", "election results were announced", "a bushfire threatens homes"]


def documents(db) -> list[tuple[str, str]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as raw:
        return sorted(raw.execute("SELECT ext_id, text FROM documents"))


def collections(db) -> list[str]:
    with sqlite3.connect(db) as raw:
        return [r[0] for r in raw.execute("SELECT name FROM collections")]


@pytest.mark.parametrize("fmt", ["lines", "jsonl"])
@pytest.mark.parametrize("encoding,bom", [("utf-16", True), ("utf-16-le", False), ("utf-16-be", True),
                                          ("utf-32", True)])
@pytest.mark.parametrize("say_encoding", [True, False])
def test_utf16_and_utf32_lines_and_jsonl(tmp_path, fmt, encoding, bom, say_encoding):
    if not bom and not say_encoding:
        pytest.skip("without a BOM or --encoding, NUL bytes mean binary (covered below)")
    body = "\n".join(LINES if fmt == "lines" else [json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False)
                                                   for i, t in enumerate(LINES)]) + "\n"
    codec = {"utf-16": "utf-16-le", "utf-32": "utf-32-le"}.get(encoding, encoding)
    mark = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE,
            "utf-32-le": codecs.BOM_UTF32_LE}[codec] if bom else b""
    path = tmp_path / f"in.{fmt}"
    path.write_bytes(mark + body.encode(codec))
    db = tmp_path / "s.db"
    args = ["index", str(path), "--format", fmt, "--json", "-q"] + (["--encoding", encoding] if say_encoding else [])
    result = run_vecdex(*args, db=db)
    assert result.returncode == 0, result.stderr.decode()
    texts = sorted(t for _, t in documents(db))
    assert texts == sorted(LINES)  # no mojibake, no BOM, nothing refused as binary


def test_utf16_without_bom_or_encoding_is_skipped_as_binary(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes("\n".join(LINES).encode("utf-16-le"))
    db = tmp_path / "s.db"
    result = run_vecdex("index", str(path), "--format", "lines", "--json", db=db)
    assert result.returncode == 0
    assert json.loads(result.stdout.decode().splitlines()[-1])["problems"] == {"binary": 1}
    assert documents(db) == []


def test_a_line_not_in_the_wide_encoding_is_skipped_by_line(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "good line\n".encode("utf-16-le") + b"\x00\xd8\x41\x00\n\x00"
                     + "last line\n".encode("utf-16-le"))
    db = tmp_path / "s.db"
    result = run_vecdex("index", str(path), "--format", "lines", db=db)
    assert result.returncode == 0
    assert result.stderr.decode().strip().splitlines() == [f"vecdex: skipped {path}:2: not valid utf-16"]
    assert sorted(t for _, t in documents(db)) == ["good line", "last line"]


def test_a_fifo_in_a_folder_is_skipped_and_counted(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text(LINES[0])
    os.mkfifo(folder / "pipe.txt")  # nobody writes to it: reading it would wait forever
    db = tmp_path / "s.db"
    result = run_vecdex("index", str(folder), "--json", db=db, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    summary = json.loads(result.stdout.decode().splitlines()[-1])
    assert summary["added"] == 1 and summary["problems"] == {"not-a-file": 1}


def test_a_fifo_named_directly_is_refused_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    db = tmp_path / "s.db"
    result = run_vecdex("index", str(tmp_path / "pipe.txt"), db=db, timeout=120)
    out = result.stdout.decode() + result.stderr.decode()
    assert "pipe.txt: a named pipe (FIFO), not a file" in out
    assert not db.exists() or collections(db) == []  # and no empty collection left behind


def test_deeply_nested_jsonl_metadata_is_one_skipped_line(tmp_path):
    lines = [json.dumps({"id": "a", "text": LINES[0]}),
             '{"id": "deep", "text": "nested text", "meta": ' + "[" * 1000 + "]" * 1000 + "}",
             json.dumps({"id": "b", "text": LINES[1]}),
             '{"id": "c", "text": "too deep for metadata", "m": ' + '{"x":' * 100 + "1" + "}" * 100 + "}",
             '{"id": "d", "x": ' + "[" * 100000 + "]" * 100000 + "}"]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    db = tmp_path / "s.db"
    result = run_vecdex("index", str(path), "--json", db=db)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert "Traceback" not in result.stderr.decode()
    summary = json.loads(result.stdout.decode().splitlines()[-1])
    assert summary["added"] == 2 and summary["failed"] == 3
    assert "in.jsonl:2: JSON nested too deeply" in result.stderr.decode()
    assert [d for d, _ in documents(db)] == ["a", "b"]
    strict = run_vecdex("index", str(path), "--strict", "-c", "strict", db=db)
    assert strict.returncode == 1
    assert strict.stderr.decode().strip().splitlines() == [
        f"vecdex: error: {path}:2: JSON nested too deeply (metadata may nest 64 levels)"]


@pytest.mark.parametrize("k", [str(2**63), str(2**64 + 1), "99999999999999999999999"])
def test_huge_k_is_one_line(tmp_path, k):
    db = tmp_path / "s.db"
    (tmp_path / "in.txt").write_text("\n".join(LINES))
    assert run_vecdex("index", str(tmp_path / "in.txt"), "--format", "lines", "-q", db=db).returncode == 0
    before = documents(db)
    for command in (["query", "river", "-k", k], ["similar", "1", "-k", k]):
        result = run_vecdex(*command, db=db)
        assert result.returncode == 2 and "Traceback" not in result.stderr.decode()
        assert "-k" in result.stderr.decode().strip().splitlines()[-1]
    assert documents(db) == before


def test_huge_k_in_the_api_is_a_query_error(tmp_path):
    from vecdex.errors import QueryError
    from vecdex.search import Vecdex

    with Vecdex(tmp_path / "s.db") as vx:
        coll = vx.collection("c", create=True, embedder="fake")
        coll.add([{"id": "a", "text": "alpha"}])
        with pytest.raises(QueryError, match="k must be at most"):
            coll.search("alpha", k=2**63)


def test_a_run_that_indexes_nothing_leaves_no_collection(tmp_path):
    db = tmp_path / "s.db"
    (tmp_path / "ok.txt").write_text("\n".join(LINES))
    assert run_vecdex("index", str(tmp_path / "ok.txt"), "--format", "lines", "-q", db=db).returncode == 0
    before = documents(db)
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"id": 1}\n{"text": "no id"}\n')
    result = run_vecdex("index", str(empty), "-c", "new", db=db)
    assert result.returncode == 0
    strict = run_vecdex("index", str(empty), "-c", "new2", "--strict", db=db)
    assert strict.returncode == 1
    assert strict.stderr.decode().strip().splitlines() == [
        f"vecdex: error: {empty}:1: missing text field 'text' (set --text-field)"]
    assert collections(db) == ["default"]
    assert documents(db) == before
    # an existing collection is never removed, even when the run adds nothing
    assert run_vecdex("index", str(empty), db=db).returncode == 0
    assert collections(db) == ["default"]
