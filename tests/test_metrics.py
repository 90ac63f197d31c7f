"""Metrics on rankings small enough to compute by hand."""

from __future__ import annotations

import math

import pytest
from vecdex.search.workbench import metrics
from vecdex.search.workbench.evaluate import load_qrels, load_queries, score_rankings

RANKED = ["d3", "d1", "d7", "d2"]
RELEVANT = {"d1": 1, "d2": 2, "d9": 1}


def test_reciprocal_rank():
    assert metrics.reciprocal_rank(RANKED, RELEVANT, 10) == 0.5  # first relevant (d1) at rank 2
    assert metrics.reciprocal_rank(RANKED, RELEVANT, 1) == 0.0
    assert metrics.reciprocal_rank([], RELEVANT) == 0.0


def test_precision_and_recall():
    assert metrics.precision_at_k(RANKED, RELEVANT, 4) == 0.5  # d1, d2 of 4
    assert metrics.precision_at_k(RANKED, RELEVANT, 10) == 0.2
    assert metrics.recall_at_k(RANKED, RELEVANT, 4) == pytest.approx(2 / 3)  # d9 never found
    assert metrics.recall_at_k(RANKED, RELEVANT, 2) == pytest.approx(1 / 3)


def test_ndcg_by_hand():
    # DCG = 1/log2(3) (d1 at rank 2) + 2/log2(5) (d2 at rank 4)
    # IDCG = 2/log2(2) + 1/log2(3) + 1/log2(4)
    dcg = 1 / math.log2(3) + 2 / math.log2(5)
    idcg = 2 + 1 / math.log2(3) + 0.5
    assert metrics.ndcg_at_k(RANKED, RELEVANT, 10) == pytest.approx(dcg / idcg)
    assert dcg / idcg == pytest.approx(1.49228 / 3.13093, abs=1e-4)  # 0.4766
    assert metrics.ndcg_at_k(["d2", "d1", "d9"], RELEVANT, 10) == pytest.approx(1.0)


def test_pearson_and_spearman_by_hand():
    x, y = [1.0, 0.0, 0.70711], [3.0, 1.0, 2.0]
    # dx = [.43096, -.56904, .13807], dy = [1, -1, 0]: r = 1 / sqrt(0.52860 * 2)
    assert metrics.pearson(x, y) == pytest.approx(0.97256, abs=1e-4)
    assert metrics.spearman(x, y) == pytest.approx(1.0)
    assert metrics.average_ranks([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]
    # ranks x [1, 2.5, 2.5], y [1, 2, 3]: r = 1.5 / sqrt(1.5 * 2)
    assert metrics.spearman([1, 2, 2], [1, 2, 3]) == pytest.approx(1.5 / math.sqrt(3.0))


def test_score_rankings_means_and_skips():
    result = score_rankings({"q1": ["a", "b"], "q2": ["c"]}, {"q1": {"b": 1}, "q2": {"x": 1}, "q3": {"y": 0}})
    assert result.queries == 2
    assert result.metrics["mrr@10"] == pytest.approx(0.25)  # (1/2 + 0) / 2
    assert result.skipped == {"q3": "no relevant documents judged"}


def test_query_and_qrels_files(tmp_path):
    (tmp_path / "q.tsv").write_text("q1\tred apples\nq2\tgreen pears\n", encoding="utf-8")
    (tmp_path / "q.jsonl").write_text('{"id": "q1", "text": "red", "relevant": {"d1": 2}}\n', encoding="utf-8")
    (tmp_path / "r.txt").write_text("q1 0 d1 1\nq1 0 d2 0\nq2 Q0 d3 2\n", encoding="utf-8")
    (tmp_path / "r.jsonl").write_text('{"query_id": "q1", "doc_id": "d1", "relevance": 1}\n', encoding="utf-8")
    assert load_queries(tmp_path / "q.tsv") == ({"q1": "red apples", "q2": "green pears"}, {})
    assert load_queries(tmp_path / "q.jsonl") == ({"q1": "red"}, {"q1": {"d1": 2.0}})
    assert load_qrels(tmp_path / "r.txt") == {"q1": {"d1": 1.0, "d2": 0.0}, "q2": {"d3": 2.0}}
    assert load_qrels(tmp_path / "r.jsonl") == {"q1": {"d1": 1.0}}
