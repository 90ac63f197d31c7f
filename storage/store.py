"""The SQLite store (through SQLAlchemy Core): collections, documents, chunks, vectors.

This module opens the store (connections, migrations) and keeps its collections;
reads are in :mod:`storage.reads`, writes in :mod:`storage.writes`. Every write is
one transaction that also bumps the collection's ``seq``; the FAISS files (see
:mod:`storage.index_cache`) are derived from what is here.
"""

from __future__ import annotations

import hashlib
import os

# Imported here, before anything can import TensorFlow: TF ships its own SQLite
# build without FTS5, and whichever library loads first serves sqlite3's symbols.
import sqlite3
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Connection, create_engine, event, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.pool import QueuePool

from ..errors import StoreError
from . import opening, schema
from .migrations import LATEST_VERSION, MIGRATIONS
from .reads import (  # noqa: F401  (re-exported)
    SQL_PARAM_CHUNK,
    ChunkHit,
    DocumentSample,
    StoreReads,
    batched,
    blobs_to_matrix,
)
from .sqlite import SQLITE_JSON, as_number, register_functions  # noqa: F401  (as_number: re-exported)
from .writes import (  # noqa: F401  (re-exported)
    TOMBSTONE_KEEP_SECONDS,
    CollectionChangedError,
    DocumentWrite,
    StaleEmbedderError,
    StoreWrites,
    WriteResult,
    vector_to_blob,
)

BUSY_TIMEOUT_MS = 60000  # how long one statement waits for another process's lock
# Writers queue for the write lock (BEGIN IMMEDIATE) this long in all, retrying
# when SQLite answers "busy" without waiting (it does, e.g. during WAL recovery).
WRITE_LOCK_WAIT_S = 600.0


def durability(durable: bool | None) -> bool:
    """Durable commits unless asked otherwise (``durable=False`` or
    ``$VECDEX_SYNCHRONOUS=normal``, the bulk-load opt-out)."""
    if durable is not None:
        return durable
    return os.environ.get("VECDEX_SYNCHRONOUS", "full").strip().lower() not in ("normal", "off", "0")


@contextmanager
def released_on_interrupt(transaction: Any) -> Iterator[Connection]:
    """``with`` a write transaction whose connection is let go at once when an
    interrupt (Ctrl-C, SystemExit) lands inside it. Interrupted mid-statement
    (``executemany``), the driver's connection is closed by SQLAlchemy but lives
    on, transaction and SQLite write lock included, until its unfinished
    statement is freed, and the traceback's frames hold that statement's cursor:
    the process's own next write (the index sync after an interrupted
    ``add_vectors``) waited ~2 minutes for its own lock. Clearing the finished
    frames' locals frees it (the traceback keeps its lines)."""
    with transaction as conn:
        try:
            yield conn
        except BaseException as exc:
            if not isinstance(exc, Exception):
                traceback.clear_frames(exc.__traceback__)
                conn.invalidate()
            raise


def begin_immediate(conn: Connection) -> None:
    """Take the write lock up front, so two writers queue instead of one failing
    halfway with "database is locked"; retried until ``WRITE_LOCK_WAIT_S``."""
    deadline = time.monotonic() + WRITE_LOCK_WAIT_S
    pause = 0.005
    while True:
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            message = str(exc.orig).lower()
            if ("locked" not in message and "busy" not in message) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


@dataclass(frozen=True)
class CollectionInfo:
    """One row of ``collections``: a collection's state as read at one moment
    (an operation reads it once and hands it on)."""

    id: int
    name: str
    embedder: dict[str, Any]
    index_spec: dict[str, Any]
    chunking: dict[str, Any]
    seq: int
    generation: int
    created_at: float
    updated_at: float


class Store(StoreReads, StoreWrites):
    """A vecdex database file. Cheap to open; safe for several processes.

    Its reads are in :class:`~storage.reads.StoreReads`, its document writes in
    :class:`~storage.writes.StoreWrites`; connections, migrations and collections
    are here. :class:`~storage.postgres.PostgresStore`
    is the same store on PostgreSQL (open either by URL: :func:`storage.backends.open_store`)."""

    kind = "sqlite"
    read_only = False  # a store on read-only media (set per file; PostgreSQL: never)
    durable = True
    json = SQLITE_JSON  # how metadata filters compile on this dialect

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, durable: bool | None = None):
        self.path = Path(path)
        self.location = str(self.path)
        # Nothing is written before the file is recognised as a vecdex store (or a
        # writing command asked for a new one): see storage/opening.py.
        self.file = opening.inspect(self.path, create=create)
        self.read_only = self.file.read_only
        self.durable = durability(durable)
        self._store_id: str | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._probe: sqlite3.Connection | None = None
        self.engine = self._make_engine()
        self._write_engine = self.engine.execution_options(vx_write=True)
        try:
            self._migrate()
        except DatabaseError as exc:
            self.engine.dispose()
            if "fts5" in str(exc.orig):
                raise StoreError(
                    "this process's SQLite has no FTS5 full-text module (is TensorFlow imported before "
                    "vecdex? its bundled SQLite lacks FTS5: import vecdex first)"
                ) from exc
            raise StoreError(f"{self.path} is not a vecdex store (SQLite said: {exc.orig})") from exc

    # -- connection setup ---------------------------------------------------------

    def _make_engine(self) -> Engine:
        uri = self.file.uri()
        # A URI (read-only and immutable opens need one); "sqlite://" alone would
        # mean an in-memory database and a one-connection pool.
        engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
                               poolclass=QueuePool, future=True)
        read_only, synchronous = self.read_only, "FULL" if self.durable else "NORMAL"

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:
            # Let SQLAlchemy's "begin" event decide how transactions start.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not read_only:
                cursor.execute("PRAGMA journal_mode = WAL")
                # FULL in WAL mode: a commit returns only once the log is on disk, so
                # an acknowledged batch survives a power cut. NORMAL (the bulk-load
                # opt-out) never corrupts the file but may lose the last commits.
                cursor.execute(f"PRAGMA synchronous = {synchronous}")
            cursor.execute("PRAGMA foreign_keys = ON")
            # Searches read a few random rows of big tables: serve them from a
            # memory map and a larger page cache instead of one read() per page.
            cursor.execute("PRAGMA mmap_size = 1073741824")
            cursor.execute("PRAGMA cache_size = -65536")
            cursor.close()
            register_functions(dbapi_connection)  # vx_num, for metadata filters

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Writers take the lock up front (BEGIN IMMEDIATE) so two writers queue
            # instead of failing halfway with "database is locked".
            if conn.get_execution_options().get("vx_write"):
                begin_immediate(conn)
            else:
                conn.exec_driver_sql("BEGIN")

        return engine

    def writing(self):
        """A write transaction: ``with store.writing() as conn: ...``."""
        if self.read_only:
            raise StoreError(f"{self.path} is read-only (a read-only file, folder or mount): it can be "
                             "searched but not changed")
        return released_on_interrupt(self._write_engine.begin())

    def reading(self):
        """A read transaction (one consistent snapshot)."""
        return self.engine.begin()

    # This dialect's numbered migrations, and what a database of other tables is called.
    migrations, latest_version = MIGRATIONS, LATEST_VERSION
    foreign_message = "{location} is an SQLite database but not a vecdex store"

    def _migrate(self, create: bool = True) -> None:
        """Apply pending numbered migrations. Readers never take the write lock:
        the version is checked in a read transaction first."""
        with self.reading() as conn:
            version = self._version(conn)
            foreign = version == 0 and self._has_foreign_tables(conn)
        if foreign:
            raise StoreError(self.foreign_message.format(location=self.location))
        if version > self.latest_version:
            raise StoreError(f"{self.location} was written by a newer vecdex (schema {version}); upgrade vecdex")
        if version == self.latest_version:
            return
        if version == 0 and not create:
            raise StoreError(f"no vecdex store at {self.location} (index something first)")
        if self.read_only and version >= 2:
            return  # searchable as it is; what the newer schema adds is only needed to write
        if self.read_only:
            raise StoreError(f"{self.location} needs an upgrade to schema {self.latest_version} (it has {version}) "
                             "but is read-only: open it once where it can be written")
        with self.writing() as conn:
            self._lock_migrations(conn)
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS vecdex_meta (key VARCHAR PRIMARY KEY, value TEXT NOT NULL)")
            for number in sorted(n for n in self.migrations if n > self._version(conn)):
                for statement in self.migrations[number]:
                    conn.exec_driver_sql(statement)
                conn.exec_driver_sql(
                    "INSERT INTO vecdex_meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(number),))

    def _lock_migrations(self, conn: Connection) -> None:
        """One migrator at a time (SQLite: the write transaction's lock already is)."""

    @staticmethod
    def _version(conn: Connection) -> int:
        has_meta = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='vecdex_meta'"
        ).first()
        if not has_meta:
            return 0
        row = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")).first()
        try:
            return int(row[0]) if row else 0
        except ValueError:
            raise StoreError(f"schema version {row[0]!r} is not a number") from None

    @staticmethod
    def _has_foreign_tables(conn: Connection) -> bool:
        names = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")}
        return bool(names - {"vecdex_meta"})

    def cache_folder(self, kind: str) -> Path:
        """Where this store's derived ``kind`` indexes (faiss, lexical) live: beside the
        file, or, when that cannot be written (read-only media), in the user cache."""
        beside = Path(f"{self.path}.{kind}")
        writable = os.access(beside, os.W_OK) if beside.exists() else os.access(self.path.parent, os.W_OK)
        if writable and not self.read_only:
            return beside
        from ..indexer.cache import cache_dir

        root = cache_dir()
        if root is None:
            return beside  # nowhere to write: indexes live in memory only
        digest = hashlib.blake2b(str(self.path.resolve()).encode(), digest_size=8).hexdigest()
        return root / "stores" / f"{self.path.name}-{digest}.{kind}"

    def store_id(self) -> str:
        """The random id written when the store was made: cache files record it, so a
        file built from another store (or a store re-created at this path) is never used."""
        if self._store_id is None:
            with self.reading() as conn:
                row = conn.exec_driver_sql("SELECT value FROM vecdex_meta WHERE key = 'store_id'").first()
            # only a read-only store too old to have one: its path stands in
            self._store_id = str(row[0]) if row else "unidentified-" + str(self.path.resolve())
        return self._store_id

    def connect_raw(self) -> sqlite3.Connection:
        """A plain sqlite3 connection to the store, opened as the store is (read-only
        or immutable on read-only media); autocommit, any thread."""
        return sqlite3.connect(self.file.uri(), uri=True, check_same_thread=False, isolation_level=None)

    def drop_collection_if_empty(self, collection_id: int) -> bool:
        """Delete a collection nothing was ever written to (seq 0, no documents)."""
        with self.writing() as conn:
            gone = conn.exec_driver_sql(
                "DELETE FROM collections WHERE id = ? AND seq = 0 AND NOT EXISTS "
                "(SELECT 1 FROM documents WHERE collection_id = ?)", (collection_id, collection_id)).rowcount
        return bool(gone)

    def size_bytes(self) -> int:
        """The database's size on disk (file, WAL and shared memory)."""
        total = 0
        for suffix in ("", "-wal", "-shm"):
            try:
                total += os.path.getsize(f"{self.path}{suffix}")
            except OSError:
                pass
        return total

    def _new_ids(self, conn: Connection, table: str, count: int) -> list[int]:
        """``count`` ids for new rows of ``table``. SQLite's writer holds the database's
        write lock (BEGIN IMMEDIATE) from its first statement, so ids past the largest
        are its own; PostgreSQL's store takes them from a sequence instead."""
        column = schema.metadata_obj.tables[table].c.id
        first = int(conn.execute(select(func.coalesce(func.max(column), 0))).scalar_one()) + 1
        return list(range(first, first + count))

    def _lock_collection(self, conn: Connection, collection_id: int) -> None:
        """Hold the collection row's lock until commit (PostgreSQL: SELECT ... FOR UPDATE;
        SQLite's BEGIN IMMEDIATE already holds the whole database)."""
        cols = schema.collections
        conn.execute(select(cols.c.id).where(cols.c.id == collection_id).with_for_update())

    def schema_version(self) -> int:
        with self.reading() as conn:
            return self._version(conn)

    def close(self) -> None:
        with self._readers_lock:
            for connection in self._readers:
                connection.close()
            self._readers.clear()
            self._probe = None
        self.engine.dispose()

    # -- the hot read path -----------------------------------------------------------
    # A search does at most two tiny reads; SQLAlchemy's per-statement overhead
    # (~0.1 ms) would cost more than an HNSW search itself, so these two use one
    # plain sqlite3 connection per thread.

    def _reader(self) -> sqlite3.Connection:
        connection = getattr(self._local, "reader", None)
        if connection is None:
            connection = self.connect_raw()
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # Reads by memory map: no read() per page on the search path.
            connection.execute("PRAGMA mmap_size = 1073741824")
            self._local.reader = connection
            with self._readers_lock:
                self._readers.append(connection)
        return connection

    def release_reader(self) -> None:
        """Close this thread's plain read connection, for a helper thread about to end:
        it would otherwise stay open as long as the store (one more PostgreSQL
        connection for every background catch-up, until the server refuses more)."""
        reader = getattr(self._local, "reader", None)
        if reader is None:
            return
        self._local.reader = None
        with self._readers_lock:
            if reader in self._readers:
                self._readers.remove(reader)
        try:
            reader.close()
        except Exception:  # noqa: BLE001 - already gone with its server
            pass

    def data_version(self) -> int:
        """Changes whenever any other connection (any process) commits to the store:
        lets a searcher skip re-reading the collection row while nothing changed.
        (One probe connection for all threads: the counter is per connection.)"""
        with self._readers_lock:
            if self._probe is None:
                self._probe = self.connect_raw()
                self._readers.append(self._probe)
            return int(self._probe.execute("PRAGMA data_version").fetchone()[0])

    # -- collections ----------------------------------------------------------------

    @staticmethod
    def _collection_from_row(row) -> CollectionInfo:
        return CollectionInfo(**{key: row._mapping[key] for key in CollectionInfo.__dataclass_fields__})

    def get_collection(self, name: str, conn: Connection | None = None) -> CollectionInfo | None:
        query = select(schema.collections).where(schema.collections.c.name == name)
        if conn is not None:
            row = conn.execute(query).first()
        else:
            with self.reading() as c:
                row = c.execute(query).first()
        return self._collection_from_row(row) if row else None

    def collection_state(self, collection_id: int) -> tuple[int, int] | None:
        """(seq, generation) of a collection: the cheap "has anything changed?" check."""
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT seq, generation FROM collections WHERE id = ?", (collection_id,)
            ).first()
            conn.rollback()
        return (int(row[0]), int(row[1])) if row else None

    def list_collections(self) -> list[CollectionInfo]:
        with self.reading() as conn:
            rows = conn.execute(select(schema.collections).order_by(schema.collections.c.name)).all()
        return [self._collection_from_row(r) for r in rows]

    def create_collection(
        self, name: str, embedder: dict[str, Any], index_spec: dict[str, Any], chunking: dict[str, Any]
    ) -> CollectionInfo:
        """Create a collection, or return the existing one if another process just made it."""
        now = time.time()
        with self.writing() as conn:
            existing = self.get_collection(name, conn)
            if existing is not None:
                return existing
            values = dict(name=name, embedder=embedder, index_spec=index_spec, chunking=chunking,
                          seq=0, generation=0, created_at=now, updated_at=now)
            if self.kind == "sqlite":  # PostgreSQL's ids come from a sequence: never reused
                values["id"] = self._next_collection_id(conn)
            conn.execute(insert(schema.collections).values(**values))
            return self.get_collection(name, conn)

    @staticmethod
    def _next_collection_id(conn: Connection) -> int:
        """Never reuse a dropped collection's id: FAISS files and the indexes other
        processes hold are keyed by (id, generation, seq), and a new collection
        reaching the same seq must not be mistaken for the old one."""
        cols, meta = schema.collections, schema.meta
        highest = conn.execute(select(func.coalesce(func.max(cols.c.id), 0))).scalar_one()
        dropped = conn.execute(select(meta.c.value).where(meta.c.key == "max_dropped_collection_id")).scalar()
        return max(int(highest), int(dropped or 0)) + 1

    def drop_collection(self, collection_id: int) -> bool:
        """Delete a collection with all its documents, chunks and change logs in one
        transaction; False when it did not exist. Its FAISS and tantivy files are
        the caches' to remove (:meth:`IndexCache.drop`, :meth:`LexicalCache.drop`)."""
        cols, meta = schema.collections, schema.meta
        with self.writing() as conn:
            if conn.execute(select(cols.c.id).where(cols.c.id == collection_id)).first() is None:
                return False
            self._lock_collection(conn, collection_id)
            old = conn.execute(select(meta.c.value).where(meta.c.key == "max_dropped_collection_id")).scalar()
            if old is None:
                conn.execute(insert(meta).values(key="max_dropped_collection_id", value=str(collection_id)))
            elif int(old) < collection_id:
                conn.execute(update(meta).where(meta.c.key == "max_dropped_collection_id")
                             .values(value=str(collection_id)))
            for table in (schema.chunk_tombstones, schema.document_tombstones, schema.chunks, schema.documents):
                conn.execute(table.delete().where(table.c.collection_id == collection_id))
            conn.execute(cols.delete().where(cols.c.id == collection_id))
        return True

    def update_index_spec(self, collection_id: int, index_spec: dict[str, Any], *, new_generation: bool = True) -> None:
        """Record a new index spec; bumping ``generation`` retires the old FAISS files
        (``new_generation=False``: the files stay valid, e.g. auto recording that it
        keeps the exact index it already had)."""
        cols = schema.collections
        generation = cols.c.generation + 1 if new_generation else cols.c.generation
        with self.writing() as conn:
            conn.execute(
                update(cols)
                .where(cols.c.id == collection_id)
                .values(index_spec=index_spec, generation=generation, updated_at=time.time())
            )


__all__ = [
    "CollectionChangedError", "CollectionInfo", "ChunkHit", "DocumentSample", "DocumentWrite", "SQL_PARAM_CHUNK",
    "StaleEmbedderError", "Store", "StoreError", "WriteResult", "blobs_to_matrix", "vector_to_blob", "OperationalError",
]
