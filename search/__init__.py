"""vecdex's Python API and query engine (installed as ``vecdex.search``).

    import vecdex
    with vecdex.Vecdex("notes.db") as vx:
        notes = vx.collection("notes", create=True)
        notes.add([("a", "The river bank flooded after the storm.", {"year": 2020})])
        print(notes.search("flooding", k=3))

The names below are imported on first use, so the CLI's command modules (in
``search/commands``) load without numpy, SQLAlchemy or FAISS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ModelMismatchError, QueryError

if TYPE_CHECKING:
    from .engine import Collection, Hit, Vecdex, default_db_path

_LAZY = {"Collection", "Hit", "Vecdex", "default_db_path"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import engine

        value = getattr(engine, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vecdex.search' has no attribute {name!r}")


__all__ = ["Collection", "Hit", "ModelMismatchError", "QueryError", "Vecdex", "default_db_path"]
