"""Bearer tokens: minted once, stored as SHA-256 digests, compared in constant time.

A token has a scope (``read`` < ``write`` < ``admin``: each includes the ones
before it) and may be limited to named collections. While a store has no token
the API is open (the embedded, localhost use; ``vecdex serve`` refuses any other
address then); once it has one, every request but the health checks needs one.
Tokens are read from the store, so ``vecdex token create/revoke`` takes effect
at once in every worker, without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass

from ...storage.store import Store
from ...storage.tokens import TokenRecord, TokenTable
from .errors import ApiError

SCOPES = ("read", "write", "admin")
TOKEN_PREFIX = "vdx_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def mint(store: Store, scope: str, collections: list[str] | None = None, name: str | None = None
         ) -> tuple[str, TokenRecord]:
    """A new random token (returned once, never stored) and its stored record."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    token_id = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    return token, TokenTable(store).add(token_id, digest(token), scope, collections, name)


@dataclass(frozen=True)
class Principal:
    """Who is asking: a scope and the collections it may touch (None: all)."""

    scope: str
    collections: frozenset[str] | None = None
    token_id: str | None = None

    def may(self, scope: str, collection: str | None = None) -> bool:
        if SCOPES.index(self.scope) < SCOPES.index(scope):
            return False
        return collection is None or self.collections is None or collection in self.collections

    def sees(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections


OPEN = Principal("admin")


class Authenticator:
    """Checks ``Authorization: Bearer ...`` against the store's tokens. The token
    list is re-read only when the store changed (one PRAGMA per request otherwise)."""

    def __init__(self, store: Store):
        self.store = store
        self._table = TokenTable(store)
        self._lock = threading.Lock()
        self._tokens: list[TokenRecord] | None = None
        self._version: int | None = None

    def tokens(self) -> list[TokenRecord]:
        version = self.store.data_version()
        with self._lock:
            if self._tokens is None or version != self._version:
                self._tokens, self._version = self._table.all(), version
            return self._tokens

    def principal(self, authorization: str | None) -> Principal:
        tokens = self.tokens()
        if not tokens:
            return OPEN
        if not authorization:
            raise ApiError(401, "unauthorized", "this server needs a token: send 'Authorization: Bearer <token>' "
                           "(make one with: vecdex token create --scope read)",
                           headers={"WWW-Authenticate": "Bearer"})
        kind, _, token = authorization.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "the Authorization header must be 'Bearer <token>'",
                           headers={"WWW-Authenticate": "Bearer"})
        presented = digest(token.strip())
        found = None
        for record in tokens:  # every digest compared, in constant time: no early exit
            if hmac.compare_digest(presented, record.digest):
                found = record
        if found is None:
            raise ApiError(401, "unauthorized", "unknown or revoked token",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return Principal(found.scope, frozenset(found.collections) if found.collections else None, found.id)

    @staticmethod
    def require(principal: Principal, scope: str, collection: str | None = None) -> None:
        if not principal.may(scope, collection):
            where = f" on collection {collection!r}" if collection and principal.may(scope) else ""
            raise ApiError(403, "forbidden", f"this token (scope {principal.scope}"
                           + (f", collections {', '.join(sorted(principal.collections))}" if principal.collections
                              else "") + f") may not {scope}{where}")
