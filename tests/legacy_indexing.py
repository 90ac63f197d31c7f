"""The indexing code path as it was before issue 17, kept only as a reference.

``test_index_equivalence.py`` indexes the same corpora through this path and the
current one and requires the same chunks, vectors and search results. The code
is the old code: the stock ``sentence-splitter`` (the old path ran the same
splitter on precompiled patterns, same output), token starts found with
``finditer`` and counted with ``bisect``, and vocabulary rows looked up one text
and one token at a time. What did not change (the whole-text shortcuts,
packing sentences into chunks) is shared.
"""

from __future__ import annotations

import bisect
from typing import Sequence

import numpy as np
from vecdex.indexer import tokenize
from vecdex.indexer.chunking import ChunkingSpec, pack_sentences, whole_text
from vecdex.indexer.sentences import reference_spans

_splitters: dict = {}


def _word_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in tokenize._TOKEN_RE.finditer(text)]


def _words(text: str) -> list[str]:
    return tokenize._TOKEN_RE.findall(text)


def sentence_spans(text: str, language: str = "en") -> list[tuple[int, int]]:
    from sentence_splitter import SentenceSplitter

    if language not in _splitters:
        _splitters[language] = SentenceSplitter(language)
    return reference_spans(text, language, _splitters[language])


def chunk_spans(text: str, spec: ChunkingSpec) -> list[tuple[int, int]]:
    chunks, stripped = whole_text(text, spec)
    if chunks is not None:
        return chunks
    token_starts = [start for start, _ in _word_spans(text)]
    if spec.unit == "budget" and len(token_starts) <= spec.max_tokens:
        return [stripped]
    # Packing sentences into chunks did not change: the shared code does it.
    sentences = ((start, end, bisect.bisect_left(token_starts, end) - bisect.bisect_left(token_starts, start))
                 for start, end in sentence_spans(text, spec.language))
    return pack_sentences(text, sentences, spec)


def text_rows(embedder, text: str, extra: dict[str, int], extra_vectors: list[np.ndarray]) -> list[int]:
    tokens = _words(text.lower() if embedder._lowercase else text)
    get = embedder._vocab.get
    rows = [get(t) for t in tokens]
    if None not in rows:
        return rows
    out: list[int] = []
    for token, row in zip(tokens, rows):
        if row is not None:
            out.append(row)
        else:
            out.extend(embedder._token_rows(token, extra, extra_vectors))
    return out


def batch_rows(embedder, texts: Sequence[str], extra: dict[str, int],
               extra_vectors: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The old per-text loop, in the shape ``StaticEmbedder.batch_rows`` returns."""
    rows: list[int] = []
    counts = np.zeros(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        found = text_rows(embedder, text, extra, extra_vectors)
        rows.extend(found)
        counts[i] = len(found)
    return np.asarray(rows, dtype=np.int64), counts
