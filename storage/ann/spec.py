"""Index specs: parse ``hnsw:M=32,efSearch=64``, validate, and resolve ``auto``.

A spec is a JSON-able dict ``{"type": ..., <parameters>}`` stored with the
collection. ``auto`` (the default) stays ``auto`` and records what it chose
under ``"resolved"``, so a growing collection can move from exact to
approximate search on its own while ``vecdex info`` shows the current choice.
"""

from __future__ import annotations

import math
from typing import Any

from ...errors import ConfigError


class IndexSpecError(ConfigError):
    """The user asked for an index type or parameter that does not exist."""


#: type -> {parameter: (python type, minimum)}; every parameter is optional.
PARAMETERS: dict[str, dict[str, tuple[type, int]]] = {
    "flat": {},
    "hnsw": {"M": (int, 4), "efConstruction": (int, 8), "efSearch": (int, 1), "compact": (float, 0)},
    "ivf": {"nlist": (int, 1), "nprobe": (int, 1)},
    "ivfpq": {"nlist": (int, 1), "nprobe": (int, 1), "m": (int, 1), "nbits": (int, 4),
              "rerank": (int, 0), "k_factor": (int, 1)},
    "auto": {"threshold": (int, 0)},
}
#: Per-search knobs (``vecdex query --nprobe/--ef``) and the types they apply to.
SEARCH_KNOBS = {"nprobe": ("ivf", "ivfpq"), "efSearch": ("hnsw",)}

# -- what ``auto`` picks (measured on GloVe 6B 50d by bench/bench_ann.py) -----------------
# Exact search while one query costs at most this many multiply-adds (rows x
# dimension): about a millisecond on one core, e.g. 128k rows at 50d, 21k at 300d.
AUTO_FLAT_WORK = 6_400_000
AUTO_IVF_ABOVE = 2_000_000     # above: HNSW's graph costs too much memory and build time
HNSW_DEFAULTS = {"M": 32, "efConstruction": 80, "efSearch": 64}
HNSW_COMPACT = 0.2             # rebuild when this share of an HNSW graph is tombstones


def parse_index_spec(text: str | dict[str, Any] | None) -> dict[str, Any]:
    """``"ivf:nlist=1024,nprobe=16"`` -> ``{"type": "ivf", "nlist": 1024, "nprobe": 16}``."""
    if text is None:
        return {"type": "auto"}
    if isinstance(text, dict):
        return validate_spec(dict(text))
    kind, _, rest = text.strip().partition(":")
    spec: dict[str, Any] = {"type": kind.strip().lower()}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise IndexSpecError(f"index option {part!r} needs a value, e.g. {part}=16")
        spec[key.strip()] = value.strip()
    return validate_spec(spec)


def validate_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Check type and parameters; convert values to numbers. Returns a new dict."""
    kind = spec.get("type", "flat")
    if kind not in PARAMETERS:
        raise IndexSpecError(f"unknown index type {kind!r} (choose from {', '.join(PARAMETERS)})")
    allowed = PARAMETERS[kind]
    out: dict[str, Any] = {"type": kind}
    for key, value in spec.items():
        if key == "type":
            continue
        if key == "resolved" and kind == "auto":
            out[key] = value
            continue
        # ``ef`` is what people type for HNSW's efSearch.
        key = {"ef": "efSearch", "efsearch": "efSearch", "efconstruction": "efConstruction"}.get(key, key)
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise IndexSpecError(f"index type {kind!r} has no option {key!r} (options: {known})")
        cast, minimum = allowed[key]
        try:
            number = cast(value)
        except (TypeError, ValueError):
            raise IndexSpecError(f"index option {key}={value!r} must be a number") from None
        if number < minimum:
            raise IndexSpecError(f"index option {key} must be at least {minimum}")
        out[key] = number
    return out


def check_dimension(spec: dict[str, Any], dimension: int) -> None:
    """Refuse parameters that cannot work with this dimension (PQ sub-vectors)."""
    if spec.get("type") == "ivfpq" and "m" in spec and dimension % int(spec["m"]):
        divisors = [m for m in range(1, dimension + 1) if dimension % m == 0]
        raise IndexSpecError(
            f"ivfpq m={spec['m']} must divide the dimension {dimension} (try one of {divisors})"
        )


def format_spec(spec: dict[str, Any]) -> str:
    """The inverse of :func:`parse_index_spec` (for ``info``)."""
    params = ",".join(f"{k}={v}" for k, v in spec.items() if k not in ("type", "resolved"))
    text = spec.get("type", "flat") + (f":{params}" if params else "")
    if spec.get("resolved"):
        text += f" -> {format_spec(spec['resolved'])}"
    return text


def search_params(nprobe: int | None = None, ef: int | None = None) -> dict[str, int]:
    """Per-call knobs as the ``params`` dict backends take; None means the index's own."""
    params: dict[str, int] = {}
    for key, value in (("nprobe", nprobe), ("efSearch", ef)):
        if value is not None:
            if int(value) < 1:
                raise IndexSpecError(f"{key} must be at least 1")
            params[key] = int(value)
    return params


# -- auto ------------------------------------------------------------------------------------


def auto_choice(spec: dict[str, Any], n_vectors: int, dimension: int) -> dict[str, Any]:
    """What ``auto`` builds for this many rows: exact while small, else HNSW, else IVF.

    HNSW M=32, efConstruction=80 and efSearch 128 at 200k-1M rows reach recall@10
    0.98 on the 400k GloVe words (bench/bench_ann.py); efSearch 64 gives 0.94.
    """
    threshold = int(spec.get("threshold", AUTO_FLAT_WORK // max(dimension, 1)))
    if n_vectors < threshold:
        return {"type": "flat"}
    if n_vectors < AUTO_IVF_ABOVE:
        # efSearch grows with log(n): the graph's search gets longer as it grows.
        ef = 64 if n_vectors < 200_000 else 128 if n_vectors < 1_000_000 else 192
        return {"type": "hnsw", "M": 32 if dimension <= 256 else 48, "efConstruction": 80, "efSearch": ef}
    nlist = ivf_nlist(n_vectors)
    return {"type": "ivf", "nlist": nlist, "nprobe": max(16, nlist // 16)}


def auto_rank(kind: str) -> int:
    """auto only moves up this ladder as a collection grows (no flapping on deletes)."""
    return {"flat": 0, "hnsw": 1, "ivf": 2}.get(kind, 0)


def concrete(spec: dict[str, Any], n_vectors: int, dimension: int) -> dict[str, Any]:
    """The spec a backend is built from: auto's choice, or the spec itself."""
    if spec.get("type", "flat") != "auto":
        return spec
    chosen = auto_choice(spec, n_vectors, dimension)
    previous = spec.get("resolved")
    if previous and auto_rank(previous["type"]) >= auto_rank(chosen["type"]):
        if previous["type"] == chosen["type"] == "hnsw" and chosen["efSearch"] > previous.get("efSearch", 0):
            # Grown past a step of the efSearch ladder: the graph is kept (efSearch
            # is a search setting), the search widened, so recall holds as it grows.
            return {**previous, "efSearch": chosen["efSearch"]}
        return previous
    return chosen


def ivf_nlist(n_vectors: int) -> int:
    """Inverted lists for n rows: about 4·√n, and at least 39 training rows per list."""
    if n_vectors <= 0:
        return 1
    wanted = int(4 * math.sqrt(n_vectors))
    return max(1, min(wanted, n_vectors // 39))
