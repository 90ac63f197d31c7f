"""Search through the Python API: ranking, filters, similar, deletes, upserts."""

from __future__ import annotations

import numpy as np
import pytest
from vecdex.search import ModelMismatchError, QueryError, Vecdex
from vecdex.search.filters import FilterError, normalise_filters


def add_animals(coll):
    docs = [
        {"id": "cat", "text": "cats purr and chase mice", "metadata": {"kind": "mammal", "legs": 4, "tags": ["pet"]}},
        {"id": "dog", "text": "dogs bark and chase cats", "metadata": {"kind": "mammal", "legs": 4, "tags": ["pet", "guard"]}},
        {"id": "bird", "text": "birds sing and fly south", "metadata": {"kind": "bird", "legs": 2}},
        {"id": "snake", "text": "snakes hiss and slither", "metadata": {"kind": "reptile", "legs": 0}},
        {"id": "spider", "text": "spiders spin webs", "metadata": {"kind": "arachnid", "legs": "8"}},
        {"id": "fish", "text": "fish swim in water", "metadata": {}},
    ]
    return coll.add(docs)


def test_exact_words_rank_first_and_scores_are_cosines(fake_collection):
    add_animals(fake_collection)
    hits = fake_collection.search("cats purr and chase mice", k=3, mode="dense")  # hybrid scores are fused
    assert hits[0].id == "cat" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert all(-1.0 <= h.score <= 1.0 + 1e-6 for h in hits)
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_filters_are_exact_in_what_they_return(fake_collection):
    add_animals(fake_collection)
    assert {h.id for h in fake_collection.search("water", k=10, where=["kind=mammal"])} == {"cat", "dog"}
    # legs stored as a number for most and as a string "8" for the spider: compared numerically
    assert {h.id for h in fake_collection.search("water", k=10, where=["legs>=4"])} == {"cat", "dog", "spider"}
    assert {h.id for h in fake_collection.search("water", k=10, where=["legs<4"])} == {"bird", "snake"}
    # != also matches documents without the field
    assert {h.id for h in fake_collection.search("water", k=10, where=["kind!=mammal"])} == {"bird", "snake", "spider", "fish"}
    # list values match any element; filters are ANDed
    assert {h.id for h in fake_collection.search("water", k=10, where=["tags=guard"])} == {"dog"}
    assert {h.id for h in fake_collection.search("water", k=10, where=["kind=mammal", "tags!=guard"])} == {"cat"}
    assert fake_collection.search("water", k=10, where={"kind": "nothing"}) == []


def test_filter_returns_k_when_k_match_even_if_they_rank_last(fake_collection):
    docs = [{"id": f"d{i}", "text": f"common words here {i}", "metadata": {"group": "a"}} for i in range(300)]
    docs += [{"id": f"rare{i}", "text": f"zebra quokka {i}", "metadata": {"group": "b"}} for i in range(5)]
    fake_collection.add(docs)
    hits = fake_collection.search("common words here", k=5, where=["group=b"])
    assert sorted(h.id for h in hits) == [f"rare{i}" for i in range(5)]


def test_filter_values_are_bound_parameters_not_sql(fake_collection):
    add_animals(fake_collection)
    hostile = "x' OR 1=1 --"
    assert fake_collection.search("water", where=[f"kind={hostile}"]) == []


def test_bad_filter_expressions_are_user_errors():
    with pytest.raises(FilterError):
        normalise_filters(["no operator here"])
    with pytest.raises(FilterError, match="needs a number"):
        normalise_filters(["year>recent"])


def test_long_documents_score_by_their_best_chunk(vx):
    coll = vx.collection("long", create=True, embedder="fake")
    from vecdex.indexer.chunking import ChunkingSpec

    coll = vx.collection("chunky", create=True, embedder="fake", chunking=ChunkingSpec(max_tokens=6))
    long_text = "Alpha beta gamma delta. " * 5 + "Penguins waddle on ice floes. " + "Alpha beta gamma delta. " * 5
    coll.add([{"id": "long", "text": long_text}, {"id": "short", "text": "penguins eat fish"}])
    assert coll.info.chunking["max_tokens"] == 6
    [best, *_] = coll.search("Penguins waddle on ice floes", k=2)
    assert best.id == "long" and best.snippet == "Penguins waddle on ice floes."
    start, end = best.span
    assert long_text[start:end] == "Penguins waddle on ice floes."


def test_similar_excludes_the_document_itself(fake_collection):
    add_animals(fake_collection)
    hits = fake_collection.similar("cat", k=3)
    assert "cat" not in [h.id for h in hits] and hits[0].id == "dog"
    with pytest.raises(QueryError, match="no document"):
        fake_collection.similar("unicorn")


def test_query_with_no_known_word_is_a_clear_error(fake_collection):
    add_animals(fake_collection)
    with pytest.raises(QueryError, match="none of the words"):
        fake_collection.search("unknownword unkother")


def test_delete_and_upsert_change_results(fake_collection):
    add_animals(fake_collection)
    assert fake_collection.delete(["cat", "ghost"]) == ["ghost"]
    assert "cat" not in [h.id for h in fake_collection.search("cats purr", k=10)]
    report = fake_collection.add([{"id": "dog", "text": "dogs purr loudly"}, {"id": "bird", "text": "birds sing and fly south", "metadata": {"kind": "bird", "legs": 2}}])
    assert (report.updated, report.unchanged) == (1, 1)
    assert fake_collection.search("purr loudly", k=1)[0].id == "dog"
    assert fake_collection.stats()["documents"] == 5


def test_documents_with_no_known_words_are_stored_without_vectors(fake_collection):
    report = fake_collection.add([("x", "unknown unkwords"), ("y", "real words")])
    assert report.no_vectors == 1 and report.added == 2
    assert fake_collection.get("x")["text"] == "unknown unkwords"
    assert [h.id for h in fake_collection.search("real words", k=5)] == ["y"]


def test_duplicate_ids_in_one_run_keep_the_last(fake_collection):
    report = fake_collection.add([("a", "first version"), ("b", "other"), ("a", "second version")])
    assert report.duplicates == 1 and report.added == 2
    assert fake_collection.get("a")["text"] == "second version"


def test_model_mismatch_is_refused(vx):
    vx.collection("glove", create=True)  # default GloVe
    with pytest.raises(ModelMismatchError, match="different model"):
        vx.collection("glove", embedder="fake")
    vx.collection("glove", model="glove-6b-50d")  # the same model is fine


def test_search_vector_checks_dimension(fake_collection):
    add_animals(fake_collection)
    with pytest.raises(QueryError, match="dimension"):
        fake_collection.search_vector(np.ones(5, dtype=np.float32))


def test_parallel_workers_give_the_same_vectors_as_in_process(vx, lee_lines):
    one = vx.collection("one", create=True)
    two = vx.collection("two", create=True)
    docs = [(str(i), line) for i, line in enumerate(lee_lines[:1500] * 1)]
    one.add(docs, workers=1)
    two.add(docs * 1, workers=2)
    a = vx.store.document_vectors(one.info, "7")[1]
    b = vx.store.document_vectors(two.info, "7")[1]
    assert np.array_equal(a, b)
    assert one.stats()["chunks"] == two.stats()["chunks"]


def test_real_glove_finds_the_bushfire_stories(vx, lee_lines):
    coll = vx.collection("lee", create=True)
    coll.add([(str(i + 1), line) for i, line in enumerate(lee_lines)])
    hits = coll.search("bushfires burning homes in New South Wales", k=10)

    def about_fire(text: str) -> bool:
        return any(w in text.lower() for w in ("fire", "blaze", "burn"))

    base_rate = sum(map(about_fire, lee_lines)) / len(lee_lines)  # about 0.13
    precision = sum(about_fire(coll.get(h.id)["text"]) for h in hits) / len(hits)
    assert precision >= 4 * base_rate


def test_reopening_the_store_answers_the_same(db_path, lee_lines):
    with Vecdex(db_path) as first:
        coll = first.collection("lee", create=True)
        coll.add([(str(i), line) for i, line in enumerate(lee_lines[:100])])
        before = [(h.id, round(h.score, 5)) for h in coll.search("cricket match", k=5)]
    with Vecdex(db_path, create=False) as second:
        after = [(h.id, round(h.score, 5)) for h in second.collection("lee").search("cricket match", k=5)]
    assert before == after
