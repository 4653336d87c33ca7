"""Starting delivery once a notification is committed.

Domain code writes `Notification` rows in the same transaction as the change they announce
(`outbox.queue_notification`) and knows nothing about queues. These session hooks do the rest:

- `after_flush` notes the ids of new notifications in `session.info`;
- `after_commit` enqueues `deliver_notification_task` for each of them, only once the rows
  are committed (a worker can never look for a notification that is not there yet);
- `after_rollback` forgets them: a rolled-back change has nothing to announce.

Enqueueing is best effort: when the queue is unreachable the commit still stands, and the
worker's every-minute sweep picks the notification up. The hooks only enqueue where the app's
`DELIVERY_ENQUEUE` setting allows it (default: on, except under `TESTING`, so that tests do not
fill the development queue; a test that wants the task sets it).

`register(app)` is called once from `create_app`; the hooks are installed on Flask-SQLAlchemy's
session class a single time however many apps are created, and each commit reads the settings
of the app it runs in.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.outbox import Notification

if TYPE_CHECKING:
    from flask import Flask

logger = logging.getLogger(__name__)

INFO_KEY = "statuspage.new_notification_ids"


def _note_new_notifications(session: Session, flush_context: Any) -> None:
    ids = [obj.id for obj in session.new if isinstance(obj, Notification) and obj.id is not None]
    if ids:
        session.info.setdefault(INFO_KEY, []).extend(ids)


def _forget(session: Session, *args: Any) -> None:
    session.info.pop(INFO_KEY, None)


def should_enqueue(config: Any) -> bool:
    value = config.get("DELIVERY_ENQUEUE")
    if value is None:
        return not config.get("TESTING", False)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _enqueue_committed(session: Session) -> None:
    ids = session.info.pop(INFO_KEY, None)
    if not ids:
        return
    from flask import current_app, has_app_context

    if not has_app_context() or not should_enqueue(current_app.config):
        return
    from statuspage.notifications.delivery_tasks import deliver_notification_task

    for notification_id in dict.fromkeys(ids):
        try:
            deliver_notification_task(notification_id)
        except Exception:
            # The change is committed; the sweep delivers the notification within a minute.
            logger.exception(
                "Could not enqueue delivery of notification %d; the sweep will", notification_id
            )


def install(session_class: type[Session]) -> None:
    """Install the hooks on `session_class` (idempotent)."""
    for name, hook in (
        ("after_flush", _note_new_notifications),
        ("after_commit", _enqueue_committed),
        ("after_rollback", _forget),
    ):
        if not sa.event.contains(session_class, name, hook):
            sa.event.listen(session_class, name, hook)


def register(app: Flask) -> None:
    """Called from `create_app` after the database extension is bound."""
    from flask_sqlalchemy.session import Session as FlaskSession

    install(FlaskSession)
