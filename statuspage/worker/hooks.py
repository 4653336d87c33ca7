"""Enqueueing work once a commit stands: delivery of new notifications, snapshot exports.

Domain code writes `Notification` rows in the same transaction as the change they announce
(`core.outbox.queue_notification`) and bumps the public version when something public changed
(`core.records.bump_public_version`); it knows nothing about queues. These session hooks do
the rest:

- `after_flush` notes the ids of new notifications in `session.info`; `do_orm_execute` notes an
  UPDATE of `site_state` (the public version);
- `after_commit` enqueues `deliver_notification_task` for each new notification that email
  sends (not the channel-only ones, written done for email), one `deliver_channels_task` for
  all of the commit's notifications and, after a public change, `export_snapshot_task`, only
  once the rows are committed (a worker can never look for a notification that is not there
  yet). A publish that changes three components thus enqueues three tasks, not nine: each is
  a round trip to the queue before the publish answers;
- `after_rollback` forgets both: a rolled-back change has nothing to announce.

Enqueueing is best effort: when the queue is unreachable the commit still stands, and the
worker's every-minute sweep (delivery) or check (snapshot) picks the work up. The hooks only
enqueue where the app's settings allow it: `DELIVERY_ENQUEUE` and `STATIC_EXPORT_ENQUEUE`
(default: on, except under `TESTING`, so that tests do not fill the development queue; a test
that wants the task sets it); a snapshot export also needs `STATIC_EXPORT_DIR`.

`register(app)` is called once from `create_app`; the hooks are installed on Flask-SQLAlchemy's
session class a single time however many apps are created, and each commit reads the settings
of the app it runs in. The task modules are imported at the first enqueue, not here: building
an app does not open the queue.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy.orm import Session

from statuspage.core.outbox import CHANNEL_ONLY_KINDS, Notification
from statuspage.snapshot.changes import SnapshotChanges, note_row, note_statement

logger = logging.getLogger(__name__)

NOTIFICATIONS_KEY = "statuspage.new_notification_ids"
PUBLIC_CHANGE_KEY = "statuspage.public_version_bumped"
SNAPSHOT_CHANGES_KEY = "statuspage.snapshot_changes"


def _flag(value: Any, *, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def should_enqueue(config: Any) -> bool:
    """Whether a commit enqueues delivery (`DELIVERY_ENQUEUE`; off under `TESTING`)."""
    return _flag(config.get("DELIVERY_ENQUEUE"), default=not config.get("TESTING", False))


def should_export(config: Any) -> bool:
    """Whether a public change enqueues a snapshot export (`STATIC_EXPORT_ENQUEUE`)."""
    if not config.get("STATIC_EXPORT_DIR"):
        return False
    return _flag(config.get("STATIC_EXPORT_ENQUEUE"), default=not config.get("TESTING", False))


def _note_new_notifications(session: Session, flush_context: Any) -> None:
    found = [
        (obj.id, obj.kind in CHANNEL_ONLY_KINDS)
        for obj in session.new
        if isinstance(obj, Notification) and obj.id is not None
    ]
    if found:
        session.info.setdefault(NOTIFICATIONS_KEY, []).extend(found)


def _snapshot_changes(session: Session) -> SnapshotChanges:
    changes = session.info.get(SNAPSHOT_CHANGES_KEY)
    if changes is None:
        changes = session.info[SNAPSHOT_CHANGES_KEY] = SnapshotChanges()
    return changes


def _note_snapshot_changes(session: Session, flush_context: Any) -> None:
    """What this flush wrote that public pages show (`snapshot.changes`), for the export."""
    if not (session.new or session.dirty or session.deleted):
        return
    changes = _snapshot_changes(session)
    for instance in session.new:
        note_row(changes, instance, dirty=False)
    for instance in session.deleted:
        note_row(changes, instance, dirty=False)
    for instance in session.dirty:
        if session.is_modified(instance, include_collections=False):
            note_row(changes, instance, dirty=True)


def _note_version_bump(state: Any) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(getattr(state.statement, "table", None), "name", "")
    if table == "site_state":
        if state.is_update:
            state.session.info[PUBLIC_CHANGE_KEY] = True
        return
    # A bulk statement: which rows it wrote is unknown here.
    note_statement(_snapshot_changes(state.session), [table])


def _forget(session: Session, *args: Any) -> None:
    session.info.pop(NOTIFICATIONS_KEY, None)
    session.info.pop(PUBLIC_CHANGE_KEY, None)
    session.info.pop(SNAPSHOT_CHANGES_KEY, None)


def _enqueue_committed(session: Session) -> None:
    ids = session.info.pop(NOTIFICATIONS_KEY, None)
    if not ids:
        return
    if not has_app_context() or not should_enqueue(current_app.config):
        return
    from statuspage.worker.channels import deliver_channels_task
    from statuspage.worker.delivery import deliver_notification_task

    found = dict(ids)  # id -> channel only, in the order written
    for notification_id, channel_only in found.items():
        if channel_only:
            continue  # written done for email: nothing for the email task to do
        try:
            deliver_notification_task(notification_id)
        except Exception:
            # The change is committed; the sweep delivers the notification within a minute.
            logger.exception(
                "Could not enqueue delivery of notification %d; the sweep will", notification_id
            )
    try:
        deliver_channels_task(*found)
    except Exception:
        logger.exception(
            "Could not enqueue channel delivery of notifications %s; the sweep will",
            ", ".join(str(n) for n in found),
        )


def _enqueue_export(session: Session) -> None:
    changes = session.info.pop(SNAPSHOT_CHANGES_KEY, None) or SnapshotChanges(full=True)
    if not session.info.pop(PUBLIC_CHANGE_KEY, None):
        return
    if not has_app_context() or not should_export(current_app.config):
        return
    try:
        from statuspage.worker.snapshot import export_snapshot_task

        # What changed travels with the task: the export re-renders only the pages it affects.
        export_snapshot_task(changes.to_json())
    except Exception:
        # The change is committed; the every-minute check exports it.
        logger.exception("Could not enqueue the snapshot export; the periodic check will")


def install(session_class: type[Session]) -> None:
    """Install the hooks on `session_class` (idempotent)."""
    for name, hook in (
        ("after_flush", _note_new_notifications),
        ("after_flush", _note_snapshot_changes),
        ("do_orm_execute", _note_version_bump),
        ("after_commit", _enqueue_committed),
        ("after_commit", _enqueue_export),
        ("after_rollback", _forget),
    ):
        if not sa.event.contains(session_class, name, hook):
            sa.event.listen(session_class, name, hook)


def register(app: Flask) -> None:
    """Called from `create_app` after the database extension is bound."""
    install(FlaskSession)
