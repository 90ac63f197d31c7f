"""What is SQLite-specific about filtering metadata: the ``vx_num`` SQL function
and the JSON1 functions filters are compiled with.

:mod:`storage.filters` writes each filter once, in terms of the small
:class:`JsonAccess` interface below; another database (PostgreSQL's ``jsonb``
functions) implements the same few methods, and the filter logic stays shared.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

from sqlalchemy import ColumnElement, FromClause, func


def as_number(value: Any) -> float | None:
    """A metadata value as a number, or None. Registered as the SQL function
    ``vx_num`` so filters compare numbers the same way in Python and in SQL."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if not text or not (text[0].isdigit() or text[0] in "+-."):
        return None  # a word: no finite number starts like this (and float()'s exception costs ~2 us)
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def register_functions(connection: sqlite3.Connection) -> None:
    """SQL functions every connection that runs filters needs."""
    connection.create_function("vx_num", 1, as_number, deterministic=True)


class JsonAccess:
    """JSON functions over a metadata column, as SQLAlchemy expressions (SQLite's JSON1).

    Type names are JSON1's: ``true``, ``false``, ``text``, ``array`` (and
    ``integer``, ``real``, ``null``, ``object``).
    """

    TRUE, FALSE, TEXT, ARRAY = "true", "false", "text", "array"

    @staticmethod
    def path(parts: tuple[str, ...]) -> str:
        """``("a", "b")`` -> ``$."a"."b"`` with quotes escaped (bound as a parameter)."""
        return "$" + "".join('."' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in parts)

    @staticmethod
    def type_of(column: ColumnElement, path: str) -> ColumnElement:
        """The JSON type name of the value at ``path`` (NULL when absent)."""
        return func.json_type(column, path)

    @staticmethod
    def value(column: ColumnElement, path: str) -> ColumnElement:
        """The SQL value at ``path`` (text, number, or NULL)."""
        return func.json_extract(column, path)

    @staticmethod
    def number_at(column: ColumnElement, path: str) -> ColumnElement:
        """The value at ``path`` as a number the way :func:`as_number` reads it (NULL if not one)."""
        return func.vx_num(func.json_extract(column, path))

    @staticmethod
    def element_number(elements: FromClause) -> ColumnElement:
        """An array element (a row of :meth:`elements`) as a number, like :meth:`number_at`."""
        return func.vx_num(elements.c.value)

    @staticmethod
    def elements(column: ColumnElement, path: str) -> FromClause:
        """The elements of the array at ``path``: a FROM with columns ``value`` and ``type``."""
        return func.json_each(column, path).table_valued("value", "type")


SQLITE_JSON = JsonAccess()
