"""vecdex's Python API. See :mod:`search.engine`.

    from vecdex import Vecdex
    with Vecdex("notes.db") as vx:
        notes = vx.collection("notes", create=True)
        notes.add([("a", "The river bank flooded after the storm.", {"year": 2020})])
        print(notes.search("flooding", k=3))
"""

from .engine import Collection, Hit, ModelMismatchError, QueryError, Vecdex, default_db_path

__all__ = ["Collection", "Hit", "ModelMismatchError", "QueryError", "Vecdex", "default_db_path"]
