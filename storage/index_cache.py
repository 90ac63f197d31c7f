"""FAISS files as a rebuildable cache of the SQL store.

A file's name says which store state it covers: ``c<collection>-g<generation>-s<seq>.faiss``
in the folder ``<db>.faiss/`` beside the database. On open, the newest file that
does not claim to be ahead of the store is loaded and caught up from the
store's log (tombstones, then chunks written after its ``seq``); a missing,
damaged or inconsistent file is rebuilt from the stored vectors. Files are
written to a temporary name, fsynced and renamed, so a crash leaves either the
old file or the new one.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from storage.ann.base import VectorIndex
from storage.ann.factory import create_index, load_index
from storage.files import atomic_path
from storage.store import CollectionInfo, Store

log = logging.getLogger(__name__)
_FILE_RE = re.compile(r"^c(\d+)-g(\d+)-s(\d+)\.faiss$")


class IndexCache:
    """Up-to-date vector indexes for a store's collections, kept open per process."""

    def __init__(self, store: Store):
        self.store = store
        self.folder = Path(str(store.path) + ".faiss")
        self._open: dict[tuple[int, int], tuple[VectorIndex, int]] = {}
        #: What the last :meth:`get` did: "memory", "file", "caught-up" or "rebuilt".
        self.last_action = ""

    # -- files ----------------------------------------------------------------------

    def _files(self, collection_id: int) -> list[tuple[int, int, Path]]:
        if not self.folder.is_dir():
            return []
        found = []
        for entry in os.scandir(self.folder):
            m = _FILE_RE.match(entry.name)
            if m and int(m.group(1)) == collection_id:
                found.append((int(m.group(2)), int(m.group(3)), Path(entry.path)))
        return found

    def file_for(self, collection: CollectionInfo) -> Path | None:
        """The newest usable file of this collection's current generation."""
        usable = [
            (seq, path) for gen, seq, path in self._files(collection.id)
            if gen == collection.generation and seq <= collection.seq
        ]
        return max(usable)[1] if usable else None

    def _save(self, collection: CollectionInfo, index: VectorIndex, seq: int) -> Path:
        target = self.folder / f"c{collection.id}-g{collection.generation}-s{seq}.faiss"
        with atomic_path(target) as tmp:
            index.save(tmp)
        for gen, old_seq, path in self._files(collection.id):
            if (gen, old_seq) != (collection.generation, seq) and (gen != collection.generation or old_seq < seq):
                path.unlink(missing_ok=True)
        return target

    # -- the one entry point ------------------------------------------------------------

    def get(self, collection: CollectionInfo, *, persist: bool = True) -> VectorIndex:
        """The collection's index, brought up to the store's current state."""
        state = self.store.collection_state(collection.id)
        if state is None:
            raise KeyError(f"collection {collection.name!r} no longer exists")
        key = (collection.id, state[1])
        if key in self._open and self._open[key][1] == state[0]:
            self.last_action = "memory"
            return self._open[key][0]
        collection = self.store.get_collection(collection.name)
        index, covered = self._open.get(key, (None, -1))
        self.last_action = "memory"
        if index is None:
            index, covered = self._load_file(collection)
        dimension = int(collection.embedder["dimension"])
        if index is not None:
            seq, removed, ids, vectors, total = self.store.vector_state(collection, covered)
            if seq != covered:
                index.remove(removed)
                index.add(ids, vectors)
                self.last_action = "caught-up"
            if index.count() != total:
                log.warning("index for %s holds %d vectors, store has %d: rebuilding",
                            collection.name, index.count(), total)
                index = None
        if index is None:
            seq, _, ids, vectors, total = self.store.vector_state(collection, None)
            index = create_index(collection.index_spec, dimension, len(ids))
            index.build(ids, vectors)
            self.last_action = "rebuilt"
        if persist and self.last_action in ("caught-up", "rebuilt"):
            try:
                self._save(collection, index, seq)
            except OSError as exc:  # a read-only folder still answers queries
                log.warning("could not save the index file: %s", exc)
        self._open[key] = (index, seq)
        return index

    def _load_file(self, collection: CollectionInfo) -> tuple[VectorIndex | None, int]:
        path = self.file_for(collection)
        if path is None:
            return None, -1
        seq = int(_FILE_RE.match(path.name).group(3))
        try:
            index = load_index(str(path), collection.index_spec, int(collection.embedder["dimension"]))
        except Exception as exc:  # FAISS raises RuntimeError on damaged files
            log.warning("index file %s is unreadable (%s): rebuilding", path, exc)
            return None, -1
        self.last_action = "file"
        return index, seq

    def forget(self, collection_id: int | None = None) -> None:
        """Drop in-memory indexes (all, or one collection's)."""
        for key in list(self._open):
            if collection_id is None or key[0] == collection_id:
                del self._open[key]
