"""Hit rows in memory for a collection that one process searches many times.

Every dense search ends by reading its k hits' rows (document, external id,
metadata, snippet) from SQLite: ~35 µs for 10 rows, 50-80 µs right after a FAISS
search has flushed the CPU caches, a third of an HNSW search over 400k vectors
(bench/bench_ann.py). A process that keeps searching one collection (an app, a
server, a benchmark) gets those rows from memory instead: after
``HIT_CACHE_AFTER`` dense searches of an unchanged collection, every chunk's row
is read from one snapshot into memory (~400 bytes a chunk plus its text),
unless that would pass ``HIT_CACHE_MAX_BYTES``: bigger collections keep reading
SQLite. A one-shot ``vecdex query`` never builds it. The build is one pass over
the collection (~1.7 s for 400k one-word documents) in a background thread:
searches keep reading SQLite meanwhile, none of them waits for it.

The copy is of one store state (generation, seq) and is used only while the
collection's open index covers exactly that state: any write makes it stale, and
it is dropped (and rebuilt after another ``HIT_CACHE_AFTER`` searches). SQLite
stays the source of truth: a chunk the copy lacks is read from the store.

A hybrid search's dense side needs less: only which document each of its ~50
documents' worth of chunks belongs to (fusion matches documents; snippets are
built for the few hits returned). :class:`ChunkDocuments` holds just that, two
int64 arrays (16 bytes a chunk), so it fits where the full copy does not (100k
news articles: 480k chunks, 7.7 MB against ~480 MB of rows). A chunk never moves
to another document, so the map needs no state check: chunks newer than it are
looked up in the store, and enough of them make it rebuilt.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..storage.store import ChunkHit, Store

log = logging.getLogger(__name__)

HIT_CACHE_AFTER = 64
HIT_CACHE_MAX_BYTES = 256 * 2**20  # $VECDEX_HIT_CACHE_MB overrides; 0 turns the cache off
# What a cached row costs beyond its text: the row tuple, its ints, three str
# headers and a dict entry. Compact arrays sliced per hit would take a third of
# the memory, but 10 hits right after a FAISS search measured 50 us that way,
# 30 us through a sorted id array and 17 us through a dict (SQLite: 65-70 us).
ROW_OVERHEAD_BYTES = 112 + 3 * 32 + 3 * 49 + 50


@dataclass
class HitCache:
    """Every chunk's hit row of one collection state, by chunk id."""

    generation: int
    seq: int
    rows: dict[int, ChunkHit]
    nbytes: int

    @property
    def state(self) -> tuple[int, int]:
        return self.generation, self.seq

    @classmethod
    def read(cls, store: Store, collection_id: int, max_bytes: int = HIT_CACHE_MAX_BYTES) -> "HitCache | None":
        """Every chunk's row from one snapshot; None when they would pass ``max_bytes``."""

        def consume(rows: Iterator[ChunkHit]):
            kept: dict[int, ChunkHit] = {}
            shared: dict[str, str] = {}  # one copy of repeated metadata ("{}" above all)
            size = 0
            for row in rows:
                metadata = row.metadata_json
                if len(shared) < 4096 or metadata in shared:
                    metadata = shared.setdefault(metadata, metadata)
                # A one-line document's snippet is often its id (words, titles): one copy.
                snippet = row.ext_id if row.snippet == row.ext_id else row.snippet
                size += (ROW_OVERHEAD_BYTES + len(row.ext_id) + (len(snippet) if snippet is not row.ext_id else 0)
                         + (len(metadata) if metadata is row.metadata_json else 0))
                if size > max_bytes:
                    return None
                kept[row.chunk_id] = row._replace(metadata_json=metadata, snippet=snippet)
            return kept, size

        seq, generation, found = store.scan_chunk_hits(collection_id, consume)
        if found is None:
            return None
        rows, size = found
        return cls(generation, seq, rows, size)

    def get(self, chunk_ids: list[int]) -> dict[int, ChunkHit]:
        """The rows of these chunk ids (ids this copy lacks are absent)."""
        rows = self.rows
        return {chunk_id: rows[chunk_id] for chunk_id in chunk_ids if chunk_id in rows}


@dataclass
class ChunkDocuments:
    """chunk id -> document row id of one collection, as two sorted arrays; and,
    when the collection's chunk ids are dense (at least half of their range, as
    ids handed out in order are), as one array indexed by chunk id.

    The direct array: a binary search of 50-300 ids right after a FAISS search
    walks a cold 8 MB array (~20 cache misses an id: 60-75 us of a hybrid query
    at 1M chunks, measured), against one access an id."""

    chunk_ids: np.ndarray  # ascending
    document_ids: np.ndarray
    _first: int = field(default=0, init=False, repr=False)
    _direct: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.chunk_ids):
            first, span = int(self.chunk_ids[0]), int(self.chunk_ids[-1] - self.chunk_ids[0]) + 1
            if span <= 2 * len(self.chunk_ids):
                direct = np.full(span, -1, dtype=np.int64)
                direct[self.chunk_ids - first] = self.document_ids
                self._first, self._direct = first, direct

    @property
    def nbytes(self) -> int:
        extra = self._direct.nbytes if self._direct is not None else 0
        return int(self.chunk_ids.nbytes + self.document_ids.nbytes + extra)

    def lookup(self, chunk_ids: np.ndarray) -> np.ndarray:
        """The document of each chunk id (-1: not in this map)."""
        if len(self.chunk_ids) == 0:
            return np.full(len(chunk_ids), -1, dtype=np.int64)
        if self._direct is not None:
            at = chunk_ids - self._first
            inside = (at >= 0) & (at < len(self._direct))
            return np.where(inside, self._direct[np.where(inside, at, 0)], -1)
        at = np.minimum(np.searchsorted(self.chunk_ids, chunk_ids), len(self.chunk_ids) - 1)
        return np.where(self.chunk_ids[at] == chunk_ids, self.document_ids[at], -1)


class HitRows:
    """Where a collection's searches read hit rows: SQLite, or a :class:`HitCache`
    once the collection has been searched often enough in an unchanged state."""

    def __init__(self, store: Store, collection_id: int, after: int | None = None, max_bytes: int | None = None):
        self.store = store
        self.collection_id = collection_id
        self.after = HIT_CACHE_AFTER if after is None else after
        if max_bytes is None:
            from_env = os.environ.get("VECDEX_HIT_CACHE_MB", "").strip()
            max_bytes = int(float(from_env) * 2**20) if from_env.replace(".", "", 1).isdigit() else HIT_CACHE_MAX_BYTES
        self.max_bytes = max_bytes
        self.cache: HitCache | None = None
        self._counting: tuple[int, int] | None = None  # the state searches are counted for
        self._searches = 0
        self._too_big: tuple[int, int] | None = None
        self._builder: threading.Thread | None = None
        self._lock = threading.Lock()
        self.documents_map: ChunkDocuments | None = None
        self._map_searches = 0
        self._map_misses = 0
        self._map_builder: threading.Thread | None = None

    def source(self, state: tuple[int, int] | None) -> HitCache | None:
        """The cache to read for one search of an index covering ``state``
        ((generation, seq); None: unknown), building it when it is due."""
        cache = self.cache
        if cache is not None and cache.state == state:
            return cache
        if state is None:
            return None
        if state != self._counting:
            self.cache, self._counting, self._searches = None, state, 0
        self._searches += 1
        if self._searches < self.after or state == self._too_big or self.max_bytes <= 0:
            return None
        with self._lock:
            if self._builder is None:  # off the query path: this search reads SQLite
                builder = threading.Thread(target=self._build, args=(state,), daemon=True,
                                           name=f"vecdex-hit-rows-{self.collection_id}")
                builder.start()  # remembered once started (an interrupt inside start() leaves none)
                self._builder = builder
        return None

    def _build(self, state: tuple[int, int]) -> None:
        try:
            cache = HitCache.read(self.store, self.collection_id, self.max_bytes)
        except Exception as exc:  # the store was closed or changed under us: count again later
            log.debug("hit rows not cached: %s", exc)
            cache = state = None
        finally:
            self.store.release_reader()  # this thread's connection ends with it
        with self._lock:
            if cache is None and state is not None:
                self._too_big = state
            elif cache is not None and cache.state == self._counting:
                self.cache = cache
            else:
                self._searches = 0  # the store moved on while we read: count again
            self._builder = None

    def wait(self) -> None:
        """Wait for builds under way (tests, benchmarks)."""
        for builder in (self._builder, self._map_builder):
            if builder is not None and builder.is_alive():
                builder.join()

    def read(self, chunk_ids: list[int], cache: HitCache | None) -> dict[int, ChunkHit]:
        """Rows for chunk ids: from ``cache`` when given, the rest from the store."""
        if cache is None:
            return self.store.chunk_hits(chunk_ids)
        found = cache.get(chunk_ids)
        if len(found) < len(chunk_ids):
            found.update(self.store.chunk_hits([c for c in chunk_ids if c not in found]))
        return found

    def current(self, state: tuple[int, int] | None) -> HitCache | None:
        """The full copy if it is of ``state`` (no counting: for hits being built)."""
        cache = self.cache
        return cache if cache is not None and state is not None and cache.state == state else None

    def documents(self, chunk_ids: list[int]) -> list[int]:
        """The document row id of each chunk id (-1: no longer stored), from the full
        copy or the map when they hold it, else from the store. Counts searches
        towards building the map, and misses towards rebuilding it."""
        cache = self.cache
        if cache is not None:
            rows = cache.rows
            found = [rows[c].document_id if c in rows else -1 for c in chunk_ids]
        elif self.documents_map is not None:
            found = self.documents_map.lookup(np.asarray(chunk_ids, dtype=np.int64)).tolist()
        else:
            found = [-1] * len(chunk_ids)
        missing = [c for c, d in zip(chunk_ids, found) if d < 0 and c >= 0]
        if missing:
            stored = self.store.chunk_document_ids(missing)
            found = [stored.get(c, -1) if d < 0 else d for c, d in zip(chunk_ids, found)]
        self._count_map_use(len(missing))
        return found

    def _count_map_use(self, misses: int) -> None:
        self._map_searches += 1
        self._map_misses += misses
        mapped = len(self.documents_map.chunk_ids) if self.documents_map is not None else 0
        due = (self.documents_map is None and self._map_searches >= self.after) or (
            self.documents_map is not None and self._map_misses > max(1000, mapped // 20))
        if not due or self.max_bytes <= 0 or self.cache is not None:
            return
        with self._lock:
            if self._map_builder is None:  # off the query path, as the full copy
                self._map_misses = 0
                builder = threading.Thread(target=self._build_map, daemon=True,
                                           name=f"vecdex-chunk-documents-{self.collection_id}")
                builder.start()
                self._map_builder = builder

    def _build_map(self) -> None:
        try:
            chunk_ids, document_ids = self.store.chunk_documents(self.collection_id)
            built = ChunkDocuments(chunk_ids, document_ids)
            if built.nbytes <= self.max_bytes:
                self.documents_map = built
        except Exception as exc:  # the store was closed or the collection dropped
            log.debug("chunk documents not mapped: %s", exc)
        finally:
            self.store.release_reader()  # this thread's connection ends with it
            with self._lock:
                self._map_builder = None

