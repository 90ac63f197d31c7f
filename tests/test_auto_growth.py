"""auto keeps its recall promise when a collection grows in batches: past a step of the
efSearch ladder the HNSW graph is kept and its search widened, as one build would set it."""

from __future__ import annotations

import numpy as np
from vecdex.search import Vecdex
from vecdex.storage.ann import spec as ann_spec


def test_concrete_raises_efsearch_of_a_recorded_hnsw_choice():
    small = ann_spec.concrete({"type": "auto"}, 150_000, 50)
    assert small["type"] == "hnsw" and small["efSearch"] == 64
    grown = ann_spec.concrete({"type": "auto", "resolved": small}, 400_000, 50)
    assert grown == {**small, "efSearch": ann_spec.auto_choice({"type": "auto"}, 400_000, 50)["efSearch"]} != small
    assert ann_spec.concrete({"type": "auto", "resolved": grown}, 150_000, 50) == grown  # never back down


def test_growing_in_batches_widens_the_search_without_a_rebuild(tmp_path, monkeypatch):
    real = ann_spec.auto_choice

    def ladder(spec, n_vectors, dimension):  # the real ladder, at toy sizes: hnsw from 300 rows, ef up at 600
        chosen = real({"type": "auto", "threshold": 300}, n_vectors * 1000 if n_vectors >= 300 else n_vectors,
                      dimension)
        if chosen["type"] == "hnsw":
            chosen["efSearch"] = 64 if n_vectors < 600 else 128
        return chosen

    monkeypatch.setattr(ann_spec, "auto_choice", ladder)
    rng = np.random.default_rng(3)
    with Vecdex(tmp_path / "grow.db") as vx:
        coll = vx.collection("g", create=True, embedder="precomputed", dimension=16)
        for start in range(0, 800, 100):
            coll.add_vectors([str(i) for i in range(start, start + 100)], rng.normal(size=(100, 16)), None)
            if start == 400:
                generation = coll.info.generation
                assert coll.info.index_spec["resolved"]["efSearch"] == 64
        resolved = coll.info.index_spec["resolved"]
        assert resolved["type"] == "hnsw" and resolved["efSearch"] == 128
        assert coll.info.generation == generation  # same graph, same files: no rebuild
        assert vx.indexes.last_action != "rebuilt"
        assert coll.index().ef_search == 128
    with Vecdex(tmp_path / "grow.db") as vx:  # a new process loads the file with the widened search
        assert vx.collection("g").index().ef_search == 128
