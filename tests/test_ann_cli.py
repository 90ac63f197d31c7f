"""The CLI side of approximate indexes: --index, reindex, --nprobe/--ef, add-vectors, --vector."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import run_vecdex
from vecdex.cli import main


@pytest.fixture(scope="module")
def words():
    from vecdex.indexer.embedders.wordvectors import load_word_vectors

    model = load_word_vectors(None)
    by_row = {row: word for word, row in model.key_to_index.items()}
    rows = np.array(model.vectors[3000:4500], dtype=np.float32)
    return [by_row[i] for i in range(3000, 4500)], rows


def invoke(db, *args):
    return CliRunner().invoke(main, ["--db", str(db), *args])


def test_index_with_spec_query_with_knobs_and_reindex(tmp_path, words):
    names, _ = words
    corpus = tmp_path / "words.txt"
    corpus.write_text("\n".join(names) + "\n", "utf-8")
    db = tmp_path / "w.db"
    result = invoke(db, "index", str(corpus), "--format", "lines", "--index", "hnsw:M=16,efSearch=32", "--quiet")
    assert result.exit_code == 0, result.output
    info = json.loads(invoke(db, "info", "--json").output)
    assert info["index"] == {"type": "hnsw", "M": 16, "efSearch": 32}
    assert "hnsw:M=16,efSearch=32" in invoke(db, "info").output

    # Line 11 holds names[10]; the word finds its own one-word document.
    hits = [json.loads(line) for line in invoke(db, "query", names[10], "-k", "3", "--ef", "200", "--json").output.splitlines()]
    assert hits[0]["id"] == "11" and len(hits) == 3

    result = invoke(db, "reindex", "--index", "ivf:nlist=8,nprobe=2")
    assert result.exit_code == 0 and "ivf:nlist=8,nprobe=2" in result.output
    hits = [json.loads(line) for line in invoke(db, "query", names[10], "--nprobe", "8", "--json").output.splitlines()]
    assert hits[0]["id"] == "11" and len(hits) == 10
    assert json.loads(invoke(db, "info", "--json").output)["index"]["type"] == "ivf"

    # An existing collection keeps its index unless reindexed.
    result = invoke(db, "index", str(corpus), "--format", "lines", "--index", "flat", "--quiet")
    assert result.exit_code == 1 and "vecdex reindex" in result.output

    result = invoke(db, "reindex", "--index", "auto")
    assert result.exit_code == 0 and "auto -> flat" in result.output


@pytest.mark.parametrize("args,message", [
    (["reindex", "--index", "annoy"], "unknown index type 'annoy'"),
    (["reindex", "--index", "hnsw:efSearch=lots"], "must be a number"),
    (["reindex", "--index", "ivfpq:m=7"], "must divide the dimension 50"),
    (["query", "--vector", "[1, 2]"], "dimension 2, the collection 50"),
    (["query", "--vector", "one,two"], "--vector must be"),
])
def test_bad_index_input_is_one_line_and_changes_nothing(tmp_path, words, args, message):
    names, _ = words
    db = tmp_path / "e.db"
    corpus = tmp_path / "few.txt"
    corpus.write_text("\n".join(names[:20]), "utf-8")
    assert invoke(db, "index", str(corpus), "--format", "lines", "--quiet").exit_code == 0
    before = invoke(db, "info", "--json").output
    result = invoke(db, *args)
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert json.loads(invoke(db, "info", "--json").output)["index"] == json.loads(before)["index"]


def test_add_vectors_and_search_by_vector(tmp_path, words):
    names, rows = words
    data = tmp_path / "vectors.jsonl"
    with data.open("w", encoding="utf-8") as out:
        for name, row in zip(names[:300], rows[:300]):
            out.write(json.dumps({"id": name, "vector": row.tolist(), "text": f"the word {name}",
                                  "metadata": {"long": len(name) > 6}}) + "\n")
    db = tmp_path / "v.db"
    result = invoke(db, "add-vectors", str(data), "-c", "mine", "--model", "glove-rows")
    assert result.exit_code == 0 and "300 added" in result.output
    query = json.dumps(rows[7].tolist())
    hits = [json.loads(line) for line in invoke(db, "query", "--vector", query, "-c", "mine", "-k", "2", "--json").output.splitlines()]
    assert hits[0]["id"] == names[7] and hits[0]["snippet"] == f"the word {names[7]}"
    result = invoke(db, "query", "king", "-c", "mine")
    assert result.exit_code == 1 and "embeds no text" in result.output
    info = json.loads(invoke(db, "info", "-c", "mine", "--json").output)
    assert info["embedder"]["kind"] == "precomputed" and info["dimension"] == 50
    again = invoke(db, "add-vectors", str(data), "-c", "mine")  # the same file again: nothing changes
    assert again.exit_code == 0 and "300 unchanged" in again.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', "utf-8")
    result = invoke(db, "add-vectors", str(bad), "-c", "mine")
    assert result.exit_code == 1 and "bad.jsonl:1" in result.output


def test_console_script_reindex_and_knobs(tmp_path, words):
    names, _ = words
    corpus = tmp_path / "w.txt"
    corpus.write_text("\n".join(names[:500]), "utf-8")
    db = tmp_path / "s.db"
    assert run_vecdex("index", str(corpus), "--format", "lines", "--quiet", db=db).returncode == 0
    done = run_vecdex("reindex", "--index", "hnsw", db=db)
    assert done.returncode == 0, done.stderr
    out = run_vecdex("query", names[3], "-k", "1", "--ef", "64", "--json", db=db)
    assert out.returncode == 0 and json.loads(out.stdout)["id"] == "4"
