"""Retrieval and correlation metrics (plain functions, checked by hand in the tests).

Ranked lists are sequences of document ids, best first. Relevance judgements
map document id -> gain (> 0 means relevant); nDCG uses linear gains and a
log2(rank + 1) discount, like trec_eval's ``ndcg_cut``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np


def reciprocal_rank(ranked: Sequence[str], relevant: Mapping[str, float], k: int = 10) -> float:
    """1 / rank of the first relevant document within the top k, else 0."""
    for rank, doc in enumerate(ranked[:k], start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def precision_at_k(ranked: Sequence[str], relevant: Mapping[str, float], k: int = 10) -> float:
    """Relevant documents among the top k, divided by k."""
    return sum(1 for doc in ranked[:k] if relevant.get(doc, 0) > 0) / k


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, float], k: int = 10) -> float:
    """Share of all relevant documents found in the top k (0 when none are relevant)."""
    total = sum(1 for gain in relevant.values() if gain > 0)
    if total == 0:
        return 0.0
    return sum(1 for doc in ranked[:k] if relevant.get(doc, 0) > 0) / total


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, float], k: int = 10) -> float:
    """DCG of the top k over the DCG of the ideal ordering of the judged documents."""
    dcg = sum(max(relevant.get(doc, 0), 0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], start=1))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson's r; NaN when either side is constant."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(a) != len(b) or len(a) < 2:
        raise ValueError("pearson needs two sequences of the same length (at least 2)")
    a, b = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / denominator if denominator > 0 else float("nan")


def average_ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks 1..n, ties sharing the average of their ranks."""
    a = np.asarray(values, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(len(a), dtype=np.float64)
    sorted_values = a[order]
    start = 0
    while start < len(a):
        end = start
        while end + 1 < len(a) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: Pearson's r of the average ranks."""
    return pearson(average_ranks(x), average_ranks(y))
