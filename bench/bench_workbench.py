"""Workbench speed against gensim doing the same work, measured in the same run.

    python bench/bench_workbench.py [--epochs 5] [--every 12] [--repeat 3]

- train: ``vecdex train`` (read + tokenise + temp file + gensim Word2Vec + save)
  on the Lee background corpus vs gensim Word2Vec trained directly on the
  already-tokenised sentences in memory (same settings, one worker each so the
  ratio is not noise from a shared machine). The ratio is our overhead.
- analogies: our batched evaluation vs gensim's ``evaluate_word_analogies`` on
  the same questions (every Nth of questions-words.txt) and the same GloVe
  vectors, restrict_vocab 30,000; also checks both give the same count.
- nearest words: ``WordSpace.nearest`` vs gensim ``most_similar`` over 400k GloVe words.
Times are medians of ``--repeat`` runs; absolute times drift on a shared machine,
the ratios are the result.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path



def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_train(epochs: int, repeat: int) -> None:
    from gensim.models import Word2Vec
    from gensim.test.utils import datapath
    from vecdex.indexer import tokenize
    from vecdex.indexer.readers import ReadOptions
    from vecdex.indexer.training import TrainOptions, train

    corpus = datapath("lee_background.cor")
    sentences = [[t.lower() for t in tokenize.words(line)]
                 for line in Path(corpus).read_text("utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        ours = median_time(lambda: train([corpus], Path(tmp) / "m.kv", TrainOptions(epochs=epochs, workers=1),
                                         ReadOptions(format="lines")), repeat)
    raw = median_time(lambda: Word2Vec(sentences, vector_size=100, window=5, min_count=5, epochs=epochs, workers=1),
                      repeat)
    print(f"train word2vec, Lee corpus ({sum(map(len, sentences)):,} tokens, {epochs} epochs, 1 worker):")
    print(f"  vecdex train (read, tokenise, train, save)  {ours:6.2f} s")
    print(f"  gensim Word2Vec on tokenised sentences     {raw:6.2f} s")
    print(f"  ratio vecdex / gensim                      {ours / raw:6.2f}x")


def bench_analogies(every: int, repeat: int) -> None:
    import numpy as np
    from gensim.models import KeyedVectors
    from vecdex.search.workbench.model_eval import analogy_sample, evaluate_analogies
    from vecdex.search.workbench.words import WordSpace

    space = WordSpace.load(None)
    kv = KeyedVectors(space.model.dimension)
    kv.add_vectors(list(space.keys), np.asarray(space.model.vectors))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "questions.txt"
        path.write_text(analogy_sample(every), "utf-8")
        result = {}
        ours = median_time(lambda: result.update(ours=evaluate_analogies(space, path, restrict_vocab=30_000)), repeat)
        theirs = median_time(lambda: result.update(ref=kv.evaluate_word_analogies(str(path), restrict_vocab=30_000)),
                             1)  # gensim is slow: one run
    score = result["ours"]
    same = score.correct == len(result["ref"][1][-1]["correct"])
    print(f"analogies, GloVe 50d, {score.used:,} questions, restrict_vocab 30,000:")
    print(f"  vecdex (batched matrix products)  {ours:6.2f} s   accuracy {score.accuracy:.4f}")
    print(f"  gensim evaluate_word_analogies    {theirs:6.2f} s   accuracy {result['ref'][0]:.4f}   same: {same}")
    print(f"  speed-up                          {theirs / ours:6.1f}x")

    words = ["frog", "bank", "computer", "river", "music", "king", "paris", "doctor"]
    space.nearest("warm", 10)  # norms computed once, as for any session
    kv.most_similar("warm", topn=10)
    ours = median_time(lambda: [space.nearest(w, 10) for w in words], repeat) / len(words)
    theirs = median_time(lambda: [kv.most_similar(w, topn=10) for w in words], repeat) / len(words)
    print("nearest words over 400,000 GloVe words (per query):")
    print(f"  vecdex WordSpace.nearest   {ours * 1000:7.1f} ms")
    print(f"  gensim most_similar        {theirs * 1000:7.1f} ms")
    print(f"  ratio vecdex / gensim      {ours / theirs:7.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--every", type=int, default=12, help="use every Nth analogy question")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bench_train(args.epochs, args.repeat)
    bench_analogies(args.every, args.repeat)


if __name__ == "__main__":
    main()
