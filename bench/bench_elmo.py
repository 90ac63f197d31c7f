"""ELMo speed: bucketed vs input-order batching on the same real sentences, in one run.

    python bench/bench_elmo.py                 # real-size random-weight model, one indexing batch
    python bench/bench_elmo.py --sentences 320 --batch-size 32
    python bench/bench_elmo.py --model https://tfhub.dev/google/elmo/3   # a real module, if you have it
    python bench/bench_elmo.py --fit-cost      # re-fit bucketing's cost model on this machine

The model has the published ELMo sizes (char CNN with 2048 filters, 2-layer biLSTM
with 4096 cells and 512-d projections, ~93M parameters) and random weights:
timing does not depend on the weights. It is built once (~375 MB) into the vecdex
cache folder and reused. Sentences are a fixed random sample of the Lee background
corpus (gensim test data), split with sentence-splitter: real text with mixed
lengths. By default the sample is what one ``embed`` call gets while indexing:
the sentences of ``ElmoEmbedder.batch_bytes`` (100 KB) of text, ~750 sentences,
which is the pool bucketing sorts. Absolute speeds drift on a shared machine;
the ratio measured in the same run is the figure to read.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

import numpy as np


from vecdex.indexer.cache import cache_dir  # noqa: E402
from vecdex.indexer.embedders.elmo import DEFAULT_BATCH_SIZE, ElmoEmbedder, import_tensorflow  # noqa: E402
from vecdex.indexer.embedders.elmo_testing import REAL, build_elmo_savedmodel  # noqa: E402


def lee_sentences(n: int | None, seed: int, max_bytes: int = ElmoEmbedder.batch_bytes) -> list[str]:
    """A fixed random sample of Lee background sentences: ``n`` of them, or by
    default as many as fill ``max_bytes`` of UTF-8 text (one indexing batch)."""
    from gensim.test.utils import datapath
    from sentence_splitter import SentenceSplitter

    splitter = SentenceSplitter("en")
    text = Path(datapath("lee_background.cor")).read_text("utf-8")
    sentences = [s for line in text.splitlines() for s in splitter.split(line) if s.strip()]
    random.Random(seed).shuffle(sentences)
    if n is not None:
        return sentences[:n]
    sample, size = [], 0
    for sentence in sentences:
        size += len(sentence.encode("utf-8")) + 1
        if size > max_bytes:
            break
        sample.append(sentence)
    return sample


def real_size_model(seed: int) -> Path:
    root = cache_dir() or Path("/tmp")
    path = root / f"bench-elmo-real-seed{seed}"
    if not (path / "saved_model.pb").exists():
        print(f"building a real-size random ELMo into {path} (once) ...", flush=True)
        started = time.perf_counter()
        tmp = path.with_name(path.name + ".tmp")
        import_tensorflow()  # quietly, before the builder imports it
        build_elmo_savedmodel(tmp, REAL, seed=seed)
        tmp.rename(path)
        print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def peak_rss_mb() -> float:
    """The process's peak resident memory (Linux reports ru_maxrss in KB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fit_cost(embedder: ElmoEmbedder, seed: int = 0) -> None:
    """Time synthetic batches over a grid of sizes and widths; fit time = call +
    step * width + token * size * width and print it in padded-token units (the
    constants behind bucketing, ``CALL_COST_TOKENS`` and ``STEP_COST_TOKENS``)."""
    from vecdex.indexer.embedders import elmo

    words = "the bank of the river was full of trees and I went to deposit money .".split()
    rng = random.Random(seed)
    rows = []
    for width in (8, 16, 32, 64):
        for size in (4, 16, 32, 64, 128):
            if size * width > 4096:
                continue
            batch = [[rng.choice(words) for _ in range(width)] for _ in range(size)]
            embedder.module(batch, ["elmo"])  # warm
            best = float("inf")
            for _ in range(2):
                t0 = time.perf_counter()
                embedder.module(batch, ["elmo"])
                best = min(best, time.perf_counter() - t0)
            rows.append((size, width, best))
            print(f"  {size:4d} x {width:3d} tokens: {best * 1000:7.0f} ms  {best / (size * width) * 1000:5.2f} ms/token",
                  flush=True)
    design = np.array([[1.0, w, s * w] for s, w, _ in rows])
    (call, step, token), *_ = np.linalg.lstsq(design, np.array([r[2] for r in rows]), rcond=None)
    print(f"fit: {call * 1000:.0f} ms a call + {step * 1000:.2f} ms a time step + {token * 1000:.3f} ms a padded token")
    print(f"in padded-token units: call {call / token:.0f} (CALL_COST_TOKENS = {elmo.CALL_COST_TOKENS:.0f}), "
          f"step {step / token:.1f} (STEP_COST_TOKENS = {elmo.STEP_COST_TOKENS:.0f}); the call term is the least "
          "certain and matters least")


def padding_stats(embedder: ElmoEmbedder, token_lists: list[list[str]]) -> tuple[int, int, int]:
    """(real tokens, padded tokens, batches) the batching would feed the model."""
    lengths = [len(t) for t in token_lists]
    batches = list(embedder.batches(lengths))
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    return sum(lengths), padded, len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="ELMo handle or folder (default: the real-size random model)")
    parser.add_argument("--sentences", type=int, default=None,
                        help="sentences to embed (default: one indexing batch, ElmoEmbedder.batch_bytes of text)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--batch-tokens", type=int, default=None, help="max padded tokens per batch")
    parser.add_argument("--threads", type=int, default=0, help="TF intra-op threads (0 = TF's default)")
    parser.add_argument("--queries", type=int, default=10, help="single-sentence queries to time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fit-cost", action="store_true",
                        help="time a grid of batch shapes and fit bucketing's cost model instead")
    args = parser.parse_args()

    model = args.model or str(real_size_model(args.seed))
    started = time.perf_counter()
    bucketed = ElmoEmbedder.from_options(model=model, batch_size=args.batch_size, max_batch_tokens=args.batch_tokens,
                                         threads=args.threads, bucket=True)
    print(f"model {model}: {bucketed.dimension}d, loaded in {time.perf_counter() - started:.1f} s")
    if args.fit_cost:
        fit_cost(bucketed, args.seed)
        return
    # Baselines: our batching with sorting off (same limits), and the plain loop
    # over fixed batches of --batch-size sentences in input order.
    naive = ElmoEmbedder(bucketed.spec, bucketed.module, batch_size=args.batch_size,
                         max_batch_tokens=bucketed.max_batch_tokens, bucket=False)
    plain = ElmoEmbedder(bucketed.spec, bucketed.module, batch_size=args.batch_size, max_batch_tokens=10**9,
                         bucket=False)

    sentences = lee_sentences(args.sentences, args.seed)
    token_lists = [bucketed.tokenize(s) for s in sentences]
    lengths = sorted(len(t) for t in token_lists)
    kilobytes = sum(len(s.encode("utf-8")) + 1 for s in sentences) / 1000
    print(f"{len(sentences)} Lee background sentences ({kilobytes:.0f} KB); tokens per sentence: mean {statistics.mean(lengths):.1f}, "
          f"median {statistics.median(lengths):.0f}, min {lengths[0]}, max {lengths[-1]}; batches of <= {args.batch_size} "
          f"sentences and <= {bucketed.max_batch_tokens} padded tokens")

    bucketed.embed(sentences[: args.batch_size // 4 or 1])  # warm-up: first-call graph set-up

    # Input order and bucketed run twice each, A B B A: a machine that slows down
    # or speeds up during the run then weighs on both alike. The plain loop once.
    results: dict[str, tuple[np.ndarray, list[float]]] = {}
    runs = (("input order", naive), ("bucketed", bucketed), ("bucketed", bucketed), ("input order", naive),
            ("plain loop", plain))
    for name, embedder in runs:
        real, padded, n_batches = padding_stats(embedder, token_lists)
        t0 = time.perf_counter()
        vectors = embedder.embed(sentences).vectors
        seconds = time.perf_counter() - t0
        results.setdefault(name, (vectors, []))[1].append(seconds)
        print(f"{name:>11}: {len(sentences) / seconds:7.1f} sentences/s  {real / seconds:7.0f} tokens/s  "
              f"({seconds:.1f} s; {n_batches} batches, {padded} padded tokens for {real} real = "
              f"{padded / real:.2f}x; peak RSS so far {peak_rss_mb():.0f} MB)", flush=True)

    (v_naive, t_naive), (v_bucket, t_bucket), (v_plain, t_plain) = (
        results["input order"], results["bucketed"], results["plain loop"])
    s_naive, s_bucket, s_plain = statistics.mean(t_naive), statistics.mean(t_bucket), statistics.mean(t_plain)
    worst = float(max(abs(v_naive - v_bucket).max(), abs(v_plain - v_bucket).max()))
    print(f"bucketed / input order (same batch limits, mean of 2 runs each): {s_naive / s_bucket:.2f}x sentences/s "
          f"(target >= 2x); bucketed {len(sentences) / s_bucket:.1f} sentences/s")
    print(f"bucketed / plain loop of {args.batch_size}-sentence batches: {s_plain / s_bucket:.2f}x sentences/s")
    print(f"all three give the same vectors in input order (max |diff| {worst:.1e})")

    latencies = []
    queries = [s for s in sentences if 8 <= len(bucketed.tokenize(s)) <= 30][: args.queries]
    bucketed.embed_one(queries[0])
    for q in queries:
        t0 = time.perf_counter()
        bucketed.embed_one(q)
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))]
    print(f"single-sentence query embedding ({len(queries)} sentences of 8-30 tokens): "
          f"p50 {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
