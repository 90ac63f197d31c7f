"""The indexing pipeline: records -> (skip unchanged) -> chunk + embed -> batched writes.

Chunking and embedding run in worker processes when the input is large enough
to pay for them (the sentence splitter is pure Python and CPU-bound); the main
process reads input and writes to SQLite, one transaction per batch, in input
order. A batch is either fully stored or not at all.
"""

from __future__ import annotations

import gc
import hashlib
import json
import multiprocessing
import multiprocessing.util
import os
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..errors import VecdexError
from ..storage.store import CollectionInfo, DocumentWrite, Store, WriteResult
from ..storage.text_rules import document_problem
from .chunking import ChunkingSpec, chunk_spans
from .embedders.base import Embedder
from .embedders.factory import embedder_from_spec
from .lifeline import die_with_parent
from .readers import Problem, Record

# A batch is one transaction and one unit of work for a worker: big enough that
# per-batch costs (commit, IPC) vanish for one-line documents, small enough that
# a crash or --strict stop loses little.
BATCH_DOCS = 4096
BATCH_BYTES = 1 << 20
# The first batch is kept small so that the workers get going at once; when it is
# the whole input it is embedded in-process (tiny inputs never start a pool).
FIRST_BATCH_DOCS = 128
FIRST_BATCH_BYTES = 64 << 10
# add_vectors has nothing to embed, so a batch is only a transaction: bigger ones
# pay fewer commits (an fsync each) and per-batch statements; 100k one-line
# documents: 4.31 s at 4,096 a batch, 3.87 at 16,384, 3.90 at 65,536.
VECTOR_BATCH_DOCS = 16384
MAX_PROBLEMS_KEPT = 1000


class StrictModeError(VecdexError):
    """``--strict`` met bad input; the batch holding it was not written."""


@contextmanager
def gc_paused():
    """Python's cycle collector off for one bounded bulk step (also a decorator).

    A batch allocates hundreds of thousands of small objects (records, rows,
    tuples) that live until it is written and then go by reference counting; the
    collector would traverse them again and again meanwhile: half the CPU of a
    100k-document ``add_vectors`` (measured, 10.5 -> 4.8 s). Steps overlapping in
    threads are harmless: the collector is back on when the last one ends or earlier.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# json.dumps with options builds a new encoder per call (~1 us): one, shared.
_METADATA_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str)


# ... and the C encoder that encode() builds on every call, built once (~1 us of
# ~2 a document). Without circular-reference bookkeeping, which would be state
# shared between threads: a circular dict fails with RecursionError, and then goes
# the usual way for the usual error.
_C_ENCODER = (json.encoder.c_make_encoder(None, str, json.encoder.encode_basestring, None, ": ", ", ",
                                          True, False, True)
              if json.encoder.c_make_encoder is not None else None)


def canonical_metadata(metadata: dict[str, Any]) -> str:
    """Metadata as stored: JSON with sorted keys (so equal dicts hash equal)."""
    if not metadata:
        return "{}"
    if _C_ENCODER is not None:
        try:
            return "".join(_C_ENCODER(metadata, 0))
        except RecursionError:
            pass
    return _METADATA_ENCODER.encode(metadata)


def content_hash(text: str, metadata_json: str) -> str:
    """What decides "unchanged": the text and the metadata together."""
    return hashlib.blake2b(f"{text}\x00{metadata_json}".encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass
class PendingDocument:
    """A record that needs (re-)embedding, with what was computed to decide that."""

    record: Record
    metadata_json: str
    content_hash: str


@dataclass
class IndexReport:
    """What an indexing run did, for the summary line and ``--json``."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    duplicates: int = 0
    no_vectors: int = 0
    chunks: int = 0
    bytes: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    problem_counts: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    #: The collection's write counter after this run's last write (-1: it wrote
    #: nothing): pass it as ``min_seq`` to read these writes from any process.
    seq: int = -1

    @property
    def documents(self) -> int:
        return self.added + self.updated + self.unchanged

    def add_problem(self, problem: Problem) -> None:
        self.failed += 1
        self.problem_counts[problem.kind] = self.problem_counts.get(problem.kind, 0) + 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(problem)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added, "updated": self.updated, "unchanged": self.unchanged, "failed": self.failed,
            "duplicates": self.duplicates, "no_vectors": self.no_vectors, "chunks": self.chunks,
            "bytes": self.bytes, "seconds": round(self.seconds, 3), "problems": self.problem_counts,
            "notes": self.notes,
        }


# -- the work done per batch (in a worker or in-process) ---------------------------------

_worker_state: dict[str, Any] = {}


def _init_worker(parent: int, embedder_spec: dict[str, Any], chunking: dict[str, Any]) -> None:
    die_with_parent(parent)
    _worker_state["embedder"] = embedder_from_spec(embedder_spec)
    _worker_state["chunking"] = ChunkingSpec.from_dict(chunking)


def embed_records(texts: list[str], embedder: Embedder, chunking: ChunkingSpec) -> list[tuple[list[tuple[int, int]], np.ndarray]]:
    """Chunk and embed texts; per text its kept spans and their vectors.

    Chunks with no word the model knows are dropped (they would be zero vectors).
    """
    if chunking.tokens == "model":  # budgets in the model's own tokens (a transformer's word pieces)
        spans_per_text = [chunk_spans(text, chunking, embedder.token_spans) for text in texts]
    else:
        spans_per_text = [chunk_spans(text, chunking) for text in texts]
    pieces = [text[s:e] for text, spans in zip(texts, spans_per_text) for s, e in spans]
    embedded = embedder.embed(pieces) if pieces else None
    out = []
    offset = 0
    for spans in spans_per_text:
        n = len(spans)
        if embedded is None or n == 0:
            out.append(([], np.zeros((0, embedder.dimension), dtype=np.float32)))
            continue
        known = embedded.known[offset : offset + n]
        vectors = embedded.vectors[offset : offset + n][known]
        out.append(([span for span, ok in zip(spans, known) if ok], vectors))
        offset += n
    return out


def _worker_embed(texts: list[str]):
    return embed_records(texts, _worker_state["embedder"], _worker_state["chunking"])


# -- the run ---------------------------------------------------------------------------------


def _batches(items: Iterable[Record | Problem], report: IndexReport, strict: bool,
             batch_bytes: int = BATCH_BYTES) -> Iterator[list[Record]]:
    """Group records into batches; count (or, with strict, raise on) problems.

    ``batch_bytes`` lets a slow embedder (ELMo) ask for smaller batches, so the
    progress bar moves and each commit holds seconds, not minutes, of work.
    """
    batch: list[Record] = []
    size = 0
    max_docs, max_bytes = FIRST_BATCH_DOCS, min(FIRST_BATCH_BYTES, batch_bytes)
    for item in items:
        if isinstance(item, Record):
            refused = document_problem(item.id, item.text, item.metadata)
            if refused is not None:  # by every store (storage/text_rules.py)
                item = Problem(item.source, refused, "bad-record")
        if isinstance(item, Problem):
            if strict:
                raise StrictModeError(f"{item.source}: {item.message}")
            report.add_problem(item)
            continue
        if item.note:
            if strict:
                raise StrictModeError(f"{item.source}: {item.note}")
            key = item.note.split("; ", 1)[-1]
            report.notes[key] = report.notes.get(key, 0) + 1
        batch.append(item)
        size += len(item.text)
        if len(batch) >= max_docs or size >= max_bytes:
            yield batch
            batch, size = [], 0
            max_docs, max_bytes = BATCH_DOCS, batch_bytes
    if batch:
        yield batch


_shared: dict[str, Any] = {}
_shared_lock = threading.Lock()
_shared_finalizer: dict[str, int] = {}


def shared_pool(workers: int, embedder_spec: dict[str, Any], chunking: dict[str, Any]) -> ProcessPoolExecutor:
    """The process's worker pool for this embedder, chunking and size, made on first
    use and reused by later runs; a pool for anything else is shut down first
    (one pool at a time: workers hold a model each)."""
    key = json.dumps([workers, embedder_spec, chunking], sort_keys=True, default=str)
    with _shared_lock:
        pool = _shared.get("pool")
        if pool is not None and (_shared.get("key") != key or _shared.get("pid") != os.getpid() or _broken(pool)):
            pool.shutdown(wait=False, cancel_futures=True)
            pool = None
        if pool is None:
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() and sys.platform != "darwin" else "spawn"
            pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context(method),
                initializer=_init_worker,
                initargs=(os.getpid(), embedder_spec, chunking),
            )
            _shared.update(pool=pool, key=key, pid=os.getpid())
            if _shared_finalizer.get("pid") != os.getpid():
                # A process started by multiprocessing joins its non-daemon children at
                # exit before anything else stops them: the pool's idle workers would
                # keep it waiting forever. Finalizers of priority >= 0 run first, highest first:
                # above the pool queues' own (10), which would close them before our stop.
                multiprocessing.util.Finalize(None, shutdown_pool, exitpriority=100)
                _shared_finalizer["pid"] = os.getpid()
        return pool


def shutdown_pool() -> None:
    """Stop the shared pool (its workers exit; the next run starts a new one)."""
    with _shared_lock:
        pool = _shared.pop("pool", None)
        owner = _shared.get("pid")
        _shared.clear()
    if pool is not None and owner in (None, os.getpid()):  # a forked child never stops its parent's pool
        pool.shutdown(wait=True, cancel_futures=True)


def _broken(pool: ProcessPoolExecutor) -> bool:
    """Unusable: a worker died, or it was stopped (after an error or Ctrl-C)."""
    return bool(getattr(pool, "_broken", False) or getattr(pool, "_shutdown_thread", False))


def _with_lookahead(batches: Iterator[list[Record]]) -> Iterator[tuple[list[Record], bool]]:
    """Each batch with whether another one follows (read one batch ahead).

    An error met while reading ahead (a ``--strict`` stop) is raised only after
    the batch before it has been handed out, as without the look-ahead.
    """
    try:
        current = next(batches)
    except StopIteration:
        return
    while True:
        try:
            following = next(batches)
        except StopIteration:
            yield current, False
            return
        except Exception:  # not KeyboardInterrupt: Ctrl-C stops at once
            yield current, False
            raise
        yield current, True
        current = following


class Indexer:
    """Index records into one collection of a store."""

    def __init__(
        self,
        store: Store,
        collection: CollectionInfo,
        embedder: Embedder,
        *,
        workers: int | None = None,
        progress: Callable[[int], None] | None = None,
        chunk_progress: Callable[[int], None] | None = None,
    ):
        self.store = store
        self.collection = collection
        self.embedder = embedder
        self.chunking = ChunkingSpec.from_dict(collection.chunking)
        cpu = os.cpu_count() or 1
        self.workers = max(1, workers if workers is not None else min(cpu, 8))
        if not embedder.parallel_safe:
            self.workers = 1
        self.progress = progress or (lambda n: None)
        # Called with the chunks each committed batch wrote (the CLI shows chunks/s).
        self.chunk_progress = chunk_progress or (lambda n: None)
        self._pool: ProcessPoolExecutor | None = None
        self.last_seq = -1  # the collection's seq after this indexer's last write
        # (chunk ids, vectors) of all a run_vectors into an empty collection wrote
        # (None otherwise): the first vector index is built from them.
        self.written: tuple[np.ndarray, np.ndarray] | None = None

    def _pool_or_none(self) -> ProcessPoolExecutor | None:
        if self.workers < 2:
            return None
        if self._pool is None:
            self._pool = shared_pool(self.workers, self.embedder.spec, self.chunking.to_dict())
        return self._pool

    def run(self, items: Iterable[Record | Problem], *, strict: bool = False) -> IndexReport:
        report = IndexReport()
        started = time.perf_counter()
        seen: set[str] = set()
        # In a collection that starts empty, only this run's own documents can
        # exist, and those are in `seen`: no need to ask the store per batch.
        self._check_store = self.store.counts(self.collection.id)[0] > 0
        in_flight: deque[tuple[list[Record], Future | list]] = deque()
        try:
            batch_bytes = self.embedder.batch_bytes or BATCH_BYTES
            batches = _with_lookahead(_batches(items, report, strict, batch_bytes))
            for n_batch, (batch, more) in enumerate(batches):
                todo = self._prepare(batch, seen, report)
                if not todo:
                    self.progress(len(batch))
                    continue
                texts = [p.record.text for p in todo]
                # An input of one small batch runs in-process: it never pays for a
                # pool. A larger one keeps both cores busy from its first document.
                pool = self._pool_or_none() if n_batch > 0 or more else None
                if pool is None:
                    in_flight.append((todo, embed_records(texts, self.embedder, self.chunking), len(batch)))
                else:
                    in_flight.append((todo, pool.submit(_worker_embed, texts), len(batch)))
                while in_flight and (len(in_flight) > 2 * self.workers or not isinstance(in_flight[0][1], Future)):
                    self._write(*in_flight.popleft(), report)
            while in_flight:
                self._write(*in_flight.popleft(), report)
        except BaseException:
            self._stop_pool(now=True)  # Ctrl-C or an error: no waiting for work nobody will write
            raise
        finally:
            # The pool stays up for the next run (an app adding 100 documents at a
            # time pays for starting workers and loading the model once); work
            # still queued after an error is dropped.
            for _, work, _ in in_flight:
                if isinstance(work, Future):
                    work.cancel()
            self._pool = None
            report.seconds = time.perf_counter() - started
        return report

    def _stop_pool(self, *, now: bool) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if now:
            # The executor offers no "stop now": end the workers, then let it
            # notice (its manager thread joins them; nothing is left behind).
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
        pool.shutdown(wait=True, cancel_futures=True)

    @gc_paused()
    def run_vectors(self, records: Sequence[Record], matrix: np.ndarray) -> IndexReport:
        """Index records with their own vectors (one per record, rows of ``matrix``):
        the same skipping of unchanged documents and batched writes as :meth:`run`,
        with the given vector as the record's one chunk. The vector is part of the
        content hash: a changed vector is an update."""
        report = IndexReport()
        started = time.perf_counter()
        position = {record.id: i for i, record in enumerate(records)}  # each record's row of `matrix`

        def row(doc_id: str) -> np.ndarray:
            at = position[doc_id]
            return matrix[at : at + 1]

        little_endian = matrix.dtype == np.dtype("<f4")  # as hashed: no copy per row

        def content(record: Record) -> str:
            row_ = row(record.id)
            return record.text + "\x00" + (row_ if little_endian else row_.astype("<f4")).tobytes().hex()

        seen: set[str] = set()
        self._check_store = self.store.counts(self.collection.id)[0] > 0
        # Into an empty collection, what this call writes is all it holds (its ids are
        # unique): kept (chunk ids, rows of `matrix`) so the first vector index is
        # built without reading back; the index cache checks them against the store.
        kept: list[tuple[np.ndarray, list[int]]] | None = None if self._check_store else []
        try:
            for start in range(0, len(records), VECTOR_BATCH_DOCS):
                batch = list(records[start : start + VECTOR_BATCH_DOCS])
                todo = self._prepare(batch, seen, report, content)
                if todo:
                    embedded = [([(0, len(p.record.text))], row(p.record.id)) for p in todo]
                    result = self._write(todo, embedded, len(batch), report)
                    if kept is not None:  # one chunk per document, in the order written
                        kept.append((result.chunk_ids, [position[p.record.id] for p in todo]))
                else:
                    self.progress(len(batch))
            if kept:
                ids = np.concatenate([chunk_ids for chunk_ids, _ in kept])
                at = np.fromiter((i for _, part in kept for i in part), dtype=np.int64, count=len(ids))
                self.written = (ids, np.ascontiguousarray(matrix[at], dtype=np.float32))
        finally:
            report.seconds = time.perf_counter() - started
        return report

    @gc_paused()
    def _prepare(self, batch: list[Record], seen: set[str], report: IndexReport,
                 content: Callable[[Record], str] | None = None) -> list[PendingDocument]:
        """Drop in-batch duplicates (last wins) and documents stored unchanged
        (``content``: what is hashed besides the metadata, if not the text)."""
        latest: dict[str, Record] = {}
        repeated: list[str] = []  # ids an earlier batch of this run already wrote
        for record in batch:
            if record.id in latest or record.id in seen:
                report.duplicates += 1
                if record.id in seen:
                    repeated.append(record.id)
            latest[record.id] = record
        seen.update(latest)
        lookup = list(latest) if self._check_store else repeated
        stored = self.store.existing_hashes(self.collection.id, lookup) if lookup else {}
        todo = []
        for doc_id, record in latest.items():
            report.bytes += len(record.text.encode("utf-8", "surrogatepass"))
            metadata_json = canonical_metadata(record.metadata)
            digest = content_hash(content(record) if content else record.text, metadata_json)
            if stored.get(doc_id) == digest:
                report.unchanged += 1
            else:
                todo.append(PendingDocument(record, metadata_json, digest))
        return todo

    @gc_paused()
    def _write(self, todo: list[PendingDocument], embedded, n_read: int, report: IndexReport) -> WriteResult:
        if isinstance(embedded, Future):
            embedded = embedded.result()
        writes = []
        for pending, (spans, vectors) in zip(todo, embedded):
            if not spans:
                report.no_vectors += 1
            record = pending.record
            writes.append(DocumentWrite(
                ext_id=record.id, text=record.text, metadata_json=pending.metadata_json,
                content_hash=pending.content_hash, source=record.source, spans=spans, vectors=vectors,
            ))
            report.chunks += len(spans)
        result = self.store.write_documents(self.collection.id, writes, self.embedder.spec)
        self.last_seq = result.seq
        report.added += result.added
        report.updated += result.updated
        self.chunk_progress(sum(len(w.spans) for w in writes))
        self.progress(n_read)
        return result
