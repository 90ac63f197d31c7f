"""What the lexical (tantivy) index holds per document, and the queries run on it.

Text is cut into runs of letters and digits (tantivy's simple tokenizer), lower-cased and folded to ASCII
where a letter has an ASCII form (``Café`` -> ``cafe``, ``Straße`` ->
``strasse``): the words SQLite's FTS5 ``unicode61 remove_diacritics 2`` used to
index. Queries go through the same analyser, so a query word is matched as the
same tokens (``XJ-9000`` is the phrase ``xj 9000``). User text never reaches a
query parser.

Metadata is indexed so that filters run inside the search, with exactly the
rules of :mod:`search.filters` (SQLite's ``json_extract``/``json_each`` plus
``vx_num``):

- ``mkey`` holds one untokenised term per value a ``=`` filter can match:
  ``<path>\\x1f<kind>\\x1f<value>`` with the path as a JSON list of keys (so a
  key holding a dot is not a nested path), kind ``s`` (string), ``n`` (number,
  as ``vx_num`` reads it: numeric strings and booleans as 1/0 included) or
  ``b`` (boolean); scalars and the scalar elements of a list.
- ``num`` (a JSON fast field) holds every scalar with a numeric reading, for
  ``<``, ``>``, ``<=``, ``>=`` (lists never match those, as in SQL).

A filter tantivy cannot express exactly (a range on a key that is not a plain
identifier, a value of an unusual type) is translated to nothing here and
checked against the store instead (:func:`filter_query` says which).
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from typing import Any, Iterable

import tantivy

from .store import as_number as vx_num

#: Bumped whenever what is indexed changes: an index of another format is rebuilt.
FORMAT = 2  # 2: tantivy's simple tokenizer (was a regex, 3x slower)
ANALYZER_NAME = "vx_words"
MARKER_ID = -1  # the `doc` value of the marker document (real rows are >= 1)
# Terms longer than this (bytes) are not indexed (tantivy's limit is 65530).
MAX_TOKEN_BYTES = 2000
_SEP = "\x1f"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _analyzer() -> tantivy.TextAnalyzer:
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(MAX_TOKEN_BYTES))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.ascii_fold())
            .build())


ANALYZER = _analyzer()


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    # i64, not u64: tantivy's delete-by-term silently does nothing on u64 fields.
    builder.add_integer_field("doc", stored=False, indexed=True, fast=True)
    builder.add_text_field("text", stored=False, tokenizer_name=ANALYZER_NAME, index_option="position")
    builder.add_text_field("mkey", stored=False, tokenizer_name="raw", index_option="basic")
    builder.add_json_field("num", stored=False, fast=True, tokenizer_name="raw")
    builder.add_text_field("marker", stored=True, tokenizer_name="raw", index_option="basic")
    return builder.build()


SCHEMA = build_schema()


def normal_text(text: str) -> str:
    """NFC, so a decomposed accent folds like a composed one."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def analyse(text: str) -> list[str]:
    return ANALYZER.analyze(normal_text(text))


# -- documents -----------------------------------------------------------------------------


def as_number(value: Any) -> float | None:
    """A JSON value as ``vx_num(json_extract(...))`` sees it: SQLite hands booleans
    over as 1/0, objects and arrays as JSON text (never a number)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (dict, list)):
        return None
    number = vx_num(value)
    return None if number is None else number + 0.0  # -0.0 -> 0.0 (tantivy orders them)


@functools.lru_cache(maxsize=4096)
def _path_key(path: tuple[str, ...]) -> str:
    return json.dumps(list(path), ensure_ascii=False)


def _term(path: list[str], kind: str, value: str) -> str:
    return _path_key(tuple(path)) + _SEP + kind + _SEP + value


def _scalar_terms(path: list[str], value: Any, number: float | None) -> list[str]:
    """The ``mkey`` terms of one scalar; ``number`` is :func:`as_number` of it (computed once by the caller)."""
    key = _path_key(tuple(path)) + _SEP
    terms = []
    if isinstance(value, bool):
        terms.append(key + "b" + _SEP + ("true" if value else "false"))
    elif isinstance(value, str):
        terms.append(key + "s" + _SEP + value)
    if number is not None:
        terms.append(key + "n" + _SEP + repr(number))
    return terms


def metadata_fields(metadata: Any) -> tuple[list[str], dict[str, Any]]:
    """(``mkey`` terms, ``num`` object) of a document's metadata."""
    terms: list[str] = []
    numbers: dict[str, Any] = {}

    def walk(node: dict[str, Any], path: list[str], out: dict[str, Any]) -> None:
        for key, value in node.items():
            here = path + [key]
            # Only plain identifiers go into `num` (ranges on other keys are checked
            # against the store): tantivy could read a key "a.b" as the path a -> b.
            numeric_key = bool(_IDENT.match(key))
            if isinstance(value, dict):
                child: dict[str, Any] = {}
                walk(value, here, child)
                if child and numeric_key:
                    out[key] = child
            elif isinstance(value, list):
                for element in value:  # json_each: scalar elements can match `=`
                    if not isinstance(element, (dict, list)) and element is not None:
                        terms.extend(_scalar_terms(here, element, as_number(element)))
            elif value is not None:
                number = as_number(value)
                terms.extend(_scalar_terms(here, value, number))
                if number is not None and numeric_key:
                    out[key] = number

    if isinstance(metadata, dict):
        walk(metadata, [], numbers)
    return terms, numbers


@functools.lru_cache(maxsize=1024)
def _metadata_fields(metadata_json: str) -> tuple[list[str], dict[str, Any]]:
    # Documents often share their metadata exactly ({"lang": "en"}): parsed once.
    return metadata_fields(json.loads(metadata_json))


def make_document(document_id: int, text: str, metadata_json: str) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_integer("doc", document_id)
    doc.add_text("text", normal_text(text))
    if metadata_json and metadata_json != "{}":
        terms, numbers = _metadata_fields(metadata_json) if len(metadata_json) < 256 else metadata_fields(
            json.loads(metadata_json))
        for term in terms:
            doc.add_text("mkey", term)
        if numbers:
            doc.add_json("num", numbers)
    return doc


def make_marker(state: dict[str, Any]) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_integer("doc", MARKER_ID)
    doc.add_text("marker", json.dumps(state, sort_keys=True))
    return doc


# -- queries --------------------------------------------------------------------------------


def term_query(tokens: list[str]) -> tantivy.Query:
    """One query word: a term, or the phrase of its tokens (``xj-9000``)."""
    if len(tokens) == 1:
        return tantivy.Query.term_query(SCHEMA, "text", tokens[0])
    return tantivy.Query.phrase_query(SCHEMA, "text", tokens)


def doc_query(document_id: int) -> tantivy.Query:
    return tantivy.Query.term_query(SCHEMA, "doc", int(document_id))


def _path(field: str) -> list[str]:
    # As search.filters.json_path: "a.b" reaches into nested objects.
    return [p for p in field.split(".") if p] or [field]


def _equality(path: list[str], value: Any) -> tantivy.Query | None:
    """Documents whose field equals ``value`` by the SQL rules, or None if not expressible."""
    if value is None:
        return tantivy.Query.empty_query()  # `= NULL` is never true in SQL
    if not isinstance(value, (str, int, float, bool)):
        return None
    terms = []
    if isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false")):
        truth = value if isinstance(value, bool) else value.lower() == "true"
        terms.append(_term(path, "b", "true" if truth else "false"))
    if not isinstance(value, bool):
        number = as_number(value)
        if number is not None:
            terms.append(_term(path, "n", repr(number)))
        terms.append(_term(path, "s", str(value)))
    return tantivy.Query.term_set_query(SCHEMA, "mkey", terms)


def _range(index: tantivy.Index, path: list[str], op: str, value: Any) -> tantivy.Query | None:
    number = vx_num(value)
    if number is None or not all(_IDENT.match(p) for p in path):
        return None
    bound = repr(number + 0.0)
    if "e" in bound or "n" in bound:  # keep to plain decimals the parser surely reads
        bound = f"{number:.17f}".rstrip("0")
        if bound.endswith("."):
            bound += "0"
    try:
        return index.parse_query(f"num.{'.'.join(path)}:{op}{bound}", ["num"])
    except ValueError:
        return None


def filter_query(index: tantivy.Index, filters: list[Any]) -> tuple[list[tantivy.Query], list[Any]]:
    """(tantivy queries every hit must match, filters left for the store to check)."""
    must: list[tantivy.Query] = []
    unchecked: list[Any] = []
    for flt in filters:
        path = _path(str(flt.field))
        if flt.op in ("=", "!="):
            query = _equality(path, flt.value)
            if query is not None and flt.op == "!=":
                query = tantivy.Query.boolean_query([
                    (tantivy.Occur.Must, tantivy.Query.all_query()), (tantivy.Occur.MustNot, query)])
        else:
            query = _range(index, path, flt.op, flt.value)
        if query is None:
            unchecked.append(flt)
        else:
            # Scored 0: a filter only selects (tantivy's filter queries score 1 each,
            # which shifted every BM25 score and so the hybrid fusion's bm25 / max).
            must.append(tantivy.Query.const_score_query(query, 0.0))
    return must, unchecked


def finite(score: float) -> float:
    return score if math.isfinite(score) else 0.0
