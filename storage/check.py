"""``vecdex check``: verify a store and its caches, and repair what can be rebuilt.

What is checked, per store and per collection:
- SQLite's own integrity check and foreign keys;
- every chunk has its document (same collection), a document's chunks are
  numbered 0..n-1 and lie inside its text, no chunk or tombstone is newer than
  the collection's write counter;
- every vector blob has the collection's dimension and finite values;
- the FAISS file (the newest one the store would load) covers a state the store
  has, can be brought up to date, then holds exactly the store's chunk ids and
  finds each row by its own vector;
- the lexical (tantivy) index, brought up to date, holds every document;
- no stray files: another store's index files, temp files of saves killed
  midway (files of a retired generation are removed by --repair, or the next save).

Repair never touches a document: it rebuilds caches (FAISS files, the full-text
index), removes stray files and chunks that lost their document.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field

import numpy as np

from .ann.factory import load_index
from .files import stale_temp_files
from .index_cache import IndexCache
from .store import CollectionInfo, Store

#: Rows searched by their own vector to check an index answers for them.
SELF_SEARCH_ROWS = 2000
#: An approximate index may miss a few of its own rows; more is damage.
APPROXIMATE_SELF_RECALL = 0.9


@dataclass
class CheckReport:
    """Problems found (one line each) and what repair did."""

    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok, "problems": self.problems, "repaired": self.repaired}


def check_store(store: Store, indexes: IndexCache, collections: list[CollectionInfo] | None = None,
                *, repair: bool = False, lexical=None) -> CheckReport:
    """Check the whole store (or some of its collections); repair first if asked,
    then report what is still wrong. ``lexical``: the store's lexical cache."""
    report = CheckReport()
    whole = collections is None
    collections = store.list_collections() if whole else collections
    if repair and not store.read_only:
        _repair(store, indexes, collections, whole, report)
        if lexical is not None:
            for collection in collections:
                if _lexical_problems(store, lexical, collection):
                    lexical.forget(collection.id)
                    shutil.rmtree(lexical.path_for(collection.id), ignore_errors=True)
                    lexical.get(collection.id)
                    report.repaired.append(f"{collection.name}: rebuilt the lexical index from the store")
    report.problems.extend(_store_problems(store))
    for collection in collections:
        report.problems.extend(f"{collection.name}: {p}" for p in _collection_problems(store, collection))
        report.problems.extend(f"{collection.name}: {p}" for p in _cache_problems(store, indexes, collection))
        if lexical is not None:
            report.problems.extend(f"{collection.name}: {p}" for p in _lexical_problems(store, lexical, collection))
    # Files of a retired generation are not problems: harmless (never loaded) and
    # removed by the next save; --repair removes them at once.
    strays = (indexes.stray_files(None if whole else collections[0], retired=False)
              if (whole or len(collections) == 1) else [])
    report.problems.extend(f"stray file {p} (not used by this store; --repair removes it)" for p in strays)
    report.problems.extend(f"stray temp file {p} (left by a killed save; --repair removes it)"
                           for p in stale_temp_files(indexes.folder))
    return report


# -- the store ------------------------------------------------------------------------------


def _store_problems(store: Store) -> list[str]:
    problems = []
    with store.reading() as conn:
        integrity = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
        if integrity != ["ok"]:
            problems.extend(f"SQLite integrity: {line}" for line in integrity[:20])
        for table, rowid, parent, _ in conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()[:20]:
            problems.append(f"row {rowid} of {table} points to a missing {parent} row")
    return problems


def _collection_problems(store: Store, collection: CollectionInfo) -> list[str]:
    problems = []
    cid, dim = collection.id, int(collection.embedder["dimension"])
    with store.reading() as conn:
        seq = int(conn.exec_driver_sql("SELECT seq FROM collections WHERE id = ?", (cid,)).scalar_one())
        orphans = conn.exec_driver_sql(
            "SELECT count(*) FROM chunks c LEFT JOIN documents d ON d.id = c.document_id "
            "WHERE c.collection_id = ? AND (d.id IS NULL OR d.collection_id != c.collection_id)", (cid,)).scalar()
        if orphans:
            problems.append(f"{orphans} chunks without their document (--repair removes them)")
        for ext_id, n, top in conn.exec_driver_sql(
            "SELECT d.ext_id, count(c.id), max(c.ordinal) FROM documents d JOIN chunks c ON c.document_id = d.id "
            "WHERE d.collection_id = ? GROUP BY d.id HAVING count(c.id) != max(c.ordinal) + 1 "
            "OR min(c.ordinal) != 0 LIMIT 20", (cid,)):
            problems.append(f"document {ext_id!r} has {n} chunks numbered up to {top}: some are missing")
        outside = conn.exec_driver_sql(
            'SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.collection_id = ? '
            'AND (c.start < 0 OR c."end" < c.start OR c."end" > length(d.text))', (cid,)).scalar()
        if outside:
            problems.append(f"{outside} chunks span text outside their document")
        newer = conn.exec_driver_sql(
            "SELECT (SELECT count(*) FROM chunks WHERE collection_id = ? AND seq > ?) + "
            "(SELECT count(*) FROM chunk_tombstones WHERE collection_id = ? AND seq > ?)", (cid, seq, cid, seq)).scalar()
        if newer:
            problems.append(f"{newer} rows claim writes after the collection's last one ({seq})")
        bad_size: list[str] = []
        bad_values: list[str] = []
        rows = conn.exec_driver_sql("SELECT c.id, c.vector FROM chunks c WHERE c.collection_id = ?", (cid,))
        for chunk_id, blob in rows:
            if not isinstance(blob, bytes) or len(blob) != 4 * dim:
                bad_size.append(str(chunk_id))
            elif not np.isfinite(np.frombuffer(blob, dtype="<f4")).all():
                bad_values.append(str(chunk_id))
        if bad_size:
            problems.append(f"{len(bad_size)} vectors are not {dim}-dimensional float32 "
                            f"(chunks {', '.join(bad_size[:5])})")
        if bad_values:
            problems.append(f"{len(bad_values)} vectors hold NaN or infinite values (chunks {', '.join(bad_values[:5])})")
        for (metadata,) in conn.exec_driver_sql(
                "SELECT metadata FROM documents WHERE collection_id = ? AND json_valid(metadata) = 0 LIMIT 1", (cid,)):
            problems.append(f"document metadata is not valid JSON: {str(metadata)[:60]!r}")
    return problems


# -- its caches ------------------------------------------------------------------------------------


def _cache_problems(store: Store, indexes: IndexCache, collection: CollectionInfo) -> list[str]:
    """The FAISS file the store would load, caught up in memory, must hold exactly
    the store's chunk ids and find its rows by their own vectors."""
    collection = store.get_collection(collection.name) or collection
    path = indexes.file_for(collection)
    if path is None:
        return []  # none yet: built on the first query, nothing to be wrong
    dim = int(collection.embedder["dimension"])
    try:
        index = load_index(str(path), collection.index_spec, dim)
    except Exception as exc:  # noqa: BLE001 - a damaged file is the finding
        return [f"index file {path.name} is unreadable ({exc}) (--repair rebuilds it)"]
    _, covered = indexes.covered_by(path)
    seq, removed, ids, vectors, total = store.vector_state(collection, covered)
    if removed is None:
        return []  # older than the kept tombstones: the next open rebuilds it, as designed
    index.remove(removed)
    index.add(ids, vectors)
    if index.count() != total:
        return [f"index file {path.name} holds {index.count()} vectors after catching up, the store {total} "
                "(--repair rebuilds it)"]
    sample_ids, sample = _sample_rows(store, collection, dim)
    if not len(sample_ids):
        return []
    k = min(10, index.count())
    scores, found = index.search(sample, k)
    # Found: its id came back, or k rows tie with it (duplicate texts have equal vectors).
    self_scores = np.einsum("ij,ij->i", sample, sample)
    tied = (found >= 0).all(axis=1) & (scores[:, -1] >= self_scores - 1e-4)
    hits = np.array([sample_ids[i] in found[i] for i in range(len(sample_ids))]) | tied
    recall = float(hits.mean())
    if (index.exact and recall < 1.0) or recall < APPROXIMATE_SELF_RECALL:
        missing = [str(c) for c in sample_ids[~hits][:5]]
        return [f"index file {path.name} does not find {int((~hits).sum())} of {len(sample_ids)} rows by their own "
                f"vector (chunks {', '.join(missing)}) (--repair rebuilds it)"]
    return []


def _lexical_problems(store: Store, lexical, collection: CollectionInfo) -> list[str]:
    """The lexical index, brought up to the store's state, holds every document."""
    try:
        index = lexical.get(collection.id)
    except Exception as exc:  # noqa: BLE001 - a failure to open or catch up is the finding
        return [f"lexical index: {exc} (--repair rebuilds it)"]
    documents = store.counts(collection.id)[0]
    if index.documents != documents:
        return [f"lexical index holds {index.documents} documents, the store {documents} (--repair rebuilds it)"]
    return []


def _sample_rows(store: Store, collection: CollectionInfo, dim: int) -> tuple[np.ndarray, np.ndarray]:
    with store.reading() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, vector FROM chunks WHERE collection_id = ? ORDER BY random() LIMIT ?",
            (collection.id, SELF_SEARCH_ROWS)).all()
    rows = [(cid, blob) for cid, blob in rows if blob is not None and len(blob) == 4 * dim]
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32)
    matrix = np.frombuffer(b"".join(b for _, b in rows), dtype="<f4").reshape(len(rows), dim).astype(np.float32)
    finite = np.isfinite(matrix).all(axis=1)
    norms = np.linalg.norm(matrix, axis=1)
    keep = finite & (norms > 0)
    ids = np.asarray([cid for cid, _ in rows], dtype=np.int64)[keep]
    return ids, matrix[keep] / norms[keep, None]


# -- repair ---------------------------------------------------------------------------------------


def _repair(store: Store, indexes: IndexCache, collections: list[CollectionInfo], whole: bool,
            report: CheckReport) -> None:
    for path in stale_temp_files(indexes.folder):
        path.unlink(missing_ok=True)
        report.repaired.append(f"removed stray temp file {path}")
    for path in indexes.stray_files(None if whole else collections[0]) if (whole or len(collections) == 1) else []:
        path.unlink(missing_ok=True)
        report.repaired.append(f"removed stray file {path}")
    for collection in collections:
        with store.writing() as conn:
            gone = conn.exec_driver_sql(
                "DELETE FROM chunks WHERE collection_id = ? AND id IN (SELECT c.id FROM chunks c LEFT JOIN "
                "documents d ON d.id = c.document_id WHERE c.collection_id = ? AND (d.id IS NULL OR "
                "d.collection_id != c.collection_id))", (collection.id, collection.id)).rowcount
        if gone:
            report.repaired.append(f"{collection.name}: removed {gone} chunks without their document")
        if _cache_problems(store, indexes, collection):
            current = store.get_collection(collection.name) or collection
            for _gen, _seq, path in indexes._files(current):
                if path.parent == indexes.folder:
                    path.unlink(missing_ok=True)
            indexes.forget(current.id)
            indexes.get(current)
            report.repaired.append(f"{collection.name}: rebuilt the index file from the store")


def format_report(report: CheckReport, as_json: bool) -> str:
    if as_json:
        return json.dumps(report.as_dict(), ensure_ascii=False)
    lines = [f"repaired: {line}" for line in report.repaired]
    lines += [f"problem: {line}" for line in report.problems]
    if report.ok:
        lines.append("ok: no problems found")
    return "\n".join(lines)

