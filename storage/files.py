"""Atomic file replacement: readers see the old file or the new one, never half of one."""

from __future__ import annotations

import os
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort where not supported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary path beside ``target``; on success it is fsynced and renamed
    over ``target``, on error removed. Write the new content to the yielded path."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The pid in the name lets the next open tell a dead writer's leftover from a
    # save still under way (remove_stale_temp_files).
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; these are ordinary files
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)


_TEMP_RE = re.compile(r"^\..+\.(\d+)\.[^.]+\.tmp$")
OLD_TEMP_SECONDS = 3600.0  # temp files without a pid (older vecdex) are stale after this


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def stale_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Temp files of :func:`atomic_path` whose writer is gone (killed mid-save)."""
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
            continue
        m = _TEMP_RE.match(entry.name)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            found.append(Path(entry.path))
        elif not m:
            try:
                if time.time() - entry.stat().st_mtime > OLD_TEMP_SECONDS:
                    found.append(Path(entry.path))
            except OSError:
                pass
    return found


def remove_stale_temp_files(folder: str | os.PathLike[str]) -> int:
    """Remove what :func:`stale_temp_files` finds; returns how many went."""
    removed = 0
    for path in stale_temp_files(folder):
        try:
            path.unlink()
            removed += 1
        except OSError:
            pass
    return removed
