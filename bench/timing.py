"""What every benchmark script repeats: its command line, wall + CPU clocks,
best-of-N over interleaved runs, and latency percentiles.

The machine is shared and noisy: figures are best-of-N, sides alternate, and CPU
time (all threads of this process) is printed beside wall time.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np


def options(doc: str | None, **defaults: Any) -> argparse.Namespace:
    """Parse ``--name VALUE`` flags, one per keyword (``catch_up`` is ``--catch-up``),
    typed like its default; ``doc`` (the script's docstring) is the ``--help`` text."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in defaults.items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(default), default=default)
    return parser.parse_args()


def clock() -> tuple[float, float]:
    """(wall, CPU) seconds now: a start for :func:`since`."""
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    """(wall, CPU) seconds since ``start``."""
    return time.perf_counter() - start[0], time.process_time() - start[1]


def best_of(rounds: int, runs: Mapping[str, Callable[[Path], Any]]) -> dict[str, tuple[float, float]]:
    """Each run's best (wall, CPU) over ``rounds``, runs alternating round by round (a
    noisy moment hits every side alike); every run gets a fresh temporary folder.
    A run that times itself (another process: its start-up is not the work)
    returns its own (wall, CPU) seconds, which are used instead."""
    best: dict[str, tuple[float, float]] = {}
    for _ in range(rounds):
        for name, fn in runs.items():
            folder = Path(tempfile.mkdtemp())
            try:
                start = clock()
                own = fn(folder)
                wall, cpu = own if isinstance(own, tuple) else since(start)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            if name not in best or wall < best[name][0]:
                best[name] = (wall, cpu)
    return best


def percentiles(samples: list[float], *points: float) -> tuple[float, ...]:
    """Percentiles (default p50 and p95) of samples in seconds, in milliseconds."""
    ms = np.asarray(samples, dtype=np.float64) * 1000
    return tuple(float(np.percentile(ms, p)) for p in (points or (50, 95)))
