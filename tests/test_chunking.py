"""Chunking: whole sentences, exact character spans, no splitter call for short texts."""

from __future__ import annotations

import re

import pytest
from vecdex.indexer import chunking
from vecdex.indexer.chunking import ChunkingSpec, chunk_spans, sentence_spans

TEXT = ("Mr. Smith went to Washington.  He said hello!\n\nThen he left,   quietly. "
        "The U.S. economy grew 3.5 percent. Prices rose.")


def squash(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def test_sentence_spans_map_back_to_the_original_text():
    from sentence_splitter import SentenceSplitter

    expected = [s for s in SentenceSplitter("en").split(TEXT) if s.strip()]
    spans = sentence_spans(TEXT)
    assert [squash(TEXT[s:e]) for s, e in spans] == [squash(s) for s in expected]
    assert all(TEXT[s:e] == TEXT[s:e].strip() for s, e in spans)


def test_short_text_is_one_chunk_without_the_splitter(monkeypatch):
    monkeypatch.setattr(chunking, "sentence_spans", lambda *a, **k: pytest.fail("splitter called"))
    assert chunk_spans("  A short note. Two sentences.  ", ChunkingSpec(max_tokens=50)) == [(2, 30)]


def test_budget_packs_whole_sentences():
    spans = chunk_spans(TEXT, ChunkingSpec(max_tokens=10))
    sentences = sentence_spans(TEXT)
    starts = {s for s, _ in sentences}
    ends = {e for _, e in sentences}
    assert len(spans) > 1
    for start, end in spans:
        assert start in starts and end in ends  # chunk boundaries are sentence boundaries
        assert len(re.findall(r"\w+", TEXT[start:end])) <= 10 or (start, end) in sentences


def test_sentence_unit_makes_one_chunk_per_sentence():
    assert chunk_spans(TEXT, ChunkingSpec(max_tokens=100, unit="sentence")) == sentence_spans(TEXT)


def test_overlong_sentence_is_cut_at_word_boundaries():
    text = " ".join(f"word{i}" for i in range(25)) + "."
    spans = chunk_spans(text, ChunkingSpec(max_tokens=10))
    pieces = [text[s:e] for s, e in spans]
    assert [len(p.split()) for p in pieces] == [10, 10, 5]
    assert " ".join(pieces) == text


def test_blank_text_has_no_chunks():
    assert chunk_spans(" \n\t ", ChunkingSpec()) == []
