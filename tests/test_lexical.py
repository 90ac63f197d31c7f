"""The FTS5 lexical index: safe queries, consistency with documents, upgrades, crashes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import REPO, TESTS
from vecdex.search import Vecdex, lexical
from vecdex.search.engine import QueryError
from vecdex.storage.migrations import MIGRATIONS
from vecdex.storage.store import Store

DOCS = [
    {"id": "river", "text": "The river bank flooded after the storm.", "metadata": {"year": 2020}},
    {"id": "money", "text": "I deposited money at the bank downtown.", "metadata": {"year": 2018}},
    {"id": "space", "text": "Astronauts launched the XJ-9000 rocket into orbit.", "metadata": {"year": 2019}},
]


def fts_matches(store: Store, word: str) -> set[int]:
    with store.reading() as conn:
        return {r[0] for r in conn.exec_driver_sql(
            "SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?", (f'"{word}"',))}


def doc_rows(store: Store) -> dict[str, int]:
    with store.reading() as conn:
        return {r[1]: r[0] for r in conn.exec_driver_sql("SELECT id, ext_id FROM documents")}


@pytest.fixture
def coll(vx):
    collection = vx.collection("news", create=True)
    collection.add(DOCS)
    return collection


@pytest.mark.parametrize("query", ['"foo', "AND", "OR NOT", "NEAR(", "col:x*", "^bank", "bank)", "a\"b\"c", "-bank"])
def test_user_text_never_reaches_fts_syntax(coll, query):
    hits = coll.search(query, 3, mode="lexical") if lexical.query_terms(query) else None
    if hits is not None:
        assert all(h.id in {"river", "money", "space"} for h in hits)


def test_lexical_ranks_exact_words_and_respects_filters(coll):
    assert [h.id for h in coll.search("xj-9000", 3, mode="lexical")] == ["space"]
    assert {h.id for h in coll.search("bank", 3, mode="lexical")} == {"river", "money"}
    assert [h.id for h in coll.search("bank", 3, where=["year>=2019"], mode="lexical")] == ["river"]
    with pytest.raises(QueryError, match="no words"):
        coll.search("?!", 3, mode="lexical")


def test_every_mode_filters_and_finds_similar_without_itself(coll):
    for mode in ("dense", "lexical", "hybrid"):
        assert all(h.metadata["year"] >= 2019 for h in coll.search("bank", 3, where=["year>=2019"], mode=mode))
        assert "river" not in [h.id for h in coll.similar("river", 3, mode=mode)]


def test_hybrid_answers_words_the_model_does_not_know(coll):
    coll.add([{"id": "code", "text": "zqxvtoken appears only here"}])
    assert coll.search("zqxvtoken", 3)[0].id == "code"
    with pytest.raises(QueryError, match="known to the model"):
        coll.search("zqxvtoken", 3, mode="dense")
    with pytest.raises(QueryError, match="known to the model"):  # neither side can answer
        coll.search("wqpfnothere", 3)


def test_fts_follows_upserts_and_deletes(vx, coll):
    store = vx.store
    rows = doc_rows(store)
    assert fts_matches(store, "flooded") == {rows["river"]}
    coll.add([{"id": "river", "text": "Cooking pasta in salted water."}])
    assert fts_matches(store, "flooded") == set()
    assert fts_matches(store, "pasta") == {rows["river"]}
    coll.delete(["money"])
    assert fts_matches(store, "deposited") == set()
    assert [h.id for h in coll.search("bank", 5, mode="lexical")] == []
    lexical.integrity_check(store)


def test_an_old_store_is_upgraded_and_backfilled(tmp_path):
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    for statement in MIGRATIONS[1]:
        con.execute(statement)
    con.execute("CREATE TABLE vecdex_meta (key VARCHAR PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO vecdex_meta VALUES ('schema_version', '1')")
    con.execute("INSERT INTO collections VALUES (1, 'old', '{}', '{}', '{}', 0, 0, 0, 0)")
    con.execute("INSERT INTO documents VALUES (1, 1, 'a', 'an old document about volcanoes', '{}', 'h', NULL, 0, 0)")
    con.commit()
    con.close()
    store = Store(path)
    assert store.schema_version() == max(MIGRATIONS)
    assert fts_matches(store, "volcanoes") == {1}
    lexical.integrity_check(store)
    store.close()


def test_fts_is_consistent_after_a_killed_indexing_run(tmp_path):
    corpus = tmp_path / "lines.txt"
    corpus.write_text("".join(f"line {i} about rivers banks and storms number{i}\n" for i in range(300_000)),
                      encoding="utf-8")
    db = tmp_path / "killed.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-m", "vecdex", "--db", str(db), "index", str(corpus),
                                "--format", "lines", "--quiet", "--workers", "1"], env=env, cwd=REPO)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:  # wait for some committed batches, then kill mid-run
            time.sleep(0.2)
            try:
                con = sqlite3.connect(db, timeout=5)
                count = con.execute("SELECT count(*) FROM documents").fetchone()[0]
                con.close()
            except sqlite3.Error:
                continue
            if count >= 2000:
                break
        assert process.poll() is None, "the run finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    with Vecdex(db) as vx:
        store = vx.store
        lexical.integrity_check(store)
        rows = doc_rows(store)
        assert 2000 <= len(rows) < 300_000
        assert len(fts_matches(store, "storms")) == len(rows)  # every committed document, nothing else
        some = sorted(rows)[len(rows) // 2]
        number = int(some) - 1  # lines are numbered from 1
        assert [h.id for h in vx.collection().search(f"number{number}", 1, mode="lexical")] == [some]


def test_words_in_over_half_the_documents_do_not_widen_the_match(vx):
    coll = vx.collection("c", create=True)
    coll.add([{"id": str(i), "text": f"common words {w}"} for i, w in enumerate(["alpha", "beta", "gamma"])])
    # "common" is in 3 of 3 documents: dropped, so only the document with "beta" matches
    assert [h.id for h in coll.search("common beta", 5, mode="lexical")] == ["1"]
    # a query made only of such words keeps them
    assert len(coll.search("common", 5, mode="lexical")) == 3


def test_lexical_snippet_is_cut_around_the_first_query_word():
    text = " ".join(f"w{i}" for i in range(100)) + " volcano erupted " + " ".join(f"v{i}" for i in range(100))
    cut = lexical.snippet(text, {"volcano"}, width=10)
    assert cut.startswith("…") and cut.endswith("…") and "volcano erupted" in cut
    assert cut == "…w98 w99 volcano erupted v0 v1 v2 v3 v4 v5…"
