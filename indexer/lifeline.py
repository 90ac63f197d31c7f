"""Worker processes die with their parent, however the parent dies.

A pool worker whose parent was killed (``kill -9``, the OOM killer, a crash) would
otherwise live on with parent 1, blocked on a pipe nobody reads, holding its
model in memory. Two mechanisms, because neither covers every OS:

- Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` asks the kernel to kill the worker
  the moment its parent goes (through ctypes: no extra dependency);
- everywhere (macOS, BSD): a daemon thread that checks the parent once every
  ``CHECK_SECONDS`` and ends the worker when it has changed.

Workers also ignore Ctrl-C: the terminal sends SIGINT to the whole foreground
process group, and only the parent decides what an interrupt means (it stops
the pool; a worker raising KeyboardInterrupt mid-task only adds tracebacks).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
CHECK_SECONDS = 0.5


def _set_parent_death_signal() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)  # no cleanup to run: the parent owned everything
        time.sleep(CHECK_SECONDS)


def die_with_parent(parent: int) -> None:
    """Call first thing in a worker process; ``parent`` is the pid that started it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _set_parent_death_signal()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="vecdex-parent-watch", daemon=True).start()
