"""The command line, through click's CliRunner and through the installed console script."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner
from conftest import run_vecdex
from vecdex.cli import main

COMMANDS = ["index", "query", "similar", "delete", "info", "collections", "get"]


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "docs"
    (folder / "animals").mkdir(parents=True)
    (folder / "animals" / "cats.txt").write_text("Cats are small furry pets that purr and hunt mice.", "utf-8")
    (folder / "animals" / "dogs.md").write_text("Dogs are loyal pets that bark and fetch sticks.", "utf-8")
    (folder / "finance.txt").write_text("The central bank raised interest rates to fight inflation.", "utf-8")
    (folder / "river.txt").write_text("The river burst its banks and flooded the valley after the storm.", "utf-8")
    return folder


def invoke(runner, db, *args, input=None):
    return runner.invoke(main, ["--db", str(db), *args], input=input)


def test_every_command_has_help_with_examples(runner):
    top = runner.invoke(main, ["--help"])
    assert top.exit_code == 0 and "Examples:" in top.output
    for command in COMMANDS:
        result = runner.invoke(main, [command, "--help"])
        assert result.exit_code == 0, command
        assert "Example" in result.output, command


def test_index_query_similar_delete_info_round_trip(runner, db_path, corpus):
    result = invoke(runner, db_path, "index", str(corpus))
    assert result.exit_code == 0, result.output
    assert "4 added" in result.output
    result = invoke(runner, db_path, "query", "interest rates and inflation", "-k", "2", "--json")
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert result.exit_code == 0 and lines[0]["id"] == "finance.txt"
    assert set(lines[0]) == {"query", "rank", "id", "score", "snippet", "metadata"}
    assert lines[0]["query"] == "interest rates and inflation" and [l["rank"] for l in lines] == [1, 2]
    result = invoke(runner, db_path, "similar", "animals/cats.txt", "-k", "1", "--json")
    assert json.loads(result.output)["id"] == "animals/dogs.md"
    info = json.loads(invoke(runner, db_path, "info", "--json").output)
    assert (info["documents"], info["dimension"], info["model"]) == (4, 50, "glove-6b-50d")
    assert info["chunks"] >= 4
    result = invoke(runner, db_path, "delete", "river.txt")
    assert result.exit_code == 0
    assert json.loads(invoke(runner, db_path, "info", "--json").output)["documents"] == 3
    result = invoke(runner, db_path, "collections", "--json")
    assert json.loads(result.output)["collection"] == "default"


def test_reindexing_unchanged_files_skips_them(runner, db_path, corpus):
    invoke(runner, db_path, "index", str(corpus))
    (corpus / "river.txt").write_text("A completely different text about mountains.", "utf-8")
    result = invoke(runner, db_path, "index", str(corpus), "--json")
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert (summary["added"], summary["updated"], summary["unchanged"]) == (0, 1, 3)


def test_jsonl_with_metadata_filters(runner, db_path, tmp_path):
    path = tmp_path / "news.jsonl"
    rows = [
        {"id": "n1", "text": "Stocks rallied as the market rose", "year": 2019, "lang": "en"},
        {"id": "n2", "text": "The stock market fell sharply", "year": 2021, "lang": "en"},
        {"id": "n3", "text": "Les marchés boursiers ont chuté", "year": 2021, "lang": "fr"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), "utf-8")
    assert invoke(runner, db_path, "index", str(path)).exit_code == 0
    result = invoke(runner, db_path, "query", "stock market", "--where", "year>2020", "--where", "lang=en", "--json")
    assert [json.loads(l)["id"] for l in result.output.splitlines()] == ["n2"]
    assert json.loads(result.output)["metadata"] == {"year": 2021, "lang": "en"}


def test_queries_file_runs_each_line(runner, db_path, corpus, tmp_path):
    invoke(runner, db_path, "index", str(corpus))
    queries = tmp_path / "q.txt"
    queries.write_text("pets that bark\n\ninterest rates\n", "utf-8")
    result = invoke(runner, db_path, "query", "--queries", str(queries), "-k", "1", "--json")
    hits = [json.loads(l) for l in result.output.splitlines()]
    assert [(h["query"], h["id"]) for h in hits] == [("pets that bark", "animals/dogs.md"), ("interest rates", "finance.txt")]


def test_stdin_lines(runner, db_path):
    result = invoke(runner, db_path, "index", "-", "--format", "lines", input="first line about cats\nsecond about dogs\n")
    assert result.exit_code == 0 and "2 added" in result.output
    assert json.loads(invoke(runner, db_path, "get", "2", "--json").output)["text"] == "second about dogs"


@pytest.mark.parametrize("args, message", [
    (["query", "anything"], "no vecdex store"),
    (["similar", "x"], "no vecdex store"),
    (["info"], "no vecdex store"),
])
def test_commands_on_a_missing_store_fail_cleanly(runner, tmp_path, args, message):
    result = invoke(runner, tmp_path / "absent.db", *args)
    assert result.exit_code == 1 and message in result.output
    assert not (tmp_path / "absent.db").exists()


def test_user_errors_are_one_line_and_leave_the_store_as_it_was(runner, db_path, corpus, tmp_path):
    invoke(runner, db_path, "index", str(corpus))
    before = db_path.read_bytes()
    cases = [
        (["index", str(tmp_path / "missing")], "no such file"),
        (["index", str(corpus), "--model", str(tmp_path / "nope.bin")], "model not found"),
        (["index", str(corpus), "--model", "fasttext:" + str(corpus / "finance.txt")], "cannot read"),
        (["query", "zzzqx qqqzv"], "none of the words"),
        (["query", "cats", "--where", "year>soon"], "needs a number"),
        (["query", "cats", "--collection", "nope"], "no collection named 'nope'"),
        (["similar", "ghost.txt"], "no document with id"),
        (["delete", "ghost.txt"], "not found"),
        (["get", "ghost.txt"], "no document with id"),
    ]
    for args, message in cases:
        result = invoke(runner, db_path, *args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert db_path.read_bytes() == before


def test_model_or_chunking_mismatch_on_an_existing_collection(runner, db_path, corpus):
    from gensim.test.utils import datapath

    invoke(runner, db_path, "index", str(corpus))
    result = invoke(runner, db_path, "index", str(corpus), "--model", datapath("lee_fasttext.vec"))
    assert result.exit_code == 1 and "different model" in result.output
    result = invoke(runner, db_path, "index", str(corpus), "--chunk-tokens", "32")
    assert result.exit_code == 1 and "chunks of 128" in result.output
    # the same settings, spelled out, are fine
    assert invoke(runner, db_path, "index", str(corpus), "--model", "glove-6b-50d", "--chunk-tokens", "128").exit_code == 0


def test_bad_records_are_skipped_and_counted_or_stop_with_strict(runner, db_path, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"id": "a", "text": "good cats"}\n{broken\n{"text": "no id"}\n{"id": "b", "text": "good dogs"}\n', "utf-8")
    result = invoke(runner, db_path, "index", str(path))
    assert result.exit_code == 0
    assert "2 added" in result.output and "2 failed" in result.output
    assert "mixed.jsonl:2: malformed JSON" in result.output and "mixed.jsonl:3: missing id" in result.output
    strict_db = tmp_path / "strict.db"
    result = invoke(runner, strict_db, "index", str(path), "--strict")
    assert result.exit_code == 1 and "mixed.jsonl:2" in result.output
    with sqlite3.connect(strict_db) as raw:  # the failed batch was not written, nor an empty collection kept
        assert raw.execute("SELECT count(*) FROM documents").fetchone()[0] == 0
        assert raw.execute("SELECT count(*) FROM collections").fetchone()[0] == 0
    raw.close()


def test_console_script_end_to_end_on_the_lee_corpus(tmp_path, lee_background):
    db = tmp_path / "lee.db"
    result = run_vecdex("index", "--format", "lines", str(lee_background), db=db)
    assert result.returncode == 0, result.stderr.decode()
    assert b"300 added" in result.stdout
    result = run_vecdex("query", "Australian cricket team wins the test match", "-k", "5", "--json", db=db)
    assert result.returncode == 0, result.stderr.decode()
    hits = [json.loads(l) for l in result.stdout.decode().splitlines()]
    assert len(hits) == 5
    assert sum("cricket" in h["snippet"].lower() or "test" in h["snippet"].lower() for h in hits) >= 3
    result = run_vecdex("query", "zzzqx", db=db)
    assert result.returncode == 1 and result.stderr.decode().count("\n") == 1
    assert b"Traceback" not in result.stderr


def test_help_and_glove_queries_do_not_import_tensorflow(tmp_path, lee_background):
    """TensorFlow costs seconds to import: only ELMo collections may load it (and Ray
    only ``index --ray``)."""
    probe = ("import sys, runpy; sys.argv = ['vecdex'] + sys.argv[1:]; "
             "from vecdex import cli\ntry:\n    cli.main()\nexcept SystemExit:\n    pass\n"
             "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
             "assert 'ray' not in sys.modules, 'ray was imported'\nprint('NO-TF')")
    import subprocess
    import sys as _sys

    from conftest import TESTS

    db = tmp_path / "t.db"
    env = {"PYTHONPATH": str(TESTS)}
    import os

    for args in (["--help"], ["--db", str(db), "index", "--format", "lines", str(lee_background), "-q"],
                 ["--db", str(db), "query", "cricket"], ["--db", str(db), "info"]):
        out = subprocess.run([_sys.executable, "-c", probe, *args], capture_output=True, env={**os.environ, **env})
        assert b"NO-TF" in out.stdout, (args, out.stderr.decode()[-500:])
