"""``vecdex copy``: SQLite -> PostgreSQL -> SQLite with everything intact; the copies
answer queries identically; an interrupted copy resumes where it stopped."""

from __future__ import annotations

import json

import pytest
from conftest import run_vecdex
from vecdex.errors import ModelMismatchError
from vecdex.search import Vecdex
from vecdex.storage.backends import open_store
from vecdex.storage.copy import copy_collection

QUERIES = [("bushfires near Sydney", None), ("the government said", ["part=even"]), ("police", ["n>=40"])]


def answers(target: str) -> list:
    out = []
    with Vecdex(target) as vx:
        c = vx.collection("lee")
        for mode in ("dense", "lexical", "hybrid"):
            for query, where in QUERIES:
                out.append([(h.id, round(h.score, 5), h.snippet, h.metadata)
                            for h in c.search(query, k=5, mode=mode, where=where)])
        out.append(c.get("7"))
        stats = c.stats()
        out.append((stats["documents"], stats["chunks"], stats["embedder"], stats["chunking"]))
    for row in out[-2:-1]:  # timestamps are the copy's own
        row.pop("created_at"), row.pop("updated_at")
    return out


@pytest.fixture
def lee_store(tmp_path, lee_lines):
    path = str(tmp_path / "lee.db")
    with Vecdex(path) as vx:
        c = vx.collection("lee", create=True, embedder="fake")
        c.add([{"id": str(i), "text": line, "metadata": {"n": i, "part": "even" if i % 2 == 0 else "odd"}}
               for i, line in enumerate(lee_lines[:90])])
    return path


def test_copy_up_to_postgresql_and_back_answers_identically(lee_store, pg_url, tmp_path):
    up = run_vecdex("copy", lee_store, pg_url, "--json")
    assert up.returncode == 0, up.stderr
    row = json.loads(up.stdout)
    assert (row["collection"], row["copied"], row["skipped"]) == ("lee", 90, 0) and "vecdex_test_" in row["to"]
    back = str(tmp_path / "back.db")
    down = run_vecdex("copy", pg_url, back, "-c", "lee")
    assert down.returncode == 0 and "90 documents copied" in down.stdout.decode()
    expected = answers(lee_store)
    assert answers(pg_url) == expected
    assert answers(back) == expected
    again = run_vecdex("copy", lee_store, pg_url, "--json")  # nothing new: all skipped
    assert json.loads(again.stdout)["skipped"] == 90


def test_an_interrupted_copy_resumes_and_writes_whole_batches_only(lee_store, pg_url):
    source, target = open_store(lee_store), open_store(pg_url)
    seen = []

    def stop_after_two_batches(n: int) -> None:
        seen.append(n)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_collection(source, target, "lee", batch=20, progress=stop_after_two_batches)
    assert target.counts(target.get_collection("lee").id)[0] == 40  # two whole batches
    report = copy_collection(source, target, "lee", batch=20)
    assert (report.copied, report.skipped) == (50, 40)
    source.close(), target.close()
    assert answers(pg_url) == answers(lee_store)


def test_copy_into_a_collection_that_embeds_differently_is_refused(lee_store, pg_url):
    with Vecdex(pg_url) as vx:
        vx.collection("lee", create=True, embedder="fake", model="fake-other")
    source, target = open_store(lee_store), open_store(pg_url)
    with pytest.raises(ModelMismatchError, match="embeds differently"):
        copy_collection(source, target, "lee")
    assert target.counts(target.get_collection("lee").id) == (0, 0)
    source.close(), target.close()
    result = run_vecdex("copy", lee_store, pg_url)
    assert result.returncode == 1 and result.stderr.decode().startswith("vecdex: error: collection 'lee'")
