"""The lexical (tantivy) index: safe queries, a derived cache that follows the store
(catch-up, rebuilds, other processes, upgrades), per-collection statistics, filters
with exactly the store's answers."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from sqlalchemy import select
from vecdex.search import Vecdex, lexical
from vecdex.search.engine import QueryError
from vecdex.search.filters import normalise_filters
from vecdex.storage import lexical_query, schema
from vecdex.storage.filters import filter_clause
from vecdex.storage.migrations import MIGRATIONS
from vecdex.storage.store import Store

DOCS = [
    {"id": "river", "text": "The river bank flooded after the storm.", "metadata": {"year": 2020}},
    {"id": "money", "text": "I deposited money at the bank downtown.", "metadata": {"year": 2018}},
    {"id": "space", "text": "Astronauts launched the XJ-9000 rocket into orbit.", "metadata": {"year": 2019}},
]


def indexed(vx, collection, word: str) -> set[str]:
    """External ids of the documents the collection's lexical index finds for ``word``."""
    found = lexical.search(vx.lexical, collection.info.id, [word], 10_000)
    return {h.id for h in lexical.hits(vx.store, found, [word])}


@pytest.fixture
def coll(vx):
    collection = vx.collection("news", create=True)
    collection.add(DOCS)
    return collection


@pytest.mark.parametrize("query", ['"foo', "AND", "OR NOT", "NEAR(", "col:x*", "^bank", "bank)", "a\"b\"c", "-bank",
                                   "year:[1 TO 3]", "*", "bank~2"])
def test_user_text_never_reaches_a_query_parser(coll, query):
    hits = coll.search(query, 3, mode="lexical") if lexical.query_terms(query) else None
    if hits is not None:
        assert all(h.id in {"river", "money", "space"} for h in hits)


def test_lexical_ranks_exact_words_and_respects_filters(coll):
    assert [h.id for h in coll.search("xj-9000", 3, mode="lexical")] == ["space"]
    assert [h.id for h in coll.search("XJ 9000", 3, mode="lexical")] == ["space"]
    assert {h.id for h in coll.search("bank", 3, mode="lexical")} == {"river", "money"}
    assert [h.id for h in coll.search("bank", 3, where=["year>=2019"], mode="lexical")] == ["river"]
    hit = coll.search("deposited", 1, mode="lexical")[0]
    assert hit.metadata == {"year": 2018} and "deposited" in hit.snippet
    with pytest.raises(QueryError, match="no words"):
        coll.search("?!", 3, mode="lexical")


def test_case_and_accents_fold_like_the_old_tokeniser(vx):
    coll = vx.collection("accents", create=True, embedder="fake")
    coll.add([{"id": "a", "text": "Un café NAÏVE à Straße"}, {"id": "b", "text": "cafe\u0301 decomposed"}])
    assert {h.id for h in coll.search("CAFE", 5, mode="lexical")} == {"a", "b"}
    assert [h.id for h in coll.search("naive", 5, mode="lexical")] == ["a"]
    assert [h.id for h in coll.search("Café", 5, mode="lexical")][0] in {"a", "b"}


def test_every_mode_filters_and_finds_similar_without_itself(coll):
    for mode in ("dense", "lexical", "hybrid"):
        assert all(h.metadata["year"] >= 2019 for h in coll.search("bank", 3, where=["year>=2019"], mode=mode))
        assert "river" not in [h.id for h in coll.similar("river", 3, mode=mode)]


def test_hybrid_answers_words_the_model_does_not_know(coll):
    coll.add([{"id": "code", "text": "zqxvtoken appears only here", "metadata": {"k": "v"}}])
    top = coll.search("zqxvtoken", 3)[0]
    assert (top.id, top.metadata, top.rank) == ("code", {"k": "v"}, 1)
    assert "zqxvtoken" in top.snippet
    with pytest.raises(QueryError, match="known to the model"):
        coll.search("zqxvtoken", 3, mode="dense")
    with pytest.raises(QueryError, match="known to the model"):  # neither side can answer
        coll.search("wqpfnothere", 3)


def test_index_follows_upserts_and_deletes_without_a_commit_per_write(vx, coll):
    assert indexed(vx, coll, "flooded") == {"river"}
    coll.add([{"id": "river", "text": "Cooking pasta in salted water."}])
    coll.delete(["money"])
    assert vx.lexical.last_action != "caught-up"  # small writes leave the index alone...
    assert indexed(vx, coll, "flooded") == set()  # ...the next search catches up, once
    assert vx.lexical.last_action == "caught-up"
    assert indexed(vx, coll, "pasta") == {"river"}
    assert vx.lexical.last_action == "memory"
    assert indexed(vx, coll, "deposited") == set()
    assert [h.id for h in coll.search("bank", 5, mode="lexical")] == []


def test_another_process_writes_are_seen_by_the_next_search(db_path, coll, vx):
    assert indexed(vx, coll, "volcano") == set()
    with Vecdex(db_path) as other:
        other.collection("news").add([{"id": "v", "text": "The volcano erupted."}])
        assert {h.id for h in other.collection("news").search("volcano", 3, mode="lexical")} == {"v"}
        other.collection("news").delete(["v"])
    assert indexed(vx, coll, "volcano") == set()  # caught up from the other process's commit
    assert {h.id for h in coll.search("bank", 3, mode="lexical")} == {"river", "money"}


def test_bm25_statistics_are_per_collection(vx):
    a = vx.collection("a", create=True, embedder="fake")
    b = vx.collection("b", create=True, embedder="fake")
    a.add([{"id": str(i), "text": f"rare word{i} and filler text"} for i in range(10)])
    before = [(h.id, h.score) for h in a.search("rare word3", 5, mode="lexical")]
    b.add([{"id": str(i), "text": "rare rare rare"} for i in range(200)])
    assert [(h.id, h.score) for h in a.search("rare word3", 5, mode="lexical")] == before


@pytest.mark.parametrize("damage", ["missing", "garbage-meta", "empty-folder", "foreign", "ahead", "old-format"])
def test_a_damaged_foreign_or_stale_index_is_rebuilt(tmp_path, damage):
    db = tmp_path / "s.db"
    with Vecdex(db) as vx:
        coll = vx.collection("c", create=True, embedder="fake")
        coll.add([{"id": str(i), "text": f"river number{i}"} for i in range(20)])
        assert len(indexed(vx, coll, "river")) == 20
        folder = vx.lexical.path_for(coll.info.id)
    if damage == "ahead":  # the store goes back to an older copy: the index claims more than it has
        shutil.copy(db, tmp_path / "old.db")
        with Vecdex(db) as vx:
            vx.collection("c").add([{"id": "new", "text": "river newer"}])
            assert len(indexed(vx, vx.collection("c"), "river")) == 21
        shutil.copy(tmp_path / "old.db", db)
        for suffix in ("-wal", "-shm"):
            (tmp_path / f"s.db{suffix}").unlink(missing_ok=True)
    elif damage == "missing":
        shutil.rmtree(folder)
    elif damage == "garbage-meta":
        (folder / "meta.json").write_text("{ not json")
    elif damage == "empty-folder":
        shutil.rmtree(folder)
        folder.mkdir()
    elif damage == "foreign":  # another store's index copied over this one
        with Vecdex(tmp_path / "other.db") as other:
            oc = other.collection("c", create=True, embedder="fake")
            oc.add([{"id": "x", "text": "river elsewhere"}])
            indexed(other, oc, "river")
            shutil.rmtree(folder)
            shutil.copytree(other.lexical.path_for(oc.info.id), folder)
    elif damage == "old-format":
        marker = {"format": lexical_query.FORMAT - 1}
        import tantivy
        shutil.rmtree(folder)
        folder.mkdir()
        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("doc", indexed=True, fast=True)
        builder.add_text_field("marker", stored=True)
        index = tantivy.Index(builder.build(), path=str(folder))
        writer = index.writer(15_000_000, 1)
        writer.add_document(tantivy.Document(doc=-1, marker=json.dumps(marker)))
        writer.commit()
        writer.wait_merging_threads()
    with Vecdex(db) as vx:
        coll = vx.collection("c")
        assert indexed(vx, coll, "river") == {str(i) for i in range(20)}
        assert vx.lexical.last_action == "rebuilt"
        assert [h.id for h in coll.search("number7", 3, mode="lexical")] == ["7"]


def test_an_fts5_store_is_upgraded_and_its_documents_searchable(tmp_path):
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    for statement in MIGRATIONS[1] + MIGRATIONS[2]:
        con.execute(statement)
    con.execute("CREATE TABLE vecdex_meta (key VARCHAR PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO vecdex_meta VALUES ('schema_version', '2')")
    con.execute("INSERT INTO collections VALUES (1, 'old', '{\"kind\": \"fake\", \"dimension\": 8}', "
                "'{\"type\": \"flat\"}', '{}', 1, 0, 0, 0)")
    con.execute("INSERT INTO documents VALUES (1, 1, 'a', 'an old document about volcanoes', '{}', 'h', NULL, 0, 0)")
    con.commit()
    con.close()
    store = Store(path)
    assert store.schema_version() == max(MIGRATIONS)
    with store.reading() as conn:
        tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
    assert not {t for t in tables if "fts" in t}
    store.close()
    with Vecdex(path) as vx:
        assert [h.id for h in lexical.hits(vx.store, lexical.search(vx.lexical, 1, ["volcanoes"], 5), [])] == ["a"]


def test_segments_are_merged_after_many_small_commits(vx):
    coll = vx.collection("small", create=True, embedder="fake")
    for i in range(20):
        coll.add([{"id": str(i), "text": f"common word{i}"}])
        indexed(vx, coll, "common")  # one commit per round
    searcher = vx.lexical.get(coll.info.id).searcher
    assert searcher.num_segments < 10
    assert len(indexed(vx, coll, "common")) == 20


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


# -- filters: the same answers as the store's SQL --------------------------------------------

METADATA = [
    {"year": 2001}, {"year": 2001.0}, {"year": "2001"}, {"year": " 2001 "}, {"year": 2001.5}, {"year": "later"},
    {"year": [1999, 2001]}, {"year": ["2001", "x"]}, {"year": True}, {"year": 1}, {"year": False}, {"year": None},
    {"year": {"nested": 2001}}, {"a": {"b": 5}}, {"a.b": 5}, {"a": {"b": "5"}}, {"a": [{"b": 5}]},
    {"tags": ["news", "sport"]}, {"tags": "news"}, {"tags": ["News"]}, {"flag": "true"}, {"flag": True},
    {"flag": "TRUE"}, {"n": -0.0}, {"n": 0}, {"n": "1e3"}, {"n": 1000}, {"n": "nan"}, {"weird key": 3},
    {"ü": "é"}, {"deep": {"er": {"est": 7.25}}}, {}, {"year": 2002, "tags": ["sport"]},
]
FILTERS = [
    "year=2001", "year!=2001", "year>2000", "year<=2001", "year>=2001.5", "year<2001", "year=later",
    "year!=later", "year=true", "year=1", "year=0", "year>0", "a.b=5", "a.b<6", "a.b!=5", "tags=news",
    "tags!=news", "tags=News", "flag=true", "flag=TRUE", "flag!=true", "n=0", "n<0", "n>=0", "n=1000",
    "n>999", "n=nan", "weird key=3", "weird key>2", "ü=é", "deep.er.est>7", "deep.er.est=7.25",
    "missing!=1", "missing=1", "missing>1",
]


def test_filters_give_exactly_the_stores_answers(vx):
    coll = vx.collection("meta", create=True, embedder="fake")
    coll.add([{"id": str(i), "text": f"shared words doc{i}", "metadata": m} for i, m in enumerate(METADATA)])
    api_filters = [{"year": 2001}, {"year": True}, {"flag": True}, {"year": None}, {"n": 0.0}, {"tags": "news"},
                   {"year": 2001.5}]
    for where in [[f] for f in FILTERS] + api_filters + [["year>2000", "tags!=news"], ["a.b=5", "n<0"]]:
        docs = schema.documents
        query = select(docs.c.ext_id).where(docs.c.collection_id == coll.info.id,
                                            filter_clause(normalise_filters(where), docs.c.metadata))
        with vx.store.reading() as conn:
            expected = set(conn.execute(query).scalars())
        assert expected or where in (["missing=1"], ["missing>1"], ["n=nan"], ["n<0"], ["a.b=5", "n<0"], {"year": None}), where
        got = {h.id for h in coll.search("shared", 100, where=where, mode="lexical")}
        assert got == expected, where
        hybrid = {h.id for h in coll.search("shared", 100, where=where, mode="hybrid")}
        assert hybrid == expected, where


def test_filters_tantivy_cannot_express_are_checked_and_still_fill_k(vx):
    coll = vx.collection("meta", create=True, embedder="fake")
    # A range on a key that is not a plain identifier goes to the store; the best
    # BM25 matches fail it, so the search must look deeper to return k hits.
    docs = [{"id": f"top{i}", "text": "word " * 5, "metadata": {"odd key": 0}} for i in range(30)]
    docs += [{"id": f"low{i}", "text": "word filler filler filler filler", "metadata": {"odd key": 5}}
             for i in range(5)]
    coll.add(docs)
    must, unchecked = lexical_query.filter_query(vx.lexical.get(coll.info.id).index,
                                                 normalise_filters(["odd key>1"]))
    assert not must and len(unchecked) == 1
    assert {h.id for h in coll.search("word", 5, where=["odd key>1"], mode="lexical")} == {f"low{i}" for i in range(5)}


def test_background_catch_ups_leave_no_connection_behind(store_target):
    """Each background catch-up runs in a new thread, which opens its own read
    connection: closed when the thread ends (they piled up, one PostgreSQL
    connection per catch-up, until the server refused more)."""
    import numpy as np

    with Vecdex(store_target) as vx:
        coll = vx.collection("c", create=True, embedder="precomputed", dimension=4)
        counts = []
        for i in range(5):
            coll.add_vectors([f"d{i}"], np.eye(4, dtype=np.float32)[i % 4: i % 4 + 1], [f"word{i} and more text"])
            vx.lexical.catch_up_soon(coll.info.id)
            vx.lexical.wait()
            counts.append(len(vx.store._readers))
        assert counts == [counts[0]] * 5, counts
        assert [h.id for h in coll.search("word3", k=1, mode="lexical")] == ["d3"]
