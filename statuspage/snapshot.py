"""Temporary: the static snapshot moved to `statuspage.public.snapshot`. Only the worker's
`snapshot_tasks.py` (being moved by another change of issue 12) still imports this name; delete
this module once it imports `statuspage.public.snapshot` instead."""

from statuspage.public.snapshot import SnapshotResult, export_dir, export_snapshot

__all__ = ["SnapshotResult", "export_dir", "export_snapshot"]
