"""Lexical search: BM25 over the SQLite FTS5 index of document text.

The FTS table (``documents_fts``, migration 2) is maintained by triggers inside
the same transactions that write documents, so it always matches them. User
text never reaches FTS5's query syntax: it is cut into words and each word is
quoted, so inputs like ``"foo``, ``AND``, ``NEAR(`` or ``col:x*`` are just words.

BM25 statistics (document count, average length, document frequencies) are
those of the whole store's FTS index, i.e. over all its collections.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text

from ..indexer import tokenize
from ..storage.store import Store
from .filters import compile_filters, normalise_filters

#: A longer query keeps its first this-many distinct words (FTS5 cost grows with terms).
MAX_QUERY_TERMS = 64
#: Terms that stand for a document in lexical ``similar``.
SIMILAR_TERMS = 24
SNIPPET_TOKENS = 40
#: Query terms in more than this share of all documents are dropped (see _informative)...
MAX_DF_FRACTION = 0.5
#: ... and in stores of at least LARGE_STORE documents, terms in more than this share.
LARGE_STORE = 20_000
LARGE_STORE_MAX_DF_FRACTION = 0.25
# What unicode61 treats as token characters (letters, digits); used to guess its terms.
_FTS_TOKEN_RE = re.compile(r"[^\W_]+")


@dataclass
class LexicalHit:
    document_id: int
    ext_id: str
    metadata: dict[str, Any]
    score: float  # -bm25: higher is better
    snippet: str


def query_terms(query: str) -> list[str]:
    """Distinct lower-cased words of ``query``, in order, at most :data:`MAX_QUERY_TERMS`."""
    seen: dict[str, None] = {}
    for word in tokenize.words(query):
        seen.setdefault(word.lower(), None)
    return list(seen)[:MAX_QUERY_TERMS]


def match_expression(terms: list[str]) -> str | None:
    """An FTS5 MATCH expression: any of the terms, each a quoted string (no operators)."""
    quoted = ['"' + term.replace('"', '""') + '"' for term in terms if term]
    return " OR ".join(quoted) if quoted else None


def search(
    store: Store,
    collection_id: int,
    terms: list[str],
    k: int,
    where: Any = None,
    *,
    exclude_document: int | None = None,
) -> list[LexicalHit]:
    """The k best BM25 matches of any of ``terms`` among the collection's documents."""
    if k < 1:
        return []
    expression = match_expression(_informative(store, terms))
    if expression is None:
        return []
    clauses = ["documents_fts MATCH :vx_match", "d.collection_id = :vx_collection"]
    params: dict[str, Any] = {"vx_match": expression, "vx_collection": collection_id, "vx_k": int(k)}
    filters = normalise_filters(where)
    if filters:
        sql, filter_params = compile_filters(filters)
        clauses.append(f"({sql})")
        params.update(filter_params)
    if exclude_document is not None:
        clauses.append("d.id != :vx_exclude")
        params["vx_exclude"] = int(exclude_document)
    # The snippet is cut in Python from the top rows only: FTS5's snippet() in the
    # select list would be computed for every matching row before the sort.
    sql = text(
        "SELECT d.id, d.ext_id, d.metadata, -bm25(documents_fts), d.text "
        "FROM documents_fts JOIN documents d ON d.id = documents_fts.rowid "
        f"WHERE {' AND '.join(clauses)} ORDER BY bm25(documents_fts) LIMIT :vx_k"
    )
    with store.reading() as conn:
        rows = conn.execute(sql, params).all()
    wanted = set(terms)
    return [LexicalHit(r[0], r[1], json.loads(r[2]), float(r[3]), snippet(r[4], wanted)) for r in rows]


def snippet(text_: str, terms: set[str], width: int = SNIPPET_TOKENS) -> str:
    """About ``width`` words of ``text_`` around its first query term."""
    spans = tokenize.word_spans(text_)
    first = next((i for i, (a, b) in enumerate(spans) if text_[a:b].lower() in terms), 0)
    start = max(0, first - width // 5)
    end = min(len(spans), start + width)
    if not spans:
        return text_[:200]
    piece = text_[spans[start][0] : spans[end - 1][1]]
    return ("…" if start > 0 else "") + piece + ("…" if end < len(spans) else "")


def _informative(store: Store, terms: list[str]) -> list[str]:
    """Drop terms found in more than half of all documents ("the"), or, in large
    stores, more than a quarter ("a").

    BM25 gives them little weight (IDF about 0 above half, at most log(3) above
    a quarter, against 4 to 10 for the words that pick documents out), but
    OR-ing them makes FTS5 score a large share of all rows: on 50k one-line
    documents a query with "a" took 40 ms, without it 10 ms. In small stores
    the cost does not matter and a quarter of the documents can be a topic
    ("space" in a two-newsgroup sample), so only the half rule applies there
    (measured: bench/quality.py). A query made only of such words keeps them.
    """
    if len(terms) < 2:
        return terms
    sql = text("SELECT term, doc FROM documents_fts_terms WHERE term IN :terms").bindparams(
        bindparam("terms", expanding=True)
    )
    with store.reading() as conn:
        df = {r[0]: int(r[1]) for r in conn.execute(sql, {"terms": terms})}
        if not df:
            return terms
        total = int(conn.execute(text("SELECT max(rowid) FROM documents")).scalar() or 0)
    fraction = LARGE_STORE_MAX_DF_FRACTION if total >= LARGE_STORE else MAX_DF_FRACTION
    kept = [t for t in terms if df.get(t, 0) <= fraction * total]
    return kept or terms


def document_terms(store: Store, document_text: str, n_documents: int, limit: int = SIMILAR_TERMS) -> list[str]:
    """The words that best stand for a document: highest tf * idf (idf from the FTS vocabulary)."""
    counts = Counter(t for t in _FTS_TOKEN_RE.findall(document_text.lower()) if len(t) > 1)
    if not counts:
        return []
    sql = text("SELECT term, doc FROM documents_fts_terms WHERE term IN :terms").bindparams(
        bindparam("terms", expanding=True)
    )
    df: dict[str, int] = {}
    words = list(counts)
    with store.reading() as conn:
        for start in range(0, len(words), 500):
            df.update({r[0]: int(r[1]) for r in conn.execute(sql, {"terms": words[start : start + 500]})})
    total = max(n_documents, max(df.values(), default=1))
    scored = [
        (tf * math.log(1 + total / df[word]), word) for word, tf in counts.items() if df.get(word, 0) > 1
    ]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [word for _, word in scored[:limit]]


def integrity_check(store: Store) -> None:
    """Raise if the FTS index does not match the documents it indexes.

    FTS5's ``integrity-check`` with rank 1 compares the index with its content
    table (here: ``documents``) and fails with SQLITE_CORRUPT_VTAB otherwise.
    """
    with store.writing() as conn:
        conn.exec_driver_sql("INSERT INTO documents_fts (documents_fts, rank) VALUES ('integrity-check', 1)")
