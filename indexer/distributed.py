"""Distributed indexing on Ray (the ``[ray]`` extra): ``vecdex index PATH... --ray [ADDRESS]``.

The inputs become a Ray Data dataset of files, read by Ray tasks with the local
readers (:func:`indexer.readers.read_file`: the same ids, metadata and bad-input
problems); chunking and embedding run in an actor pool (``map_batches``), each
actor holding one embedder built from the collection's spec and the local
:func:`indexer.pipeline.embed_records`, so vectors are exactly the local ones.

Writes: with a SQLite store the driver writes, in batches, through the local
indexer's own skip/dedupe/write steps (one transaction per batch); with
PostgreSQL every actor writes its own batches (the store serialises them on the
collection row). Either way skip-unchanged is by content hash, checked before
embedding, so a killed run is resumed by running it again.

Ray is imported only here, and only when ``--ray`` is given.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from ..errors import ConfigError, EmbedderError, InputError
from ..storage.backends import is_postgres, open_store
from ..storage.store import CollectionInfo
from .chunking import ChunkingSpec
from .embedders.factory import embedder_from_spec
from .pipeline import (
    BATCH_BYTES,
    BATCH_DOCS,
    FIRST_BATCH_DOCS,
    Indexer,
    IndexReport,
    StrictModeError,
    canonical_metadata,
    content_hash,
    embed_records,
)
from .readers import (
    STDIN,
    InputFile,
    Problem,
    ReadOptions,
    Record,
    check_inputs,
    line_parts,
    list_inputs,
    parquet_parts,
    read_file,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from ..search.engine import Collection

#: Rows per block a read task hands on, and documents per actor call: about 0.3 s of
#: chunking for news-length documents (Ray's per-call cost is ~1 ms).
READ_ROWS = 256
#: Rows per read task of a big Parquet file (whole row groups), bytes per read task
#: of a big JSONL or lines file (whole lines; a task holds its part in memory).
PARQUET_PART_ROWS = 50_000
PART_BYTES = 32 << 20
EMBED_DOCS = 256
#: CPU an actor and a read task reserve: actors leave a sliver per core for the
#: (mostly waiting) readers, else a full pool would starve them and the job stall.
ACTOR_CPUS = 0.9
READ_CPUS = 0.1
#: One row schema for every stage (Arrow needs one per block).
COLUMNS = ("kind", "id", "text", "metadata_json", "hash", "source", "note", "message", "problem")
BINARY = ("spans", "vectors")
log = logging.getLogger(__name__)


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs the [ray] extra: pip install 'vecdex[ray]'") from None
    return ray


def _table(rows: list[dict[str, Any]]) -> "pa.Table":
    import pyarrow as pa

    columns: dict[str, Any] = {name: pa.array([r.get(name, "") for r in rows], pa.string()) for name in COLUMNS}
    columns.update({name: pa.array([r.get(name, b"") for r in rows], pa.binary()) for name in BINARY})
    columns["size"] = pa.array([r.get("size", 0) for r in rows], pa.int64())
    return pa.table(columns)


def _item_row(item: Record | Problem) -> dict[str, Any]:
    if isinstance(item, Problem):
        return {"kind": "problem", "source": item.source, "message": item.message, "problem": item.kind}
    metadata_json = canonical_metadata(item.metadata)
    return {"kind": "record", "id": item.id, "text": item.text, "metadata_json": metadata_json,
            "hash": content_hash(item.text, metadata_json), "source": item.source, "note": item.note or ""}


def _record(row: dict[str, Any]) -> Record:
    return Record(row["id"], row["text"], json.loads(row["metadata_json"]), row["source"], row["note"] or None)


# -- stage 1: read files (Ray tasks) --------------------------------------------------------


def read_files(batch: "pa.Table", options: dict[str, Any]) -> Iterator["pa.Table"]:
    """Records and problems of the files in ``batch``, a block at a time, then one
    ``file-done`` row per file (the driver's progress counts those)."""
    read_options = ReadOptions(**options)
    for row in batch.to_pylist():
        rows: list[dict[str, Any]] = []
        groups = tuple(json.loads(row["row_groups"])) if row["row_groups"] else None
        byte_range = tuple(json.loads(row["byte_range"])) if row["byte_range"] else None
        source = InputFile(row["path"], row["shown"], row["format"], row["prefix"], groups, byte_range)
        for item in read_file(source, read_options):
            rows.append(_item_row(item))
            if len(rows) >= READ_ROWS:
                yield _table(rows)
                rows = []
        rows.append({"kind": "file-done", "source": row["shown"], "size": row["size"]})
        yield _table(rows)


# -- stage 2: chunk + embed (+ write, for PostgreSQL) in actors -----------------------------


class EmbedActor:
    """Holds one embedder (loaded once per actor) and, when it can reach the store,
    a connection: unchanged documents are skipped before embedding; with
    ``write=True`` (PostgreSQL) the actor also writes its batches."""

    def __init__(self, store_target: str, info: CollectionInfo, write: bool, strict: bool, threads: int = 1):
        # ELMo sizes TensorFlow's thread pools from this (a user's own setting wins).
        os.environ.setdefault("VECDEX_ELMO_THREADS", str(threads))
        self.store = None
        try:  # read-only use unless writing: a SQLite file on another machine is simply not there
            self.store = open_store(store_target, create=False)
        except Exception as exc:  # noqa: BLE001 - no store here: the driver checks instead
            if write:
                raise
            log.info("store not reachable from this worker (%s): the driver skips unchanged documents", exc)
        self.info = info
        self.embedder = embedder_from_spec(info.embedder)
        self.chunking = ChunkingSpec.from_dict(info.chunking)
        self.write = write
        self.strict = strict
        self.seen: set[str] = set()

    def __call__(self, batch: "pa.Table") -> "pa.Table":
        rows = batch.to_pylist()
        passed = [r for r in rows if r["kind"] != "record"]
        records = [r for r in rows if r["kind"] == "record"]
        if self.write:
            bad = any(r["kind"] == "problem" or r["note"] for r in rows)
            if self.strict and bad:  # --strict: a batch holding bad input is not written
                return _table([r for r in rows if r["kind"] == "problem" or r["note"]])
            return _table(passed + self._write(records))
        return _table(passed + self._embed(records))

    def _stored(self, records: list[dict[str, Any]]) -> dict[str, str]:
        if self.store is None or not records:
            return {}
        return self.store.existing_hashes(self.info.id, [r["id"] for r in records])

    def _embed(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        stored = self._stored(records)
        todo = [r for r in records if stored.get(r["id"]) != r["hash"]]
        out = [{"kind": "unchanged", "id": r["id"], "note": r["note"], "source": r["source"],
                "size": len(r["text"].encode("utf-8", "surrogatepass"))}
               for r in records if stored.get(r["id"]) == r["hash"]]
        for row, done in zip(todo, self._embed_texts([r["text"] for r in todo])):
            if isinstance(done, Exception):
                out.append(_failed(row["source"], done))
                continue
            spans, vectors = done
            out.append({**row, "spans": np.asarray(spans, dtype="<i8").tobytes(),
                        "vectors": np.asarray(vectors, dtype="<f4").tobytes()})
        return out

    def _embed_texts(self, texts: list[str]) -> list[Any]:
        """embed_records on the batch; if it raises, one text at a time, so that a
        document the model fails on is skipped and reported, never the whole job."""
        try:
            return embed_records(texts, self.embedder, self.chunking)
        except Exception:  # noqa: BLE001 - find the culprit below
            out: list[Any] = []
            for text in texts:
                try:
                    out.extend(embed_records([text], self.embedder, self.chunking))
                except Exception as exc:  # noqa: BLE001 - reported as that document's problem
                    out.append(exc)
            return out

    def _write(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The local indexer's steps on this batch: dedupe, skip unchanged, embed, one transaction."""
        report = IndexReport()
        indexer = Indexer(self.store, self.info, self.embedder, workers=1)
        indexer._check_store = True
        batch = [_record(r) for r in records]
        todo = indexer._prepare(batch, self.seen, report) if batch else []
        failed = []
        if todo:
            embedded = self._embed_texts([p.record.text for p in todo])
            failed = [_failed(p.record.source, e) for p, e in zip(todo, embedded) if isinstance(e, Exception)]
            kept = [(p, e) for p, e in zip(todo, embedded) if not isinstance(e, Exception)]
            if kept:
                indexer._write([p for p, _ in kept], [e for _, e in kept], len(batch), report)
        notes = [r for r in records if r["note"]]
        summary = {**report.as_dict(), "seq": indexer.last_seq}
        return failed + [{"kind": "note", "note": r["note"], "source": r["source"]} for r in notes] + [
            {"kind": "written", "message": json.dumps(summary), "size": len(batch)}]


def _failed(source: str, exc: Exception) -> dict[str, Any]:
    message = (str(exc).splitlines() or [type(exc).__name__])[0]
    return {"kind": "problem", "source": source, "message": f"could not embed: {message}", "problem": "embed-failed"}


# -- the driver -----------------------------------------------------------------------------


def connect(address: str | None) -> bool:
    """Join a Ray cluster (``auto``/None: ``ray.init()``'s own choice, an existing
    cluster if one is configured, else a local one). True if this call started Ray."""
    ray = _ray()
    if ray.is_initialized():
        return False
    ray.init(address=None if address in (None, "", "auto") else address, include_dashboard=False,
             logging_level=logging.ERROR, log_to_driver=False, configure_logging=True)
    return True


def _quiet_data(ray) -> None:
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    # Sizing advice for the actor pool ("only received 1 input"): a small input is fine.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"ray\.data\.")


def index_paths(
    collection: "Collection",
    paths: list[str],
    options: ReadOptions,
    *,
    address: str | None = None,
    strict: bool = False,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_progress: Callable[[int], None] | None = None,
    files_progress: Callable[[int, int], None] | None = None,
) -> IndexReport:
    """Index files and folders into ``collection`` on a Ray cluster; the summary is
    an :class:`IndexReport` like a local run's. The vector index is brought up to
    date afterwards, as after :meth:`Collection.add`."""
    if collection.info.embedder.get("kind") == "precomputed":
        raise EmbedderError(f"collection {collection.name!r} holds precomputed vectors: add documents with add_vectors()")
    paths = list(paths)
    check_inputs(paths, options)
    if STDIN in paths:
        raise InputError("--ray reads files and folders, not stdin (-): write the input to a file first")
    files = [f for f in list_inputs(paths, options) if f != STDIN]
    if not files:
        return IndexReport()
    started = connect(address)
    run = _Run(collection, files, options, strict, progress, chunk_progress, files_progress)
    try:
        report = run.execute(workers)
    except KeyboardInterrupt:
        raise  # committed batches are safe; the index catches up on the next search
    except BaseException:
        collection.finish_write(run.seq, run.report)
        raise
    finally:
        if started:
            _ray().shutdown()
    collection.finish_write(run.seq, report)
    return report


class _Run:
    """One distributed run's driver side: builds the dataset, consumes its output."""

    def __init__(self, collection, files, options, strict, progress, chunk_progress, files_progress):
        self.collection = collection
        store = collection._vx.store
        self.store = store
        # Workers may run elsewhere (another cwd, another node): absolute paths only.
        self.target = getattr(store, "url", None) or os.path.abspath(store.path)
        self.write_on_workers = is_postgres(self.target)
        self.info = collection._refresh()
        # A big Parquet, JSONL or lines file is read as several parts in parallel.
        self.files = [part for f in files for part in (
            parquet_parts(f, PARQUET_PART_ROWS) if f.format == "parquet" else line_parts(f, options, PART_BYTES))]
        self.options = {k: v for k, v in asdict(options).items() if k not in ("stdin", "skipped_extensions")}
        self.strict = strict
        self.report = IndexReport()
        self.seq = -1
        self.progress = progress or (lambda n: None)
        self.chunk_progress = chunk_progress or (lambda n: None)
        self.files_progress = files_progress or (lambda done, total: None)
        self.files_done = 0

    def dataset(self, workers: int | None):
        ray = _ray()
        _quiet_data(ray)
        workers, actor_cpus = self.pool_size(ray, workers)
        items = [{**asdict(f), "path": os.path.abspath(f.path), "size": _size(f.path),
                  "row_groups": json.dumps(f.row_groups) if f.row_groups else "",
                  "byte_range": json.dumps(f.byte_range) if f.byte_range else ""} for f in self.files]
        ds = ray.data.from_items(items, override_num_blocks=len(items))
        ds = ds.map_batches(read_files, fn_kwargs={"options": self.options}, batch_size=1, batch_format="pyarrow",
                            num_cpus=READ_CPUS)
        return ds.map_batches(
            EmbedActor, fn_constructor_kwargs={"store_target": self.target, "info": self.info,
                                               "write": self.write_on_workers, "strict": self.strict,
                                               "threads": max(1, int(actor_cpus))},
            compute=ray.data.ActorPoolStrategy(size=workers), batch_size=EMBED_DOCS, batch_format="pyarrow",
            num_cpus=actor_cpus)

    def pool_size(self, ray, workers: int | None) -> tuple[int, float]:
        """(actors, CPUs each): one per CPU for a cheap model (GloVe); a model that
        already uses every core (ELMo, ONNX Runtime) gets one actor per node, with
        that node's CPUs (and as many TensorFlow threads) but the readers' share."""
        if self.collection.embedder.parallel_safe:
            return workers or max(1, int(ray.cluster_resources().get("CPU", 1))), ACTOR_CPUS
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        per_node = min((n.get("Resources", {}).get("CPU", 1.0) for n in nodes), default=1.0)
        return min(workers or len(nodes), max(1, len(nodes))), max(ACTOR_CPUS, per_node - 2 * READ_CPUS)

    def execute(self, workers: int | None) -> IndexReport:
        started = time.perf_counter()
        self.files_progress(0, len(self.files))
        indexer = Indexer(self.store, self.info, self.collection.embedder, workers=1,
                          progress=self.progress, chunk_progress=self.chunk_progress)
        indexer._check_store = True
        seen: set[str] = set()
        pending: list[dict[str, Any]] = []
        size, limit = 0, FIRST_BATCH_DOCS
        try:
            for batch in self.dataset(workers).iter_batches(batch_size=None, batch_format="pyarrow"):
                for row in batch.to_pylist():
                    if row["kind"] == "record":
                        self._note(row)
                        pending.append(row)
                        size += len(row["text"])
                    else:
                        self._other(row, seen)
                if len(pending) >= limit or size >= BATCH_BYTES:
                    self._flush(indexer, pending, seen)
                    pending, size, limit = [], 0, BATCH_DOCS
            self._flush(indexer, pending, seen)
        finally:
            self.seq = max(self.seq, indexer.last_seq)
            self.report.seconds = time.perf_counter() - started
        return self.report

    def _note(self, row: dict[str, Any]) -> None:
        if row["note"]:
            if self.strict:
                raise StrictModeError(f"{row['source']}: {row['note']}")
            key = row["note"].split("; ", 1)[-1]
            self.report.notes[key] = self.report.notes.get(key, 0) + 1

    def _other(self, row: dict[str, Any], seen: set[str]) -> None:
        kind, report = row["kind"], self.report
        if kind == "problem":
            problem = Problem(row["source"], row["message"], row["problem"])
            if self.strict:
                raise StrictModeError(f"{problem.source}: {problem.message}")
            report.add_problem(problem)
        elif kind == "note":
            self._note(row)
        elif kind == "unchanged":
            self._note(row)
            if row["id"] in seen:
                report.duplicates += 1
            seen.add(row["id"])
            report.unchanged += 1
            report.bytes += row["size"]
            self.progress(1)
        elif kind == "written":  # a worker's write (PostgreSQL)
            done = json.loads(row["message"])
            for key in ("added", "updated", "unchanged", "duplicates", "no_vectors", "chunks", "bytes"):
                setattr(report, key, getattr(report, key) + done[key])
            self.seq = max(self.seq, done["seq"])
            self.chunk_progress(done["chunks"])
            self.progress(row["size"])
        elif kind == "file-done":
            self.files_done += 1
            self.files_progress(self.files_done, len(self.files))

    def _flush(self, indexer: Indexer, rows: list[dict[str, Any]], seen: set[str]) -> None:
        """Write embedded rows through the local indexer's skip/dedupe/write steps."""
        if not rows:
            return
        dim = int(self.info.embedder["dimension"])
        embedded = {}
        for row in rows:  # the last of duplicate ids wins, as in _prepare
            spans = np.frombuffer(row["spans"], dtype="<i8").reshape(-1, 2)
            vectors = np.frombuffer(row["vectors"], dtype="<f4").reshape(-1, dim)
            embedded[row["id"]] = ([(int(s), int(e)) for s, e in spans], vectors)
        todo = indexer._prepare([_record(r) for r in rows], seen, self.report)
        if todo:  # _write reports progress and chunks through the indexer's callbacks
            indexer._write(todo, [embedded[p.record.id] for p in todo], len(rows), self.report)
        else:
            self.progress(len(rows))
        self.seq = max(self.seq, indexer.last_seq)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
