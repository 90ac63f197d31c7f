"""One contract, two implementations: the local :class:`vecdex.Vecdex` collection and
:class:`vecdex.Client` over HTTP (a real ``vecdex serve`` on a real store file) must
answer the same calls the same way. Adding an implementation is one fixture param."""

from __future__ import annotations

import pytest
from serving import Server

import vecdex

DOCS = [
    {"id": "rain", "text": "Heavy rain flooded the river valley overnight.", "metadata": {"year": 2021, "tags": ["weather"]}},
    {"id": "bank", "text": "The central bank raised interest rates again.", "metadata": {"year": 2023}},
    {"id": "cats", "text": "Cats sleep most of the day in the sun.", "metadata": {"year": 2019}},
    {"id": "fire", "text": "Bushfires threatened homes near Sydney as winds rose.", "metadata": {"year": 2001}},
    {"id": "path/with/slash.md", "text": "Stock markets fell when the bank rate rose.", "metadata": {"year": 2022}},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with Server(tmp_path_factory.mktemp("contract") / "served.db") as running:
        yield running


@pytest.fixture(params=["local", "http"])
def make(request, tmp_path, server):
    """make(name, **options) -> a fresh collection of the implementation under test."""
    if request.param == "local":
        vx = vecdex.Vecdex(tmp_path / "local.db")
        yield lambda name, **options: vx.collection(name, create=True, **options)
        vx.close()
    else:
        client = vecdex.Client(server.url)
        made = []

        def create(name, **options):
            made.append(name)
            return client.collection(name, create=True, **options)

        yield create
        for name in dict.fromkeys(made):
            client.drop(name)
        client.close()


def ids(hits):
    return [h.id for h in hits]


def test_add_reports_and_upserts(make):
    coll = make("c_add")
    report = coll.add(DOCS)
    assert (report.added, report.updated, report.unchanged, report.failed) == (5, 0, 0, 0)
    again = coll.add([DOCS[0], {**DOCS[1], "text": "The central bank cut interest rates."}, ("new", "A new one.")])
    assert (again.added, again.updated, again.unchanged, again.failed) == (1, 1, 1, 0)
    bad = coll.add([{"id": "empty", "text": "   "}])
    assert (bad.added, bad.failed) == (0, 1)


def test_search_finds_by_meaning_with_scores_ranks_and_metadata(make):
    coll = make("c_search")
    coll.add(DOCS)
    hits = coll.search("floods after a storm", k=2, mode="dense")
    assert ids(hits)[0] == "rain"
    assert [h.rank for h in hits] == [1, 2]
    assert hits[0].score > hits[1].score
    assert hits[0].metadata == {"year": 2021, "tags": ["weather"]}
    assert "flooded" in hits[0].snippet
    assert set(ids(coll.search("interest rates", k=5, where=["year>=2022"]))) == {"bank", "path/with/slash.md"}
    assert ids(coll.search("weather", k=5, where={"tags": "weather"})) == ["rain"]
    assert ids(coll.search("Sydney", k=1, mode="lexical")) == ["fire"]


def test_same_answers_in_every_mode(make):
    coll = make("c_modes")
    coll.add(DOCS)
    for mode in ("dense", "lexical", "hybrid"):
        hits = coll.search("bank rate", k=3, mode=mode)
        assert set(ids(hits)) >= {"bank"} or mode == "dense", mode


def test_similar_get_delete(make):
    coll = make("c_similar")
    coll.add(DOCS)
    similar = coll.similar("bank", k=2, mode="dense")
    assert "bank" not in ids(similar) and len(similar) == 2
    doc = coll.get("path/with/slash.md")
    assert doc["text"] == DOCS[4]["text"] and doc["metadata"] == {"year": 2022}
    assert coll.get("missing") is None
    assert coll.delete(["cats", "nope"]) == ["nope"]
    assert coll.get("cats") is None
    assert "cats" not in ids(coll.search("cats sleeping", k=5, mode="dense"))
    assert coll.count() == 4
    assert sorted(d["id"] for d in coll.documents()) == sorted(d["id"] for d in DOCS if d["id"] != "cats")
    assert [d["id"] for d in coll.documents(where=["year<2010"])] == ["fire"]


def test_errors_are_the_same_classes(make):
    coll = make("c_errors")
    coll.add(DOCS)
    with pytest.raises(vecdex.QueryError):
        coll.similar("missing", k=3)
    with pytest.raises(vecdex.QueryError):
        coll.search("zzqqxx", k=3, mode="dense")  # no known word
    with pytest.raises(vecdex.ConfigError):
        coll.search("rain", k=3, where=["year>>2"])


def test_search_many_and_vectors(make):
    coll = make("c_vectors", embedder="precomputed", dimension=4)
    import numpy as np

    report = coll.add_vectors(["x", "y", "z"], np.eye(4, dtype="float32")[:3], texts=["ex", "why", "zed"],
                              metadata=[{"n": 1}, {"n": 2}, None])
    assert (report.added, report.unchanged) == (3, 0)
    assert ids(coll.search_vector([0.9, 0.1, 0, 0], k=2)) == ["x", "y"]
    assert ids(coll.search_vector([0.9, 0.1, 0, 0], k=2, where=["n=2"])) == ["y"]
    assert coll.add_vectors(["x"], np.eye(4, dtype="float32")[:1], texts=["ex"], metadata=[{"n": 1}]).unchanged == 1
    text = make("c_many")
    text.add(DOCS)
    results = text.search_many(["floods after a storm", "zzqqxx"], k=1, mode="dense")
    assert ids(results[0]) == ["rain"]
    assert isinstance(results[1], vecdex.QueryError)


def test_create_checks_an_existing_collection_s_setup(make):
    coll = make("c_setup")
    coll.add(DOCS[:2])
    # Asking again for what it has (or for nothing in particular) opens it as it is.
    assert make("c_setup", embedder="static").count() == 2
    assert make("c_setup").count() == 2
    # Another embedder, or another index, is refused in one line: never silently the old one.
    with pytest.raises(vecdex.ModelMismatchError, match="c_setup") as refused:
        make("c_setup", embedder="precomputed", dimension=4)
    assert "\n" not in str(refused.value) and "was built with static model" in str(refused.value)
    with pytest.raises(vecdex.ConfigError, match="already has index"):
        make("c_setup", index="flat")
    assert make("c_setup").count() == 2
