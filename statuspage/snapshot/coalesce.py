"""One export at a time per snapshot directory, and none lost (issue 18).

Each public change asks for an export, and an export of a large site takes seconds: two worker
threads used to run two full exports side by side, each slowing the other. Now an exporter
first marks the directory dirty, then tries to take its lock without waiting:

- it gets the lock: while the dirty mark is there it removes it and exports, then lets go of
  the lock; a mark made meanwhile by a request that found the lock taken makes it export once
  more (so a change made during an export is never left out);
- the lock is taken: it returns at once; the exporter holding the lock sees the mark.

The lock is an advisory `flock` on `STATIC_EXPORT_DIR/.export.lock` (released by the kernel if
the exporter dies) and the mark a file beside it: both are about this directory, on this host.
Each host with a snapshot directory of its own exports it by itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Any

EXPORT_LOCK = ".export.lock"
DIRTY = ".export-dirty"


class DirectoryCoalescer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._handle: Any = None

    def mark_dirty(self) -> None:
        (self.root / DIRTY).touch()

    def is_dirty(self) -> bool:
        return (self.root / DIRTY).exists()

    def take_dirty(self) -> bool:
        """Remove the mark; whether it was there."""
        try:
            os.unlink(self.root / DIRTY)
        except FileNotFoundError:
            return False
        return True

    def acquire(self) -> bool:
        handle = open(self.root / EXPORT_LOCK, "a+b")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


def coalescer_for(config: Any, root: Path) -> DirectoryCoalescer:
    return DirectoryCoalescer(root)
