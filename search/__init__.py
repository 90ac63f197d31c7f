"""vecdex's Python API. See :mod:`search.engine`.

    from vecdex import Vecdex
    with Vecdex("notes.db") as vx:
        notes = vx.collection("notes", create=True)
        notes.add([("a", "The river bank flooded after the storm.", {"year": 2020})])
        print(notes.search("flooding", k=3))

The engine is imported on first use, so importing a light submodule (the server's
command definitions, the HTTP client) does not load numpy, SQLAlchemy and FAISS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

_ENGINE_NAMES = ("Collection", "Hit", "ModelMismatchError", "QueryError", "Vecdex", "default_db_path")

if TYPE_CHECKING:
    from .engine import Collection, Hit, ModelMismatchError, QueryError, Vecdex, default_db_path


def __getattr__(name: str) -> Any:
    if name in _ENGINE_NAMES:
        from . import engine

        value = getattr(engine, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vecdex.search' has no attribute {name!r}")


__all__ = list(_ENGINE_NAMES)
