"""The user cache: fast-loading copies of word-vector models and file fingerprints.

Everything here is derived data: deleting the cache folder only costs time.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable

from ..storage.files import atomic_write_bytes


def cache_dir() -> Path | None:
    """``$VECDEX_CACHE_DIR``, else ``$XDG_CACHE_HOME/vecdex``, else ``~/.cache/vecdex``.

    Returns None when no such folder can be created (the caller then works
    without a cache, only slower).
    """
    configured = os.environ.get("VECDEX_CACHE_DIR")
    if configured:
        root = Path(configured)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = Path(base) / "vecdex"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return root if os.access(root, os.W_OK) else None


def _stat_key(paths: Iterable[Path]) -> str:
    parts = []
    for path in paths:
        st = path.stat()
        parts.append(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}")
    return "\n".join(parts)


def file_fingerprint(paths: Iterable[Path]) -> str:
    """sha256 over the files' bytes, remembered in the cache by path, size and mtime.

    The first call on a model reads it once; later calls cost a ``stat``.
    """
    paths = [Path(p) for p in paths]
    key = _stat_key(paths)
    root = cache_dir()
    memo_path = root / "fingerprints.json" if root else None
    memo: dict[str, str] = {}
    if memo_path and memo_path.exists():
        try:
            memo = json.loads(memo_path.read_text("utf-8"))
        except (OSError, ValueError):
            memo = {}
    if key in memo:
        return memo[key]
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    fingerprint = "sha256:" + digest.hexdigest()
    if memo_path:
        memo[key] = fingerprint
        try:
            atomic_write_bytes(memo_path, json.dumps(memo, indent=0).encode("utf-8"))
        except OSError:
            pass
    return fingerprint
