"""kill -9 while the lexical (tantivy) index commits: the next query is right and complete.

A real subprocess writes documents in rounds (some rounds large enough to catch
the index up inside the write, small ones caught up by the search that follows)
and deletes some, while it is SIGKILLed at random moments, several times. After
each kill, a fresh process's lexical search must find exactly the documents the
store holds, no more (deleted ones) and no fewer (committed ones).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from conftest import TESTS
from vecdex.search import Vecdex, lexical

WORKER = r"""
import sys
from vecdex.indexer.embedders import factory
from vecdex.search import Vecdex
factory.EMBEDDERS.setdefault("fake", "fakes:FakeEmbedder")
vx = Vecdex(sys.argv[1])
coll = vx.collection("c", create=True, embedder="fake")
start = int(sys.argv[2])
for round_ in range(10_000):
    n = 1500 if round_ % 3 == 0 else 150  # 1500: caught up inside add(); 150: by the search
    base = start + round_ * 2000
    coll.add([{"id": str(base + i), "text": f"storm over the river number{base + i}", "metadata": {"r": round_}}
              for i in range(n)])
    coll.delete([str(base + i) for i in range(0, n, 7)])
    coll.search("storm", 3, mode="lexical")
    print(round_, flush=True)
"""


def stored_ids(vx: Vecdex) -> set[str]:
    with vx.store.reading() as conn:
        return {r[0] for r in conn.exec_driver_sql("SELECT ext_id FROM documents")}


@pytest.mark.slow
def test_killed_mid_commit_the_next_query_is_right_and_complete(tmp_path):
    db = tmp_path / "crash.db"
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    rng = random.Random(11)
    kills = 0
    for attempt in range(5):
        proc = subprocess.Popen([sys.executable, "-c", WORKER, str(db), str(attempt * 10_000_000)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            proc.stdout.readline()  # at least one round done: there is an index to damage
            time.sleep(rng.uniform(0.05, 1.0))
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait()
        with Vecdex(db) as vx:
            coll = vx.collection("c")
            ids = stored_ids(vx)
            found = lexical.search(vx.lexical, coll.info.id, ["storm"], len(ids) + 10)
            found = {h.id for h in lexical.hits(vx.store, found, ["storm"])}
            assert found == ids
            probe = sorted(ids)[len(ids) // 2]
            assert [h.id for h in coll.search(f"number{probe}", 1, mode="lexical")] == [probe]
            assert [h.id for h in coll.search("river", 1, where={"r": 0}, mode="hybrid")]
    assert kills >= 4
