"""One contract, every index type: index, save, reopen, append, delete, upsert,
filtered search and per-call search parameters, through the real store and
index cache (in the style of txtai's testdense.py: adding a backend is one line).

Documents are real GloVe 6B 50d word vectors added as precomputed vectors, so
the approximate indexes face real, poorly clustered data.
"""

from __future__ import annotations

import numpy as np
import pytest
from vecdex.search import Vecdex, dense

N_FIRST, N_MORE = 2000, 1000
SPECS = ["flat", "hnsw", "ivf", "ivfpq", "auto:threshold=500"]


@pytest.fixture(scope="module")
def glove():
    from vecdex.indexer.embedders.wordvectors import load_word_vectors

    model = load_word_vectors(None)
    rows = np.array(model.vectors[1000 : 1000 + N_FIRST + N_MORE], dtype=np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    by_row = {row: word for word, row in model.key_to_index.items()}
    words = [by_row[i] for i in range(1000, 1000 + N_FIRST + N_MORE)]
    return words, rows


def metadata(i: int) -> dict:
    return {"parity": i % 2, "bucket": i % 500}


def exact_top(rows: np.ndarray, words: list[str], query: np.ndarray, k: int, keep=None) -> list[str]:
    scores = rows @ query
    order = [i for i in np.argsort(-scores, kind="stable") if keep is None or keep(i)]
    return [words[i] for i in order[:k]]


@pytest.fixture(params=SPECS)
def spec(request):
    return request.param


def open_collection(path, spec=None):
    vx = Vecdex(path)
    return vx, vx.collection("words", create=True, embedder="precomputed", dimension=50, index=spec)


def test_index_contract(tmp_path, glove, spec, monkeypatch):
    words, rows = glove
    path = tmp_path / "contract.db"
    vx, coll = open_collection(path, spec)
    first = range(N_FIRST)
    coll.add_vectors([words[i] for i in first], rows[: N_FIRST], texts=[words[i] for i in first],
                     metadata=[metadata(i) for i in first])

    # A stored vector finds itself first.
    probes = list(range(0, N_FIRST, 97))
    for i in probes:
        hits = coll.search_vector(rows[i], k=10)
        assert len(hits) == 10 and hits[0].id == words[i] and hits[0].score == pytest.approx(1.0, abs=1e-4)
    before = [[h.id for h in coll.search_vector(rows[i], k=10)] for i in probes]
    vx.close()

    # Reopen: the file is loaded, not rebuilt, and answers the same.
    vx, coll = open_collection(path)
    coll.index()
    assert vx.indexes.last_action == "file"
    assert [[h.id for h in coll.search_vector(rows[i], k=10)] for i in probes] == before

    # Append: new rows are searchable.
    more = range(N_FIRST, N_FIRST + N_MORE)
    coll.add_vectors([words[i] for i in more], rows[N_FIRST:], texts=[words[i] for i in more],
                     metadata=[metadata(i) for i in more])
    for i in range(N_FIRST, N_FIRST + N_MORE, 101):
        assert coll.search_vector(rows[i], k=5)[0].id == words[i]

    # Delete: gone from results, and k results still come back.
    deleted = {words[i] for i in range(0, 600)}
    assert coll.delete(sorted(deleted)) == []
    for i in range(0, 600, 53):
        hits = coll.search_vector(rows[i], k=10)
        assert len(hits) == 10 and not deleted & {h.id for h in hits}
    vx.close()
    vx, coll = open_collection(path)  # deletes survive a reopen (HNSW tombstones are in the file)
    for i in range(0, 600, 53):
        assert not deleted & {h.id for h in coll.search_vector(rows[i], k=10)}

    # Upsert: a document's new vector replaces its old one.
    target, donor = words[700], 1500
    coll.add_vectors([target], rows[donor : donor + 1], texts=["moved"], metadata=[{"parity": 9, "bucket": -1}])
    hits = coll.search_vector(rows[donor], k=2)
    assert {h.id for h in hits} == {target, words[donor]}
    assert all(h.id != target for h in coll.search_vector(rows[700], k=10))

    # Filtered search: exact in what it returns; a selective filter returns all its rows.
    live = [i for i in range(N_FIRST + N_MORE) if words[i] not in deleted and i != 700]
    query = rows[1234]
    hits = coll.search_vector(query, k=10, where=["parity=0"])
    assert len(hits) == 10 and all(h.metadata["parity"] == 0 for h in hits)
    # The same filter through the index's own ID selector (no exact shortcut).
    monkeypatch.setattr(dense, "EXACT_FILTER_ROWS", 0)
    monkeypatch.setattr(dense, "EXACT_FILTER_SHARE", 0.0)
    selected = coll.search_vector(query, k=10, where=["parity=0"])
    assert len(selected) == 10 and all(h.metadata["parity"] == 0 for h in selected)
    assert len({h.id for h in selected} & {h.id for h in hits}) >= 9
    monkeypatch.undo()
    hits = coll.search_vector(query, k=10, where=["bucket=7"])
    expected = {words[i] for i in live if i % 500 == 7}
    assert {h.id for h in hits} == expected
    assert [h.id for h in hits] == exact_top(rows, words, query, 10, lambda i: i in live and i % 500 == 7)

    # Per-call knobs work and leave the index's own settings alone.
    default = [h.id for h in coll.search_vector(query, k=10)]
    coll.search_vector(query, k=10, nprobe=1, ef=10)
    assert [h.id for h in coll.search_vector(query, k=10)] == default
    wide = [h.id for h in coll.search_vector(query, k=10, nprobe=10_000, ef=2000)]
    truth = exact_top(rows, words, query, 10, lambda i: i in set(live))
    assert len(set(wide) & set(truth)) >= 9  # ivfpq re-ranks a PQ shortlist; the others are exact here
    vx.close()


def test_damaged_file_is_rebuilt(tmp_path, glove, spec):
    words, rows = glove
    path = tmp_path / "damaged.db"
    vx, coll = open_collection(path, spec)
    coll.add_vectors(words[:800], rows[:800])
    vx.close()
    files = list((tmp_path / "damaged.db.faiss").glob("*.faiss"))
    assert len(files) == 1
    files[0].write_bytes(files[0].read_bytes()[:200])
    vx, coll = open_collection(path)
    assert coll.search_vector(rows[5], k=3)[0].id == words[5]
    assert vx.indexes.last_action == "rebuilt"
    vx.close()
