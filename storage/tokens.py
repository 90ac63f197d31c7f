"""Bearer tokens of the HTTP API, as stored: a SHA-256 digest per token (never the
token), its scope and the collections it is limited to. Minting and checking
tokens is :mod:`vecdex.search.server.auth`; this module is only their SQL."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select

from . import schema
from .store import Store


@dataclass(frozen=True)
class TokenRecord:
    id: str
    digest: str
    scope: str
    collections: tuple[str, ...] | None  # None: every collection
    name: str | None
    created_at: float

    def public(self) -> dict[str, Any]:
        """What ``vecdex token list`` shows (never the digest)."""
        return {"id": self.id, "scope": self.scope, "collections": list(self.collections) if self.collections else None,
                "name": self.name, "created_at": self.created_at}


class TokenTable:
    """The ``api_tokens`` table of one store."""

    def __init__(self, store: Store):
        self.store = store

    def add(self, token_id: str, digest: str, scope: str, collections: list[str] | None, name: str | None) -> TokenRecord:
        record = TokenRecord(token_id, digest, scope, tuple(collections) if collections else None, name, time.time())
        with self.store.writing() as conn:
            conn.execute(insert(schema.api_tokens).values(
                id=record.id, digest=record.digest, scope=record.scope,
                collections=list(record.collections) if record.collections else None,
                name=record.name, created_at=record.created_at))
        return record

    def all(self) -> list[TokenRecord]:
        t = schema.api_tokens
        with self.store.reading() as conn:
            rows = conn.execute(select(t).order_by(t.c.created_at)).all()
        return [TokenRecord(r.id, r.digest, r.scope, tuple(r.collections) if r.collections else None, r.name,
                            r.created_at) for r in rows]

    def remove(self, token_id: str) -> bool:
        with self.store.writing() as conn:
            return conn.execute(delete(schema.api_tokens).where(schema.api_tokens.c.id == token_id)).rowcount > 0
