"""Timeline events and audit rows, written alongside every state change."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.models import AuditEntry, SiteState, TimelineEvent


class Versioned(Protocol):
    version: int
    updated_at: datetime


def touch(record: Versioned, now: datetime) -> int:
    """Mark a record changed: a new version (for edit conflicts) and `updated_at`."""
    record.version = (record.version or 1) + 1
    record.updated_at = now
    return record.version


# session.info key: the (public_version, public_changed_at) the transaction's last bump wrote,
# so that publishing it after the commit (public/cache/version.py) needs no read.
BUMPED_VERSION = "statuspage.public_version_bumped_to"


def bump_public_version(session: Session, now: datetime) -> None:
    """Something customers see changed: caches and the static snapshot key on this version.

    One UPDATE of the single `site_state` row, in the caller's transaction; it returns the
    new version, kept in `session.info[BUMPED_VERSION]`.
    """
    row = session.execute(
        sa.update(SiteState)
        .where(SiteState.id == 1)
        .values(public_version=SiteState.public_version + 1, public_changed_at=now)
        .returning(SiteState.public_version, SiteState.public_changed_at)
    ).one_or_none()
    if row is not None:
        session.info[BUMPED_VERSION] = (int(row[0]), row[1])


def record_event(
    session: Session,
    incident_id: int,
    kind: str,
    summary: str,
    *,
    actor_id: int | None,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> TimelineEvent:
    event = TimelineEvent(
        incident_id=incident_id,
        kind=kind,
        summary=summary,
        actor_id=actor_id,
        occurred_at=now,
        data=data or {},
    )
    session.add(event)
    return event


def record_audit(
    session: Session,
    entity_type: str,
    entity_id: int,
    action: str,
    changes: dict[str, Any],
    *,
    actor_id: int | None,
    now: datetime,
) -> AuditEntry:
    entry = AuditEntry(
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        changes={key: _plain(value) for key, value in changes.items()},
        actor_id=actor_id,
        at=now,
    )
    session.add(entry)
    return entry


def _plain(value: Any) -> Any:
    """JSON-safe form of a changed value (datetimes as ISO 8601, enums as their value)."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return value
