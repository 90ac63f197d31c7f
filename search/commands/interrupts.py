"""Ctrl-C ends a command within a couple of seconds, at any phase, with one line and exit 130.

Python turns SIGINT into KeyboardInterrupt only between bytecodes of the main
thread, and a KeyboardInterrupt can land anywhere: inside a commit, in a pool's
shutdown, in a finaliser (where it is printed as "Exception ignored" and the
process can hang). So the command line does not try to unwind gracefully from
an interrupt: committed batches are already safe in SQLite (a killed process
loses nothing committed), temp files are removed on the way out or on the next
open, workers die with their parent, and the process ends at once with
``os._exit(130)``: no finaliser, no atexit hook, no second connection that could
wait for a lock the first one holds. A watchdog thread, woken by SIGINT through
the signal wakeup fd (written from C, even while the main thread is busy in C
code such as a FAISS build or an SQLite wait), ends the process if the main
thread has not done so ``GRACE_SECONDS`` later.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time

MESSAGE = "vecdex: interrupted (everything committed so far is kept; run the command again to finish)"
GRACE_SECONDS = 2.0
_installed = False
# Held for the life of the process: were the writer socket collected, its fd
# number would be reused (by the database file, say) and the C signal handler
# would write the signal byte into that file.
_sockets: tuple[socket.socket, socket.socket] | None = None


def exit_interrupted() -> None:
    """Print the one line and end the process now (only when :func:`install` ran:
    in-process callers such as tests get ``SystemExit(130)`` instead)."""
    try:
        sys.stderr.write(MESSAGE + "\n")
        sys.stderr.flush()
        sys.stdout.flush()
    except Exception:  # a closed pipe must not turn an interrupt into a traceback
        pass
    if _installed:
        os._exit(130)
    raise SystemExit(130)


def _watch(reader: socket.socket) -> None:
    while True:
        try:
            data = reader.recv(64)
        except OSError:
            return
        if not data:
            return
        if signal.SIGINT in data or signal.SIGTERM in data:
            time.sleep(GRACE_SECONDS)
            exit_interrupted()


def install() -> None:
    """For the ``vecdex`` process itself (not for a library user): hard exit on
    interrupt, the watchdog, and SIGTERM treated like Ctrl-C."""
    global _installed, _sockets
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    reader, writer = _sockets = socket.socketpair()
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    threading.Thread(target=_watch, args=(reader,), name="vecdex-interrupt-watchdog", daemon=True).start()
    _installed = True
