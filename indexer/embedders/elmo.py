"""ELMo embedder: contextual token vectors from a TF Hub module, pooled per sentence.

A text's vector is the mean (or max) over its real tokens of the module's ``elmo``
output (its learned mix of the three layers) or of a chosen layer / user weights
over ``word_emb``, ``lstm_outputs1`` and ``lstm_outputs2``. We tokenise ourselves
and feed the ``tokens`` signature (tokens + lengths), so padding and tokenisation
are exact; modules without it get the same tokens space-joined through ``default``.

Speed: texts are sorted by length and cut into batches of similar lengths
(bucketing, :mod:`indexer.embedders.batching`), so little time goes into padding;
vectors come back in input order.

TensorFlow is imported only in :func:`import_tensorflow`, i.e. when an ELMo collection
is built or queried; importing this module costs nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import sys
import threading
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from ..cache import file_fingerprint
from ..chunking import ChunkingSpec
from .base import Embedder, EmbedderError, Embeddings, normalise_rows
from .batching import (  # noqa: F401  (re-exported: the cost model bench/bench_elmo.py fits)
    CALL_COST_TOKENS,
    STEP_COST_TOKENS,
    batch_cost,
    bucket_batches,
    env_int,
    length_batches,
)

DEFAULT_HANDLE = "https://tfhub.dev/google/elmo/3"
LAYERS = ("word_emb", "lstm_outputs1", "lstm_outputs2")
POOLINGS = ("mean", "max")
TOKENIZER_NAME = "elmo-words-punct-v1"
# Sentences per batch. Memory is bounded by MAX_BATCH_TOKENS, so this only lets
# short sentences share a batch: past ~64 sentences a batch's cost per token stops
# falling (bench/bench_elmo.py --fit-cost).
DEFAULT_BATCH_SIZE = 128
# Padded tokens per batch: bounds memory for long sentences (a real-size ELMo keeps
# ~16k floats per token per LSTM layer and direction while it runs; peak RSS with
# 2048 was ~2.3 GB, with 4096 ~3 GB).
MAX_BATCH_TOKENS = 2048
MAX_TOKENS_PER_TEXT = 128  # longer texts are cut (chunking keeps sentences shorter)
CONNECT_TIMEOUT_S = 5.0
DOWNLOAD_SOCKET_TIMEOUT_S = 60.0
INSTALL_HINT = "pip install 'vecdex[elmo]'"

# Words (with inner apostrophes/hyphens) and single punctuation marks: ELMo was
# trained on tokenised text where punctuation is a token of its own.
_TOKEN_RE = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*|[^\w\s]")


def elmo_tokens(text: str) -> list[str]:
    """ELMo's tokens of ``text``: words and punctuation marks, case kept."""
    return _TOKEN_RE.findall(text)


@dataclass(frozen=True)
class LayerMix:
    """What is pooled: the module's ``elmo`` output, or weights over its layers."""

    weights: tuple[tuple[str, float], ...] = ()  # empty = the module's own "elmo" mix

    @classmethod
    def parse(cls, value: "str | Mapping[str, float] | Sequence[float] | None") -> "LayerMix":
        """From "elmo", a layer name, "w0,w1,w2", a list of 3 weights or a {layer: weight} map."""
        if value is None or value == "elmo":
            return cls()
        if isinstance(value, str):
            if value in LAYERS:
                return cls(((value, 1.0),))
            try:
                value = [float(v) for v in value.split(",")]
            except ValueError:
                raise EmbedderError(
                    f"unknown ELMo layer {value!r}: use elmo, {', '.join(LAYERS)}, or three weights like 0.2,0.3,0.5"
                ) from None
        if isinstance(value, Mapping):
            unknown = [k for k in value if k not in LAYERS]
            if unknown:
                raise EmbedderError(f"unknown ELMo layer(s) {', '.join(map(repr, unknown))} (choose from {', '.join(LAYERS)})")
            pairs = [(k, float(value[k])) for k in LAYERS if k in value]
        else:
            values = [float(v) for v in value]
            if len(values) != len(LAYERS):
                raise EmbedderError(f"ELMo layer weights need {len(LAYERS)} numbers ({', '.join(LAYERS)}), got {len(values)}")
            pairs = list(zip(LAYERS, values))
        pairs = [(k, w) for k, w in pairs if w != 0.0]
        if not pairs or any(not np.isfinite(w) for _, w in pairs):
            raise EmbedderError("ELMo layer weights must be finite and not all zero")
        return cls(tuple(pairs))

    @property
    def outputs(self) -> list[str]:
        return [k for k, _ in self.weights] if self.weights else ["elmo"]

    def to_spec(self) -> Any:
        return "elmo" if not self.weights else dict(self.weights)

    def combine(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """Per-token vectors [b, t, d] from the fetched outputs."""
        if not self.weights:
            return arrays["elmo"]
        width = max(arrays[k].shape[-1] for k, _ in self.weights)
        total = None
        for name, w in self.weights:
            layer = arrays[name]
            if layer.shape[-1] != width:
                # word_emb is half as wide as the LSTM layers: doubled, as ELMo's own mix does.
                layer = np.concatenate([layer] * (width // layer.shape[-1]), axis=-1)
            total = w * layer if total is None else total + w * layer
        return total


# -- TensorFlow, loaded on demand ----------------------------------------------------------


@contextmanager
def native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for a while.

    TensorFlow's C++ side prints start-up chatter (oneDNN, CUDA probing) straight
    to fd 2 before its log settings apply, which would bury the CLI's one-line
    messages. Python exceptions are unaffected. ``VECDEX_TF_LOGS=1`` keeps it all.
    """
    if os.environ.get("VECDEX_TF_LOGS"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):
        yield
        return
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow():
    """(tensorflow, tensorflow_hub), or a one-line error saying what to install."""
    if "tensorflow_hub" in sys.modules:
        return sys.modules["tensorflow"], sys.modules["tensorflow_hub"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep C++ start-up chatter off the CLI
    try:
        with native_stderr_silenced():
            import tensorflow as tf
            import tensorflow_hub as hub
    except ImportError as exc:
        raise EmbedderError(f"the ELMo embedder needs TensorFlow and TensorFlow Hub ({exc.name or exc} is missing): "
                            f"{INSTALL_HINT}") from None
    return tf, hub


def _configure_threads(tf, threads: int | None) -> None:
    if not threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(min(2, int(threads)))
    except RuntimeError:
        pass  # TF already started in this process: its thread pools are fixed now


def is_url(handle: str) -> bool:
    return handle.startswith(("http://", "https://", "gs://"))


def hub_cache_dir() -> Path:
    """Where tensorflow_hub keeps downloaded modules (its rule, without importing it)."""
    configured = os.environ.get("TFHUB_CACHE_DIR")
    if configured:
        return Path(configured)
    import tempfile

    return Path(tempfile.gettempdir()) / "tfhub_modules"


def cached_module_dir(handle: str) -> Path:
    """tensorflow_hub's cache folder for a URL handle: sha1 hex of the handle string."""
    return hub_cache_dir() / hashlib.sha1(handle.encode("utf8")).hexdigest()


def _reachable(url: str, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """None if a TCP connection to the URL's host opens within ``timeout``, else why not.

    Runs in a daemon thread so a hanging DNS lookup cannot hang us either.
    """
    parsed = urllib.parse.urlparse(url)
    proxy = urllib.request.getproxies().get(parsed.scheme)
    if proxy and not urllib.request.proxy_bypass(parsed.hostname or ""):
        parsed = urllib.parse.urlparse(proxy if "://" in proxy else f"http://{proxy}")  # urllib goes through it
    host = parsed.hostname or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(str(exc) or type(exc).__name__)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout + 1.0)
    return outcome[0] if outcome else f"no answer within {timeout:.0f} s"


def resolve_handle(handle: str) -> Path:
    """A local SavedModel folder for ``handle`` (a folder, or a cached/downloadable URL)."""
    if not is_url(handle):
        path = Path(handle).expanduser()
        if not path.is_dir():
            raise EmbedderError(f"no ELMo model at {handle}: give a TF Hub URL or a SavedModel folder")
        return path
    cached = cached_module_dir(handle)
    if cached.is_dir() and any(cached.iterdir()):
        return cached
    # Not cached. tensorflow_hub would block on the network without a timeout, so
    # make sure the host answers before letting it download.
    why = _reachable(handle) if handle.startswith("http") else None
    if why is not None:
        raise EmbedderError(
            f"cannot load {handle}: it is not in the TF Hub cache ({cached}) and the host is unreachable ({why}). "
            f"Download the model elsewhere and pass its folder with --model /path/to/elmo, or unpack it "
            f"into $TFHUB_CACHE_DIR/{cached.name}"
        )
    _tf, hub = import_tensorflow()
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_SOCKET_TIMEOUT_S)  # a stalled download fails instead of hanging
    try:
        return Path(hub.resolve(handle))
    except Exception as exc:  # noqa: BLE001 - network/HTTP/tar errors all mean "could not fetch"
        raise EmbedderError(f"could not download {handle}: {exc}") from None
    finally:
        socket.setdefaulttimeout(previous)


def model_fingerprint(folder: Path) -> str:
    """sha256 over saved_model.pb and the variables files (memoised by size and mtime)."""
    files = [folder / "saved_model.pb"] + sorted((folder / "variables").glob("*"))
    files = [f for f in files if f.is_file()]
    if not files or files[0].name != "saved_model.pb":
        raise EmbedderError(f"{folder} is not a TensorFlow SavedModel (no saved_model.pb)")
    return file_fingerprint(files)


class _Module:
    """A loaded SavedModel and the signature we call (``tokens`` or ``default``)."""

    def __init__(self, folder: Path):
        tf, hub = import_tensorflow()
        self.tf = tf
        try:
            with native_stderr_silenced():
                self.obj = hub.load(str(folder))
        except Exception as exc:  # noqa: BLE001 - TF raises many types for a bad model folder
            raise EmbedderError(f"cannot load the SavedModel at {folder}: {str(exc).splitlines()[0]}") from None
        signatures = getattr(self.obj, "signatures", {})
        if "tokens" in signatures:
            self.signature = "tokens"
        elif "default" in signatures:
            self.signature = "default"
        else:
            raise EmbedderError(f"{folder} has neither a 'tokens' nor a 'default' signature: not an ELMo module")
        self.fn = signatures[self.signature]
        _args, kwargs = self.fn.structured_input_signature
        self._default_input = next(iter(kwargs)) if self.signature == "default" else None
        self.output_dims = {
            name: (spec.shape[-1] if spec.shape.rank else None) for name, spec in self.fn.structured_outputs.items()
        }
        missing = [k for k in ("elmo", *LAYERS) if k not in self.output_dims]
        if missing:
            raise EmbedderError(f"{folder} lacks ELMo outputs {', '.join(missing)}: not a google/elmo/3-style module")
        with native_stderr_silenced():  # the first run prints more C++ chatter; also warms up
            self([["warm", "up", "."]], ["elmo"])

    def __call__(self, batch: list[list[str]], outputs: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Token vectors of a batch: ({output: [b, t, d]}, lengths [b])."""
        tf = self.tf
        lengths = np.array([len(t) for t in batch], dtype=np.int32)
        if self.signature == "tokens":
            width = int(lengths.max())
            padded = [t + [""] * (width - len(t)) for t in batch]
            result = self.fn(tokens=tf.constant(padded, dtype=tf.string), sequence_len=tf.constant(lengths))
        else:
            # Our tokens contain no spaces, so the module's split on spaces gives them back.
            result = self.fn(**{self._default_input: tf.constant([" ".join(t) for t in batch])})
            lengths = result["sequence_len"].numpy().astype(np.int32)
        return {name: result[name].numpy() for name in outputs}, lengths


_modules: dict[tuple[str, str], _Module] = {}


def _load_module(folder: Path, fingerprint: str) -> _Module:
    key = (str(folder.resolve()), fingerprint)
    if key not in _modules:
        _modules[key] = _Module(folder)
    return _modules[key]


class ElmoEmbedder(Embedder):
    """Mean- (or max-) pooled ELMo vectors over each text's real tokens."""

    kind = "elmo"
    parallel_safe = False  # one TF runtime uses both cores; worker processes would fight over them
    contextual = True
    # ELMo's context is the sentence: each sentence is a chunk of its own.
    default_chunking = ChunkingSpec(max_tokens=64, unit="sentence")
    # ~100 KB of text (~750 sentences) per indexing batch instead of 1 MB: ~20 s of
    # real-size ELMo work, so the progress bar moves and a crash loses little, while
    # batches stay large enough for bucketing to find sentences of equal length.
    batch_bytes = 100_000

    def __init__(self, spec: dict[str, Any], module: _Module, *, batch_size: int | None = None,
                 max_batch_tokens: int | None = None, bucket: bool = True):
        super().__init__(spec)
        self.module = module
        self.mix = LayerMix.parse(spec["layers"])
        self.pooling = spec["pooling"]
        self.batch_size = max(1, batch_size or env_int("VECDEX_ELMO_BATCH_SIZE") or DEFAULT_BATCH_SIZE)
        self.max_batch_tokens = max(1, max_batch_tokens or env_int("VECDEX_ELMO_BATCH_TOKENS") or MAX_BATCH_TOKENS)
        self.bucket = bucket

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_options(
        cls,
        model: str | None = None,
        layer: "str | Mapping[str, float] | Sequence[float] | None" = None,
        pooling: str = "mean",
        batch_size: int | None = None,
        max_batch_tokens: int | None = None,
        threads: int | None = None,
        bucket: bool = True,
        **_: Any,
    ) -> "ElmoEmbedder":
        """A new embedder from user options (``--model``, layer mix, pooling, batch size, threads)."""
        if pooling not in POOLINGS:
            raise EmbedderError(f"unknown pooling {pooling!r} for ELMo (choose from {', '.join(POOLINGS)})")
        mix = LayerMix.parse(layer)
        handle = model or DEFAULT_HANDLE
        if not is_url(handle):
            handle = str(Path(handle).expanduser().resolve())
        folder = resolve_handle(handle)
        fingerprint = model_fingerprint(folder)
        tf, _hub = import_tensorflow()
        _configure_threads(tf, threads or env_int("VECDEX_ELMO_THREADS"))
        module = _load_module(folder, fingerprint)
        spec = {
            "kind": cls.kind,
            "model": handle,
            "fingerprint": fingerprint,
            "dimension": _dimension(module, mix),
            "layers": mix.to_spec(),
            "pooling": pooling,
            "tokenizer": TOKENIZER_NAME,
            "max_tokens": MAX_TOKENS_PER_TEXT,
            "signature": module.signature,
        }
        return cls(spec, module, batch_size=batch_size, max_batch_tokens=max_batch_tokens, bucket=bucket)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "ElmoEmbedder":
        """Rebuild the embedder a collection was made with; refuse a changed model."""
        folder = resolve_handle(spec["model"])
        fingerprint = model_fingerprint(folder)
        if fingerprint != spec["fingerprint"]:
            raise EmbedderError(
                f"the ELMo model at {spec['model']} is not the one this collection was built with "
                f"(fingerprint {fingerprint[:19]}… vs {spec['fingerprint'][:19]}…); "
                "re-index into a new collection to use it"
            )
        tf, _hub = import_tensorflow()
        _configure_threads(tf, env_int("VECDEX_ELMO_THREADS"))
        return cls(spec, _load_module(folder, fingerprint))

    # -- tokens ------------------------------------------------------------------------

    def tokenize(self, text: str) -> list[str]:
        return elmo_tokens(text)[: int(self.spec.get("max_tokens", MAX_TOKENS_PER_TEXT))]

    # -- batching ----------------------------------------------------------------------

    def batches(self, lengths: Sequence[int]) -> Iterator[list[int]]:
        """Indices of the non-empty texts, grouped into batches.

        Every batch holds at most ``batch_size`` texts and ``max_batch_tokens``
        padded tokens (a longer text goes alone). With bucketing, texts are
        sorted by length and cut into the runs that minimise the predicted time
        (:func:`bucket_batches`); without, batches are consecutive texts in input
        order, each filled as far as the limits allow.
        """
        if self.bucket:
            yield from bucket_batches(lengths, self.batch_size, self.max_batch_tokens)
            return
        texts = [i for i, n in enumerate(lengths) if n > 0]
        for batch in length_batches([lengths[i] for i in texts], self.batch_size, self.max_batch_tokens, sort=False):
            yield [texts[j] for j in batch]

    def token_vectors(self, token_lists: Sequence[list[str]]) -> Iterator[tuple[list[int], list[np.ndarray]]]:
        """Per batch: the input indices and, for each, its [n_tokens, d] contextual vectors."""
        lengths = [len(t) for t in token_lists]
        for batch in self.batches(lengths):
            arrays, got = self.module([token_lists[i] for i in batch], self.mix.outputs)
            vectors = self.mix.combine(arrays)
            yield batch, [vectors[row, : got[row]] for row in range(len(batch))]

    def embed(self, texts: Sequence[str]) -> Embeddings:
        token_lists = [self.tokenize(t) for t in texts]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        known = np.zeros(len(texts), dtype=bool)
        for batch, per_text in self.token_vectors(token_lists):
            for i, vectors in zip(batch, per_text):
                if len(vectors) == 0:
                    continue
                out[i] = vectors.max(axis=0) if self.pooling == "max" else vectors.mean(axis=0)
                known[i] = True
        return Embeddings(normalise_rows(out), known)

    def word_vectors(self, text: str) -> list[tuple[str, np.ndarray]]:
        """Each token of ``text`` with its contextual vector (for ``vecdex compare``)."""
        tokens = self.tokenize(text)
        if not tokens:
            return []
        (_, [vectors]), = list(self.token_vectors([tokens]))
        return list(zip(tokens, np.asarray(vectors, dtype=np.float32)))


def _dimension(module: _Module, mix: LayerMix) -> int:
    dims = module.output_dims
    if any(dims.get(name) is None for name in mix.outputs):
        arrays, _ = module([["probe"]], mix.outputs)
        return int(mix.combine(arrays).shape[-1])
    return max(int(dims[name]) for name in mix.outputs)
