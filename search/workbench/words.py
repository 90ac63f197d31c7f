"""Explore a word-vector model: nearest words and analogies (A - B + C).

Works on any static model vecdex loads (:class:`indexer.embedders.wordvectors.WordVectors`):
the bundled GloVe, word2vec, fastText, gensim ``.kv``. Scores are cosines. The
matrix is never copied or normalised in memory (a 3M-word model stays
memory-mapped): dot products are divided by the row norms, as gensim does.
fastText models answer for words outside their vocabulary through subwords.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ...errors import VecdexError
from ...indexer.embedders.wordvectors import WordVectors, load_word_vectors

ANALOGY_METHODS = ("add", "mul")
_BLOCK_ROWS = 1 << 18  # rows per block when scanning a large matrix


class WordSpaceError(VecdexError):
    """A user-facing problem with a word query (unknown word, model without word vectors)."""


class UnknownWordError(WordSpaceError):
    """A word the model has no vector for (and cannot build one from subwords)."""


@dataclass
class Neighbour:
    word: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"word": self.word, "score": round(float(self.score), 6)}


class WordSpace:
    """Nearest-word queries over one model."""

    def __init__(self, model: WordVectors):
        self.model = model
        self._keys: np.ndarray | None = None
        self._norms: np.ndarray | None = None

    @classmethod
    def load(cls, spec: str | None = None) -> "WordSpace":
        """From a model spec as ``--model`` takes it (None = the bundled GloVe)."""
        return cls(load_word_vectors(spec))

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def keys(self) -> np.ndarray:
        """Row -> word (None for rows no word maps to, e.g. a duplicate entry)."""
        if self._keys is None:
            keys = np.full(len(self.model), None, dtype=object)
            for word, row in self.model.key_to_index.items():
                keys[row] = word
            self._keys = keys
        return self._keys

    @property
    def norms(self) -> np.ndarray:
        """Row norms (1 where a row is all zero, so its cosine comes out 0)."""
        if self._norms is None:
            vectors = self.model.vectors
            norms = np.empty(len(vectors), dtype=np.float32)
            for start in range(0, len(vectors), _BLOCK_ROWS):
                block = np.asarray(vectors[start : start + _BLOCK_ROWS], dtype=np.float32)
                norms[start : start + len(block)] = np.linalg.norm(block, axis=1)
            norms[norms == 0] = 1.0
            self._norms = norms
        return self._norms

    # -- looking words up ---------------------------------------------------------------

    def row(self, word: str) -> int | None:
        """The row of ``word`` as the indexer would look it up (case folded for lowercase models)."""
        vocab = self.model.key_to_index
        if self.model.lowercase:
            return vocab.get(word.lower())
        row = vocab.get(word)
        return vocab.get(word.lower()) if row is None else row

    def vector(self, word: str) -> np.ndarray:
        """The unit vector of ``word``; fastText models build one from subwords if needed."""
        row = self.row(word)
        if row is not None:
            vector = np.asarray(self.model.vectors[row], dtype=np.float32)
        else:
            vector = None
            if self.model.oov_vector is not None:
                vector = self.model.oov_vector(word.lower() if self.model.lowercase else word)
            if vector is None:
                hint = "" if self.model.oov_vector is None else " (and it has no known subwords)"
                raise UnknownWordError(
                    f"{word!r} is not in the vocabulary of {self.model.name} ({len(self.model):,} words){hint}"
                )
            vector = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(vector))
        if norm == 0:
            raise UnknownWordError(f"{word!r} has an all-zero vector in {self.model.name}")
        return vector / norm

    def knows(self, word: str) -> bool:
        """True when the word is in the vocabulary (not built from subwords)."""
        return self.row(word) is not None

    def similarity(self, a: str, b: str) -> float:
        return float(np.dot(self.vector(a), self.vector(b)))

    # -- queries ------------------------------------------------------------------------

    def cosines(self, query: np.ndarray, restrict: int | None = None) -> np.ndarray:
        """Cosine of every row (the first ``restrict`` rows) with a unit ``query``."""
        end = len(self.model) if not restrict else min(restrict, len(self.model))
        vectors = self.model.vectors
        out = np.empty(end, dtype=np.float32)
        query = np.asarray(query, dtype=np.float32)
        for start in range(0, end, _BLOCK_ROWS):
            stop = min(end, start + _BLOCK_ROWS)
            out[start:stop] = np.asarray(vectors[start:stop], dtype=np.float32) @ query
        out /= self.norms[:end]
        return out

    def _top(self, scores: np.ndarray, k: int, exclude: Sequence[str]) -> list[Neighbour]:
        """Best k rows by score, skipping the input words (in any letter case) and unmapped rows."""
        excluded = {w.lower() for w in exclude}
        keys = self.keys
        fetch = min(len(scores), k + len(exclude) + 8)
        while True:
            if fetch < len(scores):
                best = np.argpartition(-scores, fetch - 1)[:fetch]
            else:
                best = np.arange(len(scores))
            best = best[np.argsort(-scores[best], kind="stable")]
            out = []
            for row in best.tolist():
                word = keys[row]
                if word is None or word.lower() in excluded:
                    continue
                out.append(Neighbour(word, float(scores[row])))
                if len(out) == k:
                    return out
            if fetch >= len(scores):
                return out
            fetch = min(len(scores), fetch * 4)

    def nearest(self, words: str | Sequence[str], k: int = 10, restrict: int | None = None) -> list[Neighbour]:
        """The k words closest to a word (or to the mean of several), inputs excluded."""
        words = [words] if isinstance(words, str) else list(words)
        _check_k(k)
        query = np.mean([self.vector(w) for w in words], axis=0)
        query /= np.linalg.norm(query) or 1.0
        return self._top(self.cosines(query, restrict), k, words)

    def analogy(
        self, a: str, b: str, c: str, k: int = 10, restrict: int | None = None, method: str = "add"
    ) -> list[Neighbour]:
        """Words x with a - b + c ≈ x ("king man woman" -> queen), inputs excluded.

        ``add`` (3CosAdd, as word2vec and gensim's ``most_similar``): cosine of x with
        the normalised a - b + c of unit vectors. ``mul`` (3CosMul, Levy & Goldberg
        2014): cos'(x,a)·cos'(x,c) / (cos'(x,b) + 0.001) with cos' = (cos + 1) / 2,
        which keeps one large similarity from dominating.
        """
        _check_k(k)
        if method not in ANALOGY_METHODS:
            raise ValueError(f"unknown analogy method {method!r} (choose from {', '.join(ANALOGY_METHODS)})")
        va, vb, vc = self.vector(a), self.vector(b), self.vector(c)
        if method == "add":
            query = (va - vb + vc) / 3.0
            query /= np.linalg.norm(query) or 1.0
            scores = self.cosines(query, restrict)
        else:
            pa, pb, pc = ((self.cosines(v, restrict) + 1.0) / 2.0 for v in (va, vb, vc))
            scores = pa * pc / (pb + 0.001)
        return self._top(scores, k, [a, b, c])


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError("k must be at least 1")


def word_space_for_collection(collection) -> WordSpace:
    """The word model behind a collection (only static word-vector collections have one)."""
    from ...indexer.embedders.static import StaticEmbedder

    embedder = collection.embedder
    if not isinstance(embedder, StaticEmbedder):
        raise WordSpaceError(
            f"collection {collection.name!r} uses the {embedder.spec.get('kind')} embedder, which has no "
            "word vectors to explore; use --model with a word-vector model instead"
        )
    return WordSpace(embedder.model)


__all__ = ["ANALOGY_METHODS", "Neighbour", "UnknownWordError", "WordSpace", "WordSpaceError", "word_space_for_collection"]
