"""The PostgreSQL store: what differs from SQLite, and nothing else.

:class:`PostgresStore` is a :class:`~storage.store.Store` (same tables, same
writes, same reads) over SQLAlchemy 2 + psycopg 3. What is PostgreSQL's own:

- its numbered migrations (:data:`storage.migrations.POSTGRES_MIGRATIONS`):
  ids are identity columns, vectors ``bytea``, metadata ``json`` (kept as
  written, as SQLite keeps it: ``jsonb`` would re-order keys), and three
  small SQL functions the metadata filters compile to (:class:`PgJson`);
- ids for new rows come from the tables' identity sequences (``nextval``), never
  ``max(id)+1``: two writers on two hosts never collide;
- write transactions run at READ COMMITTED and bump the collection's ``seq``
  first, under the collection row's lock (``UPDATE ... RETURNING`` /
  ``SELECT ... FOR UPDATE``) held until commit, so seqs commit in order and a
  cache catching up from a seq never skips a commit; reads run at REPEATABLE
  READ so one read transaction is one snapshot (a seq and the rows it names);
- the search path's hot reads use one plain psycopg connection per thread;
  driver-level SQL is written with ``?`` placeholders and translated here;
- "did anything change?" (:meth:`PostgresStore.data_version`) is answered
  from change notifications (:mod:`storage.pg_changes`), not a query per search;
- connection problems become one-line :class:`StoreError` naming the URL
  without its password; a transaction cut off by a dropped connection is rolled
  back by the server (nothing half-written is visible).
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from sqlalchemy import ColumnElement, Connection, FromClause, create_engine, event, func
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from ..errors import StoreError
from .migrations import POSTGRES_LATEST_VERSION, POSTGRES_MIGRATIONS
from .pg_changes import LISTEN_AFTER, ChangeWatcher
from .store import Store, released_on_interrupt


def safe_url(url: str) -> str:
    """The URL as it may be shown: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not parseable: show nothing that could hold a secret
        return "<unparseable database URL>"


class PgJson:
    """The metadata filters' JSON access for PostgreSQL's ``json``, through the
    functions ``vx_type``, ``vx_num`` and ``vx_elements`` (migrations 1 and 5), which
    read values the way SQLite's JSON1 and ``vx_num`` do (booleans count as 1/0
    for numbers, strings holding a number are that number)."""

    TRUE, FALSE, TEXT, ARRAY = "true", "false", "text", "array"

    @staticmethod
    def path(parts: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(parts)  # each part a bound parameter of json_extract_path

    @staticmethod
    def _at(column: ColumnElement, path: tuple[str, ...]) -> ColumnElement:
        return func.json_extract_path(column, *path)

    def type_of(self, column: ColumnElement, path: tuple[str, ...]) -> ColumnElement:
        return func.vx_type(self._at(column, path))

    @staticmethod
    def value(column: ColumnElement, path: tuple[str, ...]) -> ColumnElement:
        return func.json_extract_path_text(column, *path)

    def number_at(self, column: ColumnElement, path: tuple[str, ...]) -> ColumnElement:
        return func.vx_num(self._at(column, path))

    def elements(self, column: ColumnElement, path: tuple[str, ...]) -> FromClause:
        return func.vx_elements(self._at(column, path)).table_valued("value", "type", "number")

    @staticmethod
    def element_number(elements: FromClause) -> ColumnElement:
        return elements.c.number


POSTGRES_JSON = PgJson()


@functools.lru_cache(maxsize=256)
def _qmark_to_format(statement: str) -> str:
    """Driver SQL is written with ``?`` (SQLite's style); psycopg wants ``%s``."""
    return statement.replace("%", "%%").replace("?", "%s")


class _Reader:
    """A plain psycopg connection (autocommit) answering ``?``-style SQL: the hot
    read path's per-thread connection, like the SQLite store's sqlite3 one."""

    def __init__(self, conninfo: str, url: str):
        import psycopg
        from psycopg.types.string import TextLoader

        self._url = url
        self.broken = False
        try:
            self.connection = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {url}: {_first_line(exc)}") from None
        # JSON as its text, as SQLite hands it back: hits decode only what they return.
        for name in ("json", "jsonb"):
            self.connection.adapters.register_loader(name, TextLoader)

    def execute(self, statement: str, params: Sequence[Any] = ()):
        import psycopg

        try:
            query = _qmark_to_format(statement) if params else statement
            return self.connection.execute(query, list(params) if params else None).fetchall()
        except psycopg.OperationalError as exc:
            # this call fails; the next one connects again (a server restart, a dropped link)
            self.broken = True
            raise StoreError(f"lost the connection to {self._url}: {_first_line(exc)}") from None

    def close(self) -> None:
        self.connection.close()


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


class PostgresStore(Store):
    """A vecdex store in a PostgreSQL database (``postgresql+psycopg://...``)."""

    kind = "postgresql"

    def __init__(self, url: str, *, create: bool = True):
        self.url = url
        self.location = safe_url(url)
        self.path = None  # not a file: caches live in the user cache folder
        self._local = threading.local()
        self._readers: list[Any] = []
        self._readers_lock = threading.Lock()
        self._store_id: str | None = None
        self._watcher: ChangeWatcher | None = None
        self._watcher_lock = threading.Lock()
        self._writes = 0  # write transactions through this store object (seen at once)
        self._asked = 0  # data_version calls: a process listens once it asks repeatedly
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise StoreError(f"{self.location} is not a PostgreSQL URL")
        self._conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self.engine = self._make_engine(parsed)
        self._write_engine = self.engine.execution_options(isolation_level="READ COMMITTED")
        self._read_engine = self.engine.execution_options(isolation_level="REPEATABLE READ")
        try:
            self._migrate(create)
        except BaseException:
            self.engine.dispose()
            raise

    # -- connections ------------------------------------------------------------------------

    def _make_engine(self, url) -> Engine:
        from psycopg.types.string import TextLoader

        # prepare_threshold None: psycopg prepares a statement after 5 runs, and the
        # generic plan PostgreSQL then keeps was made while a collection was small:
        # a bulk load's "which of these 500 ids exist" went from 0.2 to 6 s a batch
        # by 120k documents (measured; flat at 0.2-0.37 s without it).
        engine = create_engine(url.set(drivername="postgresql+psycopg"), pool_pre_ping=True,
                               connect_args={"connect_timeout": 10, "prepare_threshold": None})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:
            # json and jsonb as text, as SQLite returns JSON: the schema's JsonValue
            # decodes it where SQLAlchemy reads a column, driver SQL hands it on as text.
            for name in ("json", "jsonb"):
                dbapi_connection.adapters.register_loader(name, TextLoader)

        @event.listens_for(engine, "before_cursor_execute", retval=True)
        def _placeholders(conn, cursor, statement, parameters, context, executemany):
            # Only driver SQL with parameters: a migration's own "?" (a regex) stays as written.
            if parameters and context is not None and getattr(context, "compiled", None) is None and "?" in statement:
                statement = _qmark_to_format(statement)
            return statement, parameters

        return engine

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Connection problems as one line naming the URL (no password)."""
        try:
            yield
        except (OperationalError, InterfaceError) as exc:
            raise StoreError(f"PostgreSQL at {self.location}: {_first_line(exc)}") from None
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise StoreError(f"lost the connection to {self.location}: {_first_line(exc)}") from None
            raise

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction (READ COMMITTED: each writer waits on the collection
        row's lock, then sees everything committed before it)."""
        try:
            with self._translated(), released_on_interrupt(self._write_engine.begin()) as conn:
                yield conn
        finally:  # committed or not (a dropped connection may have committed): re-check
            self._writes += 1

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read transaction: one snapshot (REPEATABLE READ)."""
        with self._translated(), self._read_engine.begin() as conn:
            yield conn

    def _reader(self) -> _Reader:
        reader = getattr(self._local, "reader", None)
        if reader is not None and (reader.broken or reader.connection.closed):
            self.release_reader()  # a connection the server dropped (restart): a new one below
            reader = None
        if reader is None:
            reader = _Reader(self._conninfo, self.location)
            self._local.reader = reader
            with self._readers_lock:
                self._readers.append(reader)
        return reader

    def close(self) -> None:
        with self._watcher_lock:
            if self._watcher is not None:
                self._watcher.close()
                self._watcher = None
        with self._readers_lock:
            for reader in self._readers:
                reader.close()
            self._readers.clear()
        self.engine.dispose()

    def data_version(self) -> int:
        """Changes whenever a write to any collection (or a token) commits, from any
        host. Without a round trip while the change watcher listens: this store's
        own writes count at once, other processes' when their notification arrives
        (a read that must see a given write passes ``min_seq``, which re-checks).
        While not listening: one query digesting every collection's state."""
        self._asked += 1
        watcher = self._watch() if self._asked > LISTEN_AFTER else None
        state = watcher.state() if watcher is not None else None
        if state is not None:
            return hash((state, self._writes))
        row = self._reader().execute(
            "SELECT count(*), coalesce(sum(seq), 0), coalesce(sum(generation), 0), coalesce(max(updated_at), 0), "
            "(SELECT count(*) FROM api_tokens) FROM collections")[0]
        return hash(("poll", tuple(row), self._writes))

    def _watch(self) -> ChangeWatcher:
        watcher = self._watcher
        if watcher is None or not watcher.alive:  # first use, or a forked child (no thread)
            with self._watcher_lock:
                if self._watcher is None or not self._watcher.alive:
                    self._watcher = ChangeWatcher(self._conninfo)
                watcher = self._watcher
        return watcher

    def collection_state(self, collection_id: int) -> tuple[int, int] | None:
        rows = self._reader().execute("SELECT seq, generation FROM collections WHERE id = ?", (collection_id,))
        return (int(rows[0][0]), int(rows[0][1])) if rows else None

    # -- migrations ---------------------------------------------------------------------------

    migrations, latest_version = POSTGRES_MIGRATIONS, POSTGRES_LATEST_VERSION
    foreign_message = "the database at {location} holds other tables: not a vecdex store"

    def _lock_migrations(self, conn: Connection) -> None:
        # Two processes opening a new database together: one migrates, the other waits.
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7424563)")

    @staticmethod
    def _version(conn: Connection) -> int:
        if conn.exec_driver_sql("SELECT to_regclass('vecdex_meta')").scalar() is None:
            return 0
        row = conn.exec_driver_sql("SELECT value FROM vecdex_meta WHERE key = 'schema_version'").first()
        return int(row[0]) if row else 0

    @staticmethod
    def _has_foreign_tables(conn: Connection) -> bool:
        names = {r[0] for r in conn.exec_driver_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
        return bool(names - {"vecdex_meta"})

    # -- what differs in writes and reads --------------------------------------------------------

    def _new_ids(self, conn: Connection, table: str, count: int) -> list[int]:
        """``count`` fresh ids from the table's identity sequence (never max(id)+1)."""
        if count <= 0:
            return []
        return [r[0] for r in conn.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, ?)", (count,))]

    json = POSTGRES_JSON

    def size_bytes(self) -> int:
        with self.reading() as conn:
            return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one())

    def store_id(self) -> str:
        if self._store_id is None:
            with self.reading() as conn:
                row = conn.exec_driver_sql("SELECT value FROM vecdex_meta WHERE key = 'store_id'").first()
            self._store_id = str(row[0]) if row else hashlib.sha256(self.location.encode()).hexdigest()[:32]
        return self._store_id

    def cache_folder(self, kind: str) -> Path:
        """The user cache folder, per store identity: every process (on any host) keeps
        its own derived indexes there and catches them up from the database."""
        base = Path(os.environ.get("VECDEX_CACHE_DIR") or Path.home() / ".cache" / "vecdex")
        return base / "stores" / self.store_id() / kind
