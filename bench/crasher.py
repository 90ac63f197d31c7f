"""Crasher soak: writers, deleters, reindexers and searchers in several processes on
one store, killed with SIGKILL at random moments and restarted; after every
round of kills the store's invariants are checked (after qdrant/crasher).

    python bench/crasher.py --seconds 600            # the bench run (>= 200 kills)
    python bench/crasher.py --seconds 60 --json      # what the test suite runs, shorter

Each worker owns its ids and logs every operation twice, in an append-only file:
an intent line before it and a done line only after the commit returned. So a
done line is an acknowledged write; an intent without its done (the kill came
in between) may or may not have happened, and both outcomes are accepted.

Checked after every round (violations counted by kind):
- lost: an acknowledged write (upsert or delete) is not what the store holds;
- phantom: a document present that no log says should be;
- duplicate: an id stored twice, or a document with more chunks than it should;
- no-chunks: a document without its chunks;
- index-ids: the FAISS index (file caught up) holds other ids than the store;
- not-found: a live chunk not returned by a search for its own vector
  (rows visible to get but not to query);
- orphan: a worker's pool process alive after its parent was killed;
- temp-file: a temp file of a dead writer left after the store was opened;
- check: ``vecdex check`` reports a problem;
- worker: a worker saw something wrong while running (a search missed a
  document it had just written), or exited with an error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

DIM = 16
VECTOR_COLLECTION = "v"
TEXT_COLLECTION = "t"
WORDS = ("river flood rain town election vote result fire bush home bank rate market team final goal moon "
         "water science school child court judge law police city road car train ship storm wind snow").split()


# -- the workload (one worker process) ---------------------------------------------------


def vector_of(doc_id: str, version: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(f"{doc_id}|{version}".encode(), digest_size=8).digest(), "little")
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def text_of(doc_id: str, version: int) -> str:
    rng = random.Random(f"{doc_id}|{version}")
    return f"{doc_id} v{version}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 40))) + "."


class Log:
    """Append-only, one JSON line per event, flushed to the OS at once (a SIGKILL
    loses nothing the kernel has; the machine is not power-cycled here)."""

    def __init__(self, path: Path):
        self.handle = open(path, "a", encoding="utf-8")

    def write(self, **event) -> None:
        self.handle.write(json.dumps(event) + "\n")
        self.handle.flush()


def run_worker(db: str, worker: int, kind: str, log_path: str, seed: int, parent: int) -> None:
    from vecdex.indexer.lifeline import die_with_parent
    from vecdex.search import Vecdex

    die_with_parent(parent)  # a soak that is stopped takes its workers along

    rng = random.Random(seed)
    log = Log(Path(log_path))
    versions, uncertain = _replay_own(Path(log_path))
    vx = Vecdex(db)
    name = TEXT_COLLECTION if kind == "text" else VECTOR_COLLECTION
    coll = vx.collection(name)
    while True:
        op = rng.choices(["upsert", "delete", "reindex", "search"], weights=[6, 2, 0.3, 2])[0]
        if op == "upsert":
            ids = [f"w{worker}-{rng.randrange(60)}" for _ in range(rng.randint(1, 12 if kind == "vector" else 300))]
            ids = list(dict.fromkeys(ids))
            new = {i: abs(versions.get(i, 0)) + 1 for i in ids}
            log.write(ev="intent", op="upsert", ids=new)
            if kind == "vector":
                coll.add_vectors(ids, np.stack([vector_of(i, new[i]) for i in ids]),
                                 texts=[text_of(i, new[i]) for i in ids])
            else:
                coll.add([{"id": i, "text": text_of(i, new[i])} for i in ids], workers=2)
            log.write(ev="done")
            versions.update(new)
            uncertain.difference_update(new)
        elif op == "delete":
            live = [i for i, v in versions.items() if v > 0]
            if not live:
                continue
            ids = rng.sample(live, min(len(live), rng.randint(1, 5)))
            log.write(ev="intent", op="delete", ids={i: -versions[i] for i in ids})
            coll.delete(ids)
            log.write(ev="done")
            versions.update({i: -versions[i] for i in ids})
            uncertain.difference_update(ids)
        elif op == "reindex":
            coll.reindex(rng.choice(["flat", "auto"]))
        elif op == "search" and kind == "vector":
            live = [i for i, v in versions.items() if v > 0 and i not in uncertain]
            if live:
                doc = rng.choice(live)
                hits = coll.search_vector(vector_of(doc, versions[doc]), k=1)
                if not hits or hits[0].id != doc:
                    log.write(ev="violation", kind="worker", detail=f"search for {doc} returned "
                              f"{hits[0].id if hits else 'nothing'}")


def _replay_own(path: Path) -> tuple[dict[str, int], set[str]]:
    """The versions a restarted worker continues from, and the ids whose last
    operation may or may not have happened (an unfinished operation's ids take the
    bigger of both outcomes' numbers, so a new version never repeats an old one)."""
    versions: dict[str, int] = {}
    uncertain: set[str] = set()
    for ids, acknowledged in _operations(path):
        for doc, version in ids.items():
            if acknowledged:
                versions[doc] = version
                uncertain.discard(doc)
            else:
                versions[doc] = max(abs(versions.get(doc, 0)), abs(version)) * (1 if version > 0 else -1)
                uncertain.add(doc)
    return versions, uncertain


def _events(path: Path):
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            return  # a line cut by the kill: the operation was not acknowledged


def _operations(path: Path):
    """(ids -> state each operation sets, acknowledged?) of a worker's log, in order:
    an intent followed by its done line is acknowledged; one followed by another
    intent (or nothing) was cut by a kill."""
    pending = None
    for event in _events(path):
        if event["ev"] == "intent":
            if pending:
                yield pending["ids"], False
            pending = event
        elif event["ev"] == "done" and pending:
            yield pending["ids"], True
            pending = None
    if pending:
        yield pending["ids"], False


# -- the model and the checks ---------------------------------------------------------------


def expected(log_paths: list[Path]) -> tuple[dict[str, int], dict[str, set[int]]]:
    """(acknowledged state: id -> version, or -version for deleted; ids whose last
    operation was never acknowledged -> every state they may be in)."""
    state: dict[str, int] = {}
    maybe: dict[str, set[int]] = {}
    for path in log_paths:
        for ids, acknowledged in _operations(path):
            for doc, version in ids.items():
                if acknowledged:
                    state[doc] = version
                    maybe.pop(doc, None)
                else:
                    maybe.setdefault(doc, {state.get(doc, 0)}).add(version)
    return state, maybe


def check_store(db: Path, log_dir: Path, worker_pids: list[int]) -> Counter:
    from vecdex.search import Vecdex
    from vecdex.storage.files import stale_temp_files

    violations: Counter = Counter()
    for pid in worker_pids:
        if _alive(pid):
            violations["orphan"] += 1
    for path in log_dir.glob("*.log"):
        violations.update(e["kind"] for e in _events(path) if e["ev"] == "violation")
    with Vecdex(db, create=False) as vx:
        for name, kind in ((VECTOR_COLLECTION, "vector"), (TEXT_COLLECTION, "text")):
            if vx.store.get_collection(name) is None:
                continue
            logs = sorted(log_dir.glob(f"{kind}-*.log"))
            state, maybe = expected(logs)
            coll = vx.collection(name)
            cid = coll.info.id
            with vx.store.reading() as conn:
                docs = conn.exec_driver_sql(
                    "SELECT d.ext_id, d.text, count(c.id) FROM documents d LEFT JOIN chunks c ON c.document_id = d.id "
                    "WHERE d.collection_id = ? GROUP BY d.id", (cid,)).all()
                chunk_ids = {r[0] for r in conn.exec_driver_sql(
                    "SELECT id FROM chunks WHERE collection_id = ?", (cid,))}
            stored: dict[str, int] = {}
            for ext_id, text, n_chunks in docs:
                if ext_id in stored:
                    violations["duplicate"] += 1
                version = int(text.split(":", 1)[0].rsplit(" v", 1)[1])
                stored[ext_id] = version
                if n_chunks == 0:
                    violations["no-chunks"] += 1
                elif kind == "vector" and n_chunks != 1:
                    violations["duplicate"] += 1
            for doc in set(state) | set(stored) | set(maybe):
                have = stored.get(doc, 0)
                allowed = maybe.get(doc, {state.get(doc, 0)})
                # deleted (negative) and never written (0) both mean "absent"
                if (have if have > 0 else 0) not in {(v if v > 0 else 0) for v in allowed}:
                    violations["phantom" if have > 0 and all(v <= 0 for v in allowed) else "lost"] += 1
            index = coll.index()
            if index.count() != len(chunk_ids):
                violations["index-ids"] += 1
            if kind == "vector":
                for doc, version in stored.items():
                    hits = coll.search_vector(vector_of(doc, version), k=1)
                    if not hits or hits[0].id != doc:
                        violations["not-found"] += 1
            else:
                for ext_id, text, _ in docs[:50]:
                    hits = coll.search_vector(coll.embedder.embed([text]).vectors[0], k=3)
                    if ext_id not in {h.id for h in hits}:
                        violations["not-found"] += 1
        if stale_temp_files(vx.indexes.folder):
            violations["temp-file"] += 1
        report = vx.check()
        violations["check"] += len(report.problems)
        for problem in report.problems:
            print("check:", problem, file=sys.stderr)
    return violations


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


# -- the soak -------------------------------------------------------------------------------


def soak(folder: Path, seconds: float, vector_workers: int, text_workers: int, seed: int,
         min_kills: int = 0) -> dict:
    from vecdex.search import Vecdex

    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "crash.db"
    logs = folder / "logs"
    logs.mkdir(exist_ok=True)
    with Vecdex(db) as vx:
        vx.collection(VECTOR_COLLECTION, create=True, embedder="precomputed", dimension=DIM, index="flat")
        if text_workers:
            vx.collection(TEXT_COLLECTION, create=True)
    rng = random.Random(seed)
    kills = rounds = 0
    violations: Counter = Counter()
    started = time.monotonic()
    acknowledged_before = 0
    while time.monotonic() - started < seconds or kills < min_kills:
        procs = []
        for n in range(vector_workers + text_workers):
            kind = "vector" if n < vector_workers else "text"
            log_path = logs / f"{kind}-{n}.log"
            procs.append(subprocess.Popen(
                [sys.executable, __file__, "--worker", str(n), "--kind", kind, "--db", str(db),
                 "--log", str(log_path), "--seed", str(rng.randrange(2**31)), "--parent", str(os.getpid())],
                start_new_session=True, stderr=subprocess.PIPE))
        time.sleep(rng.uniform(0.8, 3.0))  # imports take ~0.5 s: most kills land mid-work
        pool_pids = [c for p in procs for c in _children(p.pid)]
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)  # only the worker: its pool must follow by itself
                kills += 1
            else:
                err = proc.stderr.read().decode()[-500:]
                violations["worker"] += 1
                print(f"worker exited with {proc.returncode}: {err}", file=sys.stderr)
            proc.wait()
            proc.stderr.close()
        time.sleep(2.0)  # parent-death handling gets its second or two
        rounds += 1
        violations += check_store(db, logs, pool_pids)
    acknowledged = sum(1 for path in logs.glob("*.log") for e in _events(path) if e["ev"] == "done")
    return {"kills": kills, "rounds": rounds, "acknowledged_writes": acknowledged - acknowledged_before,
            "violations": dict(violations), "violation_total": sum(violations.values()),
            "seconds": round(time.monotonic() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--min-kills", type=int, default=0, help="keep going until this many kills")
    parser.add_argument("--vector-workers", type=int, default=3)
    parser.add_argument("--text-workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--folder", default=None, help="where the store and logs go [default: a temp folder]")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="vector", help=argparse.SUPPRESS)
    parser.add_argument("--db", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--log", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--parent", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        run_worker(args.db, args.worker, args.kind, args.log, args.seed, args.parent)
        return
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder) if args.folder else Path(tmp)
        result = soak(folder, args.seconds, args.vector_workers, args.text_workers, args.seed, args.min_kills)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"kills: {result['kills']} in {result['rounds']} rounds, acknowledged writes: "
              f"{result['acknowledged_writes']}, run time: {result['seconds']} s")
        print(f"violations: {result['violation_total']}"
              + "".join(f"\n  {kind}: {n}" for kind, n in sorted(result["violations"].items())))
    sys.exit(1 if result["violation_total"] else 0)


if __name__ == "__main__":
    main()
