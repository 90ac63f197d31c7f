"""Tantivy indexes as a rebuildable cache of the store's documents (BM25 search).

One index per collection, in ``<db>.lexical/c<collection>/`` beside the store
(a store that is not a file would keep them in ``$VECDEX_CACHE_DIR`` or
``~/.cache/vecdex`` under its store identifier). Each index holds the
collection's documents (text and metadata: :mod:`storage.lexical_query`) and a
marker document, written in the same commit as the documents it describes,
that records the store, collection and ``seq`` it covers: a tantivy commit is
atomic, so after a crash the index is the old state or the new one, and says
which.

Before a search the index is brought up to the store's ``seq`` from the
document log (:mod:`storage.document_log`): removed and rewritten documents are
deleted by id, written ones added, the marker replaced, one commit. Writes do
not touch it (a tantivy commit costs an fsync, 40-110 ms here): many small
writes are caught up by one commit at the next search, or by
:meth:`LexicalCache.catch_up` after a large write. An index that is missing,
unreadable, of another format, of another store or collection, or ahead of the
store is rebuilt. BM25 statistics are the collection's own.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tantivy

from ..errors import StoreError
from . import document_log, lexical_query
from .lexical_query import FORMAT, MARKER_ID, SCHEMA
from .store import Store

log = logging.getLogger(__name__)

#: Writer memory (tantivy splits it between its threads; 15 MB is its floor per
#: thread). tantivy takes it as it fills, so a small catch-up uses no more than
#: with a small budget; a large build writes fewer, larger segments, and a search
#: pays per segment: with 256 MB (was 64), 100k news articles and 1M one-line
#: documents are one segment (was four), lexical p50 165 -> 140 us and 360 -> 310
#: us, p95 -12%, for ~+115 MB at the peak of such a build (measured).
WRITER_HEAP = 256_000_000
#: Indexing threads. One: tantivy returns equal scores in the order documents sit
#: in its segments, and with two threads that order (which of several duplicates
#: makes the cut at k) would depend on how the threads shared the documents out,
#: so the same documents could rank differently after a rebuild. One thread
#: rebuilds 20k articles in 1.3-1.4 s on a quiet machine (the tokenizer is the
#: cost); sorting ties by row id instead meant searching deeper past every tie at
#: the cut, 6x slower on a corpus of repeated articles.
WRITER_THREADS = 1
#: Document frequencies remembered per open searcher.
DOC_FREQ_CACHE = 100_000
#: How long to wait for another process's writer (tantivy's lock) before giving up.
LOCK_WAIT_SECONDS = 120.0


class LexicalIndexError(StoreError):
    """The lexical index could not be brought up to date."""


def cache_folder(store: Store) -> Path:
    """Where a store's lexical indexes live: beside the file, or (a store on
    read-only media, PostgreSQL) in the user cache folder."""
    return store.cache_folder("lexical")


@dataclass
class LexicalIndex:
    """One collection's open tantivy index, at the state its marker names."""

    index: tantivy.Index
    searcher: tantivy.Searcher
    seq: int  # the store seq this index covers
    version: int  # the store's data_version when that was last checked
    documents: int  # real documents (the marker excluded)
    # Document frequencies asked of this searcher (an immutable snapshot): queries
    # repeat their common words, and each lookup costs ~8 us.
    _doc_freqs: dict[str, int] = field(default_factory=dict, repr=False)
    # The best score each query word reaches alone in this snapshot (MaxScore's bounds).
    _max_scores: dict[tuple[str, ...], float] = field(default_factory=dict, repr=False)

    def doc_freq(self, token: str) -> int:
        found = self._doc_freqs.get(token)
        if found is None:
            if len(self._doc_freqs) >= DOC_FREQ_CACHE:
                self._doc_freqs.clear()
            found = self._doc_freqs[token] = self.searcher.doc_freq("text", token)
        return found

    def max_score(self, tokens: list[str]) -> float:
        """The highest BM25 score the query word ``tokens`` (a term, or a phrase)
        gives any document of this snapshot: one scan of its postings, remembered."""
        key = tuple(tokens)
        found = self._max_scores.get(key)
        if found is None:
            if len(self._max_scores) >= DOC_FREQ_CACHE:
                self._max_scores.clear()
            hits = self.searcher.search(lexical_query.term_query(tokens), 1, count=False).hits
            found = self._max_scores[key] = float(hits[0][0]) if hits else 0.0
        return found

    def search(self, query: tantivy.Query, limit: int) -> list[tuple[int, float]]:
        """(document row id, BM25 score) of the best ``limit`` matches."""
        if limit < 1:
            return []
        hits = self.searcher.search(query, limit, count=False).hits
        if not hits:
            return []
        ids = self.searcher.fast_field_values("doc", [address for _, address in hits])
        return [(int(i), float(score)) for (score, _), i in zip(hits, ids) if i is not None and i != MARKER_ID]

    def addresses(self, document_ids: list[int]) -> dict[int, tuple[int, int]]:
        """Document row id -> its address in this snapshot (segment, document): the
        order tantivy gives equal scores."""
        query = tantivy.Query.term_set_query(SCHEMA, "doc", [int(i) for i in document_ids])
        hits = self.searcher.search(query, len(document_ids), count=False).hits
        ids = self.searcher.fast_field_values("doc", [address for _, address in hits])
        return {int(i): (address.segment_ord, address.doc) for (_, address), i in zip(hits, ids)}


class LexicalCache:
    """Up-to-date lexical indexes of a store's collections, kept open per process."""

    def __init__(self, store: Store):
        self.store = store
        self.folder = cache_folder(store)
        self._open: dict[int, LexicalIndex] = {}
        self._lock = threading.RLock()
        self._store_id: str | None = None
        self._pending: set[int] = set()
        self._pending_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        #: What the last get() did: "memory", "file", "caught-up" or "rebuilt" (tests, bench).
        self.last_action = ""

    @property
    def store_id(self) -> str:
        if self._store_id is None:
            self._store_id = document_log.store_id(self.store)
        return self._store_id

    def path_for(self, collection_id: int) -> Path:
        return self.folder / f"c{collection_id}"

    # -- the entry points -----------------------------------------------------------------

    def get(self, collection_id: int, min_seq: int | None = None) -> LexicalIndex:
        """The collection's index, covering the store's current state (with
        ``min_seq``: at least that write, re-checked at the store if it is behind)."""
        with self._lock:
            version = self.store.data_version()
            current = self._open.get(collection_id)
            if current is not None and current.version == version and (min_seq is None or current.seq >= min_seq):
                self.last_action = "memory"
                return current
            state = self.store.collection_state(collection_id)
            if state is None:
                raise StoreError(f"collection {collection_id} no longer exists")
            if current is not None and current.seq == state[0]:
                current.version = version
                self.last_action = "memory"
                return current
            return self._update(collection_id, version, state[0])

    def catch_up(self, collection_id: int) -> None:
        """Bring the index up to date now and forget the document tombstones it covers."""
        self.get(collection_id)
        self.prune(collection_id)

    def catch_up_soon(self, collection_id: int) -> None:
        """Catch up in a background thread (after a large write: neither the writer
        nor the next query should wait for it; a search meanwhile waits only for
        what is left). One thread per cache; a request while it runs is queued."""
        with self._pending_lock:
            self._pending.add(collection_id)
            if self._worker is not None and self._worker.is_alive():
                return
            worker = threading.Thread(target=self._work, daemon=True, name="vecdex-lexical-catch-up")
            # Remembered once started: an interrupt (Ctrl-C) inside start() must not
            # leave wait() a thread it cannot join.
            worker.start()
            self._worker = worker

    def _work(self) -> None:
        try:
            while True:
                with self._pending_lock:
                    if not self._pending:
                        self._worker = None
                        return
                    collection_id = self._pending.pop()
                try:
                    self.catch_up(collection_id)
                except Exception as exc:  # the store closed or the collection went: a search will retry
                    log.debug("background lexical catch-up of collection %s: %s", collection_id, exc)
        finally:
            self.store.release_reader()  # this thread's connection ends with it

    def wait(self) -> None:
        """Wait for background catch-ups (tests, benchmarks, closing)."""
        worker = self._worker
        if worker is not None and worker.is_alive():
            worker.join()

    def prune(self, collection_id: int) -> None:
        """Forget document tombstones the open index covers (other processes' indexes
        that cover less rebuild instead of catching up)."""
        current = self._open.get(collection_id)
        if current is not None:
            document_log.prune_tombstones(self.store, collection_id, current.seq)

    def forget(self, collection_id: int | None = None) -> None:
        with self._lock:
            for key in list(self._open):
                if collection_id is None or key == collection_id:
                    del self._open[key]

    def drop(self, collection_id: int) -> None:
        """Forget a dropped collection's index and delete its folder (its id is never reused)."""
        with self._lock:
            self.forget(collection_id)
            shutil.rmtree(self.path_for(collection_id), ignore_errors=True)

    def open_seqs(self) -> dict[int, int]:
        """collection id -> the store ``seq`` its open index covers (for metrics)."""
        with self._lock:
            return {cid: index.seq for cid, index in self._open.items()}

    # -- opening, catching up, rebuilding ---------------------------------------------------

    def _update(self, collection_id: int, version: int, store_seq: int) -> LexicalIndex:
        index = self._open_index(collection_id)
        if index is not None:
            marker = self._marker(index, collection_id)
            if marker is not None and marker["seq"] == store_seq:
                self.last_action = "file"
                return self._remember(collection_id, index, marker, version)
        self.last_action = ""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        rebuilt = False
        while True:
            if index is None:
                index = self._create_index(collection_id)
            try:
                writer = index.writer(WRITER_HEAP, WRITER_THREADS)
            except ValueError as exc:  # LockBusy: another process is writing this index
                if "LockBusy" not in str(exc) and "lock" not in str(exc).lower():
                    log.warning("lexical index of collection %s is unusable (%s): rebuilding", collection_id, exc)
                    index = self._create_index(collection_id, fresh=True)
                    continue
                if time.monotonic() > deadline:
                    raise LexicalIndexError(f"the lexical index of collection {collection_id} stayed locked by "
                                            f"another process for {LOCK_WAIT_SECONDS:.0f} s") from exc
                time.sleep(0.05)
                index.reload()
                marker = self._marker(index, collection_id)
                if marker is not None and marker["seq"] >= store_seq:
                    self.last_action = "file"
                    return self._remember(collection_id, index, marker, version)
                continue
            try:
                # Files a killed writer left behind (a commit that never reached
                # meta.json) would collide with this commit's names: remove them.
                writer.garbage_collect_files()
                index.reload()  # whatever another process committed before we got the lock
                marker = self._marker(index, collection_id)
                marker = self._write(collection_id, index, writer, marker)
            except ValueError as exc:  # tantivy could not write: start over from the store, once
                del writer
                if rebuilt:
                    raise LexicalIndexError(f"the lexical index of collection {collection_id} cannot be "
                                            f"written: {exc}") from exc
                log.warning("lexical index of collection %s failed to commit (%s): rebuilding", collection_id, exc)
                index, rebuilt = self._create_index(collection_id, fresh=True), True
                continue
            del writer  # releases tantivy's lock (wait_merging_threads consumed it already)
            return self._remember(collection_id, index, marker, version)

    def _write(self, collection_id: int, index: tantivy.Index, writer: tantivy.IndexWriter,
               marker: dict[str, Any] | None) -> dict[str, Any]:
        """Catch the index up (or rebuild it in place) and commit with a new marker."""
        changes = None
        if marker is not None:
            changes = document_log.changes_since(self.store, collection_id, int(marker["seq"]))
            if marker["seq"] > changes.seq or changes.pruned_seq > marker["seq"]:
                changes = None  # ahead of the store (restored from a copy?) or its log was pruned
        if changes is not None:
            delete = [*changes.removed, *(row.id for row in changes.written)]
            for start in range(0, len(delete), 1024):
                writer.delete_documents_by_query(tantivy.Query.term_set_query(
                    SCHEMA, "doc", [int(i) for i in delete[start : start + 1024]]))
            for row in changes.written:
                writer.add_document(lexical_query.make_document(row.id, row.text, row.metadata_json))
            seq, count = changes.seq, changes.count
            self.last_action = "caught-up"
        else:
            writer.delete_all_documents()
            seq, count, blocks = document_log.scan_documents(self.store, collection_id)
            for block in blocks:
                for document_id, text, metadata_json in block:
                    writer.add_document(lexical_query.make_document(document_id, text, metadata_json))
            self.last_action = "rebuilt"
        writer.delete_documents_by_term("doc", MARKER_ID)
        marker = {"format": FORMAT, "store": self.store_id, "collection": collection_id, "seq": seq,
                  "documents": count}
        writer.add_document(lexical_query.make_marker(marker))
        writer.commit()
        writer.wait_merging_threads()  # merged segments: query time does not creep with many commits
        index.reload()
        return marker

    def _remember(self, collection_id: int, index: tantivy.Index, marker: dict[str, Any], version: int) -> LexicalIndex:
        opened = LexicalIndex(index, index.searcher(), int(marker["seq"]), version, int(marker.get("documents", 0)))
        self._open[collection_id] = opened
        return opened

    def _open_index(self, collection_id: int) -> tantivy.Index | None:
        """The index on disk, or None when it is missing or unreadable."""
        current = self._open.get(collection_id)
        if current is not None:
            try:
                current.index.reload()
                return current.index
            except Exception as exc:  # its files went away (another process rebuilt it)
                log.info("reopening the lexical index of collection %s (%s)", collection_id, exc)
        path = self.path_for(collection_id)
        if not (path / "meta.json").exists():
            return None
        try:
            index = tantivy.Index.open(str(path))
            self._configure(index)
            if self._has_no_marker(index):
                # Never committed. Being built right now by another process (it holds the
                # writer lock): wait for it, removing the folder would pull the files from
                # under its commit. Otherwise a build that died: made afresh.
                if self._being_built(index):
                    return index
                raise ValueError("no marker: a first build that was interrupted")
            if self._marker(index, collection_id) is None:
                raise ValueError("no marker of this format, store and collection")
        except Exception as exc:
            log.warning("lexical index %s is unreadable (%s): rebuilding", path, exc)
            return None
        return index

    def _create_index(self, collection_id: int, *, fresh: bool = False) -> tantivy.Index:
        """A new empty index (the old folder, if any, is unreadable or foreign: removed).

        Made in a folder of its own and renamed into place, so another process never
        sees (and never removes) a half-made index: if one appears first, it is used."""
        path = self.path_for(collection_id)
        if fresh or path.exists():  # unreadable or foreign (an empty one is opened, not made)
            shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.new-{os.getpid()}-{threading.get_ident()}")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            tantivy.Index(SCHEMA, path=str(tmp), reuse=False)
            try:
                os.rename(tmp, path)
            except OSError:  # another process put its new index there first: use that one
                shutil.rmtree(tmp, ignore_errors=True)
        index = tantivy.Index.open(str(path))
        self._configure(index)
        return index

    @staticmethod
    def _being_built(index: tantivy.Index) -> bool:
        try:
            writer = index.writer(WRITER_HEAP, 1)
        except ValueError as exc:
            return "lock" in str(exc).lower()
        del writer  # nobody holds it: release at once
        return False

    @staticmethod
    def _has_no_marker(index: tantivy.Index) -> bool:
        return not index.searcher().search(lexical_query.doc_query(MARKER_ID), 1, count=False).hits

    @staticmethod
    def _configure(index: tantivy.Index) -> None:
        index.register_tokenizer(lexical_query.ANALYZER_NAME, lexical_query.ANALYZER)
        index.config_reader("manual")
        index.reload()

    def _marker(self, index: tantivy.Index, collection_id: int) -> dict[str, Any] | None:
        """The state the index says it covers, if it is this store's, this format's."""
        searcher = index.searcher()
        hits = searcher.search(lexical_query.doc_query(MARKER_ID), 1, count=False).hits
        if not hits:
            return None
        try:
            marker = json.loads(searcher.doc(hits[0][1]).get_first("marker"))
        except (TypeError, ValueError):
            return None
        if (marker.get("format"), marker.get("store"), marker.get("collection")) != (
                FORMAT, self.store_id, collection_id):
            return None
        return marker
