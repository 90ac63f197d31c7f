"""Pooling maths for static word vectors: SIF weights and common-component removal.

SIF (Arora, Liang & Ma, ICLR 2017, "A Simple but Tough-to-Beat Baseline for
Sentence Embeddings"): a text is the average of its word vectors, each weighted
``a / (a + p(w))``, minus its projection on the first principal component(s) of
a set of such averages (the "common discourse" direction every text shares).

Word probabilities ``p(w)`` come either from the model's vocabulary order (the
rows of GloVe, word2vec and fastText files are sorted by corpus frequency, so a
Zipf law ``p(rank r) = 1 / (r * H_N)`` estimates them with no corpus at all) or
from counts over a real corpus, summarised to the words that matter (see
:func:`corpus_probabilities`).

Everything a collection needs to embed queries exactly like its documents (the
components, the corpus summary) is kept as JSON-able data in its embedder spec.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

DEFAULT_SIF_A = 1e-3
#: Tokens a corpus needs before its own counts replace the Zipf estimate.
MIN_CORPUS_TOKENS = 20_000
#: How many of a corpus's most frequent words keep their own probability.
CORPUS_TOP_WORDS = 1_000
#: Synthetic background drawn from the model's Zipf law: documents x words.
MODEL_BACKGROUND_DOCS = 2_000
MODEL_BACKGROUND_WORDS = 20
MODEL_BACKGROUND_SEED = 20170424  # fixed: the fitted components are stored anyway


def zipf_probabilities(n_rows: int) -> np.ndarray:
    """p(row r) = 1 / ((r + 1) * H_n): Zipf's law over a frequency-sorted vocabulary."""
    ranks = np.arange(1, n_rows + 1, dtype=np.float64)
    return 1.0 / (ranks * np.sum(1.0 / ranks))


def sif_weights(probabilities: np.ndarray, a: float) -> np.ndarray:
    """a / (a + p(w)) for every row: frequent words count less."""
    if a <= 0:
        raise ValueError("the SIF parameter a must be positive")
    return (a / (a + np.asarray(probabilities, dtype=np.float64))).astype(np.float32)


def corpus_probabilities(token_lists: Iterable[Iterable[str]], top: int = CORPUS_TOP_WORDS) -> dict[str, Any]:
    """A compact, storable summary of a corpus's word frequencies.

    Only the ``top`` most frequent words are kept with their probability: with
    ``a`` around 1e-3 a word's weight differs from 1 by more than a few percent
    only when p(w) is above ~1e-4, i.e. for a few hundred to a thousand words in
    any real corpus. Other words fall back to the Zipf estimate, capped below
    the least frequent kept word (see :func:`row_probabilities`).
    """
    counts: Counter[str] = Counter()
    for tokens in token_lists:
        counts.update(tokens)
    total = sum(counts.values())
    kept = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    return {"tokens": int(total), "top": [[word, count / total] for word, count in kept] if total else []}


def row_probabilities(
    n_rows: int, key_to_index: Mapping[str, int], summary: Mapping[str, Any] | None, lowercase: bool
) -> np.ndarray:
    """p(w) per model row: Zipf from the vocabulary order, corpus counts where summarised."""
    probabilities = zipf_probabilities(n_rows)
    if not summary or not summary.get("top"):
        return probabilities
    top = summary["top"]
    floor = float(top[-1][1])
    np.minimum(probabilities, floor, out=probabilities)
    for word, p in top:
        row = key_to_index.get(word.lower() if lowercase else word)
        if row is not None:
            probabilities[row] = float(p)
    return probabilities


def principal_components(vectors: np.ndarray, k: int) -> np.ndarray:
    """The top-k right singular vectors of the (uncentred) rows, as Arora et al. do.

    Each component's sign is fixed (largest coordinate positive) so a refit on the
    same data stores the same numbers.
    """
    if k < 1:
        return np.zeros((0, vectors.shape[1]), dtype=np.float32)
    matrix = np.asarray(vectors, dtype=np.float64)
    if len(matrix) < k:
        raise ValueError(f"need at least {k} vectors to fit {k} component(s), got {len(matrix)}")
    _, _, vt = np.linalg.svd(matrix, full_matrices=False)
    components = vt[:k]
    signs = np.sign(components[np.arange(k), np.argmax(np.abs(components), axis=1)])
    return (components * signs[:, None]).astype(np.float32)


def remove_components(vectors: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Subtract each row's projection on the (orthonormal) components: X - X C^T C."""
    if components is None or len(components) == 0:
        return vectors
    return vectors - (vectors @ components.T) @ components


def model_background_rows(probabilities: np.ndarray) -> np.ndarray:
    """Row ids of a synthetic background corpus drawn from the Zipf law (seeded)."""
    rng = np.random.default_rng(MODEL_BACKGROUND_SEED)
    return rng.choice(len(probabilities), size=(MODEL_BACKGROUND_DOCS, MODEL_BACKGROUND_WORDS),
                      p=probabilities / probabilities.sum())


def encode_matrix(matrix: np.ndarray) -> str:
    """float32 little-endian, base64: exact and compact inside a JSON spec."""
    return base64.b64encode(np.ascontiguousarray(matrix, dtype="<f4").tobytes()).decode("ascii")


def decode_matrix(data: str, dimension: int) -> np.ndarray:
    raw = base64.b64decode(data.encode("ascii"))
    return np.frombuffer(raw, dtype="<f4").reshape(-1, dimension).astype(np.float32)
