"""MaxScore pruning of lexical queries (search.lexical.ranked): exactly the plain
disjunction's top documents, on real text, with ties, filters and exclusions;
and filters that select without changing BM25 scores."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tantivy
from vecdex.search import lexical
from vecdex.storage import lexical_query

from real_texts import corpus


def sentences(limit: int = 3000) -> list[str]:
    out = []
    for article in corpus("lee"):
        out.extend(s for s in re.split(r"(?<=[.!?])\s+", article) if len(s.split()) >= 4)
    return out[:limit]


@pytest.fixture(scope="module")
def lee_sentences():
    return sentences()


@pytest.fixture
def lee_coll(vx, lee_sentences):
    coll = vx.collection("lee", create=True)
    # Every sentence twice (ids differ): ties at the cut, as in bench/bench_lexical.py's corpus.
    coll.add([{"id": f"{copy}-{i}", "text": text, "metadata": {"copy": copy, "n": i % 10}}
              for copy in range(2) for i, text in enumerate(lee_sentences)])
    return coll


def queries(texts: list[str], n: int = 150) -> list[str]:
    rng = np.random.default_rng(7)
    return [" ".join(texts[i].split()[:6]) for i in rng.integers(0, len(texts), n)]


def words_of(index, query: str) -> list[list[str]]:
    terms = lexical.query_terms(query)
    return lexical._informative(index, [t for t in (lexical_query.analyse(x) for x in terms) if t])


def plain(index, words, clauses, limit):
    query = lexical._any_of(words)
    if clauses:
        query = tantivy.Query.boolean_query([(tantivy.Occur.Must, query), *clauses])
    return index.search(query, limit)


def assert_same(pruned, expected):
    assert [d for d, _ in pruned] == [d for d, _ in expected]
    # The same terms summed in another order: equal up to float rounding.
    assert np.allclose([s for _, s in pruned], [s for _, s in expected], rtol=1e-5)


@pytest.mark.parametrize("limit", [10, 50])
def test_pruned_search_is_the_plain_disjunctions_top(vx, lee_coll, lee_sentences, monkeypatch, limit):
    index = vx.lexical.get(lee_coll.info.id)
    tries = []
    real_pruned = lexical._pruned
    monkeypatch.setattr(lexical, "_pruned", lambda *a: tries.append(a) or real_pruned(*a))
    checked = 0
    for query in queries(lee_sentences):
        words = words_of(index, query)
        if len(words) < 2:
            continue
        assert_same(lexical.ranked(index, words, [], limit), plain(index, words, [], limit))
        checked += 1
    assert checked > 100
    assert len(tries) > checked // 2  # the pruned form ran, not only the plain fallback


def test_second_try_and_fallback_are_exact(vx, lee_coll, lee_sentences, monkeypatch):
    """Requiring only the rarest word first makes the first try fail often: the
    second try (or the plain query) must still give the exact top."""
    monkeypatch.setattr(lexical, "RARE_SHARE", 0.0)
    index = vx.lexical.get(lee_coll.info.id)
    for query in queries(lee_sentences, 60) + ["the said of and a in mr government", "police said"]:
        words = words_of(index, query)
        if len(words) >= 2:
            assert_same(lexical.ranked(index, words, [], 50), plain(index, words, [], 50))


@pytest.mark.parametrize("rare_share", [lexical.RARE_SHARE, 0.0])  # 0: the later searches run more often
def test_pruned_search_under_filters_and_exclusion(vx, lee_coll, lee_sentences, monkeypatch, rare_share):
    monkeypatch.setattr(lexical, "RARE_SHARE", rare_share)
    index = vx.lexical.get(lee_coll.info.id)
    must, unchecked = lexical_query.filter_query(index.index, [f for f in lexical.normalise_filters(["copy=1"])])
    assert not unchecked
    excluded = lexical_query.doc_query(5)
    clauses = [(tantivy.Occur.Must, q) for q in must] + [(tantivy.Occur.MustNot, excluded)]
    for query in queries(lee_sentences, 150) + ["he also says there is no", "the government said it would"]:
        words = words_of(index, query)
        if len(words) >= 2:
            for limit in (10, 20, 50):
                assert_same(lexical.ranked(index, words, clauses, limit), plain(index, words, clauses, limit))


def test_filters_select_without_changing_scores(vx, lee_coll):
    """A filtered lexical search scores documents exactly as the unfiltered one
    (tantivy's filter queries scored 1 each, which shifted BM25 / max in hybrid fusion)."""
    everything = {h.id: h.score for h in lee_coll.search("police said the attack", k=400, mode="lexical")}
    for where in (["copy=1"], ["n>=5"], ["copy!=0"]):
        found = lee_coll.search("police said the attack", k=50, mode="lexical", where=where)
        assert found
        for hit in found:
            assert hit.score == pytest.approx(everything[hit.id], rel=1e-6)


def test_documents_that_need_every_common_word_complete_the_top(vx, lee_coll, lee_sentences, monkeypatch):
    """When the common words' bounds together pass the score found, the documents
    without a rare word that could still make the top need every word the others
    cannot make up for: one search of those (an intersection) completes the top,
    which must still be the plain query's, in its order."""
    monkeypatch.setattr(lexical, "RARE_SHARE", 0.0)
    index = vx.lexical.get(lee_coll.info.id)
    searched = []
    real_lacking = lexical._lacking
    monkeypatch.setattr(lexical, "_lacking", lambda *a: searched.append(a) or real_lacking(*a))
    for query in queries(lee_sentences, 400) + ["he also says there is no", "the government said it would"]:
        words = words_of(index, query)
        if len(words) >= 2:
            for limit in (10, 50):
                assert_same(lexical.ranked(index, words, [], limit), plain(index, words, [], limit))
    assert len(searched) >= 10


@pytest.mark.parametrize("limit", [5, 12, 20])
def test_equal_scores_across_the_two_searches_keep_tantivys_order(vx, monkeypatch, limit):
    """A document with the rare word and one with only the necessary common word can
    score exactly alike; merged, they must come in the order one search gives
    equal scores (by document address), as the plain query has them."""
    monkeypatch.setattr(lexical, "RARE_SHARE", 0.0)
    coll = vx.collection("ties", create=True)
    # zebra and quail are equally frequent, in documents of equal length: equal scores.
    coll.add([{"id": str(i), "text": f"{'zebra' if i % 2 else 'quail'} grazing near the river bank"}
              for i in range(40)] + [{"id": f"f{i}", "text": f"plain filler sentence number {i} here"}
                                     for i in range(40)])
    index = vx.lexical.get(coll.info.id)
    words = words_of(index, "zebra quail")
    merged = []
    real_merged = lexical._merged
    monkeypatch.setattr(lexical, "_merged", lambda *a: merged.append(a) or real_merged(*a))
    expected = plain(index, words, [], limit)
    assert len({score for _, score in expected}) == 1  # all tied
    assert_same(lexical.ranked(index, words, [], limit), expected)
    assert merged and merged[0][2]  # the second search found documents, merged with the first's


def test_a_long_query_of_common_words_runs_plain(vx, lee_coll, monkeypatch):
    """Thirty common words pruned meant thirty nesting levels, each a seek for every
    document of the rarest word: 50-70 ms where the plain query took 9-16 (bench
    indexes). The cost estimate sends such a query to the plain disjunction."""
    index = vx.lexical.get(lee_coll.info.id)
    pruned = []
    real_pruned = lexical._pruned
    monkeypatch.setattr(lexical, "_pruned", lambda *a: pruned.append(a) or real_pruned(*a))
    soup = ("he also says there is no the a of to in and that was for on it with as by at from but not "
            "have they are we this has been said one would")
    words = words_of(index, soup)
    assert len(words) >= 20
    assert_same(lexical.ranked(index, words, [], 50), plain(index, words, [], 50))
    assert not pruned
