"""Index specs, auto choice, HNSW tombstones, thread-safe per-call knobs, recall
against brute force, memory-mapped IVF, and collections of precomputed vectors."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from vecdex.indexer.embedders.base import EmbedderError
from vecdex.search import Vecdex
from vecdex.search.engine import IndexSpecError, ModelMismatchError, QueryError
from vecdex.storage.ann.spec import check_dimension, format_spec, parse_index_spec


@pytest.fixture(scope="module")
def glove():
    """(words, unit vectors) of GloVe rows 2000..9999 (real, poorly clustered data)."""
    from vecdex.indexer.embedders.wordvectors import load_word_vectors

    model = load_word_vectors(None)
    by_row = {row: word for word, row in model.key_to_index.items()}
    rows = np.array(model.vectors[2000:10000], dtype=np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return [by_row[i] for i in range(2000, 10000)], rows


def vectors_collection(path, spec, words, rows):
    vx = Vecdex(path)
    coll = vx.collection("v", create=True, embedder="precomputed", dimension=rows.shape[1], index=spec)
    coll.add_vectors(words, rows, texts=words)
    return vx, coll


# -- specs ---------------------------------------------------------------------------------------


def test_parse_index_spec():
    assert parse_index_spec("hnsw:M=32,efConstruction=80,ef=64") == {
        "type": "hnsw", "M": 32, "efConstruction": 80, "efSearch": 64}
    assert parse_index_spec("ivf:nlist=1024,nprobe=16") == {"type": "ivf", "nlist": 1024, "nprobe": 16}
    assert parse_index_spec("ivfpq:m=10,nbits=8,rerank=1")["rerank"] == 1
    assert parse_index_spec("flat") == {"type": "flat"}
    assert parse_index_spec(None) == {"type": "auto"}
    assert format_spec({"type": "auto", "resolved": {"type": "hnsw", "M": 32}}) == "auto -> hnsw:M=32"
    for bad, message in [("annoy", "unknown index type"), ("hnsw:M", "needs a value"),
                         ("hnsw:nlist=4", "no option 'nlist'"), ("ivf:nlist=many", "must be a number"),
                         ("ivf:nprobe=0", "at least 1")]:
        with pytest.raises(IndexSpecError, match=message):
            parse_index_spec(bad)
    with pytest.raises(IndexSpecError, match="must divide the dimension 50"):
        check_dimension(parse_index_spec("ivfpq:m=7"), 50)


def test_existing_collection_refuses_another_spec(tmp_path, glove):
    words, rows = glove
    vx, coll = vectors_collection(tmp_path / "s.db", "flat", words[:50], rows[:50])
    assert vx.collection("v", index="flat").name == "v"
    with pytest.raises(IndexSpecError, match="vecdex reindex"):
        vx.collection("v", index="hnsw")
    vx.close()


# -- auto ----------------------------------------------------------------------------------------


def test_auto_goes_approximate_past_its_threshold_and_records_the_choice(tmp_path, glove):
    words, rows = glove
    vx, coll = vectors_collection(tmp_path / "auto.db", "auto:threshold=300", words[:100], rows[:100])
    assert coll.info.index_spec == {"type": "auto", "threshold": 300, "resolved": {"type": "flat"}}
    generation = coll.info.generation
    coll.add_vectors(words[100:500], rows[100:500])
    spec = coll.stats()["index"]
    assert spec["resolved"]["type"] == "hnsw" and coll.info.generation > generation
    assert coll.index().backend == "hnsw"
    assert "auto:threshold=300 -> hnsw:M=" in coll.stats()["index_description"]
    # Deleting below the threshold does not flip back (no rebuild flapping) ...
    coll.delete(words[:300])
    assert coll.index().backend == "hnsw"
    assert coll.search_vector(rows[400], k=1)[0].id == words[400]
    # ... but reindex chooses afresh.
    coll.reindex()
    assert coll.info.index_spec["resolved"] == {"type": "flat"} and coll.index().backend == "flat"
    # reindex with a spec switches type; another process sees it.
    coll.reindex("ivf:nlist=4,nprobe=4")
    other = Vecdex(tmp_path / "auto.db").collection("v")
    assert other.index().backend == "ivf" and other.search_vector(rows[450], k=1)[0].id == words[450]
    other._vx.close()
    vx.close()


# -- HNSW tombstones ------------------------------------------------------------------------------


def test_hnsw_tombstones_persist_and_compact(tmp_path, glove):
    words, rows = glove
    path = tmp_path / "h.db"
    vx, coll = vectors_collection(path, "hnsw:compact=0.25", words[:1000], rows[:1000])
    coll.delete(words[:100])
    described = coll.index().describe()
    assert described["tombstones"] == 100 and described["vectors"] == 900
    vx.close()
    vx = Vecdex(path)
    coll = vx.collection("v")
    assert coll.index().describe()["tombstones"] == 100  # loaded from the file, not rebuilt
    assert vx.indexes.last_action == "file"
    assert all(h.id not in set(words[:100]) for h in coll.search_vector(rows[50], k=20))
    # An upsert reuses nothing: the new vector is searchable, the old one is dead.
    coll.add_vectors([words[500]], rows[10:11])
    assert coll.search_vector(rows[10], k=1)[0].id == words[500]
    coll.delete(words[100:300])  # past 25% tombstones: compacted
    described = coll.index().describe()
    assert described["tombstones"] == 0 and described["vectors"] == 700
    hits = coll.search_vector(rows[600], k=10)
    assert len(hits) == 10 and hits[0].id == words[600]
    vx.close()


def test_deleted_ids_that_come_back_are_found(tmp_path, glove):
    """SQLite may hand a freed chunk id out again: HNSW must not keep it dead."""
    words, rows = glove
    vx, coll = vectors_collection(tmp_path / "r.db", "hnsw", words[:200], rows[:200])
    last = words[199]
    coll.delete([last])  # frees the highest chunk id
    coll.add_vectors(["again"], rows[199:200])
    assert coll.search_vector(rows[199], k=1)[0].id == "again"
    vx.close()


# -- search parameters -------------------------------------------------------------------------------


@pytest.mark.parametrize("spec,knob,low,high", [
    ("hnsw:M=8,efConstruction=16", "efSearch", 10, 400),
    ("ivf:nlist=64", "nprobe", 1, 64),
])
def test_concurrent_searches_with_different_knobs_do_not_interfere(tmp_path, glove, spec, knob, low, high):
    words, rows = glove
    vx, coll = vectors_collection(tmp_path / "t.db", spec, words[:4000], rows[:4000])
    index = coll.index()
    queries = rows[4000:4100]
    expected = {v: index.search(queries, 10, {knob: v})[1] for v in (low, high)}
    assert not np.array_equal(expected[low], expected[high])  # the knob matters here
    failures: list[str] = []

    def worker(value: int) -> None:
        for _ in range(30):
            for i in range(0, len(queries), 7):
                got = index.search(queries[i : i + 1], 10, {knob: value})[1][0]
                if not np.array_equal(got, expected[value][i]):
                    failures.append(f"{knob}={value} query {i}")

    threads = [threading.Thread(target=worker, args=(v,)) for v in (low, high, low, high)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    # The same through the collection API.
    wide = [h.id for h in coll.search_vector(queries[0], k=10, **{"ef" if knob == "efSearch" else knob: high})]
    rows_of = vx.store.chunk_hits(expected[high][0].tolist())
    assert wide == [rows_of[i].ext_id for i in expected[high][0].tolist()]
    vx.close()


# -- recall invariant ----------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["hnsw", "ivf", "ivfpq", "auto:threshold=1000"])
def test_recall_at_default_settings(tmp_path, glove, spec):
    """Each approximate type at its defaults finds >= 90% of the exact top-10."""
    words, rows = glove
    base, queries = rows[:4000], rows[7000:7200]
    vx, coll = vectors_collection(tmp_path / "recall.db", spec, words[:4000], base)
    assert coll.index().backend != "flat"
    truth = np.argsort(-(queries @ base.T), axis=1)[:, :10]
    row_of = {w: i for i, w in enumerate(words[:4000])}
    found = [[row_of[h.id] for h in hits] for hits in coll.search_vectors(queries, k=10)]
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth.tolist())])
    assert recall >= 0.9, f"{spec}: recall@10 {recall:.3f}"
    vx.close()


# -- files ---------------------------------------------------------------------------------------------------


def test_ivf_loads_memory_mapped_and_still_takes_writes(tmp_path, glove):
    words, rows = glove
    path = tmp_path / "m.db"
    vx, coll = vectors_collection(path, "ivf", words[:2000], rows[:2000])
    vx.close()
    vx = Vecdex(path)
    coll = vx.collection("v")
    assert coll.index().describe()["memory_mapped"] is True
    coll.add_vectors(words[2000:2100], rows[2000:2100])
    coll.delete(words[:10])
    assert coll.index().describe()["memory_mapped"] is False and coll.index().count() == 2090
    assert coll.search_vector(rows[2050], k=1)[0].id == words[2050]
    vx.close()


def test_a_searcher_sees_other_writers_at_once(tmp_path, glove):
    """The search fast path (no re-read while nothing changed) never serves stale results."""
    words, rows = glove
    path = tmp_path / "w.db"
    vx, reader = vectors_collection(path, "hnsw", words[:300], rows[:300])
    assert reader.search_vector(rows[5], k=1)[0].id == words[5]
    writer_vx = Vecdex(path)
    writer = writer_vx.collection("v")
    writer.delete([words[5]])
    assert reader.search_vector(rows[5], k=1)[0].id != words[5]
    writer.add_vectors(["new"], rows[5:6])
    assert reader.search_vector(rows[5], k=1)[0].id == "new"
    writer_vx.close()
    vx.close()


# -- precomputed vectors ---------------------------------------------------------------------------------


def test_precomputed_collections(tmp_path, glove):
    words, rows = glove
    vx, coll = vectors_collection(tmp_path / "p.db", None, words[:100], rows[:100])
    report = coll.add_vectors(words[:100], rows[:100], texts=words[:100])
    assert report.unchanged == 100 and report.added == 0
    hits = coll.search_vector(rows[3] * 7.0, k=2)  # any length: normalised for cosine
    assert hits[0].id == words[3] and hits[0].score == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(QueryError, match="dimension 49, the collection 50"):
        coll.search_vector(rows[3][:49])
    with pytest.raises(QueryError, match="dimension 3, the collection 50"):
        coll.add_vectors(["x"], [[1.0, 2.0, 3.0]])
    with pytest.raises(QueryError, match="not all zero"):
        coll.add_vectors(["x"], np.zeros((1, 50)))
    with pytest.raises(EmbedderError, match="embeds no text"):
        coll.search("king")
    with pytest.raises(EmbedderError, match="add_vectors"):
        coll.add([("a", "some text")])
    with pytest.raises(EmbedderError, match="dimension"):
        vx.collection("nodim", create=True, embedder="precomputed")
    text = vx.collection("text", create=True, embedder="static")
    with pytest.raises(ModelMismatchError, match="precomputed"):
        text.add_vectors(["x"], rows[:1])
    assert coll.stats()["documents"] == 100
    vx.close()


def test_glove_text_collection_on_hnsw(tmp_path, glove):
    """Words as one-word documents in a text collection, searched by text."""
    words, _ = glove
    vx = Vecdex(tmp_path / "words.db")
    coll = vx.collection("words", create=True, index="hnsw")
    coll.add([(w, w) for w in words[:3000]])
    hits = coll.search(words[42], k=5)
    assert hits[0].id == words[42] and len(hits) == 5
    vx.close()
