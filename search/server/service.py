"""One worker's state: the open store, its collections, and read-your-writes.

Every write answers with the collection's ``seq`` after its commit. A read with
``min_seq`` is answered only once this worker's caches (the vector index, the hit
rows tied to it) cover that ``seq``: they catch up from the store's log, which
every worker shares, so a write through one worker is visible through all of them.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy.exc import OperationalError

from ...storage.store import CollectionInfo
from ..engine import Collection, Vecdex
from .errors import ApiError
from .settings import Settings

log = logging.getLogger("vecdex.server")


class Service:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.vx = Vecdex(settings.db)
        self.store = self.vx.store
        self._collections: dict[str, tuple[Collection, int]] = {}  # name -> (collection, data_version checked)
        self._lock = threading.Lock()
        # One write at a time per worker: SQLite takes one writer anyway, and an
        # indexing call embeds in this thread (no process pool per request).
        self.write_lock = threading.Lock()
        self.ready = False
        self.warm_error: str | None = None

    def close(self) -> None:
        self.vx.close()

    # -- collections ---------------------------------------------------------------------

    def collection(self, name: str) -> Collection:
        """The open collection of that name (404 if none). Re-checked against the store
        only when something was committed since the last check (one PRAGMA otherwise),
        so a collection dropped and made again elsewhere is never served stale."""
        version = self.store.data_version()
        with self._lock:
            cached = self._collections.get(name)
            if cached is not None and cached[1] == version:
                return cached[0]
        info = self.store.get_collection(name)
        with self._lock:
            if info is None:
                self._collections.pop(name, None)
                raise ApiError(404, "collection_not_found", f"no collection named {name!r}")
            cached = self._collections.get(name)
            if cached is not None and cached[0].info.id == info.id:
                collection = cached[0]
            else:
                if cached is not None:  # dropped (and made again) by another worker: free the old indexes
                    self.vx.indexes.forget(cached[0].info.id)
                    self.vx.lexical.forget(cached[0].info.id)
                collection = Collection(self.vx, info)
            self._collections[name] = (collection, version)
            return collection

    def infos(self) -> list[CollectionInfo]:
        return self.vx.collections()

    def create(self, name: str, **options: Any) -> Collection:
        """Make a collection. One that exists is checked first, as the local API's
        ``collection(name, create=True, ...)`` checks it: another embedder, model,
        pooling or index is refused (409 ``model_mismatch``, 400 ``bad_option``) rather
        than reported as ``collection_exists``, which clients take as "use it"."""
        options = {k: v for k, v in options.items() if v is not None}
        with self.write_lock:
            if self.store.get_collection(name) is not None:
                self.vx.collection(name, **options)  # raises when the setup asked for differs
                raise ApiError(409, "collection_exists", f"collection {name!r} already exists")
            collection = self.vx.collection(name, create=True, **options)
        return collection

    def drop(self, name: str) -> None:
        collection = self.collection(name)
        with self.write_lock:
            if not self.store.drop_collection(collection.info.id):
                raise ApiError(404, "collection_not_found", f"no collection named {name!r}")
            self.vx.indexes.drop(collection.info)
            self.vx.lexical.drop(collection.info.id)
            with self._lock:
                self._collections.pop(name, None)

    # -- read-your-writes ----------------------------------------------------------------

    def covered(self, collection: Collection, min_seq: int | None, *, dense: bool = True,
                lexical: bool = False) -> int:
        """The ``seq`` this worker answers ``collection`` from: its caches are caught up
        with the store first (a write acknowledged by any worker is in the store, so a
        ``min_seq`` it returned is always reached). A ``min_seq`` the store itself has
        not reached was never returned by this store: 409. Caches that cannot catch up
        within the read timeout (the store stays locked): 503."""
        deadline = time.monotonic() + self.settings.read_timeout
        while True:
            try:
                seq = collection.catch_up(min_seq) if dense else collection.store_seq()
                if lexical and min_seq is not None and seq >= min_seq:
                    # the lexical index too (on PostgreSQL a change is signalled
                    # asynchronously: min_seq makes it re-check the store)
                    seq = min(seq, self.vx.lexical.get(collection.info.id, min_seq).seq)
                if min_seq is None or seq >= min_seq:
                    return seq
                stored = collection.store_seq()
            except OperationalError as exc:
                if time.monotonic() >= deadline:
                    raise ApiError(503, "not_caught_up", f"could not bring collection {collection.name!r} up to "
                                   f"the store within {self.settings.read_timeout:g} s: {exc.orig}",
                                   headers={"Retry-After": "1"}) from None
                time.sleep(0.02)
                continue
            if stored < min_seq:
                raise ApiError(409, "min_seq_ahead",
                               f"min_seq {min_seq} is ahead of collection {collection.name!r} (at write {stored}): "
                               "this store never returned it (another store, or the collection was dropped "
                               "and made again)")
            if time.monotonic() >= deadline:  # pragma: no cover (the catch-up is synchronous)
                raise ApiError(503, "not_caught_up", f"collection {collection.name!r} did not catch up to write "
                               f"{min_seq} within {self.settings.read_timeout:g} s", headers={"Retry-After": "1"})

    # -- readiness -----------------------------------------------------------------------

    def warm(self) -> None:
        """Load every collection's model and index (what /readyz waits for)."""
        try:
            for info in self.infos():
                try:
                    collection = self.collection(info.name)
                    collection.catch_up()
                    if info.embedder.get("kind") == "static":
                        collection.embedder  # noqa: B018  (loads the word vectors)
                except ApiError:
                    continue  # dropped meanwhile
                except Exception as exc:  # one broken collection must not keep the others offline
                    log.warning("could not warm collection %r: %s", info.name, exc)
            self.ready = True
        except Exception as exc:
            self.warm_error = f"{type(exc).__name__}: {exc}"
            log.exception("warm-up failed")
