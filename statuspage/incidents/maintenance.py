"""Scheduled maintenance: schedule it, edit it, move it through its statuses, post its updates.

Statuses and moves (`MAINTENANCE_MOVES`): scheduled -> in progress or completed; in progress ->
verifying or completed; verifying -> in progress (the check failed) or completed. Completed is
final and can no longer be edited.

Every change customers can see bumps the public version (caches key on it). Subscribers are
told through the outbox when maintenance is scheduled, when it starts (the first time only) and
when it completes; the reminder before the window is `send_maintenance_reminder`, called by the
automation (`incidents/automation.py`). A plain update that keeps the status and the verifying
step are shown on the page and in the feeds but send no email: the outbox has no kind for them.

Before changing a maintenance the functions lock its row (`SELECT ... FOR UPDATE` on PostgreSQL)
and check that its status is still the one they read, so a person and the automation moving the
same maintenance at the same moment cannot both win.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from statuspage.components.models import Component, ComponentStatus
from statuspage.components.status import set_component_status
from statuspage.core.errors import ConflictError, DomainError, InvalidTransition, NotFound, Term
from statuspage.core.models import AuditEntry
from statuspage.core.outbox import NotificationKind, queue_notification
from statuspage.core.records import bump_public_version, record_audit
from statuspage.core.text import single_line
from statuspage.core.translation import N_
from statuspage.core.vocabulary import MAINTENANCE_STATUS
from statuspage.incidents.models import (
    Maintenance,
    MaintenanceStatus,
    MaintenanceUpdate,
    maintenance_component,
)

logger = logging.getLogger(__name__)

M = MaintenanceStatus

MAINTENANCE_MOVES: dict[MaintenanceStatus, frozenset[MaintenanceStatus]] = {
    M.SCHEDULED: frozenset({M.IN_PROGRESS, M.COMPLETED}),
    M.IN_PROGRESS: frozenset({M.VERIFYING, M.COMPLETED}),
    M.VERIFYING: frozenset({M.IN_PROGRESS, M.COMPLETED}),
    M.COMPLETED: frozenset(),
}

# What customers read when staff (or the automation) move maintenance on without a message.
DEFAULT_MESSAGES: dict[MaintenanceStatus, str] = {
    M.IN_PROGRESS: "The scheduled maintenance has started. We will post an update when it is done.",
    M.VERIFYING: "The work is done. We are checking that everything works as it should.",
    M.COMPLETED: "The scheduled maintenance is complete and everything is back to normal.",
}

TITLE_MAX = 200
BODY_MAX = 20_000
REMINDER_MAX_MINUTES = 10_080  # a week
# A start "now" typed into a form is a few seconds or minutes old by the time it is saved.
PAST_GRACE = timedelta(minutes=5)


@dataclass(frozen=True)
class NewMaintenance:
    title: str
    scheduled_for: datetime
    scheduled_until: datetime
    body: str = ""
    component_ids: Sequence[int] = field(default_factory=tuple)
    auto_start: bool = False
    auto_complete: bool = False
    reminder_minutes_before: int | None = None


# Edits have the same shape as a new maintenance: the whole form, not a patch.
MaintenanceChanges = NewMaintenance


# --- validation -------------------------------------------------------------------------------


def _clean_title(title: str) -> str:
    title = single_line(title)
    if not title:
        raise DomainError(N_("Maintenance needs a title."), field="title")
    if len(title) > TITLE_MAX:
        raise DomainError(
            N_("The title can be at most %(max)s characters."), max=TITLE_MAX, field="title"
        )
    return title


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if len(body) > BODY_MAX:
        raise DomainError(
            N_("The message can be at most %(max)s characters."), max=BODY_MAX, field="body"
        )
    return body


def _check_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise DomainError(N_("Give the time with its time zone (UTC)."), field=name)


def _check_window(
    scheduled_for: datetime,
    scheduled_until: datetime,
    *,
    now: datetime,
    check_start: bool,
    check_end: bool = True,
    allow_past: bool,
) -> None:
    """The window must end after it starts; a start or end being set now must not lie in the
    past (a window already under way may keep the times it has)."""
    _check_aware(scheduled_for, "scheduled_for")
    _check_aware(scheduled_until, "scheduled_until")
    if scheduled_until <= scheduled_for:
        raise DomainError(N_("The window must end after it starts."), field="scheduled_until")
    if allow_past:
        return
    if check_start and scheduled_for < now - PAST_GRACE:
        raise DomainError(N_("The window cannot start in the past."), field="scheduled_for")
    if check_end and scheduled_until < now - PAST_GRACE:
        raise DomainError(N_("The window cannot end in the past."), field="scheduled_until")


def _check_reminder(minutes: int | None) -> None:
    if minutes is None:
        return
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise DomainError(
            N_("The reminder must be a whole number of minutes."), field="reminder_minutes_before"
        )
    if not 1 <= minutes <= REMINDER_MAX_MINUTES:
        raise DomainError(
            N_("The reminder must be between 1 and %(max)s minutes before the start, or none."),
            max=REMINDER_MAX_MINUTES,
            field="reminder_minutes_before",
        )


def _components(session: Session, component_ids: Sequence[int]) -> list[Component]:
    ids = set(component_ids)
    if not ids:
        return []
    components = list(
        session.scalars(
            sa.select(Component).where(Component.id.in_(ids)).order_by(Component.position)
        )
    )
    if len(components) != len(ids):
        raise NotFound(N_("Some of the chosen components do not exist."), field="components")
    return components


def _lock(session: Session, maintenance: Maintenance) -> None:
    """Lock the row until the transaction ends and refuse if someone moved it meanwhile."""
    stored = session.scalar(
        sa.select(Maintenance.status).where(Maintenance.id == maintenance.id).with_for_update()
    )
    if stored is None:
        raise NotFound(N_("There is no maintenance %(id)s."), id=maintenance.id)
    if MaintenanceStatus(stored) != maintenance.status:
        raise InvalidTransition(
            N_(
                "This maintenance was just moved to %(status)s by someone else. Reload the page "
                "and try again."
            ),
            status=status_term(MaintenanceStatus(stored)),
        )


# --- scheduling and editing -------------------------------------------------------------------


def schedule_maintenance(
    session: Session,
    command: NewMaintenance,
    *,
    actor_id: int | None,
    now: datetime,
    allow_past: bool = False,
    notify: bool = True,
) -> Maintenance:
    """Schedule a maintenance window and announce it.

    `allow_past` lets seeding and imports record windows that lie in the past; people
    scheduling through the admin area or the API cannot. `notify=False` writes no outbox row.
    """
    title = _clean_title(command.title)
    body = _clean_body(command.body)
    _check_window(
        command.scheduled_for,
        command.scheduled_until,
        now=now,
        check_start=True,
        allow_past=allow_past,
    )
    _check_reminder(command.reminder_minutes_before)
    components = _components(session, command.component_ids)
    maintenance = Maintenance(
        title=title,
        body=body,
        status=M.SCHEDULED,
        scheduled_for=command.scheduled_for,
        scheduled_until=command.scheduled_until,
        auto_start=bool(command.auto_start),
        auto_complete=bool(command.auto_complete),
        reminder_minutes_before=command.reminder_minutes_before,
        components=components,
        created_at=now,
        updated_at=now,
    )
    session.add(maintenance)
    session.flush()
    update = MaintenanceUpdate(status=M.SCHEDULED, body=body, author_id=actor_id, created_at=now)
    maintenance.updates.append(update)
    record_audit(
        session,
        "maintenance",
        maintenance.id,
        "schedule",
        {
            "title": title,
            "scheduled_for": command.scheduled_for,
            "scheduled_until": command.scheduled_until,
            "components": sorted(c.id for c in components),
            "auto_start": maintenance.auto_start,
            "auto_complete": maintenance.auto_complete,
            "reminder_minutes_before": maintenance.reminder_minutes_before,
        },
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    if notify:
        queue_notification(
            session,
            NotificationKind.MAINTENANCE_SCHEDULED,
            now=now,
            component_ids=[c.id for c in components],
            maintenance_id=maintenance.id,
            maintenance_update_id=update.id,
        )
    bump_public_version(session, now)
    session.flush()
    logger.info("maintenance %s scheduled by %s", maintenance.id, actor_id)
    return maintenance


def update_maintenance(
    session: Session,
    maintenance: Maintenance,
    command: MaintenanceChanges,
    *,
    actor_id: int | None,
    now: datetime,
    expected_updated_at: datetime | None = None,
) -> dict[str, Any]:
    """Edit a maintenance. While scheduled, everything can change; once it has started, only
    the end of the window and the message; once completed, nothing. Returns the changed
    fields (old, new); nothing is written when nothing changed.

    Moving the start of a window whose reminder was already sent sends the reminder again for
    the new time (when it is still ahead). While it runs, automatic completion can still be
    switched on or off.

    `expected_updated_at` is when the editor's copy was loaded; when the maintenance changed
    since, the edit is refused with `ConflictError` listing what happened meanwhile."""
    if maintenance.status == M.COMPLETED:
        raise InvalidTransition(N_("Completed maintenance can no longer be edited."))
    _lock(session, maintenance)
    if expected_updated_at is not None and maintenance.updated_at != expected_updated_at:
        raise ConflictError(
            N_(
                "This maintenance changed since you opened it. "
                "Reload it and make your change again."
            ),
            _changes_since(session, maintenance, expected_updated_at),
        )
    body = _clean_body(command.body)
    changes: dict[str, Any] = {}

    if maintenance.status == M.SCHEDULED:
        title = _clean_title(command.title)
        _check_window(
            command.scheduled_for,
            command.scheduled_until,
            now=now,
            check_start=command.scheduled_for != maintenance.scheduled_for,
            check_end=command.scheduled_until != maintenance.scheduled_until,
            allow_past=False,
        )
        _check_reminder(command.reminder_minutes_before)
        components = _components(session, command.component_ids)
        wanted: dict[str, Any] = {
            "title": title,
            "body": body,
            "scheduled_for": command.scheduled_for,
            "scheduled_until": command.scheduled_until,
            "auto_start": bool(command.auto_start),
            "auto_complete": bool(command.auto_complete),
            "reminder_minutes_before": command.reminder_minutes_before,
        }
        old_ids = sorted(c.id for c in maintenance.components)
        new_ids = sorted(c.id for c in components)
        if old_ids != new_ids:
            changes["components"] = [old_ids, new_ids]
            maintenance.components = components
    else:
        locked = {
            "title": single_line(command.title) != maintenance.title,
            "scheduled_for": command.scheduled_for != maintenance.scheduled_for,
            "components": set(command.component_ids) != {c.id for c in maintenance.components},
        }
        for name, changed in locked.items():
            if changed:
                raise DomainError(
                    N_("Once the maintenance has started only its end and its message can change."),
                    field=name,
                )
        _check_window(
            maintenance.scheduled_for,
            command.scheduled_until,
            now=now,
            check_start=False,
            check_end=command.scheduled_until != maintenance.scheduled_until,
            allow_past=False,
        )
        wanted = {"body": body, "scheduled_until": command.scheduled_until}
        if command.auto_complete != maintenance.auto_complete:
            wanted["auto_complete"] = bool(command.auto_complete)

    for name, value in wanted.items():
        old = getattr(maintenance, name)
        if old != value:
            changes[name] = [old, value]
            setattr(maintenance, name, value)
    if not changes:
        return changes

    if maintenance.status == M.SCHEDULED:
        if "body" in changes:
            # The announcement is the scheduled update: keep it in step with the message.
            for update in maintenance.updates:
                if update.status == M.SCHEDULED:
                    update.body = body
        if "scheduled_for" in changes:
            maintenance.reminder_sent_at = None
    maintenance.updated_at = now
    record_audit(
        session, "maintenance", maintenance.id, "edit", changes, actor_id=actor_id, now=now
    )
    public = {"title", "body", "scheduled_for", "scheduled_until", "components"}
    if public & changes.keys():
        bump_public_version(session, now)
    session.flush()
    logger.info("maintenance %s edited by %s: %s", maintenance.id, actor_id, sorted(changes))
    return changes


def _changes_since(session: Session, maintenance: Maintenance, since: datetime) -> list[str]:
    entries = session.scalars(
        sa.select(AuditEntry)
        .where(
            AuditEntry.entity_type == "maintenance",
            AuditEntry.entity_id == maintenance.id,
            AuditEntry.at > since,
        )
        .order_by(AuditEntry.at, AuditEntry.id)
        .limit(20)
    )
    return [
        f"{entry.action.replace('_', ' ')}: {', '.join(sorted(entry.changes)) or 'no fields'}"
        for entry in entries
    ]


# --- moving on --------------------------------------------------------------------------------


def _other_active_maintenance_components(session: Session, maintenance: Maintenance) -> set[int]:
    """Components another running maintenance still holds under maintenance."""
    return set(
        session.scalars(
            sa.select(maintenance_component.c.component_id)
            .join(Maintenance, Maintenance.id == maintenance_component.c.maintenance_id)
            .where(
                Maintenance.id != maintenance.id,
                Maintenance.status.in_((M.IN_PROGRESS, M.VERIFYING)),
            )
        )
    )


def advance_maintenance(
    session: Session,
    maintenance: Maintenance,
    status: MaintenanceStatus | str,
    *,
    body: str = "",
    actor_id: int | None,
    now: datetime,
    notify: bool = True,
) -> MaintenanceUpdate:
    """Move maintenance on and post the update that says so (a default message when `body` is
    empty). Starting puts its components under maintenance; completing brings them back to
    operational, except those another running maintenance still holds."""
    try:
        status = MaintenanceStatus(status)
    except ValueError:
        raise DomainError(
            N_("%(status)r is not a maintenance status."), status=status, field="status"
        ) from None
    if status not in MAINTENANCE_MOVES[maintenance.status]:
        if maintenance.status == M.COMPLETED:
            raise InvalidTransition(N_("This maintenance is completed; it cannot move any more."))
        raise InvalidTransition(
            N_("Maintenance that is %(current)s cannot move to %(target)s."),
            current=status_term(maintenance.status),
            target=status_term(status),
        )
    text = _clean_body(body) or DEFAULT_MESSAGES[status]
    _lock(session, maintenance)
    previous = maintenance.status
    first_start = status == M.IN_PROGRESS and maintenance.started_at is None
    maintenance.status = status
    maintenance.updated_at = now
    if status == M.IN_PROGRESS:
        if maintenance.started_at is None:
            maintenance.started_at = now
        for component in maintenance.components:
            set_component_status(
                session,
                component,
                ComponentStatus.UNDER_MAINTENANCE,
                now=now,
                maintenance_id=maintenance.id,
                actor_id=actor_id,
            )
    if status == M.COMPLETED:
        maintenance.completed_at = now
        still_held = _other_active_maintenance_components(session, maintenance)
        for component in maintenance.components:
            if (
                component.status == ComponentStatus.UNDER_MAINTENANCE
                and component.id not in still_held
            ):
                set_component_status(
                    session,
                    component,
                    ComponentStatus.OPERATIONAL,
                    now=now,
                    maintenance_id=maintenance.id,
                    actor_id=actor_id,
                )
    update = MaintenanceUpdate(status=status, body=text, author_id=actor_id, created_at=now)
    maintenance.updates.append(update)
    record_audit(
        session,
        "maintenance",
        maintenance.id,
        "advance",
        {"status": [previous, status]},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    kind = None
    if first_start:
        kind = NotificationKind.MAINTENANCE_STARTED
    elif status == M.COMPLETED:
        kind = NotificationKind.MAINTENANCE_COMPLETED
    if notify and kind is not None:
        queue_notification(
            session,
            kind,
            now=now,
            component_ids=[c.id for c in maintenance.components],
            maintenance_id=maintenance.id,
            maintenance_update_id=update.id,
        )
    bump_public_version(session, now)
    session.flush()
    logger.info(
        "maintenance %s moved from %s to %s by %s", maintenance.id, previous, status, actor_id
    )
    return update


def post_maintenance_update(
    session: Session,
    maintenance: Maintenance,
    *,
    body: str,
    actor_id: int | None,
    now: datetime,
) -> MaintenanceUpdate:
    """Post an update that keeps the current status ("the work is taking longer")."""
    if maintenance.status == M.COMPLETED:
        raise InvalidTransition(N_("This maintenance is completed; post no more updates to it."))
    text = _clean_body(body)
    if not text:
        raise DomainError(N_("Write the update first."), field="body")
    _lock(session, maintenance)
    update = MaintenanceUpdate(
        status=maintenance.status, body=text, author_id=actor_id, created_at=now
    )
    maintenance.updates.append(update)
    maintenance.updated_at = now
    session.flush()
    record_audit(
        session,
        "maintenance",
        maintenance.id,
        "post_update",
        {"status": maintenance.status, "update_id": update.id},
        actor_id=actor_id,
        now=now,
    )
    bump_public_version(session, now)
    session.flush()
    logger.info("maintenance %s update %s posted by %s", maintenance.id, update.id, actor_id)
    return update


def send_maintenance_reminder(
    session: Session, maintenance: Maintenance, *, actor_id: int | None, now: datetime
) -> bool:
    """Queue the reminder to subscribers, once, while the window is still ahead.

    Returns False (and writes nothing) when the reminder is not due: none configured, already
    sent, the maintenance is no longer scheduled, or its window has started."""
    if (
        maintenance.reminder_minutes_before is None
        or maintenance.reminder_sent_at is not None
        or maintenance.status != M.SCHEDULED
        or now >= maintenance.scheduled_for
        or now < maintenance.scheduled_for - timedelta(minutes=maintenance.reminder_minutes_before)
    ):
        return False
    _lock(session, maintenance)
    maintenance.reminder_sent_at = now
    queue_notification(
        session,
        NotificationKind.MAINTENANCE_REMINDER,
        now=now,
        component_ids=[c.id for c in maintenance.components],
        maintenance_id=maintenance.id,
    )
    record_audit(
        session,
        "maintenance",
        maintenance.id,
        "remind",
        {"reminder_sent_at": now},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    logger.info("maintenance %s reminder queued", maintenance.id)
    return True


# --- queries for the admin pages ---------------------------------------------------------------


@dataclass(frozen=True)
class MaintenanceLists:
    in_progress: list[Maintenance]
    upcoming: list[Maintenance]
    completed: list[Maintenance]
    page: int
    per_page: int
    completed_total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.completed_total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


ADMIN_LIST_LIMIT = 100


def admin_maintenance_lists(session: Session, *, page: int, per_page: int = 20) -> MaintenanceLists:
    """Running and upcoming maintenance (at most `ADMIN_LIST_LIMIT` each) and one page of the
    completed ones, newest first, each with its components: five statements."""

    def select(*where: sa.ColumnElement[bool]) -> sa.Select[tuple[Maintenance]]:
        return sa.select(Maintenance).where(*where).options(selectinload(Maintenance.components))

    running = session.scalars(
        select(Maintenance.status.in_((M.IN_PROGRESS, M.VERIFYING)))
        .order_by(Maintenance.scheduled_for, Maintenance.id)
        .limit(ADMIN_LIST_LIMIT)
    ).all()
    upcoming = session.scalars(
        select(Maintenance.status == M.SCHEDULED)
        .order_by(Maintenance.scheduled_for, Maintenance.id)
        .limit(ADMIN_LIST_LIMIT)
    ).all()
    total = (
        session.scalar(
            sa.select(sa.func.count(Maintenance.id)).where(Maintenance.status == M.COMPLETED)
        )
        or 0
    )
    page = max(1, min(page, -(-total // per_page) or 1))
    completed = session.scalars(
        select(Maintenance.status == M.COMPLETED)
        .order_by(Maintenance.completed_at.desc(), Maintenance.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return MaintenanceLists(
        in_progress=list(running),
        upcoming=list(upcoming),
        completed=list(completed),
        page=page,
        per_page=per_page,
        completed_total=total,
    )


def get_maintenance(session: Session, maintenance_id: int) -> Maintenance:
    maintenance = session.get(Maintenance, maintenance_id)
    if maintenance is None:
        raise NotFound(N_("There is no maintenance %(id)s."), id=maintenance_id)
    return maintenance


def status_term(status: MaintenanceStatus) -> Term:
    """A maintenance status in a refusal: "in progress" in English, its label translated."""
    return Term(status.label.lower(), MAINTENANCE_STATUS[status.value])
