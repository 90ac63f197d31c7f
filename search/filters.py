"""Metadata filters: ``field=value``, ``!=``, ``<``, ``>``, ``<=``, ``>=``.

Filters compile to SQL over the documents' JSON metadata with every user string
(field path and value) passed as a bound parameter: no SQL is built from user
text. Semantics:

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
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ..errors import ConfigError
from ..storage.store import as_number

OPERATORS = ("!=", "<=", ">=", "=", "<", ">")
_FILTER_RE = re.compile(r"^\s*([^=!<>]+?)\s*(!=|<=|>=|=|<|>)\s*(.*?)\s*$", re.S)


class FilterError(ConfigError):
    """A filter expression that cannot be understood."""


@dataclass(frozen=True)
class Filter:
    field: str
    op: str
    value: Any  # str from the CLI; any JSON scalar from the API


def parse_filter(expression: str) -> Filter:
    match = _FILTER_RE.match(expression)
    if not match or not match.group(1):
        raise FilterError(f"cannot read filter {expression!r}: write FIELD=VALUE (or !=, <, >, <=, >=)")
    field, op, value = match.groups()
    if op in ("<", ">", "<=", ">=") and as_number(value) is None:
        raise FilterError(f"filter {expression!r}: {op} needs a number, got {value!r}")
    return Filter(field, op, value)


def normalise_filters(where: str | Iterable[str] | Mapping[str, Any] | None) -> list[Filter]:
    """Accept CLI strings, a list of them, or a ``{field: value}`` dict (equality)."""
    if where is None:
        return []
    if isinstance(where, str):
        return [parse_filter(where)]
    if isinstance(where, Mapping):
        return [Filter(str(k), "=", v) for k, v in where.items()]
    out = []
    for item in where:
        out.append(item if isinstance(item, Filter) else parse_filter(str(item)))
    return out


def json_path(field: str) -> str:
    """``a.b`` -> ``$."a"."b"`` with quotes escaped, for json_extract."""
    parts = [p for p in field.split(".") if p] or [field]
    return "$" + "".join('."' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in parts)


def _equality(column: str, path: str, value: Any, params: dict[str, Any], i: int) -> str:
    """SQL that is 1 when the field equals ``value`` (scalar, or any list element)."""
    params[f"f{i}_path"] = path
    tests_scalar, tests_element = [], []
    if isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false")):
        truth = value if isinstance(value, bool) else value.lower() == "true"
        params[f"f{i}_type"] = "true" if truth else "false"
        tests_scalar.append(f"json_type({column}, :f{i}_path) = :f{i}_type")
        tests_element.append(f"type = :f{i}_type")
    number = as_number(value)
    if number is not None:
        params[f"f{i}_num"] = number
        tests_scalar.append(f"vx_num(json_extract({column}, :f{i}_path)) = :f{i}_num")
        tests_element.append(f"vx_num(value) = :f{i}_num")
    if not isinstance(value, bool):
        params[f"f{i}_str"] = str(value) if value is not None else None
        tests_scalar.append(f"(json_type({column}, :f{i}_path) = 'text' AND json_extract({column}, :f{i}_path) = :f{i}_str)")
        tests_element.append(f"(type = 'text' AND value = :f{i}_str)")
    scalar = " OR ".join(tests_scalar)
    element = " OR ".join(tests_element)
    return (
        f"(({scalar}) OR (json_type({column}, :f{i}_path) = 'array' AND EXISTS "
        f"(SELECT 1 FROM json_each({column}, :f{i}_path) WHERE {element})))"
    )


def compile_filters(filters: list[Filter], column: str = "d.metadata") -> tuple[str, dict[str, Any]]:
    """(SQL boolean expression, bound parameters) for all filters ANDed together."""
    clauses, params = [], {}
    for i, flt in enumerate(filters):
        path = json_path(flt.field)
        if flt.op in ("=", "!="):
            eq = _equality(column, path, flt.value, params, i)
            clauses.append(eq if flt.op == "=" else f"COALESCE({eq}, 0) = 0")
        else:
            number = as_number(flt.value)
            if number is None:
                raise FilterError(f"filter {flt.field}{flt.op}{flt.value!r}: {flt.op} needs a number")
            params[f"f{i}_path"] = path
            params[f"f{i}_num"] = number
            clauses.append(f"vx_num(json_extract({column}, :f{i}_path)) {flt.op} :f{i}_num")
    return (" AND ".join(clauses) or "1"), params
