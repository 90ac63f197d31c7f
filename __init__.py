"""vecdex: an embedded semantic search engine and vector database.

    import vecdex
    with vecdex.Vecdex("notes.db") as vx:
        notes = vx.collection("notes", create=True)
        notes.add([("a", "The river bank flooded after the storm.", {"year": 2020})])
        for hit in notes.search("flooding", k=3):
            print(hit.id, hit.score, hit.snippet)

The public API is imported on first use, so ``vecdex --help`` and ``import vecdex``
stay instant (no numpy, SQLAlchemy or FAISS until a store is opened).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it (relative to this package). Nothing is imported
# at module level, not even the errors: pytest imports the checkout's own
# __init__.py for its package-level setup under the folder's name, which breaks a
# relative import when that name is not a package ("vecdex-main").
_LAZY = {
    **{name: ".errors" for name in ("ConfigError", "EmbedderError", "EvaluationError", "InputError",
                                    "ModelMismatchError", "QueryError", "StoreError", "VecdexError")},
    "Vecdex": ".search.engine",
    "Collection": ".search.engine",
    "Hit": ".search.engine",
    "default_db_path": ".search.engine",
    "Client": ".search.server.client",
}

if TYPE_CHECKING:
    from .errors import (ConfigError, EmbedderError, EvaluationError, InputError, ModelMismatchError, QueryError,
                         StoreError, VecdexError)
    from .search.engine import Collection, Hit, Vecdex, default_db_path
    from .search.server.client import Client


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vecdex' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["Client", "Collection", "ConfigError", "EmbedderError", "EvaluationError", "Hit", "InputError",
           "ModelMismatchError", "QueryError", "StoreError", "Vecdex", "VecdexError", "default_db_path"]
