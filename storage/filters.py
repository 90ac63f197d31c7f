"""Metadata filters as typed objects, and their compilation to SQLAlchemy expressions.

:mod:`search.filters` parses what users write (``year>=2020``) into
:class:`Filter` objects once per operation; here they become one boolean SQL
expression over a documents table's metadata column. Every user string (field
path and value) is a bound parameter: no SQL is built from user text, and no
table name or alias is pasted into SQL text. JSON access goes through a
:class:`~storage.sqlite.JsonAccess` (SQLite's JSON1 by default; each store
hands its own: :class:`~storage.postgres.PgJson` for PostgreSQL's jsonb), so
both dialects compile the same filter objects with identical semantics.

Semantics (the same as documented in :mod:`search.filters`): ``=`` matches a
string exactly, a number numerically (``2001`` = ``2001.0`` = ``"2001"``),
``true``/``false`` a boolean, and a list when any element matches; ``!=`` is
its negation (documents without the field match); ``<``, ``>``, ``<=``, ``>=``
compare numbers only; ``a.b`` reaches into nested objects.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Sequence

from sqlalchemy import ColumnElement, and_, false, func, literal_column, or_, select, true

from .sqlite import SQLITE_JSON, JsonAccess, as_number

EQUALITY = ("=", "!=")
COMPARISONS = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}
OPERATORS = ("!=", "<=", ">=", "=", "<", ">")  # longest first: the order a parser tries them


@dataclass(frozen=True)
class Filter:
    """One condition on a metadata field, with its value read every way it can match.

    ``value`` is what the caller gave (a string from the command line, any JSON
    scalar from the API); ``number``, ``truth`` and ``text`` are that value as a
    number, a boolean and a string (None where it cannot be one).
    """

    field: str
    op: str
    value: Any
    path: tuple[str, ...] = field(init=False, repr=False)
    number: float | None = field(init=False, repr=False)
    truth: bool | None = field(init=False, repr=False)
    text: str | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ValueError(f"unknown filter operator {self.op!r}")
        value = self.value
        truth = value if isinstance(value, bool) else (
            value.lower() == "true" if isinstance(value, str) and value.lower() in ("true", "false") else None)
        object.__setattr__(self, "path", tuple(p for p in self.field.split(".") if p) or (self.field,))
        object.__setattr__(self, "number", as_number(value))
        object.__setattr__(self, "truth", truth)
        object.__setattr__(self, "text", None if value is None or isinstance(value, bool) else str(value))
        if self.op in COMPARISONS and self.number is None:
            raise ValueError(f"filter {self.field}{self.op}{value!r}: {self.op} needs a number")


def filter_clause(filters: Sequence[Filter], metadata: ColumnElement, json: JsonAccess = SQLITE_JSON) -> ColumnElement:
    """One boolean expression for all ``filters`` ANDed, over the ``metadata`` JSON column."""
    if not filters:
        return true()
    return and_(*(_clause(flt, metadata, json) for flt in filters))


def _clause(flt: Filter, metadata: ColumnElement, json: JsonAccess) -> ColumnElement:
    path = json.path(flt.path)
    if flt.op in COMPARISONS:
        return COMPARISONS[flt.op](json.number_at(metadata, path), flt.number)
    equal = _equality(flt, metadata, path, json)
    if flt.op == "=":
        return equal
    # NULL (a missing field, a NULL compared) counts as "not equal".
    return func.coalesce(equal.self_group(), false()) == false()


def _equality(flt: Filter, metadata: ColumnElement, path: str, json: JsonAccess) -> ColumnElement:
    """True when the field equals the filter's value: as a scalar, or any element of a list."""
    kind = json.type_of(metadata, path)
    elements = json.elements(metadata, path)
    scalar, element = [], []
    if flt.truth is not None:
        name = json.TRUE if flt.truth else json.FALSE
        scalar.append(kind == name)
        element.append(elements.c.type == name)
    if flt.number is not None:
        scalar.append(json.number_at(metadata, path) == flt.number)
        element.append(json.element_number(elements) == flt.number)
    if flt.text is not None:
        scalar.append(and_(kind == json.TEXT, json.value(metadata, path) == flt.text))
        element.append(and_(elements.c.type == json.TEXT, elements.c.value == flt.text))
    if not scalar:  # None: equal to nothing (as SQL's = NULL)
        return false()
    in_list = (select(literal_column("1")).select_from(elements).where(or_(*element))
               .correlate(metadata.table).exists())
    return or_(*scalar, and_(kind == json.ARRAY, in_list))

