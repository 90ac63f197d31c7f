"""Indexing through the current code and the pre-issue-17 code gives the same collection.

Same chunks (spans), byte-identical vectors and the same search results, on real
corpora (news, mail, wiki markup, non-ASCII text) and for the embedder paths
that take different branches (SIF with common components, plain mean,
fastText subwords for unknown words). The current path runs in worker
processes, the reference one in-process.
"""

from __future__ import annotations

import sqlite3

import legacy_indexing
import pytest
from real_texts import corpus
from vecdex.indexer import pipeline
from vecdex.indexer.embedders.static import StaticEmbedder
from vecdex.errors import QueryError
from vecdex.search import Vecdex


def _documents() -> list[dict]:
    docs = []
    for name, limit in (("lee", 350), ("newsgroups", 200), ("bgwiki", 120), ("enwiki", 120), ("prose", 40)):
        docs += [{"id": f"{name}-{i}", "text": text} for i, text in enumerate(corpus(name)[:limit]) if text.strip()]
    return docs


def _chunks(db, name: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT d.ext_id, c.ordinal, c.start, c.\"end\", c.vector FROM chunks c "
            "JOIN documents d ON d.id = c.document_id JOIN collections k ON k.id = c.collection_id "
            "WHERE k.name = ? ORDER BY d.ext_id, c.ordinal", (name,)).fetchall()


def _results(coll, queries: list[str], mode: str) -> list[list[tuple] | str]:
    """Each query's hits, or its error (a Bulgarian query has no word GloVe knows)."""
    out: list[list[tuple] | str] = []
    for q in queries:
        try:
            out.append([(h.id, h.span, round(h.score, 5)) for h in coll.search(q, k=10, mode=mode)])
        except QueryError as exc:
            out.append(str(exc))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("options", [
    {},  # the defaults: GloVe, SIF, one common component, 128-token chunks
    {"pooling": "mean", "chunking": {"max_tokens": 40}},
    {"pooling": "mean", "chunking": {"max_tokens": 64, "unit": "sentence"}},
    {"model": "lee_fasttext.bin", "chunking": {"max_tokens": 96}},
], ids=["default", "mean-40", "mean-sentences", "fasttext-subwords"])
def test_new_and_old_paths_build_the_same_collection(tmp_path, monkeypatch, options):
    from gensim.test.utils import datapath
    from vecdex.indexer.chunking import ChunkingSpec

    docs = _documents()
    kwargs = {}
    if "model" in options:
        kwargs["model"] = datapath(options["model"])
    if "pooling" in options:
        kwargs["pooling"] = options["pooling"]
    if "chunking" in options:
        kwargs["chunking"] = ChunkingSpec(**options["chunking"])
    db = tmp_path / "store.db"
    with Vecdex(db) as vx:
        new = vx.collection("new", create=True, **kwargs)
        report = new.add(docs, workers=2)
        assert report.added == len(docs) and report.chunks > len(docs)

        with monkeypatch.context() as patch:
            patch.setattr(pipeline, "chunk_spans", legacy_indexing.chunk_spans)
            patch.setattr(StaticEmbedder, "batch_rows", legacy_indexing.batch_rows)
            old = vx.collection("old", create=True, **kwargs)
            assert old.add(docs, workers=1).chunks == report.chunks

        new_chunks, old_chunks = _chunks(db, "new"), _chunks(db, "old")
        assert len(new_chunks) == report.chunks
        assert new_chunks == old_chunks  # spans and vector bytes

        queries = [d["text"][:80] for d in docs[::37]] + ["rain and bushfires near Sydney", "space shuttle launch"]
        for mode in ("dense", "hybrid"):
            assert _results(new, queries, mode) == _results(old, queries, mode)

        # Unchanged documents are still recognised by their content hash.
        again = new.add(docs[:50], workers=2)
        assert (again.unchanged, again.added, again.updated) == (50, 0, 0)
