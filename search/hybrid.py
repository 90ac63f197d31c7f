"""Ranking modes and the fusion of a dense and a lexical ranking.

- ``dense``: cosine between embeddings (the vector index).
- ``lexical``: BM25 over the collection's tantivy index (:mod:`search.lexical`).
- ``hybrid``: both, fused, each side's top ``depth`` documents. ``rrf``
  (weighted reciprocal rank fusion, Cormack et al. 2009) scores a document
  ``sum_i w_i / (rrf_k + rank_i)``. ``score`` (normalised score fusion, the
  default) adds ``w_dense * cosine + w_lexical * bm25 / max_bm25``: the cosine is
  already on a fixed scale, BM25 is not, so it is divided by the best BM25 of the
  list. ``minmax`` min-max normalises both sides instead. A document missing from
  one list gets 0 from it.

Defaults (mode, fusion, weights) were chosen by measurement (``bench/quality.py``):
score fusion beat RRF and min-max, which fell up to 0.15 MRR@10 below lexical on
the known-item tasks, where dense alone is weak. With FTS5's BM25 the weights 1
(dense) : 3 (lexical) were the only setting above both dense and lexical on all
three labelled tasks; with tantivy's BM25 (whose IDF never drops to 0 for common
words) 1 : 3 fell 0.021 below lexical on the newsgroup-thread task, and 1 : 4 is
better than 1 : 3 on all three (newsgroups 0.967, thread 0.360 against lexical's
0.365, Lee known-item 0.668; 1 : 5 and more lose on newsgroups).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from operator import itemgetter
from typing import TypeVar

from ..errors import ConfigError

MODES = ("dense", "lexical", "hybrid")
FUSIONS = ("score", "rrf", "minmax")
DEFAULT_MODE = "hybrid"
DEFAULT_FUSION = "score"
DEFAULT_RRF_K = 60
DEFAULT_DENSE_WEIGHT = 1.0
DEFAULT_LEXICAL_WEIGHT = 4.0
#: Each ranking fused is at least this deep (a document ranked 40th by one side
#: and 2nd by the other must still be seen).
MIN_DEPTH = 50

T = TypeVar("T")


class RankingError(ConfigError):
    """Bad ranking options (unknown mode or fusion, negative weights)."""


@dataclass(frozen=True)
class Ranking:
    """How to rank: mode, fusion method and weights."""

    mode: str = DEFAULT_MODE
    fusion: str = DEFAULT_FUSION
    dense_weight: float = DEFAULT_DENSE_WEIGHT
    lexical_weight: float = DEFAULT_LEXICAL_WEIGHT
    rrf_k: float = DEFAULT_RRF_K

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise RankingError(f"unknown mode {self.mode!r} (choose from {', '.join(MODES)})")
        if self.fusion not in FUSIONS:
            raise RankingError(f"unknown fusion {self.fusion!r} (choose from {', '.join(FUSIONS)})")
        if self.dense_weight < 0 or self.lexical_weight < 0 or self.dense_weight + self.lexical_weight == 0:
            raise RankingError("weights must be >= 0 and not both 0")
        if self.rrf_k <= 0:
            raise RankingError("rrf_k must be positive")

    @classmethod
    def of(cls, mode: str | Ranking | None = None, **overrides) -> Ranking:
        """A Ranking from a mode name or an existing Ranking, with overrides (None = keep)."""
        base = mode if isinstance(mode, Ranking) else cls(mode=mode or DEFAULT_MODE)
        changes = {key: value for key, value in overrides.items() if value is not None}
        return replace(base, **changes) if changes else base

    def depth(self, k: int) -> int:
        return max(MIN_DEPTH, 3 * k)


def rrf(rankings: Sequence[Sequence[Hashable]], weights: Sequence[float], k: float = DEFAULT_RRF_K) -> list[tuple[Hashable, float]]:
    """Weighted reciprocal rank fusion of ranked key lists (rank 1 = first)."""
    scores: dict[Hashable, float] = {}
    for keys, weight in zip(rankings, weights):
        for rank, key in enumerate(keys, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return _sorted(scores)


def score_fusion(
    rankings: Sequence[Sequence[tuple[Hashable, float]]],
    weights: Sequence[float],
    normalisers: Sequence[str],
) -> list[tuple[Hashable, float]]:
    """Weighted sum of normalised scores; a key missing from a list gets 0 from it.

    Normalisers: ``"none"`` (scores used as they are, e.g. cosines), ``"max"``
    (divided by the list's largest score; for BM25), ``"minmax"`` ((s - min) /
    (max - min); a list of equal scores normalises to 1).
    """
    return _score_fusion([[key for key, _ in pairs] for pairs in rankings],
                         [[value for _, value in pairs] for pairs in rankings], weights, normalisers)


def _score_fusion(keys: Sequence[list[Hashable]], values: Sequence[list[float]], weights: Sequence[float],
                  normalisers: Sequence[str]) -> list[tuple[Hashable, float]]:
    scores: dict[Hashable, float] = {}
    get = scores.get
    for ranking_keys, ranking_values, weight, how in zip(keys, values, weights, normalisers):
        for key, value in zip(ranking_keys, _normalise(ranking_values, how)):
            scores[key] = get(key, 0.0) + weight * value
    return _sorted(scores)


def _normalise(values: list[float], how: str) -> list[float]:
    if not values or how == "none":
        return values
    low, high = min(values), max(values)
    if how == "max":
        return [v / high for v in values] if high > 0 else [0.0] * len(values)
    if how == "minmax":
        return [(v - low) / (high - low) if high > low else 1.0 for v in values]
    raise ValueError(f"unknown normaliser {how!r}")


def _sorted(scores: dict[Hashable, float]) -> list[tuple[Hashable, float]]:
    # Ties keep first-seen order (dict order: dense before lexical, then by rank):
    # sorting is stable, reversed too.
    return sorted(scores.items(), key=itemgetter(1), reverse=True)


def fuse(
    dense: Sequence[T],
    lexical: Sequence[T],
    key: Callable[[T], Hashable],
    score: Callable[[T], float],
    ranking: Ranking,
    k: int,
) -> list[tuple[T, float]]:
    """Fuse two ranked hit lists into the top k (hit, fused score); a document found
    by both keeps the dense hit (its snippet is the best-matching chunk)."""
    weights = (ranking.dense_weight, ranking.lexical_weight)
    dense_keys, lexical_keys = list(map(key, dense)), list(map(key, lexical))  # once each: a hot path
    if ranking.fusion == "rrf":
        fused = rrf([dense_keys, lexical_keys], weights, ranking.rrf_k)
    else:
        normalisers = ("none", "max") if ranking.fusion == "score" else ("minmax", "minmax")
        fused = _score_fusion((dense_keys, lexical_keys), (list(map(score, dense)), list(map(score, lexical))),
                              weights, normalisers)
    by_key: dict[Hashable, T] = dict(zip(reversed(lexical_keys), reversed(lexical)))
    by_key.update(zip(reversed(dense_keys), reversed(dense)))  # the first hit of a key wins, dense first
    return [(by_key[doc], value) for doc, value in fused[:k]]
