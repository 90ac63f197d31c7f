"""Metadata filters: what the store returns for each filter equals what a plain-Python
reading of the documented semantics (search/filters.py) selects, over metadata of
every JSON kind; and the query path parses ``where`` once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from vecdex.search.dense import DenseSearch
from vecdex.search.filters import Filter, FilterError, normalise_filters
from vecdex.storage.sqlite import as_number

METADATA = [
    {"year": 2001, "lang": "en", "tags": ["news", "sport"], "flag": True},
    {"year": 2001.0, "lang": "EN", "tags": ["news"], "flag": False},
    {"year": "2001", "lang": "de", "tags": [], "flag": "true"},
    {"year": " 1999 ", "tags": "news", "score": 0.5},
    {"year": 2020, "tags": [2001, "x", True], "nested": {"a": {"b": 3}}},
    {"year": "recent", "nested": {"a": {"b": "3"}}, "score": -2},
    {"year": None, "nested": {"a": 3}, "tags": [["news"]]},
    {"lang": "en", "nested": {"a": {"b": [3, 4]}}, "flag": 1},
    {"year": [2001, 2002], "lang": "fr"},
    {"year": {"from": 2001}, "tags": [None, False]},
    {},
]

EXPRESSIONS = [
    "year=2001", "year=2001.0", "year= 2001 ", "year!=2001", "year>=2001", "year<2001", "year>1999", "year<=1999",
    "year=recent", "year!=recent", "lang=en", "lang!=en", "lang=EN", "tags=news", "tags!=news", "tags=x",
    "tags=2001", "tags=true", "tags=false", "flag=true", "flag!=true", "flag=false", "flag=1", "flag>=1",
    "nested.a.b=3", "nested.a.b!=3", "nested.a.b>2", "nested.a=3", "score<0", "score>=0.5", "missing=1",
    "missing!=1", "year=null", "lang=",
]


def _number(value: Any) -> float | None:
    """How SQLite's JSON1 hands a value to vx_num: booleans as 1/0, the rest as for Python."""
    return float(value) if isinstance(value, bool) else as_number(value)


def _at(metadata: dict, path: tuple[str, ...]) -> tuple[bool, Any]:
    value: Any = metadata
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _scalar_equal(value: Any, flt: Filter) -> bool:
    if isinstance(value, (list, dict)):
        return False
    if flt.truth is not None and isinstance(value, bool) and value == flt.truth:
        return True
    if flt.number is not None and _number(value) == flt.number:
        return True
    return flt.text is not None and isinstance(value, str) and value == flt.text


def reference(metadata: dict, flt: Filter) -> bool:
    """The documented semantics, in Python."""
    present, value = _at(metadata, flt.path)
    if flt.op in ("<", ">", "<=", ">="):
        number = _number(value) if present and not isinstance(value, (list, dict)) else None
        if number is None:
            return False
        return {"<": number < flt.number, ">": number > flt.number,
                "<=": number <= flt.number, ">=": number >= flt.number}[flt.op]
    equal = present and (_scalar_equal(value, flt) or (isinstance(value, list)
                                                        and any(_scalar_equal(v, flt) for v in value)))
    return equal if flt.op == "=" else not equal


@pytest.fixture
def tagged(any_vx):
    """Both stores: SQLite's JSON1 and PostgreSQL's jsonb must select the same documents."""
    collection = any_vx.collection("fake", create=True, embedder="fake")
    collection.add([{"id": f"d{i}", "text": f"common words {i}", "metadata": m} for i, m in enumerate(METADATA)])
    return collection


@pytest.mark.parametrize("mode", ["dense", "lexical"])
def test_every_filter_selects_what_the_documented_semantics_select(tagged, mode):
    for expression in EXPRESSIONS:
        [flt] = normalise_filters([expression])
        expected = {f"d{i}" for i, m in enumerate(METADATA) if reference(m, flt)}
        found = {h.id for h in tagged.search("common words", k=50, where=[expression], mode=mode)}
        assert found == expected, expression


def test_filters_and_together_and_dicts_mean_equality(tagged):
    both = {h.id for h in tagged.search("common words", k=50, where=["lang=en", "year>=2001"], mode="dense")}
    assert both == {"d0"}
    assert {h.id for h in tagged.search("common words", k=50, where={"year": 2001}, mode="dense")} == {
        "d0", "d1", "d2", "d8"}
    assert tagged.search("common words", k=50, where={"year": None}, mode="dense") == []
    assert {h.id for h in tagged.search("common words", k=50, where={"flag": True}, mode="dense")} == {"d0"}


def test_filter_objects_carry_the_value_each_way_it_can_match():
    [flt] = normalise_filters(["a.b = 12"])
    assert (flt.path, flt.op, flt.number, flt.truth, flt.text) == (("a", "b"), "=", 12.0, None, "12")
    [flt] = normalise_filters({"ok": True})
    assert (flt.number, flt.truth, flt.text) == (None, True, None)
    assert normalise_filters(None) == () and normalise_filters(()) == ()
    parsed = normalise_filters(["x=1", "y<2"])
    assert normalise_filters(parsed) == parsed  # parsed filters pass through unchanged
    with pytest.raises(FilterError, match="needs a number"):
        normalise_filters(["year>=soon"])
    with pytest.raises(FilterError, match="cannot read"):
        normalise_filters(["=1"])


def test_hostile_field_and_value_stay_bound_parameters(tagged):
    from sqlalchemy.dialects import sqlite
    from vecdex.storage import schema
    from vecdex.storage.filters import filter_clause

    hostile = "x' OR 1=1 --"
    clause = filter_clause(normalise_filters([f'we"ird.field={hostile}', f"a!={hostile}"]),
                           schema.documents.c.metadata)
    compiled = clause.compile(dialect=sqlite.dialect())
    assert hostile not in str(compiled) and "weird" not in str(compiled)
    assert hostile in compiled.params.values()
    assert tagged.search("common words", k=50, where=[f"lang={hostile}"], mode="dense") == []
    assert json.dumps(METADATA)  # the fixture's metadata is plain JSON


def test_a_query_without_filters_takes_the_single_query_path(tagged, monkeypatch, store_target):
    """The CLI hands click's empty tuple for "no --where": that is no filter, not a batch of one."""
    from click.testing import CliRunner
    from vecdex.cli import main

    batches = []
    original = DenseSearch.search_vectors

    def counting(self, *args, **kwargs):
        batches.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DenseSearch, "search_vectors", counting)
    result = CliRunner().invoke(main, ["--db", store_target, "query", "common words", "-c", "fake", "--mode", "dense"])
    assert result.exit_code == 0, result.output
    assert "d0" in result.output and batches == []
    tagged.search("common words", k=3, where=(), mode="dense")
    assert batches == []
    filtered = CliRunner().invoke(main, ["--db", store_target, "query", "common words", "-c", "fake", "--mode",
                                         "dense", "--where", "lang=en"])
    assert filtered.exit_code == 0 and len(batches) == 1
