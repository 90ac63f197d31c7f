"""The written-down contracts: one registry mechanism for embedders and index types,
and the Embedder base class declaring what callers use."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from vecdex.errors import EmbedderError
from vecdex.indexer.embedders import factory
from vecdex.indexer.embedders.base import Embedder
from vecdex.storage.registry import Registry
from vecdex.storage.ann import factory as ann_factory
from vecdex.storage.ann.flat import FlatIndex
from vecdex.storage.ann.spec import IndexSpecError


def test_registry_imports_lazily_and_names_the_choices():
    registry = Registry("widget", {"json": "json:JSONDecoder"}, error=KeyError)
    assert registry.get("json").__name__ == "JSONDecoder"
    with pytest.raises(KeyError, match=r"unknown widget 'xml' \(choose from json\)"):
        registry.get("xml")
    registry.register("mine", dict)
    assert registry.get("mine") is dict and registry.names() == ["json", "mine"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register("mine", list)
    registry.register("mine", list, replace=True)
    assert registry.get("mine") is list


def test_registered_block_restores_what_was_there():
    registry = Registry("widget", {"a": "json:JSONDecoder"})
    with registry.registered("a", dict), registry.registered("b", list):
        assert registry.get("a") is dict and registry.get("b") is list
    assert "b" not in registry and registry.get("a").__name__ == "JSONDecoder"


def test_a_heavy_backend_is_not_imported_until_asked_for():
    registry = Registry("widget", {"tensor": "vecdex_no_such_module:Thing"})
    assert "tensor" in registry and "vecdex_no_such_module" not in sys.modules
    with pytest.raises(ModuleNotFoundError):
        registry.get("tensor")


def test_embedders_and_index_types_share_the_mechanism(fake_collection):
    assert isinstance(factory.embedders, Registry) and isinstance(ann_factory.index_types, Registry)
    assert "fake" in factory.embedders  # the conftest fixture's registration, undone after each test
    with pytest.raises(EmbedderError, match="unknown embedder 'nope'"):
        factory.create_embedder("nope")
    with pytest.raises(IndexSpecError, match=r"unknown index type 'nope' \(choose from flat, hnsw, ivf, ivfpq, auto\)"):
        ann_factory.backend_class({"type": "nope"})

    class CountingFlat(FlatIndex):
        built = 0

        def build(self, ids, vectors):
            CountingFlat.built += 1
            super().build(ids, vectors)

    with ann_factory.index_types.registered("flat", CountingFlat):
        fake_collection.add([{"id": "a", "text": "red apples"}, {"id": "b", "text": "green pears"}])
        assert [h.id for h in fake_collection.search("red apples", k=1, mode="dense")] == ["a"]
    assert CountingFlat.built >= 1
    assert ann_factory.backend_class({"type": "flat"}) is FlatIndex


def test_embedders_declare_what_callers_use():
    from fakes import FakeEmbedder
    from vecdex.indexer.embedders.precomputed import PrecomputedEmbedder

    fake = FakeEmbedder.from_options()
    assert (fake.default_chunking, fake.batch_bytes, fake.contextual, fake.needs_collection_fit) == (
        None, None, False, False)
    assert fake.fitted_on(["some text"]) is fake
    with pytest.raises(EmbedderError, match="one vector whatever the sentence"):
        fake.word_vectors("a sentence")
    other = FakeEmbedder.from_options(model="fake-other")
    assert fake.same_model(dict(fake.spec)) and not fake.same_model(other.spec)
    assert fake.model_difference(other.spec) == "model fake-16 (collection: fake-other)"
    assert not fake.same_model(PrecomputedEmbedder.from_options(dimension=16).spec)
    assert fake.embed_one("unknownword") is None and np.isclose(np.linalg.norm(fake.embed_one("red")), 1.0)


def test_an_embedder_must_implement_the_abstract_methods():
    class Half(Embedder):
        kind = "half"

        def tokenize(self, text):
            return text.split()

    with pytest.raises(TypeError, match="abstract"):
        Half({"dimension": 2})
