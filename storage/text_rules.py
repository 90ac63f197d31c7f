"""What text a store keeps: no NUL characters, on either store.

PostgreSQL's ``text`` and ``jsonb`` cannot hold U+0000. SQLite can, but a store
must be movable (``vecdex copy``) and behave the same on both, and a NUL in a
document is almost always a binary file or broken input (files with NUL bytes
are already skipped as binary by the readers). So a document whose id, text or
metadata (keys or string values) holds one is refused on both stores, naming
the document, rather than silently changed: its content hash, its snippets and
what ``get`` returns stay exactly what was given for every document stored.
"""

from __future__ import annotations

import json
from typing import Any

NUL = "\x00"


def _nul_in_json(value: Any) -> bool:
    stack = [value]
    while stack:  # not recursive: metadata may be hostile
        item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and NUL in key:
                    return True
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def nul_field(ext_id: str, text: str, metadata: Any) -> str | None:
    """The part of a document holding a NUL character ("id", "text", "metadata"),
    or None. ``metadata``: a dict, or its JSON text (NUL escaped as ``\\u0000``)."""
    if NUL in ext_id:
        return "id"
    if NUL in text:
        return "text"
    if isinstance(metadata, str):
        if "\\u0000" not in metadata:  # json.dumps escapes NUL: the common case stops here
            return None
        metadata = json.loads(metadata)
    return "metadata" if _nul_in_json(metadata) else None


def nul_message(field: str) -> str:
    return f"its {field} holds a NUL character (\\x00), which no vecdex store keeps: remove it"
