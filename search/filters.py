"""Metadata filters: ``field=value``, ``!=``, ``<``, ``>``, ``<=``, ``>=``.

What users write is parsed here, once per operation, into typed
:class:`~storage.filters.Filter` objects; :mod:`storage.filters` compiles them
to SQL (every user string a bound parameter). Semantics:

- ``=`` matches a string value exactly, or a number numerically (``year=2001``
  matches 2001, 2001.0 and "2001"), ``true``/``false`` match booleans, and a list
  value matches when any element does (``tags=news``).
- ``!=`` is the negation of ``=``; documents without the field match it.
- ``<``, ``>``, ``<=``, ``>=`` need a number and compare numerically; documents
  whose field is missing or not a number never match.
- ``a.b`` reaches into nested objects.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from ..errors import ConfigError
from ..storage.filters import OPERATORS, Filter

__all__ = ["OPERATORS", "Filter", "FilterError", "Where", "normalise_filters", "parse_filter"]

_FILTER_RE = re.compile(r"^\s*([^=!<>]+?)\s*(!=|<=|>=|=|<|>)\s*(.*?)\s*$", re.S)

#: Parsed filters, ANDed (empty: no filter).
Where = tuple[Filter, ...]


class FilterError(ConfigError):
    """A filter expression that cannot be understood."""


def _filter(field: str, op: str, value: Any, expression: str) -> Filter:
    if "\x00" in field or (isinstance(value, str) and "\x00" in value):
        # no store keeps NUL characters (storage/text_rules.py): it could match nothing
        raise FilterError(f"filter {expression!r} holds a NUL character (\\x00): remove it")
    try:
        return Filter(field, op, value)
    except ValueError:
        raise FilterError(f"filter {expression!r}: {op} needs a number, got {value!r}") from None


def parse_filter(expression: str) -> Filter:
    match = _FILTER_RE.match(expression)
    if not match or not match.group(1):
        raise FilterError(f"cannot read filter {expression!r}: write FIELD=VALUE (or !=, <, >, <=, >=)")
    field, op, value = match.groups()
    return _filter(field, op, value, expression)


def normalise_filters(where: str | Iterable[str | Filter] | Mapping[str, Any] | None) -> Where:
    """Accept CLI strings, a list of them (or of :class:`Filter`), or a ``{field: value}``
    dict (equality). Parsed filters pass through unchanged."""
    if where is None:
        return ()
    if isinstance(where, str):
        return (parse_filter(where),)
    if isinstance(where, Mapping):
        return tuple(_filter(str(k), "=", v, f"{k}={v!r}") for k, v in where.items())
    return tuple(item if isinstance(item, Filter) else parse_filter(str(item)) for item in where)

