"""Worker tasks that keep the static snapshot (`statuspage.snapshot`) up to date.

- `snapshot_check_task`, every minute: export every page when the public version changed (or
  the snapshot is older than `STATIC_EXPORT_REFRESH`). This alone keeps the snapshot at most a
  couple of minutes behind, whatever enqueueing missed. It backs off while an export runs and
  for `SETTLE_SECONDS` after a public change, when the commit's own task is on its way: a full
  export then would only hold the lock while the incremental one waits.
- `export_snapshot_task`: enqueued right after a commit that changed the public version
  (`worker.hooks`), with what the commit changed (`snapshot.changes`), so the snapshot follows
  within seconds and only the pages those changes affect are rendered again.

Both do nothing unless `STATIC_EXPORT_DIR` is set. Several runs at once are safe: each writes
its own build and the switch is an atomic, locked rename (see `statuspage.snapshot`).
"""

from __future__ import annotations

import logging

from huey import crontab

from statuspage.snapshot.changes import SnapshotChanges
from statuspage.snapshot.export import SnapshotResult, export_dir, export_snapshot
from statuspage.worker.queue import app_context, huey

logger = logging.getLogger(__name__)

SETTLE_SECONDS = 30


def run_snapshot_export(
    *, force: bool = False, changes: SnapshotChanges | None = None, settle_seconds: int = 0
) -> SnapshotResult | None:
    """Export when needed; None when snapshots are off (no `STATIC_EXPORT_DIR`)."""
    with app_context() as app:
        if export_dir(app.config) is None:
            return None
        return export_snapshot(app, force=force, changes=changes, settle_seconds=settle_seconds)


def _run(changes: SnapshotChanges | None = None, settle_seconds: int = 0) -> None:
    result = run_snapshot_export(changes=changes, settle_seconds=settle_seconds)
    if result is not None and result.exported:
        logger.info("Snapshot: public version %d, %d files", result.version, result.files)


@huey.task(name="export_snapshot")
def export_snapshot_task(changes: str | None = None) -> None:
    """`changes`: `SnapshotChanges.to_json()` of the commit that asked; none (or unreadable):
    whatever the version says, every page."""
    parsed = None
    if changes is not None:
        try:
            parsed = SnapshotChanges.from_json(changes)
        except ValueError:
            logger.warning("Snapshot task with unreadable changes; exporting every page")
    _run(parsed)


# `expires`: a run that waited in the queue for a minute is dropped, as the next one is due.
@huey.periodic_task(crontab(minute="*"), expires=60, name="snapshot_check")
def snapshot_check_task() -> None:
    _run(settle_seconds=SETTLE_SECONDS)
