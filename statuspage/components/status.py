"""Changing a component's status, and the overall-status rollup.

The rollup rule (also in docs/architecture.md):

1. Each component maps to an indicator: operational -> none, degraded_performance -> minor,
   partial_outage -> major, major_outage -> critical, under_maintenance -> maintenance.
2. Each unresolved public incident contributes its impact (none, minor, major, critical).
3. The overall indicator is the most severe of all of these, in the order
   none < maintenance < minor < major < critical. Maintenance therefore shows only when nothing
   is actually broken: a real outage during a maintenance window is reported as the outage.
4. Components hidden from the page (`is_public` false) count all the same: hiding a component
   does not hide its outage from the overall status.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from statuspage.components.models import Component, ComponentStatus, ComponentStatusChange
from statuspage.components.uptime import day_start
from statuspage.core.outbox import NotificationKind, queue_notification
from statuspage.core.records import bump_public_version
from statuspage.core.text import single_line

NAME_MAX = 120  # the column's length


class Indicator(enum.StrEnum):
    NONE = "none"
    MAINTENANCE = "maintenance"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def description(self) -> str:
        return INDICATOR_DESCRIPTIONS[self]


_SEVERITY = {
    Indicator.NONE: 0,
    Indicator.MAINTENANCE: 1,
    Indicator.MINOR: 2,
    Indicator.MAJOR: 3,
    Indicator.CRITICAL: 4,
}

# Statuspage's words, which tools and people already know.
INDICATOR_DESCRIPTIONS = {
    Indicator.NONE: "All Systems Operational",
    Indicator.MAINTENANCE: "Service Under Maintenance",
    Indicator.MINOR: "Minor Service Outage",
    Indicator.MAJOR: "Partial System Outage",
    Indicator.CRITICAL: "Major System Outage",
}

COMPONENT_INDICATOR = {
    ComponentStatus.OPERATIONAL: Indicator.NONE,
    ComponentStatus.DEGRADED_PERFORMANCE: Indicator.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Indicator.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: Indicator.CRITICAL,
    ComponentStatus.UNDER_MAINTENANCE: Indicator.MAINTENANCE,
}


@dataclass(frozen=True)
class OverallStatus:
    indicator: Indicator
    description: str


def overall_status(
    component_statuses: Iterable[ComponentStatus], incident_impacts: Iterable[str]
) -> OverallStatus:
    """Roll component statuses and unresolved incidents' impacts up into one indicator."""
    worst = Indicator.NONE
    candidates = [COMPONENT_INDICATOR[ComponentStatus(s)] for s in component_statuses]
    candidates += [Indicator(impact) for impact in incident_impacts]
    for candidate in candidates:
        if candidate.severity > worst.severity:
            worst = candidate
    return OverallStatus(indicator=worst, description=worst.description)


def set_component_status(
    session: Session,
    component: Component,
    status: ComponentStatus,
    *,
    now: datetime,
    incident_id: int | None = None,
    maintenance_id: int | None = None,
    actor_id: int | None = None,
    announce: bool = True,
) -> ComponentStatusChange | None:
    """Change a component's status and write the history row; no row when nothing changes.

    Every status change of a listed component is announced here, in the caller's transaction:
    one outbox notification (`COMPONENT_STATUS`, with the history row) for the webhook, chat
    and SMS channels' component events. A private or archived component's change is never
    announced; an import passes `announce=False` (history, not news).

    The building block of publishing (updates, maintenance), which bump the public version
    once for the whole change. A status change on its own goes through
    `change_component_status`, which bumps it. Several components at once: `record_status` for
    each, one flush, then `announce_status_changes` (a publish does so: one batched statement
    per table instead of a round of statements per component).
    """
    change = record_status(
        session,
        component,
        status,
        now=now,
        incident_id=incident_id,
        maintenance_id=maintenance_id,
        actor_id=actor_id,
    )
    if change is None:
        return None
    session.flush()
    if announce:
        announce_status_changes(session, [(component, change)], now=now)
    return change


def record_status(
    session: Session,
    component: Component,
    status: ComponentStatus,
    *,
    now: datetime,
    incident_id: int | None = None,
    maintenance_id: int | None = None,
    actor_id: int | None = None,
) -> ComponentStatusChange | None:
    """`set_component_status`'s writing part: the new status and its history row, added to
    the session and not flushed, nor announced; None when nothing changes."""
    status = ComponentStatus(status)
    if component.status == status:
        return None
    change = ComponentStatusChange(
        component_id=component.id,
        old_status=component.status,
        status=status,
        changed_at=now,
        incident_id=incident_id,
        maintenance_id=maintenance_id,
        actor_id=actor_id,
    )
    component.status = status
    component.updated_at = now
    session.add(change)
    return change


def announce_status_changes(
    session: Session,
    changes: Iterable[tuple[Component, ComponentStatusChange]],
    *,
    now: datetime,
) -> None:
    """The outbox rows of flushed status changes (`set_component_status` says which)."""
    for component, change in changes:
        if component.listed:
            queue_notification(
                session,
                NotificationKind.COMPONENT_STATUS,
                now=now,
                component_ids=[component.id],
                status_change_id=change.id,
            )


def change_component_status(
    session: Session,
    component: Component,
    status: ComponentStatus,
    *,
    now: datetime,
    actor_id: int | None = None,
) -> ComponentStatusChange | None:
    """Set a component's status directly (the API, an operator), not as part of an update:
    the history row, and a new public version when the status did change."""
    change = set_component_status(session, component, status, now=now, actor_id=actor_id)
    if change is not None:
        bump_public_version(session, now)
        session.flush()
    return change


def add_component(
    session: Session,
    *,
    name: str,
    group_id: int | None = None,
    description: str = "",
    position: int = 0,
    start_date: date | None = None,
    actor_id: int | None = None,
    now: datetime,
    **flags: bool,
) -> Component:
    """Create a component with its first history row, so uptime knows when it began: `now`,
    or the start of `start_date` when one is given (a component older than its record here).

    `flags` are its display switches (showcase, only_show_if_degraded, is_public). The checks
    and the audit row of staff set-up are `components.manage.create_component`'s; this is
    the row-writing part it shares with the seeds."""
    first = now if start_date is None else min(now, day_start(start_date))
    component = Component(
        name=single_line(name),
        group_id=group_id,
        description=description,
        position=position,
        status=ComponentStatus.OPERATIONAL,
        start_date=start_date or now.date(),
        created_at=now,
        updated_at=now,
        **flags,
    )
    session.add(component)
    session.flush()
    session.add(
        ComponentStatusChange(
            component_id=component.id,
            old_status=None,
            status=ComponentStatus.OPERATIONAL,
            changed_at=first,
            actor_id=actor_id,
        )
    )
    bump_public_version(session, now)
    session.flush()
    return component
