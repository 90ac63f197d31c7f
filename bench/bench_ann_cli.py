"""The 400k GloVe words as one-word documents through the CLI, then word queries.

This is how others check the scale path: ``vecdex index`` on a 400k-line file
(the ``auto`` index turns into HNSW on its own), ``vecdex info``, then cold
``vecdex query`` runs and a batch of word queries from a file.

    python bench/bench_ann_cli.py            # all 400k words
    python bench/bench_ann_cli.py --n 50000  # a quicker check
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def vecdex(db: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "vecdex", "--db", str(db), *args], env=env, capture_output=True,
                          text=True, cwd=REPO)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"vecdex {' '.join(args)} failed: {done.stderr.strip()}")
    return seconds, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=None, help="how many words (default: all 400k)")
    args = parser.parse_args()
    from vecdex.indexer.embedders.wordvectors import load_word_vectors

    model = load_word_vectors(None)
    words = sorted(model.key_to_index, key=model.key_to_index.get)[: args.n]
    folder = Path(tempfile.mkdtemp(prefix="bench-ann-cli-"))
    corpus = folder / "words.txt"
    corpus.write_text("\n".join(words) + "\n", "utf-8")
    db = folder / "words.db"

    seconds, _ = vecdex(db, "index", str(corpus), "--format", "lines", "--quiet")
    print(f"vecdex index {len(words)} one-word documents (--format lines): {seconds:.1f}s "
          f"({len(words) / seconds:,.0f} documents/s end to end, index build included)")
    seconds, done = vecdex(db, "info", "--json")
    info = json.loads(done.stdout)
    print(f"vecdex info: {seconds:.2f}s; documents {info['documents']:,}, index {info['index_description']}, "
          f"file {info['index_file_bytes'] / 1e6:.0f} MB")
    line_of = {w: i + 1 for i, w in enumerate(words)}
    for word in ("king", "paris", "computer"):
        seconds, done = vecdex(db, "query", word, "-k", "5", "--json")
        hits = [json.loads(line) for line in done.stdout.splitlines()]
        found = [words[int(h["id"]) - 1] for h in hits]
        print(f"vecdex query {word!r} (cold CLI): {seconds:.2f}s -> {found}"
              f"{'' if hits and hits[0]['id'] == str(line_of[word]) else '  (the word itself is not first!)'}")
    queries = folder / "queries.txt"
    sample = words[1000:1100]
    queries.write_text("\n".join(sample) + "\n", "utf-8")
    seconds, done = vecdex(db, "query", "--queries", str(queries), "-k", "10", "--json")
    hits = [json.loads(line) for line in done.stdout.splitlines()]
    first = sum(1 for h in hits if h["rank"] == 1 and words[int(h["id"]) - 1] == h["query"])
    print(f"vecdex query --queries (100 words, one process): {seconds:.2f}s; the word itself ranked first "
          f"for {first}/100")
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
