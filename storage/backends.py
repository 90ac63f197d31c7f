"""Which store a target names: a file path or ``sqlite:///path`` -> SQLite, a
``postgresql+psycopg://...`` URL -> PostgreSQL (the ``[postgres]`` extra)."""

from __future__ import annotations

import os

from ..errors import StoreError
from .store import Store

POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")


def is_postgres(target: str | os.PathLike[str]) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def is_url(target: str | os.PathLike[str]) -> bool:
    return isinstance(target, str) and "://" in target


def sqlite_path(target: str | os.PathLike[str]) -> str | os.PathLike[str]:
    """The file a SQLite target names (``sqlite:///rel.db``, ``sqlite:////abs.db`` or a path)."""
    if isinstance(target, str) and target.startswith("sqlite:///"):
        return target[len("sqlite:///"):]
    return target


def open_store(target: str | os.PathLike[str], *, create: bool = True, durable: bool | None = None) -> Store:
    """The store ``target`` names (a path or a URL), opened and migrated. ``durable``
    (SQLite): commits reach the disk before they return (default: yes)."""
    if is_postgres(target):
        try:
            from .postgres import PostgresStore
        except ImportError as exc:  # psycopg missing
            raise StoreError(f"PostgreSQL stores need the [postgres] extra (pip install 'vecdex[postgres]'): {exc}") from None
        url = "postgresql+psycopg://" + str(target).split("://", 1)[1]
        return PostgresStore(url, create=create)
    if is_url(target) and not str(target).startswith("sqlite:///"):
        scheme = str(target).split("://", 1)[0]
        raise StoreError(f"unsupported store URL scheme {scheme!r} (use a file path, sqlite:///PATH or postgresql+psycopg://...)")
    return Store(sqlite_path(target), create=create, durable=durable)
