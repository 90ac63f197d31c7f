"""Property-based: random sequences of add, upsert, delete, search, reopen and
reindex (from two handles on one store, as two processes would hold it) against
a plain-Python model of the collection; every search must return what exact
search over the model returns."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from vecdex.search import Vecdex

DIM = 8
IDS = st.sampled_from([f"d{i}" for i in range(12)])
VECTORS = st.lists(st.floats(-1, 1, allow_nan=False, width=32), min_size=DIM, max_size=DIM).filter(
    lambda v: float(np.linalg.norm(v)) > 0.1)


def unit(vector) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32)
    return v / np.linalg.norm(v)


class CollectionMachine(RuleBasedStateMachine):
    """``model``: id -> unit vector, what the collection should hold."""

    def __init__(self):
        super().__init__()
        import tempfile

        self.folder = tempfile.TemporaryDirectory()
        self.db = f"{self.folder.name}/s.db"
        self.model: dict[str, np.ndarray] = {}
        self.open = [Vecdex(self.db), None]
        self.open[0].collection("c", create=True, embedder="precomputed", dimension=DIM, index="flat")
        self.open[1] = Vecdex(self.db)

    def coll(self, which: int):
        return self.open[which].collection("c")

    @rule(which=st.integers(0, 1), docs=st.dictionaries(IDS, VECTORS, min_size=1, max_size=5))
    def upsert(self, which, docs):
        ids = list(docs)
        self.coll(which).add_vectors(ids, np.stack([unit(docs[i]) for i in ids]))
        self.model.update({i: unit(docs[i]) for i in ids})

    @rule(which=st.integers(0, 1), ids=st.lists(IDS, min_size=1, max_size=4, unique=True))
    def delete(self, which, ids):
        missing = self.coll(which).delete(ids)
        assert sorted(missing) == sorted(i for i in ids if i not in self.model)
        for i in ids:
            self.model.pop(i, None)

    @rule(which=st.integers(0, 1), query=VECTORS, k=st.integers(1, 15))
    def search(self, which, query, k):
        q = unit(query)
        hits = self.coll(which).search_vector(q, k=k)
        truth = sorted(((float(v @ q), i) for i, v in self.model.items()), reverse=True)[:k]
        assert len(hits) == len(truth)
        assert np.allclose([h.score for h in hits], [s for s, _ in truth], atol=1e-5)
        for hit in hits:  # ties aside, the very ids: each hit's score is its true score
            assert hit.id in self.model and abs(float(self.model[hit.id] @ q) - hit.score) < 1e-5

    @rule(which=st.integers(0, 1))
    def reopen(self, which):
        self.open[which].close()
        self.open[which] = Vecdex(self.db)

    @rule(which=st.integers(0, 1), spec=st.sampled_from(["flat", "auto"]))
    def reindex(self, which, spec):
        self.coll(which).reindex(spec)

    @invariant()
    def counts_match(self):
        stats = self.coll(0).stats()
        assert stats["documents"] == len(self.model) == stats["chunks"]

    def teardown(self):
        for handle in self.open:
            handle.close()
        self.folder.cleanup()


CollectionMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
test_collection_against_a_plain_model = CollectionMachine.TestCase
