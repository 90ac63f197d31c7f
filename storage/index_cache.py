"""FAISS files as a rebuildable cache of the SQL store.

A file's name says which store state it covers and whose it is:
``c<collection>-g<generation>-s<seq>-<owner>.faiss`` in the folder ``<db>.faiss/``
beside the database (for a read-only store: a folder in the user cache), where
``owner`` is drawn from the store's random id and the collection's id and
creation time, so a file built from another store, or from a store deleted and
re-created at the same path, is never loaded (it is removed as stale). On open, the newest file that
does not claim to be ahead of the store is loaded and caught up from the
store's log (tombstones, then chunks written after its ``seq``); a missing,
damaged or inconsistent file is rebuilt from the stored vectors. Files are
written to a temporary name, fsynced and renamed, so a crash leaves either the
old file or the new one.

Catching up an approximate index (HNSW, IVF) to answer a search does not add
the new rows to FAISS (slow: seconds for an HNSW graph): they are kept as an
exact delta (:class:`~storage.ann.delta.DeltaIndex`), scored by brute force from
their stored vectors and merged with the FAISS results, so a search covers every
commit up to the seq it reports, exactly scored. The delta is folded into FAISS
and the file saved on this process's next write (:meth:`IndexCache.sync`), or
when it grows past :func:`~storage.ann.delta.delta_limit` rows.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from pathlib import Path

import numpy as np

from .ann.base import VectorIndex
from .ann.delta import DeltaIndex, delta_limit
from .ann.factory import concrete, create_index, load_index
from .files import atomic_path, remove_stale_temp_files
from .store import CollectionInfo, Store

log = logging.getLogger(__name__)
#: A catch-up of more new rows than this (and than the index holds) is a rebuild
#: instead, read a page at a time (a catch-up reads all its new rows at once).
CATCH_UP_MAX_ROWS = 1_000_000
_FILE_RE = re.compile(r"^c(\d+)-g(\d+)-s(\d+)-([0-9a-f]+)\.faiss$")
#: Any FAISS file of a collection, ours or not (older names had no owner part).
_ANY_FILE_RE = re.compile(r"^c(\d+)-.*\.faiss$")


def owner_tag(store: Store, collection: CollectionInfo) -> str:
    """Who a cache file belongs to: this store (its random id) and this collection
    (its id and creation time, so a collection re-made under a reused id differs)."""
    key = f"{store.store_id()}|{collection.id}|{collection.created_at!r}"
    return hashlib.blake2b(key.encode(), digest_size=6).hexdigest()


class IndexCache:
    """Up-to-date vector indexes for a store's collections, kept open per process."""

    def __init__(self, store: Store):
        self.store = store
        self.folder = store.cache_folder("faiss")
        beside = Path(f"{store.path}.faiss") if getattr(store, "path", None) else self.folder
        # Files shipped beside a read-only store are still read (never written).
        self.folders = [self.folder] if self.folder == beside else [self.folder, beside]
        if self.folder.is_dir() and not store.read_only:
            remove_stale_temp_files(self.folder)  # saves interrupted by a kill
        self._open: dict[tuple[int, int], tuple[VectorIndex, int]] = {}
        self._lock = threading.RLock()
        #: What the last :meth:`get` did: "memory", "file", "caught-up" or "rebuilt".
        self.last_action = ""

    # -- files ----------------------------------------------------------------------

    def _entries(self) -> list[os.DirEntry]:
        found = []
        for folder in self.folders:
            try:
                found.extend(os.scandir(folder))
            except OSError:  # no folder yet
                pass
        return found

    def _files(self, collection: CollectionInfo) -> list[tuple[int, int, Path]]:
        """(generation, seq, path) of this collection's files that belong to it."""
        owner = owner_tag(self.store, collection)
        found = []
        for entry in self._entries():
            m = _FILE_RE.match(entry.name)
            if m and int(m.group(1)) == collection.id and m.group(4) == owner:
                found.append((int(m.group(2)), int(m.group(3)), Path(entry.path)))
        return found

    def stray_files(self, collection: CollectionInfo | None = None, *, retired: bool = True) -> list[Path]:
        """Files in the folder this store would never load: another store's (or
        collection's), unnamed by owner, or (``retired``) of a retired generation,
        which a process that still held the old generation may save after a
        reindex; the next save removes those. With no collection: every FAISS
        file no current collection of the store owns."""
        collections = [collection] if collection else self.store.list_collections()
        owners = {c.id: (owner_tag(self.store, c), c.generation) for c in collections}
        stray = []
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return stray
        for entry in entries:
            m = _FILE_RE.match(entry.name)
            if m:
                cid = int(m.group(1))
                if collection is not None and cid != collection.id:
                    continue
                if cid not in owners or owners[cid][0] != m.group(4):
                    stray.append(Path(entry.path))
                elif retired and int(m.group(2)) < owners[cid][1]:
                    stray.append(Path(entry.path))
            elif _ANY_FILE_RE.match(entry.name):
                cid = int(_ANY_FILE_RE.match(entry.name).group(1))
                if collection is None or cid == collection.id:
                    stray.append(Path(entry.path))
        return stray

    def file_for(self, collection: CollectionInfo) -> Path | None:
        """The newest usable file of this collection's current generation."""
        usable = [
            (seq, path) for gen, seq, path in self._files(collection)
            if gen == collection.generation and seq <= collection.seq
        ]
        return max(usable)[1] if usable else None

    @staticmethod
    def covered_by(path: Path) -> tuple[int, int]:
        """(generation, seq) a file of ours covers, from its name."""
        m = _FILE_RE.match(path.name)
        return int(m.group(2)), int(m.group(3))

    def file_name(self, collection: CollectionInfo, seq: int) -> str:
        return f"c{collection.id}-g{collection.generation}-s{seq}-{owner_tag(self.store, collection)}.faiss"

    def _save(self, collection: CollectionInfo, index: VectorIndex, seq: int) -> Path:
        target = self.folder / self.file_name(collection, seq)
        with atomic_path(target) as tmp:
            index.save(tmp)
        for gen, old_seq, path in self._files(collection):
            if path.parent == self.folder and (gen, old_seq) != (collection.generation, seq) and (
                gen < collection.generation or (gen == collection.generation and old_seq < seq)
            ):
                path.unlink(missing_ok=True)
        for path in self.stray_files(collection):  # another store's files under this name
            path.unlink(missing_ok=True)
        return target

    # -- the one entry point ------------------------------------------------------------

    def get(self, collection: CollectionInfo, *, persist: bool = True) -> VectorIndex:
        """The index of ``collection`` - a state the caller read once for its whole
        operation (spec, seq, generation) - brought up to at least that state.

        Answering a read, it never writes the store: when the row count calls for
        another index type than the one ``auto`` recorded, that index is used from
        memory (not saved under the recorded spec's file names) until a writer
        records the choice (:meth:`sync`). One thread at a time: two threads
        catching up the same in-memory index would add the same rows twice.
        """
        with self._lock:
            index, seq, choice = self._bring_up(collection, fold=False)
            if choice is not None:
                log.info("index for %s: auto now wants %s (recorded by the next write)", collection.name, choice)
                self._open[(collection.id, collection.generation)] = (index, seq)
                return index
            return self._keep(collection, index, seq, persist)

    def sync(self, collection: CollectionInfo,
             written: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[VectorIndex, CollectionInfo]:
        """After a write: the index brought up to date and saved; for an ``auto`` spec
        its choice recorded where it is made (auto only moves up: flat -> hnsw ->
        ivf; a new index type bumps the generation, which retires the old files),
        together with forgetting the tombstones the index covers, in one write
        transaction. Returns the index and the collection's state after that.

        ``written``: (chunk ids, vectors) the write kept in memory. When the
        collection has no index yet and these are exactly its chunks (same ids, same
        generation, read from the store), the index is built from them instead of
        reading every vector back: a bulk load's first build (100k 50-d rows:
        ~0.45 s of a 3.5 s ``add_vectors``)."""
        with self._lock:
            index, seq, choice = self._bring_up(collection, written=written)
            collection = self.store.index_synced(collection, seq, choice)
            return self._keep(collection, index, seq, True), collection

    def _bring_up(self, collection: CollectionInfo, fold: bool = True,
                  written: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[VectorIndex, int, dict | None]:
        """(index, the seq it covers, auto's new choice if it made one not yet recorded).
        ``fold``: new rows go into FAISS (else an approximate index keeps them as an
        exact delta, up to its bound)."""
        key = (collection.id, collection.generation)
        if key in self._open and self._open[key][1] >= collection.seq:
            self.last_action = "memory"
            index = self._open[key][0]
            if fold and isinstance(index, DeltaIndex):
                index = self._fold(index)
            return index, self._open[key][1], None
        index, covered = self._open.get(key, (None, -1))
        self.last_action = "memory"
        if index is None:
            index, covered = self._load_file(collection)
        dimension = int(collection.embedder["dimension"])
        seq = covered
        widened = None
        if index is not None and self.store.rows_since(collection, covered) > max(CATCH_UP_MAX_ROWS, index.count()):
            # After a big load: a paged rebuild, sized for the new total, instead of
            # reading every new row at once next to the index.
            log.info("index for %s: more new rows than it holds: rebuilding", collection.name)
            index = None
        if index is not None:
            seq, removed, ids, vectors, total = self.store.vector_state(collection, covered)
            wanted = self._wanted_spec(collection, total)
            if removed is None:
                log.info("index for %s is older than the kept tombstones: rebuilding", collection.name)
                index = None
            elif _only_ef_differs(wanted, self._built_spec(collection)):
                # auto widens an HNSW search as the collection grows: same graph, same files
                index.set_ef_search(int(wanted["efSearch"]))
                widened = self._choice_to_record(collection, wanted)
            elif wanted != self._built_spec(collection):
                index = None  # auto wants another index type for this many rows
            if index is not None and (seq != covered or (fold and isinstance(index, DeltaIndex))):
                index = self._catch_up(index, removed, ids, vectors, fold)
                self.last_action = "caught-up"
            if index is not None and index.count() != total:
                log.warning("index for %s holds %d vectors, store has %d: rebuilding",
                            collection.name, index.count(), total)
                index = None
            elif index is not None and index.needs_rebuild():
                log.info("index for %s is due for a rebuild (%s)", collection.name, index.describe())
                index = None
            ids = vectors = None  # not held through a rebuild below
        if index is not None:
            return index, seq, widened
        if written is not None:
            built = self._build_from_written(collection, dimension, written)
            if built is not None:
                return built
        # A rebuild reads the store a page at a time: the only full copy of the
        # vectors is the index's own (a big load's first build fits in memory once).
        with self.store.vector_scan(collection) as scan:
            spec = self._wanted_spec(collection, scan.total)
            index = create_index(spec, dimension, scan.total)
            index.build_pages(scan.pages, scan.total)
            seq = scan.seq
        self.last_action = "rebuilt"
        return index, seq, self._choice_to_record(collection, spec)

    def _build_from_written(self, collection: CollectionInfo, dimension: int,
                            written: tuple[np.ndarray, np.ndarray]) -> tuple[VectorIndex, int, dict | None] | None:
        """A new index of ``written`` if they are all of the collection's chunks, else None.
        A chunk's vector changes only with the generation (refit), so the same ids in
        the same generation are the same vectors."""
        ids, vectors = written
        seq, generation, stored = self.store.chunk_id_state(collection.id)
        order = np.argsort(ids, kind="stable")
        if generation != collection.generation or not np.array_equal(stored, ids[order]):
            return None
        spec = self._wanted_spec(collection, len(stored))
        index = create_index(spec, dimension, len(stored))
        index.build_pages(lambda: iter([(stored, vectors[order])]), len(stored))
        self.last_action = "rebuilt"  # from memory; saved by _keep like any rebuild
        return index, seq, self._choice_to_record(collection, spec)

    def _catch_up(self, index: VectorIndex, removed, ids, vectors, fold: bool) -> VectorIndex:
        """``index`` with ``removed`` gone and ``ids`` added: into FAISS when it is
        exact (a flat add is a copy), when folding, or when the delta would pass its
        bound; else as a new exact delta (FAISS untouched)."""
        if index.exact and not isinstance(index, DeltaIndex):
            index.remove(removed)
            index.add(ids, vectors)
            return index
        delta = index if isinstance(index, DeltaIndex) else DeltaIndex(index, ids[:0], vectors[:0])
        delta = delta.with_changes(removed, ids, vectors)
        if fold or len(delta.ids) > delta_limit(index.dimension):
            return self._fold(delta)
        return delta

    def _fold(self, delta: DeltaIndex) -> VectorIndex:
        self.last_action = "caught-up"  # saved by _keep: the file now covers the delta's seq
        return delta.folded()

    def _keep(self, collection: CollectionInfo, index: VectorIndex, seq: int, persist: bool) -> VectorIndex:
        """Hold ``index`` open as this collection state's, saving it if it is new
        (never with an exact delta: the file holds FAISS alone)."""
        index.vector_source = self._vector_source(collection)
        if persist and self.last_action in ("caught-up", "rebuilt") and not isinstance(index, DeltaIndex):
            try:
                self._save(collection, index, seq)
            except OSError as exc:  # a read-only folder still answers queries
                log.warning("could not save the index file: %s", exc)
        self._open[(collection.id, collection.generation)] = (index, seq)
        return index

    def open_state(self, collection_id: int, index: VectorIndex) -> tuple[int, int] | None:
        """(generation, seq) that an index this cache handed out covers, or None if
        it is no longer the open one (no SQL: a dictionary look-up)."""
        with self._lock:
            for (cid, generation), (open_index, seq) in self._open.items():
                if cid == collection_id and open_index is index:
                    return generation, seq
        return None

    def covered_seq(self, collection: CollectionInfo) -> int:
        """The store ``seq`` the open index of this collection state covers (-1: none open)."""
        return self._open.get((collection.id, collection.generation), (None, -1))[1]

    @staticmethod
    def _built_spec(collection: CollectionInfo) -> dict:
        spec = collection.index_spec
        if spec.get("type") == "auto":
            return spec.get("resolved") or {"type": "flat"}
        return spec

    @staticmethod
    def _wanted_spec(collection: CollectionInfo, n_rows: int) -> dict:
        return concrete(collection.index_spec, n_rows, int(collection.embedder["dimension"]))

    @staticmethod
    def _choice_to_record(collection: CollectionInfo, built: dict) -> dict | None:
        """Auto's choice when the collection's spec does not record it yet, else None."""
        spec = collection.index_spec
        if spec.get("type") != "auto" or spec.get("resolved") == built:
            return None
        return built

    def _vector_source(self, collection: CollectionInfo):
        store, collection_id = self.store, collection.id
        dimension = int(collection.embedder["dimension"])
        return lambda ids: store.chunk_vectors(collection_id, ids, dimension)

    def _load_file(self, collection: CollectionInfo) -> tuple[VectorIndex | None, int]:
        for _attempt in range(5):
            path = self.file_for(collection)
            if path is None:
                return None, -1
            seq = int(_FILE_RE.match(path.name).group(3))
            try:
                index = load_index(str(path), collection.index_spec, int(collection.embedder["dimension"]))
            except Exception as exc:  # FAISS raises RuntimeError on damaged files
                if not path.exists():
                    continue  # another process saved a newer file and retired this one: take that
                log.warning("index file %s is unreadable (%s): rebuilding", path, exc)
                return None, -1
            self.last_action = "file"
            return index, seq
        return None, -1

    def forget(self, collection_id: int | None = None) -> None:
        """Drop in-memory indexes (all, or one collection's)."""
        for key in list(self._open):
            if collection_id is None or key[0] == collection_id:
                del self._open[key]

    def drop(self, collection: CollectionInfo) -> None:
        """Forget a dropped collection's indexes and delete its files (its id is never reused)."""
        with self._lock:
            self.forget(collection.id)
            for _, _, path in self._files(collection):
                path.unlink(missing_ok=True)

    def open_seqs(self) -> dict[int, int]:
        """collection id -> the store ``seq`` its open in-memory index covers (for metrics)."""
        with self._lock:
            out: dict[int, int] = {}
            for (cid, _), (_, seq) in self._open.items():
                out[cid] = max(seq, out.get(cid, -1))
            return out

    def file_seqs(self) -> dict[int, int]:
        """collection id -> the newest ``seq`` an index file on disk covers (any generation)."""
        out: dict[int, int] = {}
        for entry in self._entries():
            m = _FILE_RE.match(entry.name)
            if m:
                out[int(m.group(1))] = max(int(m.group(3)), out.get(int(m.group(1)), -1))
        return out


def _only_ef_differs(wanted: dict, built: dict) -> bool:
    """Two HNSW specs that differ in efSearch only (a search setting: same graph)."""
    return (wanted.get("type") == built.get("type") == "hnsw" and wanted.get("efSearch") != built.get("efSearch")
            and {k: v for k, v in wanted.items() if k != "efSearch"} == {k: v for k, v in built.items() if k != "efSearch"})
