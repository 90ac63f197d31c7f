"""Deciding, before anything is written, whether a file is a vecdex store and how to open it.

SQLite writes to a database as soon as a connection switches it to WAL mode or
creates a table; both must only ever happen to a file vecdex has recognised as
its own store (or to a new store a writing command asked for). So a file is
first looked at through a read-only connection (its header, its tables, its
schema version), and only then opened for real: read-write, or read-only when
the file or its folder cannot be written (a read-only mount, a CD, a store
shipped inside a read-only image).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ..errors import StoreError



@dataclass
class StoreFile:
    """What was found at a store path."""

    path: Path
    new: bool  # no file, an empty file or an SQLite file without tables: a store can be made here
    version: int  # schema version (0 when new)
    store_id: str | None  # the random id written at creation (None: not yet, or an older store)
    read_only: bool  # open without writing anything: the file or its folder is not writable

    def uri(self) -> str:
        """The SQLite URI to open the file with (read-only ones never create -wal/-shm
        files where they cannot be written)."""
        location = quote(str(self.path.resolve()))
        if not self.read_only:
            return f"file:{location}"
        if not _writable(self.path.parent) and not _nonempty(Path(f"{self.path}-wal")):
            # No folder to put a -shm file in and no log to read: the file is all there is.
            return f"file:{location}?immutable=1"
        return f"file:{location}?mode=ro"


def _writable(path: Path) -> bool:
    # access() answers EROFS on a read-only mount, also for root.
    return os.access(path, os.W_OK)


def _nonempty(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def inspect(path: Path, *, create: bool) -> StoreFile:
    """Look at ``path`` without writing to it; raise :class:`StoreError` when it is
    not a vecdex store (and, with ``create=False``, when there is none yet)."""
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a vecdex database file")
    if not path.exists():
        if not create:
            raise StoreError(f"no vecdex store at {path} (index something first, or pass --db)")
        if not path.parent.exists():
            raise StoreError(f"folder {path.parent} does not exist (for the store {path})")
        return StoreFile(path, True, 0, None, False)
    read_only = not (_writable(path) and _writable(path.parent))
    # Never open() the file itself: closing any descriptor of it drops every POSIX
    # lock this process holds on it, SQLite's included, and another process then
    # takes itself for the last connection and deletes the -wal and -shm files under
    # this one's open store (SQLite's "how to corrupt" 2.2; it happened to a second
    # store opened on a file already open in the same process). SQLite's own open
    # keeps such descriptors until its locks go, so the file is read through it.
    if not os.access(path, os.R_OK):
        raise StoreError(f"cannot read {path}: permission denied")
    if path.stat().st_size == 0:
        return _empty(path, create, read_only, "is an empty file")
    probe = StoreFile(path, False, 0, None, True)
    try:
        connection = sqlite3.connect(probe.uri(), uri=True, isolation_level=None, timeout=60)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path}: {exc}") from None
    try:
        try:
            tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB" or "not a database" in str(exc):
                raise StoreError(f"{path} is not a vecdex store (not an SQLite database)") from None
            raise
        if "vecdex_meta" not in tables:
            if tables:
                raise StoreError(f"{path} is an SQLite database but not a vecdex store")
            return _empty(path, create, read_only, "is an SQLite database without tables")
        meta = dict(connection.execute("SELECT key, value FROM vecdex_meta"))
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a vecdex store (SQLite said: {exc})") from None
    finally:
        connection.close()
    raw_version = meta.get("schema_version")
    try:
        version = int(raw_version)
    except (TypeError, ValueError):
        raise StoreError(f"{path}: its schema version {raw_version!r} is not a number (a damaged or foreign "
                         "vecdex_meta table)") from None
    return StoreFile(path, False, version, meta.get("store_id"), read_only)


def _empty(path: Path, create: bool, read_only: bool, what: str) -> StoreFile:
    if not create:
        raise StoreError(f"{path} {what}, not a vecdex store (index something into it first)")
    if read_only:
        raise StoreError(f"{path} {what} and cannot be written: no store can be made there")
    return StoreFile(path, True, 0, None, False)
