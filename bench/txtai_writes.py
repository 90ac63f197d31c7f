"""txtai's side of ``bench_writes.py --txtai PYTHON``: the same documents indexed by txtai.

    PYTHON bench/txtai_writes.py DATA_FOLDER OUT_FOLDER plain|hybrid

Run by bench_writes.py under an interpreter that has txtai (it needs torch,
which vecdex's environment does not carry). Reads ``vectors.npy`` and
``documents.json`` (ids, texts, metadata) from DATA_FOLDER and indexes them
with precomputed vectors (txtai's ``external`` method, the transform handing
over the next rows: txtai encodes in document order), content stored
(SQLite: text and metadata, as vecdex keeps them) and a FAISS index; ``hybrid``
adds txtai's BM25 index, as vecdex's lexical index. Saving to OUT_FOLDER is
timed too: vecdex's writes are on disk when its call returns. Prints one JSON
line: wall and CPU seconds (all threads) of the index and save calls.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from txtai import Embeddings


def main() -> None:
    data, out, kind = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    vectors = np.load(data / "vectors.npy")
    documents = json.loads((data / "documents.json").read_text(encoding="utf-8"))
    rows = [{"id": i, "text": t, **m} for i, t, m in zip(documents["ids"], documents["texts"], documents["metadata"])]
    handed = 0

    def transform(texts: list[str]) -> np.ndarray:
        nonlocal handed
        block = vectors[handed : handed + len(texts)]
        handed += len(texts)
        return block

    embeddings = Embeddings({"method": "external", "transform": transform, "content": True, "backend": "faiss",
                             "hybrid": kind == "hybrid"})
    wall, cpu = time.perf_counter(), time.process_time()
    embeddings.index(rows)
    embeddings.save(str(out / "txtai-index"))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if handed != len(rows) or embeddings.count() != len(rows):
        raise SystemExit(f"txtai indexed {embeddings.count()} of {len(rows)} documents ({handed} vectors handed over)")
    print(json.dumps({"wall": wall, "cpu": cpu}))


if __name__ == "__main__":
    main()
