"""Edit conflicts for records edited through a form: public updates, closure reports, reviews
and incident templates (incidents themselves: `casework.check_version`; maintenance compares
its `updated_at`).

Each such record has a `version`, bumped by every edit, and every edit's audit row carries the
version it produced. A form carries the version it was loaded with; a save against a newer
version is refused with `ConflictError`, listing the edits made since (who is left to the view,
which knows the people), so the view can answer 409 with the person's own text kept.
"""

from __future__ import annotations

from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.errors import ConflictError
from statuspage.core.models import AuditEntry
from statuspage.core.translation import N_


class HasVersion(Protocol):
    id: int
    version: int


def bump(record: HasVersion) -> int:
    """A new version of `record` (call once per saved edit); returns it for the audit row."""
    record.version = (record.version or 1) + 1
    return record.version


def edits_since(
    session: Session, entity_type: str, record_id: int, expected: int
) -> list[AuditEntry]:
    """The audit rows of the edits that made versions after `expected`, oldest first (from
    the record's last 50 rows)."""
    entries = session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == record_id)
        .order_by(AuditEntry.id.desc())
        .limit(50)
    ).all()
    return [
        entry
        for entry in reversed(entries)
        if isinstance(entry.changes.get("version"), int) and entry.changes["version"] > expected
    ]


def check(
    session: Session,
    entity_type: str,
    record: HasVersion,
    expected: int | None,
    *,
    what: str,
) -> None:
    """Refuse a save built on an older version of `record`, saying what changed since.

    `expected` None (a client that sends no version, such as the API) is not checked."""
    if expected is None or expected == (record.version or 1):
        return
    changes = []
    for entry in edits_since(session, entity_type, record.id, expected):
        fields = ", ".join(key for key in entry.changes if key not in ("version", "incident_id"))
        label = entry.action.replace("_", " ")
        changes.append(f"{entry.at:%Y-%m-%d %H:%M} UTC, {label}: {fields}" if fields else label)
    raise ConflictError(
        CONFLICT_MESSAGES.get(what)
        or f"Someone else changed this {what} after you opened it. Nothing was saved; your text "
        "is below: compare it with theirs, then make your change again.",
        changes or ["(details not recorded)"],
    )


# check()'s refusal for each `what`, whole sentences so each language can say "this draft".
CONFLICT_MESSAGES = {
    "template": N_(
        "Someone else changed this template after you opened it. Nothing was saved; your text "
        "is below: compare it with theirs, then make your change again."
    ),
    "review": N_(
        "Someone else changed this review after you opened it. Nothing was saved; your text "
        "is below: compare it with theirs, then make your change again."
    ),
    "report": N_(
        "Someone else changed this report after you opened it. Nothing was saved; your text "
        "is below: compare it with theirs, then make your change again."
    ),
    "draft": N_(
        "Someone else changed this draft after you opened it. Nothing was saved; your text "
        "is below: compare it with theirs, then make your change again."
    ),
    "update": N_(
        "Someone else changed this update after you opened it. Nothing was saved; your text "
        "is below: compare it with theirs, then make your change again."
    ),
}
