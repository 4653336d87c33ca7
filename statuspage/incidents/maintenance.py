"""Scheduled maintenance: schedule it, move it through its statuses, post its updates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.components.models import Component, ComponentStatus
from statuspage.components.status import set_component_status
from statuspage.incidents.errors import DomainError, InvalidTransition, NotFound
from statuspage.incidents.models import Maintenance, MaintenanceStatus, MaintenanceUpdate
from statuspage.incidents.records import record_audit

M = MaintenanceStatus

MAINTENANCE_MOVES: dict[MaintenanceStatus, frozenset[MaintenanceStatus]] = {
    M.SCHEDULED: frozenset({M.IN_PROGRESS, M.COMPLETED}),
    M.IN_PROGRESS: frozenset({M.VERIFYING, M.COMPLETED}),
    M.VERIFYING: frozenset({M.IN_PROGRESS, M.COMPLETED}),
    M.COMPLETED: frozenset(),
}


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


def schedule_maintenance(
    session: Session, command: NewMaintenance, *, actor_id: int | None, now: datetime
) -> Maintenance:
    title = command.title.strip()
    if not title:
        raise DomainError("Maintenance needs a title.", field="title")
    if command.scheduled_until <= command.scheduled_for:
        raise DomainError("The window must end after it starts.", field="scheduled_until")
    ids = set(command.component_ids)
    components = list(session.scalars(sa.select(Component).where(Component.id.in_(ids))))
    if len(components) != len(ids):
        raise NotFound("Some of the chosen components do not exist.", field="components")
    maintenance = Maintenance(
        title=title,
        body=command.body.strip(),
        scheduled_for=command.scheduled_for,
        scheduled_until=command.scheduled_until,
        auto_start=command.auto_start,
        auto_complete=command.auto_complete,
        reminder_minutes_before=command.reminder_minutes_before,
        components=components,
        created_at=now,
        updated_at=now,
    )
    session.add(maintenance)
    session.flush()
    maintenance.updates.append(
        MaintenanceUpdate(
            status=M.SCHEDULED, body=maintenance.body, author_id=actor_id, created_at=now
        )
    )
    record_audit(
        session,
        "maintenance",
        maintenance.id,
        "schedule",
        {
            "title": title,
            "scheduled_for": command.scheduled_for,
            "scheduled_until": command.scheduled_until,
            "components": sorted(ids),
        },
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return maintenance


def advance_maintenance(
    session: Session,
    maintenance: Maintenance,
    status: MaintenanceStatus,
    *,
    body: str = "",
    actor_id: int | None,
    now: datetime,
) -> MaintenanceUpdate:
    """Move maintenance on; starting puts its components under maintenance, completing
    brings them back to operational."""
    status = MaintenanceStatus(status)
    if status not in MAINTENANCE_MOVES[maintenance.status]:
        raise InvalidTransition(
            f"Maintenance that is {maintenance.status.value} cannot move to {status.value}."
        )
    previous = maintenance.status
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
        for component in maintenance.components:
            if component.status == ComponentStatus.UNDER_MAINTENANCE:
                set_component_status(
                    session,
                    component,
                    ComponentStatus.OPERATIONAL,
                    now=now,
                    maintenance_id=maintenance.id,
                    actor_id=actor_id,
                )
    update = MaintenanceUpdate(status=status, body=body.strip(), author_id=actor_id, created_at=now)
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
    return update


def get_maintenance(session: Session, maintenance_id: int) -> Maintenance:
    maintenance = session.get(Maintenance, maintenance_id)
    if maintenance is None:
        raise NotFound(f"There is no maintenance {maintenance_id}.")
    return maintenance
