"""`vecdex eval` on tiny labelled fixtures, against metrics computed by hand."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from vecdex.cli import main


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, db, *args):
    result = runner.invoke(main, ["--db", str(db), *args], catch_exceptions=False)
    return result


def test_retrieval_metrics_by_hand(runner, db_path, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text("\n".join(json.dumps(d) for d in [
        {"id": "d1", "text": "apple banana"},
        {"id": "d2", "text": "cherry grape fig kiwi"},
        {"id": "d3", "text": "cherry apple"},
    ]) + "\n", encoding="utf-8")
    assert invoke(runner, db_path, "index", str(docs), "--quiet").exit_code == 0
    (tmp_path / "q.tsv").write_text("q1\tbanana\nq2\tgrape\nq3\tcherry\n", encoding="utf-8")
    (tmp_path / "qrels.txt").write_text("q1 0 d1 1\nq2 0 d3 1\nq3 0 d2 1\n", encoding="utf-8")
    result = invoke(runner, db_path, "eval", "--queries", str(tmp_path / "q.tsv"), "--qrels",
                    str(tmp_path / "qrels.txt"), "--mode", "lexical", "--recall-k", "10", "--json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    # q1 "banana": only d1 matches, relevant d1 -> RR 1, nDCG 1, P@10 0.1, R@10 1
    # q2 "grape": only d2 matches, relevant d3 -> all 0
    # q3 "cherry": d3 (shorter) before d2, relevant d2 at rank 2 -> RR 1/2, nDCG 1/log2(3), P@10 0.1, R@10 1
    assert row["mode"] == "lexical" and row["queries"] == 3
    assert row["mrr@10"] == pytest.approx((1 + 0 + 0.5) / 3, abs=1e-6)
    assert row["ndcg@10"] == pytest.approx((1 + 0 + 1 / math.log2(3)) / 3, abs=1e-6)
    assert row["p@10"] == pytest.approx(0.2 / 3, abs=1e-6)
    assert row["recall@10"] == pytest.approx(2 / 3, abs=1e-6)


def test_pair_correlations_by_hand(runner, db_path, tmp_path):
    model = tmp_path / "tiny.txt"
    model.write_text("4 2\nthe 1 0\ncat 0 1\nsat 1 1\nmat 2 0\n", encoding="utf-8")
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("3\tcat\tcat\n1\tthe\tcat\n2\tthe\tsat\n", encoding="utf-8")
    result = invoke(runner, db_path, "eval", "--pairs", str(pairs), "--model", f"word2vec-text:{model}",
                    "--pooling", "mean", "--json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    # cosines 1, 0, 0.70711 against 3, 1, 2: Pearson 1/sqrt(0.52860 * 2) = 0.97256; ranks agree: Spearman 1
    assert row["pairs"] == 3
    assert row["pearson"] == pytest.approx(0.97256, abs=1e-4)
    assert row["spearman"] == pytest.approx(1.0)


def test_lee_matrix_with_the_default_configuration(runner, db_path):
    from gensim.test.utils import datapath

    result = invoke(runner, db_path, "eval", "--matrix", datapath("similarities0-1.txt"),
                    "--texts", datapath("lee.cor"), "--json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    assert row["pairs"] == 1225 and row["pooling"] == "sif"
    assert row["pearson"] >= 0.58  # the target; plain averaging gives about 0.39


def test_eval_user_errors_are_one_line(runner, db_path, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    result = runner.invoke(main, ["--db", str(db_path), "eval", "--pairs", str(bad)])
    assert result.exit_code == 1 and "bad.jsonl:1" in result.output
    result = runner.invoke(main, ["--db", str(db_path), "eval"])
    assert result.exit_code != 0 and "give one of" in result.output


def test_eval_builds_a_fresh_configuration_from_a_corpus(runner, db_path, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in [
        {"id": "r", "text": "heavy rain flooded the river valley"},
        {"id": "b", "text": "the central bank raised interest rates"},
        {"id": "s", "text": "astronauts launched a rocket into orbit"},
    ]) + "\n", encoding="utf-8")
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "1", "text": "space rocket", "relevant": ["s"]}\n'
                       '{"id": "2", "text": "floods", "relevant": ["r"]}\n', encoding="utf-8")
    result = invoke(runner, db_path, "eval", "--corpus", str(corpus), "--queries", str(queries),
                    "--pooling", "mean", "--mode", "dense", "--mode", "hybrid", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["mode"] for r in rows] == ["dense", "hybrid"]
    assert rows[0]["mrr@10"] == pytest.approx(1.0)  # both queries find their document first by meaning
    assert not db_path.exists()  # the configuration was built in a temporary store
