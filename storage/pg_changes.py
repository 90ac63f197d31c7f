"""Change notifications from PostgreSQL: "did anything change?" without a round trip.

SQLite answers that question from shared memory (``PRAGMA data_version``); a
PostgreSQL store would need a query per search, which on a busy machine or across
a network costs more than the search itself. Instead, migration 4 makes every
statement that changes a collection row (every write bumps its ``seq``) or a
token ``NOTIFY vecdex_changes``, and :class:`ChangeWatcher` keeps one connection
per process ``LISTEN``-ing in a daemon thread and counts what arrives.

What that promises:

- a commit through this process is seen at once (the store counts its own
  write transactions);
- a commit through another process or host is seen once its notification
  arrives (PostgreSQL delivers it right after the commit: well under a
  millisecond on one machine, a network hop otherwise). A search that must see
  a given write passes ``min_seq`` and re-checks the store when its caches are
  behind it, so it never misses one;
- while the listening connection is down (and right after it is back), every
  call asks the store, as before: correct, just slower. A connection that dies
  silently is noticed through TCP keepalives within ~30 s;
- a process listens only once it has asked a few times (``LISTEN_AFTER``): a
  one-shot command does not open a second connection for one search.
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)

CHANNEL = "vecdex_changes"
#: "Did anything change?" asks the store this many times before a process listens.
LISTEN_AFTER = 8
#: How often the listening thread wakes to see whether it should stop.
WAKE_SECONDS = 1.0
RETRY_SECONDS = 1.0
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


class ChangeWatcher:
    """Counts this store's change notifications in a daemon thread."""

    def __init__(self, conninfo: str):
        self._conninfo = conninfo
        self.pid = os.getpid()
        self._epoch = 0  # bumped on every (re)connect: what happened while deaf is unknown
        self._count = 0
        self._listening = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vecdex-pg-changes", daemon=True)
        self._thread.start()

    def state(self) -> tuple[int, int] | None:
        """(epoch, notifications seen) while listening; None when the caller must ask
        the store itself (not listening yet, connection lost, or a forked child,
        which has no listening thread)."""
        if not self._listening or os.getpid() != self.pid:
            return None
        return self._epoch, self._count

    @property
    def alive(self) -> bool:
        return os.getpid() == self.pid and self._thread.is_alive()

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10, **KEEPALIVES) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._epoch += 1
                    self._listening = True
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=WAKE_SECONDS):
                            self._count += 1
            except Exception as exc:  # any failure: fall back to asking the store, and retry
                if not self._stop.is_set():
                    log.info("not listening for changes (%s): each search checks the store until reconnected",
                             str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            finally:
                self._listening = False
            self._stop.wait(RETRY_SECONDS)

    def close(self) -> None:
        """Stop listening: the thread ends within ``WAKE_SECONDS`` (not waited for: a
        one-shot command's exit must not pay for it; the thread is a daemon)."""
        self._stop.set()
        self._listening = False
