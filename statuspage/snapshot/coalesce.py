"""One export at a time per snapshot directory, and none lost (issue 18).

Each public change asks for an export, and an export of a large site takes seconds: two worker
threads used to run two full exports side by side, each slowing the other. Now an exporter
first marks the directory dirty, then tries to take its lock without waiting:

- it gets the lock: while the dirty mark is there it removes it and exports, then lets go of
  the lock; a mark made meanwhile by a request that found the lock taken makes it export once
  more (so a change made during an export is never left out);
- the lock is taken: it returns at once; the exporter holding the lock sees the mark.

What each request changed (`changes.SnapshotChanges`) waits beside the mark, one file per
request in `.export-changes/`, written before the mark: the exporter takes the mark, then every
file there, and renders what they name together; a file written after it looked comes with a
mark of its own, so it makes another round.

The lock is an advisory `flock` on `STATIC_EXPORT_DIR/.export.lock` (released by the kernel if
the exporter dies) and the mark a file beside it: both are about this directory, on this host.
Each host with a snapshot directory of its own exports it by itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from statuspage.snapshot.changes import SnapshotChanges

logger = logging.getLogger(__name__)

EXPORT_LOCK = ".export.lock"
DIRTY = ".export-dirty"
CHANGES = ".export-changes"


class DirectoryCoalescer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._handle: Any = None

    def mark_dirty(self, changes: SnapshotChanges | None = None) -> None:
        """Ask for an export; with `changes`, of what they name (before the mark, so the
        exporter that takes the mark finds them)."""
        if changes is not None:
            folder = self.root / CHANGES
            folder.mkdir(exist_ok=True)
            name = secrets.token_hex(8)
            partial = folder / f".{name}.tmp"
            partial.write_text(changes.to_json(), encoding="utf-8")
            os.replace(partial, folder / f"{name}.json")
        (self.root / DIRTY).touch()

    def take_changes(self) -> SnapshotChanges | None:
        """Remove the waiting changes and return them merged; None when there were none."""
        folder = self.root / CHANGES
        try:
            names = sorted(p for p in folder.iterdir() if p.suffix == ".json")
        except FileNotFoundError:
            return None
        merged: SnapshotChanges | None = None
        for path in names:
            try:
                text = path.read_text(encoding="utf-8")
                os.unlink(path)
                changes = SnapshotChanges.from_json(text)
            except FileNotFoundError:
                continue
            except (OSError, ValueError):
                logger.warning("Snapshot: unreadable change list %s; exporting everything", path)
                changes = SnapshotChanges(full=True)
            if merged is None:
                merged = changes
            else:
                merged.merge(changes)
        return merged

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
