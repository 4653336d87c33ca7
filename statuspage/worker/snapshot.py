"""Worker tasks that keep the static snapshot (`statuspage.snapshot`) up to date.

- `snapshot_check_task`, every minute: export when the public version changed (or the snapshot
  is older than `STATIC_EXPORT_REFRESH`). This alone keeps the snapshot at most a minute
  behind, whatever enqueueing missed.
- `export_snapshot_task`: the same, enqueued right after a commit that changed the public
  version (`worker.hooks`), so the snapshot follows within seconds.

Both do nothing unless `STATIC_EXPORT_DIR` is set. Several runs at once are safe: each writes
its own build and the switch is an atomic, locked rename (see `statuspage.snapshot`).
"""

from __future__ import annotations

import logging

from huey import crontab

from statuspage.snapshot.export import SnapshotResult, export_dir, export_snapshot
from statuspage.worker.queue import app_context, huey

logger = logging.getLogger(__name__)


def run_snapshot_export(*, force: bool = False) -> SnapshotResult | None:
    """Export when needed; None when snapshots are off (no `STATIC_EXPORT_DIR`)."""
    with app_context() as app:
        if export_dir(app.config) is None:
            return None
        return export_snapshot(app, force=force)


def _run() -> None:
    result = run_snapshot_export()
    if result is not None and result.exported:
        logger.info("Snapshot: public version %d, %d files", result.version, result.files)


@huey.task(name="export_snapshot")
def export_snapshot_task() -> None:
    _run()


# `expires`: a run that waited in the queue for a minute is dropped, as the next one is due.
@huey.periodic_task(crontab(minute="*"), expires=60, name="snapshot_check")
def snapshot_check_task() -> None:
    _run()
