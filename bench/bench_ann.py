"""Approximate-index benchmark, the ann-benchmarks way, on vectors that ship with vecdex.

The collection is the GloVe 6B 50d word vectors (400k words, bundled with the
install); 1,000 held-out words are the queries; ground truth is the exact
top-10 by brute force. For each index type and a sweep of its search knob it
prints recall@10, queries/s single-query and batched, and build time for

  (a) vecdex: ``Collection.search_vector`` / ``search_vectors`` on a store of
      precomputed vectors (documents, ids, the index cache, the whole path), and
  (b) raw FAISS: the same index type and parameters built and searched directly,

measured in the same run, interleaved, best of 3 passes each (ann-benchmarks
keeps the best run too), and the ratio (a)/(b). Also bytes per vector (file and
resident memory). Absolute times drift on a shared machine; the ratios are the result.

    python bench/bench_ann.py                 # the full 400k run (~15 min on 2 cores)
    python bench/bench_ann.py --n 20000       # a quick check
    python bench/bench_ann.py --types hnsw,auto
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np


from vecdex.indexer.embedders.wordvectors import load_word_vectors  # noqa: E402
from vecdex.search import Vecdex, hit_cache  # noqa: E402
from vecdex.storage.ann.spec import format_spec, ivf_nlist, parse_index_spec  # noqa: E402

K = 10


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """recall@k as ann-benchmarks counts it: share of the true top-k that came back."""
    return float(np.mean([len(set(f[f >= 0].tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth)]))


def load_data(n: int | None, n_queries: int, seed: int = 7):
    model = load_word_vectors(None)
    vectors = np.array(model.vectors if n is None else model.vectors[: n + n_queries], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
    by_row = {row: word for word, row in model.key_to_index.items()}
    rng = np.random.default_rng(seed)
    held_out = np.sort(rng.choice(len(vectors), n_queries, replace=False))
    keep = np.setdiff1d(np.arange(len(vectors)), held_out)
    words = [by_row[int(i)] for i in keep]
    return words, vectors[keep], vectors[held_out]


def ground_truth(base: np.ndarray, queries: np.ndarray) -> np.ndarray:
    flat = faiss.IndexFlatIP(base.shape[1])
    flat.add(base)
    return flat.search(queries, K)[1]


# -- raw FAISS with the same parameters ------------------------------------------------------


def raw_build(spec: dict, base: np.ndarray):
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # builds on all cores, as vecdex's do
    d = base.shape[1]
    kind = spec["type"]
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, int(spec["M"]), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = int(spec["efConstruction"])
    elif kind == "ivf":
        index = faiss.index_factory(d, f"IVF{spec['nlist']},Flat", faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.index_factory(d, f"IVF{spec['nlist']},PQ{spec['m']}x{spec['nbits']}np", faiss.METRIC_INNER_PRODUCT)
        if int(spec.get("rerank", 1)):
            index = faiss.IndexRefineFlat(index)
    if not index.is_trained:
        cap = (int(spec["nlist"]) * 256)
        sample = base if len(base) <= cap else base[np.sort(np.random.default_rng(1234).choice(len(base), cap, replace=False))]
        index.train(sample)
    index.add(base)
    return index


def raw_params(spec: dict, knob: int | None):
    kind = spec["type"]
    if kind == "hnsw":
        params = faiss.SearchParametersHNSW()
        params.efSearch = knob
        return params
    if kind == "ivf":
        params = faiss.SearchParametersIVF()
        params.nprobe = knob
        return params
    if kind == "ivfpq":
        base = faiss.SearchParametersIVF()
        base.nprobe = knob
        if int(spec.get("rerank", 1)):
            params = faiss.IndexRefineSearchParameters()
            params.k_factor = float(spec.get("k_factor", 8))
            params.base_index_params = base
            return params, base  # keep base alive
        return base
    return None


def measure(coll, raw, queries: np.ndarray, row_of: dict[str, int], knob_name: str | None, knob: int | None,
            params, rounds: int = 10, runs: int = 3):
    """Single-query and batched throughput of vecdex and raw FAISS, interleaved.

    The machine is shared: measuring one side after the other would hand the
    ratio to whoever else is running. Each round times vecdex and raw FAISS on
    the same slice of queries (alternating who goes first), so both see the same
    background load and the same cache state. As in ann-benchmarks, the whole
    pass is run ``runs`` times and each side keeps its best pass: the first pass
    also pays for first touches of the index and store pages.
    """
    kwargs = {knob_name: knob} if knob_name and knob is not None else {}
    keep = params
    params = params[0] if isinstance(params, tuple) else params
    best_vx = best_raw = float("inf")
    for _ in range(runs):
        found, raw_found = [], []
        t_vx = t_raw = 0.0
        for number, part in enumerate(np.array_split(np.arange(len(queries)), rounds)):
            # Alternate who goes first: the second side finds the first one's graph
            # nodes / lists for the same queries already in the CPU caches.
            for side in ((0, 1) if number % 2 == 0 else (1, 0)):
                started = time.perf_counter()
                if side == 0:
                    hits = [coll.search_vector(queries[i], k=K, **kwargs) for i in part]
                    t_vx += time.perf_counter() - started
                else:
                    raw_part = [raw.search(queries[i : i + 1], K, params=params)[1][0] for i in part]
                    t_raw += time.perf_counter() - started
            found += [[row_of[h.id] for h in row] + [-1] * (K - len(row)) for row in hits]
            raw_found += raw_part
        best_vx, best_raw = min(best_vx, t_vx), min(best_raw, t_raw)
    b_vx = b_raw = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        coll.search_vectors(queries, k=K, **kwargs)
        b_vx = min(b_vx, time.perf_counter() - started)
        started = time.perf_counter()
        raw.search(queries, K, params=params)
        b_raw = min(b_raw, time.perf_counter() - started)
    del keep
    n = len(queries)
    return (np.array(found), np.array(raw_found), n / best_vx, n / best_raw, n / b_vx, n / b_raw)


def sweep_for(spec: dict, quick: bool) -> tuple[str | None, list[int | None]]:
    kind = spec["type"]
    if kind == "hnsw":
        return "ef", [16, 32, 64, 128] if quick else [16, 32, 48, 64, 96, 128, 192, 256]
    if kind in ("ivf", "ivfpq"):
        nlist = int(spec["nlist"])
        probes = [p for p in (4, 8, 16, 32, 64, 128, 256) if p <= nlist]
        return "nprobe", probes
    return None, [None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=None, help="collection size (default: all 400k words less the queries)")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--types", default="flat,auto,hnsw,ivf,ivfpq")
    parser.add_argument("--quick", action="store_true", help="fewer knob settings")
    parser.add_argument("--threads", type=int, default=None, help="FAISS threads (default: all cores)")
    parser.add_argument("--keep", help="folder for the store (default: a temp folder, removed)")
    args = parser.parse_args()
    if args.threads:
        faiss.omp_set_num_threads(args.threads)

    words, base, queries = load_data(args.n, args.queries)
    n, d = base.shape
    row_of = {w: i for i, w in enumerate(words)}
    print(f"GloVe 6B {d}d: {n} vectors, {len(queries)} held-out queries, k={K}, FAISS {faiss.__version__}, "
          f"{faiss.omp_get_max_threads()} threads")
    started = time.perf_counter()
    truth = ground_truth(base, queries)
    print(f"ground truth by brute force: {time.perf_counter() - started:.1f}s")

    # IVF lists: vecdex's own rule would take sqrt-scaled 4*sqrt(n) (~2500 at 400k);
    # the bench fixes 1024 so the two k-means trainings fit a shared 2-core box.
    nlist = min(1024, ivf_nlist(n))
    specs = {
        "flat": "flat",
        "auto": "auto",
        "hnsw": "hnsw:M=32,efConstruction=80,efSearch=128",
        "ivf": f"ivf:nlist={nlist},nprobe=32",
        "ivfpq": f"ivfpq:nlist={nlist},nprobe=32,m=25,nbits=8,rerank=1,k_factor=8",
    }
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-ann-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "ann.db"
    vx = Vecdex(db)
    coll = vx.collection("glove", create=True, embedder="precomputed", dimension=d, model="glove-6b-50d-words",
                         index="flat")
    started = time.perf_counter()
    coll.add_vectors(words, base, texts=words)
    print(f"stored {n} vectors as documents via add_vectors: {time.perf_counter() - started:.1f}s "
          "(includes building the flat index)\n")

    header = (f"{'index':40} {'knob':>10} {'recall':>7} {'raw rec':>7} {'QPS 1q':>8} {'raw 1q':>8} {'ratio':>6} "
              f"{'QPS batch':>9} {'raw batch':>9} {'ratio':>6}")
    summary = []
    build_cpu: dict[str, float] = {}
    built: dict[str, tuple[dict, float]] = {}   # concrete build spec -> (spec, vecdex build seconds)
    raws: dict[str, tuple[object, float]] = {}  # the same for raw FAISS
    for name in [t.strip() for t in args.types.split(",") if t.strip()]:
        spec_text = specs[name]
        wanted = parse_index_spec(spec_text)
        key = _build_key(wanted)
        if name != "auto" and key in built:
            build = built[key][1]  # the same graph/lists: knobs are per search, no need to build twice
            print(f"== {name}: {format_spec(wanted)} (same build as before: search knobs only)")
        else:
            started, cpu = time.perf_counter(), time.process_time()
            coll.reindex(spec_text)
            build = time.perf_counter() - started
            build_cpu[name] = time.process_time() - cpu
        info = coll.stats()
        concrete = info["index"].get("resolved", info["index"]) if info["index"]["type"] == "auto" else info["index"]
        built[_build_key(concrete)] = (concrete, build)
        vx.close()
        vx = Vecdex(db)
        coll = vx.collection("glove")
        rss_before = rss_bytes()
        opened = time.perf_counter()
        index = coll.index()
        open_seconds = time.perf_counter() - opened
        resident = rss_bytes() - rss_before
        full = {**_defaults(dict(concrete), n, d, index), **(wanted if name != "auto" else {})}
        raw_key = _build_key(full)
        if raw_key not in raws:
            raw_started, cpu = time.perf_counter(), time.process_time()
            raws[raw_key] = (raw_build(full, base), time.perf_counter() - raw_started, time.process_time() - cpu)
        raw, raw_build_s, raw_cpu = raws[raw_key]
        raw_bytes = len(faiss.serialize_index(raw))
        print(f"== {name}: {format_spec(info['index'])}")
        print(f"   build: vecdex {build:.1f}s wall / {build_cpu.get(name, 0):.1f}s CPU (reads the store, trains, "
              f"writes the file), raw FAISS {raw_build_s:.1f}s wall / {raw_cpu:.1f}s CPU, "
              f"ratio {build / max(raw_build_s, 1e-9):.2f}; load average {os.getloadavg()[0]:.1f}")
        print(f"   size: file {info['index_file_bytes'] / n:.1f} B/vector ({info['index_file_bytes'] / 1e6:.1f} MB), "
              f"resident after open {resident / n:.1f} B/vector, raw FAISS serialised {raw_bytes / n:.1f} B/vector; "
              f"open {open_seconds:.2f}s")
        knob_name, knobs = sweep_for(full, args.quick)
        if name == "auto":
            knobs = [None]
        print("   " + header)
        for knob in knobs:
            raw_knob = knob if knob is not None else _default_knob(full, index)
            found, raw_found, single, raw_single, batched, raw_batched = measure(
                coll, raw, queries, row_of, knob_name, knob, raw_params(full, raw_knob))
            r, rr = recall(found, truth), recall(raw_found, truth)
            label = f"{knob_name}={knob}" if knob is not None else ("default" if raw_knob is None else f"({raw_knob})")
            print(f"   {format_spec(concrete)[:40]:40} {label:>10} {r:7.3f} {rr:7.3f} {single:8.0f} {raw_single:8.0f} "
                  f"{single / raw_single:6.2f} {batched:9.0f} {raw_batched:9.0f} {batched / raw_batched:6.2f}")
            summary.append((name, label, r, rr, single, raw_single, build, raw_build_s))
        cached = coll.stats()["hit_cache_bytes"]
        print(f"   hit rows held in memory after {hit_cache.HIT_CACHE_AFTER} searches: {cached / 1e6:.0f} MB "
              f"({cached / n:.0f} B/vector; the first pass of the first knob read SQLite until then)")
        print()

    print("targets:")
    hnsw = [s for s in summary if s[0] in ("hnsw", "auto") and s[2] >= 0.95 and s[3] >= 0.95]
    if hnsw:
        best = max(hnsw, key=lambda s: s[4])
        print(f"  vecdex HNSW at recall {best[2]:.3f} ({best[1]}): {best[4]:.0f} q/s vs raw FAISS HNSW {best[5]:.0f} q/s "
              f"-> {best[4] / best[5]:.2f}x (target >= 0.75x)")
    auto = [s for s in summary if s[0] == "auto"]
    if auto:
        print(f"  auto: recall@10 {auto[0][2]:.3f} with no settings (target >= 0.95); build {auto[0][6]:.1f}s wall, "
              f"{build_cpu.get('auto', 0):.1f}s CPU (target <= 120 s on 2 cores at 400k; CPU/2 is the idle-box "
              "wall time)")
    vx.close()
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def _build_key(spec: dict) -> str:
    """What decides the built structure (search-time knobs left out)."""
    return repr(sorted((k, v) for k, v in spec.items() if k not in ("efSearch", "nprobe", "k_factor", "resolved")))


def _defaults(spec: dict, n: int, d: int, index) -> dict:
    """The parameters a vecdex backend used, so raw FAISS is built the same way."""
    info = index.describe()
    out = dict(spec)
    if spec["type"] == "hnsw":
        out.setdefault("M", info["M"])
        out.setdefault("efConstruction", info["efConstruction"])
        out.setdefault("efSearch", info["efSearch"])
    if spec["type"] in ("ivf", "ivfpq"):
        out.setdefault("nlist", info["nlist"])
        out.setdefault("nprobe", info["nprobe"])
    if spec["type"] == "ivfpq":
        out.setdefault("m", info["m"])
        out.setdefault("nbits", info["nbits"])
    return out


def _default_knob(spec: dict, index) -> int | None:
    if spec["type"] == "hnsw":
        return int(spec.get("efSearch", index.describe()["efSearch"]))
    if spec["type"] in ("ivf", "ivfpq"):
        return int(spec.get("nprobe", index.describe()["nprobe"]))
    return None


if __name__ == "__main__":
    main()
