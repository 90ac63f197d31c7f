"""Fusion of dense and lexical rankings, checked by hand."""

from __future__ import annotations

import pytest
from vecdex.search.hybrid import DEFAULT_MODE, Ranking, RankingError, fuse, rrf, score_fusion


def test_weighted_rrf_by_hand():
    # a: 1/(60+1) + 2/(60+2); b: 1/(60+2); c: 2/(60+1)
    fused = dict(rrf([["a", "b"], ["c", "a"]], [1.0, 2.0], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 2 / 62)
    assert fused["b"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(2 / 61)
    assert [key for key, _ in rrf([["a", "b"], ["c", "a"]], [1.0, 2.0])] == ["a", "c", "b"]


def test_score_fusion_by_hand():
    dense = [("a", 0.9), ("b", 0.5)]
    lexical = [("c", 8.0), ("a", 2.0)]
    # "score": cosines as they are + 3 * bm25 / 8
    fused = dict(score_fusion([dense, lexical], [1.0, 3.0], ["none", "max"]))
    assert fused == pytest.approx({"a": 0.9 + 3 * 0.25, "b": 0.5, "c": 3.0})
    # "minmax": a dense 1, b dense 0; c lexical 1, a lexical 0
    fused = dict(score_fusion([dense, lexical], [1.0, 1.0], ["minmax", "minmax"]))
    assert fused == pytest.approx({"a": 1.0, "b": 0.0, "c": 1.0})


def test_fuse_keeps_the_dense_hit_and_cuts_at_k():
    dense = [("a", 0.9, "dense snippet"), ("b", 0.5, "b")]
    lexical = [("c", 8.0, "c"), ("a", 2.0, "lexical snippet")]
    top = fuse(dense, lexical, key=lambda h: h[0], score=lambda h: h[1], ranking=Ranking(lexical_weight=3.0), k=2)
    assert [(hit[0], hit[2]) for hit, _ in top] == [("c", "c"), ("a", "dense snippet")]
    assert [score for _, score in top] == pytest.approx([3.0, 1.65])


def test_ranking_options_are_checked():
    assert Ranking().mode == DEFAULT_MODE
    assert Ranking.of("dense").mode == "dense"
    assert Ranking.of(None, lexical_weight=None).lexical_weight == Ranking().lexical_weight
    for bad in ({"mode": "fuzzy"}, {"fusion": "avg"}, {"dense_weight": -1.0},
                {"dense_weight": 0.0, "lexical_weight": 0.0}):
        with pytest.raises(RankingError):
            Ranking(**bad)
