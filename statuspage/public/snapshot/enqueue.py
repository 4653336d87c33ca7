"""After a commit that changed the public version, ask the worker for an export at once,
rather than at the next minute's check. Installed by `create_app` (`register`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from flask import Flask

logger = logging.getLogger(__name__)

INFO_KEY = "statuspage.public_version_bumped"


def _note_version_bump(state: Any) -> None:
    statement = state.statement
    if state.is_update and getattr(getattr(statement, "table", None), "name", "") == "site_state":
        state.session.info[INFO_KEY] = True


def _forget(session: Session, *args: Any) -> None:
    session.info.pop(INFO_KEY, None)


def should_enqueue(config: Any) -> bool:
    if not config.get("STATIC_EXPORT_DIR"):
        return False
    value = config.get("STATIC_EXPORT_ENQUEUE")
    if value is None:
        return not config.get("TESTING", False)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _enqueue_export(session: Session) -> None:
    if not session.info.pop(INFO_KEY, None):
        return
    if not has_app_context() or not should_enqueue(current_app.config):
        return
    try:
        # Here, not at the top: the task module imports this package (its task runs
        # `export_snapshot`), and importing it loads the Huey instance, which only a commit
        # that bumped the version with snapshots on needs.
        from statuspage.snapshot_tasks import export_snapshot_task

        export_snapshot_task()
    except Exception:
        # The change is committed; the every-minute check exports it.
        logger.exception("Could not enqueue the snapshot export; the periodic check will")


def install(session_class: type[Session]) -> None:
    """Install the hooks on `session_class` (idempotent)."""
    for name, hook in (
        ("do_orm_execute", _note_version_bump),
        ("after_commit", _enqueue_export),
        ("after_rollback", _forget),
    ):
        if not sa.event.contains(session_class, name, hook):
            sa.event.listen(session_class, name, hook)


def register(app: Flask) -> None:
    """Called once from `create_app`, after the database extension is bound."""
    install(FlaskSession)
