"""Labelled benchmarks: read query/relevance and pair-similarity files, compute metrics.

Retrieval (``vecdex eval --queries Q --qrels R``):

- queries: TSV ``query_id<TAB>text`` or JSONL ``{"id", "text"}`` (also
  ``query_id``/``query``); a JSONL query may carry its judgements inline as
  ``"relevant": ["doc", ...]`` or ``{"doc": gain}``.
- qrels: TREC ``query_id iteration doc_id relevance`` (whitespace separated) or
  JSONL ``{"query_id", "doc_id", "relevance"}``.

Pair similarity (``vecdex eval --pairs P`` or ``--matrix M --texts T``):

- pairs: TSV ``score<TAB>text1<TAB>text2`` (STS style) or JSONL
  ``{"text1", "text2", "score"}``;
- the Lee set: a square matrix of human scores (``similarities0-1.txt``, upper
  triangle used) and its texts, one per line (``lee.cor``).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import EvaluationError
from . import metrics

EvalError = EvaluationError  # one evaluation error class; the old name stays importable


@dataclass
class RetrievalResult:
    queries: int
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _lines(path: str | Path) -> list[tuple[int, str]]:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise EvalError(f"{path}: file not found") from exc
    except OSError as exc:
        raise EvalError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # older corpora (lee.cor) are Latin-1
        text = data.decode("latin-1")
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _json_line(path, n: int, line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EvalError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
    if not isinstance(value, dict):
        raise EvalError(f"{path}:{n}: expected a JSON object")
    return value


def _is_jsonl(lines: list[tuple[int, str]]) -> bool:
    return bool(lines) and lines[0][1].lstrip().startswith("{")


def load_queries(path: str | Path) -> tuple[dict[str, str], dict[str, dict[str, float]]]:
    """(query id -> text, inline judgements query id -> {doc id: gain})."""
    lines = _lines(path)
    queries: dict[str, str] = {}
    inline: dict[str, dict[str, float]] = {}
    for n, line in lines:
        if _is_jsonl(lines):
            obj = _json_line(path, n, line)
            qid = obj.get("id", obj.get("query_id"))
            text = obj.get("text", obj.get("query"))
            if qid is None or not isinstance(text, str):
                raise EvalError(f"{path}:{n}: a query needs 'id' and 'text'")
            relevant = obj.get("relevant")
            if isinstance(relevant, list):
                inline[str(qid)] = {str(d): 1.0 for d in relevant}
            elif isinstance(relevant, dict):
                inline[str(qid)] = {str(d): float(g) for d, g in relevant.items()}
        else:
            qid, sep, text = line.partition("\t")
            if not sep:
                raise EvalError(f"{path}:{n}: expected 'query_id<TAB>text'")
        queries[str(qid).strip()] = text.strip()
    if not queries:
        raise EvalError(f"{path}: no queries")
    return queries, inline


def load_qrels(path: str | Path) -> dict[str, dict[str, float]]:
    """query id -> {doc id: gain} from TREC qrels or JSONL."""
    lines = _lines(path)
    qrels: dict[str, dict[str, float]] = {}
    for n, line in lines:
        if _is_jsonl(lines):
            obj = _json_line(path, n, line)
            try:
                qid, doc, gain = str(obj["query_id"]), str(obj["doc_id"]), float(obj.get("relevance", 1))
            except (KeyError, TypeError, ValueError) as exc:
                raise EvalError(f"{path}:{n}: needs 'query_id', 'doc_id' and a numeric 'relevance'") from exc
        else:
            parts = line.split()
            if len(parts) != 4:
                raise EvalError(f"{path}:{n}: expected 'query_id iteration doc_id relevance'")
            try:
                qid, doc, gain = parts[0], parts[2], float(parts[3])
            except ValueError as exc:
                raise EvalError(f"{path}:{n}: relevance {parts[3]!r} is not a number") from exc
        qrels.setdefault(qid, {})[doc] = gain
    return qrels


def evaluate_retrieval(
    search: Callable[[str, int], Sequence[str]],
    queries: dict[str, str],
    qrels: dict[str, dict[str, float]],
    recall_ks: Sequence[int] = (10, 100),
    on_error: type[Exception] | tuple[type[Exception], ...] = (),
) -> RetrievalResult:
    """Run every judged query through ``search(text, k)`` (ranked document ids) and
    score the rankings (see :func:`score_rankings`). A query the engine cannot
    answer (an exception of type ``on_error``) counts as an empty ranking."""
    depth = max([10, *recall_ks])
    rankings: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for qid, text in queries.items():
        if not any(g > 0 for g in qrels.get(qid, {}).values()):
            continue
        try:
            rankings[qid] = list(search(text, depth))
        except on_error as exc:  # type: ignore[misc]
            rankings[qid], errors[qid] = [], f"no answer: {exc}"
    result = score_rankings(rankings, {q: qrels.get(q, {}) for q in queries}, recall_ks)
    result.skipped.update(errors)
    return result


def score_rankings(
    rankings: dict[str, Sequence[str]], qrels: dict[str, dict[str, float]], recall_ks: Sequence[int] = (10, 100)
) -> RetrievalResult:
    """Mean MRR@10, nDCG@10, P@10 and recall@k over the queries of ``qrels`` that
    have a relevant document; a judged query missing from ``rankings`` scores 0."""
    per_query: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    for qid, relevant in qrels.items():
        if not any(g > 0 for g in relevant.values()):
            skipped[qid] = "no relevant documents judged"
            continue
        ranked = list(rankings.get(qid, []))
        scores = {
            "mrr@10": metrics.reciprocal_rank(ranked, relevant, 10),
            "ndcg@10": metrics.ndcg_at_k(ranked, relevant, 10),
            "p@10": metrics.precision_at_k(ranked, relevant, 10),
        }
        for k in recall_ks:
            scores[f"recall@{k}"] = metrics.recall_at_k(ranked, relevant, k)
        per_query[qid] = scores
    if not per_query:
        raise EvalError("no query has a relevant document in the judgements (do the query ids match?)")
    names = list(next(iter(per_query.values())))
    means = {name: statistics.fmean(s[name] for s in per_query.values()) for name in names}
    return RetrievalResult(len(per_query), means, per_query, skipped)


def load_pairs(path: str | Path) -> tuple[list[str], list[str], list[float]]:
    """(texts1, texts2, human scores) from STS-style TSV or JSONL."""
    lines = _lines(path)
    left: list[str] = []
    right: list[str] = []
    gold: list[float] = []
    for n, line in lines:
        try:
            if _is_jsonl(lines):
                obj = _json_line(path, n, line)
                a, b, score = obj["text1"], obj["text2"], float(obj["score"])
            else:
                score_text, a, b = line.split("\t")[:3]
                score = float(score_text)
        except (KeyError, ValueError, TypeError) as exc:
            raise EvalError(f"{path}:{n}: expected 'score<TAB>text1<TAB>text2' or JSON with text1, text2, score") from exc
        left.append(str(a))
        right.append(str(b))
        gold.append(score)
    if len(gold) < 3:
        raise EvalError(f"{path}: need at least 3 pairs")
    return left, right, gold


def load_matrix_pairs(matrix_path: str | Path, texts_path: str | Path) -> tuple[list[str], list[tuple[int, int]], list[float]]:
    """(texts, index pairs of the upper triangle, human scores) for a Lee-style set."""
    texts = [line for _, line in _lines(texts_path)]
    try:
        matrix = np.loadtxt(matrix_path, ndmin=2)
    except (OSError, ValueError) as exc:
        raise EvalError(f"{matrix_path}: not a numeric matrix ({exc})") from exc
    if matrix.shape[0] != matrix.shape[1] or matrix.shape[0] != len(texts):
        raise EvalError(
            f"{matrix_path} is {matrix.shape[0]}x{matrix.shape[1]} but {texts_path} has {len(texts)} texts"
        )
    rows, cols = np.triu_indices(len(texts), 1)
    return texts, list(zip(rows.tolist(), cols.tolist())), matrix[rows, cols].tolist()


def correlate(
    vectors_left: np.ndarray, vectors_right: np.ndarray, gold: Sequence[float]
) -> dict[str, float]:
    """Pearson and Spearman of the row-wise cosines against human scores."""
    cosines = np.sum(vectors_left * vectors_right, axis=1)
    return {"pearson": metrics.pearson(cosines, gold), "spearman": metrics.spearman(cosines, gold), "pairs": len(gold)}
