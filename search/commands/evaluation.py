"""Evaluation commands: eval (retrieval and pair similarity) and eval-model (word models).

Registered on the ``vecdex`` group by :mod:`vecdex.cli`.
"""

from __future__ import annotations

import json
import sys

import click

from .shared import collection_option, given_pooling, json_option, open_store, pooling_options, ranking_from
from .workbench import word_space

# -- eval / refit ----------------------------------------------------------------------------------


@click.command("eval", epilog="""
\b
Examples:
  vecdex eval --queries queries.tsv --qrels qrels.txt            # against collection 'default'
  vecdex eval --queries q.jsonl --qrels qrels.jsonl --mode dense --mode lexical --mode hybrid
  vecdex eval --corpus docs.jsonl --queries q.tsv --qrels r.txt --pooling mean   # a fresh configuration
  vecdex eval --pairs sts.tsv                                    # Pearson/Spearman of cosine
  vecdex eval --matrix similarities0-1.txt --texts lee.cor       # the Lee 50x50 set
\b
Files: queries = TSV 'id<TAB>text' or JSONL {"id","text"[,"relevant"]}; qrels = TREC
'qid 0 docid rel' or JSONL {"query_id","doc_id","relevance"}; pairs = TSV
'score<TAB>text1<TAB>text2' or JSONL {"text1","text2","score"}.
""")
@click.option("--queries", "queries_path", type=click.Path(dir_okay=False), default=None, help="Queries file.")
@click.option("--qrels", "qrels_path", type=click.Path(dir_okay=False), default=None,
              help="Relevance judgements (optional when the JSONL queries carry 'relevant').")
@click.option("--corpus", type=click.Path(exists=True), default=None,
              help="Index this into a temporary collection built with the given --model/pooling options "
                   "instead of using a stored collection.")
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "csv", "lines", "text"]), default="auto",
              show_default=True, help="Format of --corpus.")
@click.option("--id-field", default="id", show_default=True, help="--corpus JSONL/CSV id field.")
@click.option("--text-field", default="text", show_default=True, help="--corpus JSONL/CSV text field.")
@click.option("--pairs", "pairs_path", type=click.Path(dir_okay=False), default=None, help="Pair-similarity file.")
@click.option("--matrix", "matrix_path", type=click.Path(dir_okay=False), default=None,
              help="Square matrix of human similarity scores (with --texts).")
@click.option("--texts", "texts_path", type=click.Path(dir_okay=False), default=None,
              help="The matrix's texts, one per line.")
@click.option("--recall-k", default="10,100", show_default=True, metavar="K,...", help="Cut-offs for recall@k.")
@click.option("--model", default=None, metavar="SPEC", help="Word-vector model for --corpus/--pairs/--matrix.")
@collection_option
@click.option("--pooling", type=click.Choice(["sif", "mean"]), default=None,
              help="Static vectors: sif (default) or mean (plain average).")
@pooling_options
@click.option("--mode", "modes", type=click.Choice(["dense", "lexical", "hybrid"]), multiple=True,
              help="Ranking mode(s) to evaluate; repeatable [default: hybrid].")
@click.option("--fusion", type=click.Choice(["score", "rrf", "minmax"]), default=None, help="Hybrid fusion.")
@click.option("--dense-weight", type=click.FloatRange(min=0), default=None, metavar="W", help="Hybrid dense weight.")
@click.option("--lexical-weight", type=click.FloatRange(min=0), default=None, metavar="W", help="Hybrid lexical weight.")
@json_option
@click.pass_context
def eval_command(ctx, queries_path, qrels_path, corpus, fmt, id_field, text_field, pairs_path, matrix_path,
                 texts_path, recall_k, model, collection, pooling, sif_a, word_freq, components, fit, modes,
                 fusion, dense_weight, lexical_weight, as_json):
    """Score retrieval (MRR@10, nDCG@10, P@10, recall@k) or pair similarity (Pearson, Spearman)."""
    pooling_given = given_pooling(pooling, sif_a, word_freq, components, fit)
    kinds = [bool(queries_path), bool(pairs_path), bool(matrix_path or texts_path)]
    if sum(kinds) != 1:
        raise click.UsageError("give one of --queries (retrieval), --pairs, or --matrix with --texts")
    if kinds[0]:
        _eval_retrieval(ctx, queries_path, qrels_path, corpus, fmt, id_field, text_field, recall_k, model,
                        collection, pooling_given, modes, fusion, dense_weight, lexical_weight, as_json)
    else:
        if matrix_path and not texts_path or texts_path and not matrix_path:
            raise click.UsageError("--matrix and --texts go together")
        _eval_pairs(ctx, pairs_path, matrix_path, texts_path, model, collection, pooling_given, as_json)


def _eval_retrieval(ctx, queries_path, qrels_path, corpus, fmt, id_field, text_field, recall_k, model, collection,
                    pooling_given, modes, fusion, dense_weight, lexical_weight, as_json):
    import os
    import tempfile

    from .. import QueryError, Vecdex
    from ..workbench.evaluate import evaluate_retrieval, load_qrels, load_queries

    try:
        recall_ks = sorted({int(x) for x in recall_k.split(",") if x.strip()})
    except ValueError:
        raise click.BadParameter("expected numbers like 10,100", param_hint="--recall-k") from None
    if not recall_ks or min(recall_ks) < 1:
        raise click.BadParameter("expected numbers like 10,100", param_hint="--recall-k")
    queries, inline = load_queries(queries_path)
    qrels = load_qrels(qrels_path) if qrels_path else {}
    for qid, judged in inline.items():
        qrels.setdefault(qid, {}).update(judged)
    if not qrels:
        raise click.UsageError("no relevance judgements: give --qrels or 'relevant' in the JSONL queries")
    rankings = [ranking_from(m, fusion, dense_weight, lexical_weight) for m in (modes or (None,))]
    with tempfile.TemporaryDirectory() as tmp:
        if corpus:
            from ...indexer.readers import ReadOptions, read_inputs

            vx = Vecdex(os.path.join(tmp, "eval.db"))
            coll = vx.collection("eval", create=True, model=model, **pooling_given)
            report = coll.add(read_inputs([corpus], ReadOptions(format=fmt, id_field=id_field, text_field=text_field)))
            if report.failed and not as_json:
                click.echo(f"note: {report.failed} corpus record(s) skipped", err=True)
        else:
            if model or pooling_given:
                raise click.UsageError("--model and pooling options describe a new configuration: use them with --corpus")
            vx = open_store(ctx)
            coll = vx.collection(collection)
        with vx:
            for ranking in rankings:
                result = evaluate_retrieval(lambda text, k: [h.id for h in coll.search(text, k, mode=ranking)],
                                            queries, qrels, recall_ks, on_error=QueryError)
                row = {"mode": ranking.mode, "queries": result.queries,
                       **{name: round(value, 6) for name, value in result.metrics.items()}}
                if ranking.mode == "hybrid":
                    row.update(fusion=ranking.fusion, dense_weight=ranking.dense_weight,
                               lexical_weight=ranking.lexical_weight)
                if as_json:
                    click.echo(json.dumps(row))
                else:
                    label = ranking.mode + (f" ({ranking.fusion} {ranking.dense_weight:g}:{ranking.lexical_weight:g})"
                                            if ranking.mode == "hybrid" else "")
                    metrics = "  ".join(f"{n}={v:.4f}" for n, v in result.metrics.items())
                    click.echo(f"{label:24s} queries={result.queries}  {metrics}")
                    if result.skipped:
                        click.echo(f"  ({len(result.skipped)} queries skipped or unanswered)")


def _eval_pairs(ctx, pairs_path, matrix_path, texts_path, model, collection, pooling_given, as_json):
    import numpy as np

    from ...indexer.embedders.factory import create_embedder
    from ..workbench.evaluate import correlate, load_matrix_pairs, load_pairs

    if pairs_path:
        left_texts, right_texts, gold = load_pairs(pairs_path)
        texts = list(dict.fromkeys(left_texts + right_texts))
        position = {t: i for i, t in enumerate(texts)}
        left, right = [position[t] for t in left_texts], [position[t] for t in right_texts]
    else:
        texts, pairs, gold = load_matrix_pairs(matrix_path, texts_path)
        left, right = [i for i, _ in pairs], [j for _, j in pairs]
    if model or pooling_given or collection == "default" and not _has_collection(ctx, collection):
        embedder = create_embedder("static", model=model, **pooling_given)
    else:
        with open_store(ctx) as vx:
            embedder = vx.collection(collection).embedder
    if embedder.needs_collection_fit and not (embedder.spec.get("fitted") or {}).get("documents"):
        embedder = embedder.fitted_on(texts)  # "fit on the collection" = on the texts being compared
    vectors = embedder.embed(texts).vectors
    scores = correlate(vectors[np.asarray(left)], vectors[np.asarray(right)], gold)
    row = {"pairs": scores["pairs"], "pearson": round(scores["pearson"], 6), "spearman": round(scores["spearman"], 6),
           "pooling": embedder.spec.get("pooling"), "components": embedder.spec.get("components"),
           "fit": embedder.spec.get("fit"), "model": embedder.spec.get("model")}
    if as_json:
        click.echo(json.dumps(row))
    else:
        click.echo(f"pairs={row['pairs']}  pearson={row['pearson']:.4f}  spearman={row['spearman']:.4f}  "
                   f"({row['model']}, pooling={row['pooling']}, components={row['components']}, fit={row['fit']})")


def _has_collection(ctx, name: str) -> bool:
    import os

    if "://" not in str(ctx.obj["db"]) and not os.path.exists(ctx.obj["db"]):
        return False
    with open_store(ctx) as vx:
        return any(c.name == name for c in vx.collections())


@click.command("eval-model", epilog="""
\b
Examples:
  vecdex eval-model                          # the built-in GloVe 6B 50d
  vecdex eval-model --model lee.kv --no-analogies
  vecdex eval-model --model glove-6b-50d --model domain.kv   # side by side
  vecdex eval-model --model word2vec:GoogleNews.bin --restrict-vocab 30000 --json
  vecdex eval-model --pairs my-pairs.tsv --analogies my-questions.txt
\b
Word similarity: WordSim-353 and SimLex-999 (Spearman/Pearson of cosine vs human
ratings). Analogies: questions-words.txt (accuracy, 3CosAdd). Files from gensim's
test data; rules as gensim's evaluate_word_pairs / evaluate_word_analogies.
Pairs and questions with words a model does not know are skipped and counted:
compare models on how much they cover as well as on their scores.
""")
@click.option("--model", "models", multiple=True, metavar="SPEC",
              help="Word-vector model (as for index --model); repeat to compare [default: glove-6b-50d].")
@click.option("--collection", "-c", default=None, metavar="NAME", help="Use the model this collection was built with.")
@click.option("--restrict-vocab", type=click.IntRange(min=1), default=300_000, show_default=True,
              help="Only the N most frequent words count as known (gensim's default).")
@click.option("--pairs", "pair_files", multiple=True, type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Word-pair file(s) (word<TAB>word<TAB>rating) instead of WordSim-353 and SimLex-999.")
@click.option("--analogies", "analogy_file", type=click.Path(exists=True, dir_okay=False), default=None,
              metavar="FILE", help="Analogy file instead of questions-words.txt.")
@click.option("--no-analogies", is_flag=True, help="Skip the analogy test (the slow part).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@json_option
@click.pass_context
def eval_model(ctx, models, collection, restrict_vocab, pair_files, analogy_file, no_analogies, quiet, as_json):
    """Score word models on word similarity and analogy benchmarks.

    With several --model options each is scored on the same files and a
    comparison table follows. --json prints one object per model.
    """
    from pathlib import Path

    from ..workbench.model_eval import evaluate_model

    if models and collection is not None:
        raise click.UsageError("give --model or --collection, not both")
    results = []
    for model in (models or [None]):
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if quiet or not sys.stderr.isatty():
                return
            if bar is None:
                from tqdm import tqdm

                bar = tqdm(total=total, desc="analogies", unit=" questions", file=sys.stderr, dynamic_ncols=True)
            bar.update(done - bar.n)

        space = word_space(ctx, model, collection)
        try:
            result = evaluate_model(
                space, pair_files=[(Path(p).stem, p) for p in pair_files] or None, analogy_file=analogy_file,
                analogies=not no_analogies, restrict_vocab=restrict_vocab, progress=progress)
        finally:
            if bar is not None:
                bar.close()
        results.append(result)
        if as_json:
            click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        else:
            if len(results) > 1:
                click.echo()
            _print_evaluation(result, restrict_vocab)
    if len(results) > 1 and not as_json:
        _print_comparison(results)


def _print_evaluation(result, restrict_vocab: int) -> None:
    known = min(restrict_vocab, result.vocabulary)
    click.echo(f"model {result.model}: {result.vocabulary:,} words, {result.dimension}d "
               f"(the {known:,} most frequent count as known)")
    click.echo(f"{'word similarity':<20}{'Spearman':>9}{'Pearson':>9}  pairs used")
    for p in result.word_pairs:
        click.echo(f"  {p.dataset:<18}{p.spearman:>9.3f}{p.pearson:>9.3f}  {p.used}/{p.pairs}")
    a = result.analogies
    if a is not None:
        click.echo(f"analogies ({a.dataset}): {a.accuracy:.1%} correct ({a.correct:,}/{a.used:,}; "
                   f"{a.oov:,} questions with unknown words skipped)")
        parts = [f"{name} {value:.1%}" for name, value in (("semantic", a.semantic_accuracy),
                                                           ("syntactic", a.syntactic_accuracy)) if value is not None]
        if parts:
            click.echo("  " + ", ".join(parts))
        for s in a.sections:
            shown = f"{s.accuracy:>7.1%}" if s.total else f"{'-':>7}"
            click.echo(f"  {s.section:<28}{shown}  ({s.correct}/{s.total})")


def _print_comparison(results) -> None:
    """One row per model: Spearman per pair set and analogy accuracy, with coverage."""
    names = [_short_model_name(r.model) for r in results]
    width = max(12, *(len(n) for n in names))
    header = f"{'model':<{width}}" + "".join(f"{p.dataset:>20}" for p in results[0].word_pairs)
    if results[0].analogies is not None:
        header += f"{'analogies':>22}"
    click.echo()
    click.echo(header)
    for name, r in zip(names, results):
        row = f"{name:<{width}}" + "".join(f"{p.spearman:>8.3f} ({p.used:>4}/{p.pairs:<4})" for p in r.word_pairs)
        if r.analogies is not None:
            a = r.analogies
            row += f"{a.accuracy:>8.1%} ({a.used:>5}/{a.questions:<5})"
        click.echo(row)
    click.echo("(Spearman and accuracy over the pairs/questions whose words the model knows: used/total)")


def _short_model_name(name: str) -> str:
    from pathlib import Path

    return name if "/" not in name else Path(name).name
