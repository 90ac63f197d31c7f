"""Transformer embedder: sentence-transformers-style models on ONNX Runtime.

A text's vector is the model's token vectors averaged over the attention mask
and L2-normalised (sentence-transformers' ``Pooling(mean)`` + ``Normalize``,
the recipe of all-MiniLM-L6-v2 and most of its kin). Texts are tokenised with
the model's own ``tokenizer.json`` (Hugging Face ``tokenizers``) and cut to its
window; collections chunk documents in the model's word pieces so a chunk never
is (see :class:`indexer.chunking.ChunkingSpec`).

Speed and memory: texts are sorted by length and cut into batches of similar
lengths (little padding), at most ``MAX_BATCH_TEXTS`` texts and
``MAX_BATCH_TOKENS`` padded tokens each; one ORT session uses every core
(intra-op threads). ORT's memory arena stays on: it grows to what the largest
allowed batch needs and is reused, which the token limit bounds (peak RSS of
indexing ~0.6 GB, bench/bench_transformer.py); without it every call maps and
faults fresh pages (measured: ~25% more CPU, and no lower peak).

onnxruntime and tokenizers are imported only when a transformer collection is
built or queried; importing this module costs nothing.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Sequence

import numpy as np

from ...errors import ModelMismatchError
from ..cache import file_fingerprint
from ..chunking import ChunkingSpec
from .base import Embedder, EmbedderError, Embeddings, normalise_rows
from .batching import env_int, length_batches
from .transformer_files import DEFAULT_MODEL, INSTALL_HINT, ModelFiles, is_default, model_files

POOLING = "mean"
#: Texts per ORT call: past a few dozen, a CPU gains nothing from larger batches.
MAX_BATCH_TEXTS = 64
#: Padded tokens per ORT call: bounds working memory (attention alone is
#: texts x heads x width^2 floats: 8 x 12 x 256^2 x 4 B = 25 MB a tensor at full
#: width). 4096 cost as much CPU and ~400 MB more peak memory.
MAX_BATCH_TOKENS = 2048
#: Names of the token-vector output, in order of preference.
TOKEN_OUTPUTS = ("last_hidden_state", "token_embeddings")


def import_runtime():
    """(onnxruntime, tokenizers), or a one-line error saying what to install."""
    try:
        import onnxruntime
        import tokenizers
    except ImportError as exc:
        raise EmbedderError(f"the transformer embedder needs onnxruntime and tokenizers "
                            f"({exc.name or exc} is missing): {INSTALL_HINT}") from None
    return onnxruntime, tokenizers


class _Model:
    """A loaded ONNX session and tokenizer (one per model file per process)."""

    def __init__(self, files: ModelFiles, threads: int | None = None):
        ort, tokenizers = import_runtime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or env_int("VECDEX_ORT_THREADS") or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # On (see the module docstring): bounded by MAX_BATCH_TOKENS, and cheaper.
        options.enable_cpu_mem_arena = True
        options.log_severity_level = 3  # no warnings on the CLI's stderr
        try:
            self.session = ort.InferenceSession(str(files.onnx), sess_options=options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - ORT raises its own types for a bad file
            raise EmbedderError(f"cannot load the ONNX model {files.onnx}: {str(exc).splitlines()[0]}") from None
        try:
            # Two tokenizers: one cut to the window (embedding), one whole (chunk budgets).
            self.tokenizer = tokenizers.Tokenizer.from_file(str(files.tokenizer))
            self.span_tokenizer = tokenizers.Tokenizer.from_file(str(files.tokenizer))
        except Exception as exc:  # noqa: BLE001
            raise EmbedderError(f"cannot read the tokenizer {files.tokenizer}: {str(exc).splitlines()[0]}") from None
        self.tokenizer.no_padding()  # padding is ours, per length-sorted batch
        self.tokenizer.enable_truncation(max_length=files.window)
        self.span_tokenizer.no_padding()
        self.span_tokenizer.no_truncation()
        self.specials = self.tokenizer.num_special_tokens_to_add(is_pair=False)
        inputs = {i.name for i in self.session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= inputs:
            raise EmbedderError(f"{files.onnx} does not take input_ids and attention_mask: not a transformer encoder")
        self.token_types = "token_type_ids" in inputs
        outputs = self.session.get_outputs()
        named = [o for name in TOKEN_OUTPUTS for o in outputs if o.name == name]
        ranked = named or [o for o in outputs if len(o.shape or ()) == 3]
        if not ranked:
            raise EmbedderError(f"{files.onnx} has no token-vector output ([batch, tokens, dim])")
        self.output = ranked[0].name
        width = ranked[0].shape[-1]
        self.dimension = int(width) if isinstance(width, int) else int(self.run_ids([[0, 0]])[0].shape[-1])

    def run_ids(self, id_lists: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Token vectors [b, t, d] of a padded batch, and its mask [b, t]."""
        width = max(len(ids) for ids in id_lists)
        ids = np.zeros((len(id_lists), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, token_ids in enumerate(id_lists):
            ids[row, : len(token_ids)] = token_ids
            mask[row, : len(token_ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self.token_types:
            feeds["token_type_ids"] = np.zeros_like(ids)
        (hidden,) = self.session.run([self.output], feeds)
        return hidden, mask


_models: dict[tuple[str, str], _Model] = {}
_models_lock = threading.Lock()


def _load_model(files: ModelFiles, fingerprint: str) -> _Model:
    key = (str(files.onnx), fingerprint)
    with _models_lock:
        if key not in _models:
            _models[key] = _Model(files)
        return _models[key]


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of each row's token vectors over its attention mask."""
    weights = mask.astype(np.float32)[..., None]
    counts = np.maximum(weights.sum(axis=1), 1e-9)
    return (hidden * weights).sum(axis=1) / counts


class TransformerEmbedder(Embedder):
    """Mean-pooled, L2-normalised token vectors of an ONNX transformer encoder."""

    kind = "transformer"
    parallel_safe = False  # one ORT session already uses every core
    contextual = True
    # The tokenizer and the window change the vectors as much as the weights do.
    model_keys = Embedder.model_keys + ("tokenizer_fingerprint", "window")
    # MiniLM's cosines rank well on their own: the global hybrid default (BM25 weighted
    # 3 to 1) drowns them; score 1:1 was best on bench/quality.py's tasks.
    default_ranking = {"fusion": "score", "lexical_weight": 1.0}
    # ~200 KB of text per indexing batch: a few seconds of MiniLM work on 2 cores,
    # so the progress bar moves and a crash loses little; enough texts for
    # length-sorting to find batches of equal length.
    batch_bytes = 200_000

    def __init__(self, spec: dict[str, Any], model: _Model, *, max_batch_texts: int | None = None,
                 max_batch_tokens: int | None = None, sort_by_length: bool = True):
        super().__init__(spec)
        self.model = model
        self.sort_by_length = sort_by_length
        self.max_batch_texts = max(1, max_batch_texts or env_int("VECDEX_ORT_BATCH_TEXTS") or MAX_BATCH_TEXTS)
        self.max_batch_tokens = max(1, max_batch_tokens or env_int("VECDEX_ORT_BATCH_TOKENS") or MAX_BATCH_TOKENS)

    @property
    def default_chunking(self) -> ChunkingSpec:
        """Chunks of whole sentences filling the model's window, counted in its own tokens."""
        return ChunkingSpec(max_tokens=self.max_chunk_tokens, unit="budget", tokens="model")

    @property
    def max_chunk_tokens(self) -> int:
        """The window less the special tokens ([CLS], [SEP]) the tokenizer adds."""
        return int(self.spec["window"]) - self.model.specials

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_options(cls, model: str | None = None, pooling: str | None = None,
                     max_batch_texts: int | None = None, max_batch_tokens: int | None = None,
                     sort_by_length: bool = True, **_: Any) -> "TransformerEmbedder":
        """A new embedder from ``--model`` (the built-in all-MiniLM-L6-v2 or a local folder)."""
        if pooling not in (None, POOLING):
            raise EmbedderError(f"the transformer embedder pools with mean only, not {pooling!r}")
        files = model_files(model)
        fingerprint, tokenizer_fingerprint = _fingerprints(files)
        loaded = _load_model(files, fingerprint)
        spec = {
            "kind": cls.kind,
            "model": files.name,
            "fingerprint": fingerprint,
            "tokenizer_fingerprint": tokenizer_fingerprint,
            "dimension": loaded.dimension,
            "pooling": POOLING,
            "normalize": True,
            "window": files.window,
        }
        return cls(spec, loaded, max_batch_texts=max_batch_texts, max_batch_tokens=max_batch_tokens,
                   sort_by_length=sort_by_length)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "TransformerEmbedder":
        """Rebuild the embedder a collection was made with; refuse changed model files."""
        files = model_files(None if spec["model"] == DEFAULT_MODEL else spec["model"])
        fingerprint, tokenizer_fingerprint = _fingerprints(files)
        changed = [what for what, now, then in (("ONNX model", fingerprint, spec["fingerprint"]),
                                                ("tokenizer", tokenizer_fingerprint, spec["tokenizer_fingerprint"]))
                   if now != then]
        if changed:
            raise ModelMismatchError(
                f"the {' and '.join(changed)} of {spec['model']} {'is' if len(changed) == 1 else 'are'} not the "
                "one(s) this collection was built with (fingerprints differ); re-index into a new collection "
                "to use it"
            )
        return cls(spec, _load_model(files, fingerprint))

    # -- tokens ------------------------------------------------------------------------

    def tokenize(self, text: str) -> list[str]:
        return self.model.span_tokenizer.encode(text, add_special_tokens=False).tokens

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [tuple(o) for o in self.model.span_tokenizer.encode(text, add_special_tokens=False).offsets]

    # -- vectors -----------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> Embeddings:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        known = np.zeros(len(texts), dtype=bool)
        if not texts:
            return Embeddings(out, known)
        encodings = self.model.tokenizer.encode_batch(list(texts))
        id_lists = [e.ids for e in encodings]
        # A text with nothing but the special tokens (empty, or only characters the
        # tokenizer drops) has no vector of its own.
        has_tokens = [len(e.ids) > self.model.specials for e in encodings]
        lengths = [len(ids) if ok else 0 for ids, ok in zip(id_lists, has_tokens)]
        for batch in length_batches(lengths, self.max_batch_texts, self.max_batch_tokens, self.sort_by_length):
            batch = [i for i in batch if has_tokens[i]]
            if not batch:
                continue
            hidden, mask = self.model.run_ids([id_lists[i] for i in batch])
            out[batch] = mean_pool(hidden, mask)
            known[batch] = True
        return Embeddings(normalise_rows(out), known)

    def word_vectors(self, text: str) -> list[tuple[str, np.ndarray]]:
        """Each word of ``text`` with its contextual vector: the mean of its word
        pieces' token vectors (for ``vecdex compare``)."""
        encoding = self.model.tokenizer.encode(text)
        if len(encoding.ids) <= self.model.specials:
            return []
        hidden, _mask = self.model.run_ids([encoding.ids])
        pieces: dict[int, list[int]] = {}
        for position, word in enumerate(encoding.word_ids):
            if word is not None:
                pieces.setdefault(word, []).append(position)
        words = []
        for positions in pieces.values():
            start, end = encoding.offsets[positions[0]][0], encoding.offsets[positions[-1]][1]
            words.append((text[start:end], hidden[0, positions].mean(axis=0)))
        return words


def _fingerprints(files: ModelFiles) -> tuple[str, str]:
    return file_fingerprint([files.onnx]), file_fingerprint([files.tokenizer])


__all__ = ["TransformerEmbedder", "is_default", "length_batches", "mean_pool"]
