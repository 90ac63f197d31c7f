"""A server's settings: chosen by ``vecdex serve`` options and handed to every
worker process through environment variables (uvicorn starts workers by import string)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import asdict, dataclass, fields

ENV_PREFIX = "VECDEX_SERVE_"


@dataclass(frozen=True)
class Settings:
    db: str = "vecdex.db"
    #: Largest request body accepted (413 above it).
    max_body_bytes: int = 16 * 2**20
    #: Largest k of a search.
    max_k: int = 1000
    #: Most documents in one write, ids in one delete, queries in one batched search.
    max_batch: int = 1000
    #: Most documents in one page of ``GET .../documents``.
    max_page: int = 1000
    #: How long a read waits for the store to reach its ``min_seq`` (then 503).
    read_timeout: float = 5.0
    #: Load every collection's model and index before /readyz says ready.
    warm: bool = True

    def to_env(self) -> dict[str, str]:
        return {ENV_PREFIX + k.upper(): str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            kind = type(getattr(cls, f.name))
            values[f.name] = raw in ("True", "true", "1") if kind is bool else kind(raw)
        return cls(**values)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (``localhost``, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
