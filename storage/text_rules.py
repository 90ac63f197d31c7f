"""What a store keeps of a document: text without NUL characters, metadata that is JSON.

PostgreSQL's ``text`` and ``json`` cannot hold U+0000, nor can JSON spell NaN or
Infinity (Python's ``json`` writes them, SQLite would keep them, PostgreSQL
refuses them). A store must be movable (``vecdex copy``) and behave the same on
both, and a NUL in a document is almost always a binary file or broken input
(files with NUL bytes are already skipped as binary by the readers). So a
document whose id, text or metadata (keys or string values) holds a NUL, or
whose metadata holds a non-finite number, is refused on both stores, naming the
document, rather than silently changed: its content hash, its snippets and what
``get`` returns stay exactly what was given for every document stored.
"""

from __future__ import annotations

import json
import math
from typing import Any

NUL = "\x00"


class _NotJson(ValueError):
    pass


def _metadata_problem(value: Any) -> str | None:
    stack = [value]
    while stack:  # not recursive: metadata may be hostile
        item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return _nul("metadata")
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"its metadata holds {item!r}, which is not JSON: use null or a string"
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and NUL in key:
                    return _nul("metadata")
                stack.append(child)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return None


def _nul(field: str) -> str:
    return f"its {field} holds a NUL character (\\x00), which no vecdex store keeps: remove it"


def _refuse_constant(name: str) -> Any:
    raise _NotJson(name)


def document_problem(ext_id: str, text: str, metadata: Any) -> str | None:
    """Why a store would refuse this document (one line), or None.
    ``metadata``: a dict, or its JSON text (NUL escaped as ``\\u0000``)."""
    if NUL in ext_id:
        return _nul("id")
    if NUL in text:
        return _nul("text")
    if isinstance(metadata, str):
        # json.dumps escapes NUL and spells NaN/Infinity bare: the common case stops here
        if "\\u0000" not in metadata and "NaN" not in metadata and "Infinity" not in metadata:
            return None
        try:
            metadata = json.loads(metadata, parse_constant=_refuse_constant)
        except _NotJson as exc:
            return f"its metadata holds {exc}, which is not JSON: use null or a string"
    return _metadata_problem(metadata)
