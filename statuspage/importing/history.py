"""Writing incidents and maintenance that already happened somewhere else, as they happened.

`open_incident`, `post_update` and `advance_maintenance` are for things happening now: they
stamp `now`, notify subscribers and move components. History needs none of that: its times
are in the past, its subscribers were told long ago, and the components' statuses today are
what the source says they are today. So these two functions write the records directly, with
the original times, statuses and texts, one audit row and one timeline event each, and bump the
public version once. They never write an outbox row: nobody is emailed about an import.

Staff lifecycle of an imported incident: a resolved one is `closed` (the work was done
elsewhere; nothing is left for staff to do, and leaving it `resolved` would keep it in their
queue of incidents awaiting closure), with its milestones taken from the source's times:
impact started = Statuspage's `started_at`, detected and reported = `created_at`, acknowledged
= the first update, identified = the first `identified` update, mitigated = `monitoring_at` (or
the first `monitoring` update), resolved and closed = `resolved_at`. An incident still open on
the source stays open here in the matching status (investigating, identified, or mitigated for
monitoring), for staff to carry on.

Each component change an update made is also written into the component's status history at
the update's time, so uptime counts the outages of the past as the source saw them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.components.models import Component, ComponentStatus, ComponentStatusChange
from statuspage.core.errors import DomainError
from statuspage.core.records import bump_public_version, record_audit, record_event
from statuspage.incidents.models import (
    Incident,
    IncidentComponent,
    IncidentSource,
    IncidentStatus,
    IncidentUpdate,
    IncidentUpdateComponent,
    Maintenance,
    MaintenanceStatus,
    MaintenanceUpdate,
    PublicImpact,
    PublicStatus,
)

logger = logging.getLogger(__name__)

TITLE_MAX = 200
BODY_MAX = 20_000

LIFECYCLE_OF_PUBLIC = {
    PublicStatus.INVESTIGATING: IncidentStatus.INVESTIGATING,
    PublicStatus.IDENTIFIED: IncidentStatus.IDENTIFIED,
    PublicStatus.MONITORING: IncidentStatus.MITIGATED,
    PublicStatus.RESOLVED: IncidentStatus.CLOSED,
}


@dataclass(frozen=True)
class PastUpdate:
    status: PublicStatus | MaintenanceStatus
    body: str
    created_at: datetime
    # component id -> (old status, new status), as the update changed them
    component_changes: Mapping[int, tuple[ComponentStatus, ComponentStatus]] = field(
        default_factory=dict
    )


@dataclass(frozen=True)
class PastIncident:
    title: str
    public_status: PublicStatus
    public_impact: PublicImpact
    created_at: datetime
    impact_started_at: datetime
    updates: Sequence[PastUpdate]  # oldest first
    component_ids: Sequence[int] = ()
    monitoring_at: datetime | None = None
    resolved_at: datetime | None = None
    origin: str = ""  # where it came from, for the timeline and the audit row


@dataclass(frozen=True)
class PastMaintenance:
    title: str
    status: MaintenanceStatus
    created_at: datetime
    scheduled_for: datetime
    scheduled_until: datetime
    updates: Sequence[PastUpdate]  # oldest first
    component_ids: Sequence[int] = ()
    started_at: datetime | None = None
    completed_at: datetime | None = None
    origin: str = ""


def _title(value: str) -> str:
    title = " ".join((value or "").split())
    if not title:
        raise DomainError("It has no title.", field="title")
    if len(title) > TITLE_MAX:
        raise DomainError(f"Its title is over {TITLE_MAX} characters.", field="title")
    return title


def _check_times(created_at: datetime, now: datetime, updates: Sequence[PastUpdate]) -> None:
    for value in [created_at, *(u.created_at for u in updates)]:
        if value.tzinfo is None or value.utcoffset() is None:
            raise DomainError("A time without a time zone.")
        if value > now:
            raise DomainError("A time in the future.")
    for update in updates:
        if len(update.body) > BODY_MAX:
            raise DomainError(f"An update is over {BODY_MAX} characters.")


def _first(updates: Sequence[PastUpdate], status: PublicStatus) -> datetime | None:
    return next((u.created_at for u in updates if u.status == status), None)


def _write_history(
    session: Session,
    changes: Sequence[tuple[datetime, int, ComponentStatus, ComponentStatus]],
    components: Mapping[int, Component],
    *,
    now: datetime,
    actor_id: int | None,
    incident_id: int | None = None,
    maintenance_id: int | None = None,
) -> None:
    """Backdated status history rows; the component's current status is left as it is."""
    for at, component_id, old, new in sorted(changes, key=lambda c: (c[0], c[1])):
        component = components.get(component_id)
        if component is None or at >= now or old == new:
            continue
        session.add(
            ComponentStatusChange(
                component_id=component_id,
                old_status=old,
                status=new,
                changed_at=at,
                incident_id=incident_id,
                maintenance_id=maintenance_id,
                actor_id=actor_id,
            )
        )


def _components(session: Session, ids: Sequence[int]) -> dict[int, Component]:
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(sa.select(Component).where(Component.id.in_(ids)))}


def record_past_incident(
    session: Session, past: PastIncident, *, actor_id: int | None, now: datetime
) -> Incident:
    """Write an incident that happened elsewhere, with its public updates, as it was.

    Raises DomainError, before writing anything, when it cannot be recorded (no title, a time
    in the future). Unknown component ids are left out.
    """
    title = _title(past.title)
    updates = sorted(past.updates, key=lambda u: u.created_at)
    _check_times(past.created_at, now, updates)
    wanted_ids = list(dict.fromkeys([*past.component_ids, *_changed_ids(updates)]))
    components = _components(session, wanted_ids)

    created = past.created_at
    last = updates[-1].created_at if updates else created
    resolved = past.public_status == PublicStatus.RESOLVED
    resolved_at = max(past.resolved_at or last, created) if resolved else None
    monitoring_at = past.monitoring_at or _first(updates, PublicStatus.MONITORING)
    status = LIFECYCLE_OF_PUBLIC[past.public_status]
    incident = Incident(
        title=title,
        status=status,
        source=IncidentSource.STAFF,
        is_public=True,
        public_status=past.public_status,
        public_impact=past.public_impact,
        published_at=updates[0].created_at if updates else created,
        monitoring_at=monitoring_at,
        public_resolved_at=resolved_at,
        impact_started_at=min(past.impact_started_at, created),
        detected_at=created,
        reported_at=created,
        acknowledged_at=updates[0].created_at if updates else created,
        identified_at=_first(updates, PublicStatus.IDENTIFIED),
        mitigated_at=monitoring_at
        if status in (IncidentStatus.MITIGATED, IncidentStatus.CLOSED)
        else None,
        resolved_at=resolved_at,
        closed_at=resolved_at,
        resolution_summary="Resolved before the page moved here." if resolved else "",
        created_at=created,
        updated_at=max(last, resolved_at or last),
    )
    # Each affected component keeps the status the incident last put it in.
    last_status: dict[int, ComponentStatus] = {}
    for update in updates:
        for component_id, (_, new) in update.component_changes.items():
            last_status[component_id] = new
    incident.affected = [
        IncidentComponent(
            component_id=component_id,
            status=last_status.get(component_id, ComponentStatus.OPERATIONAL),
        )
        for component_id in wanted_ids
        if component_id in components
    ]
    history = []
    rows = []
    for update in updates:
        row = IncidentUpdate(
            status=PublicStatus(update.status),
            body=update.body,
            deliver_notifications=False,
            author_id=actor_id,
            created_at=update.created_at,
            published_at=update.created_at,
        )
        row.component_changes = [
            IncidentUpdateComponent(component_id=cid, old_status=old, new_status=new)
            for cid, (old, new) in update.component_changes.items()
            if cid in components
        ]
        rows.append(row)
        history.extend(
            (update.created_at, cid, old, new)
            for cid, (old, new) in update.component_changes.items()
        )
    incident.updates = rows  # oldest first, as written
    session.add(incident)
    session.flush()
    _write_history(
        session, history, components, now=now, actor_id=actor_id, incident_id=incident.id
    )
    session.flush()
    record_event(
        session,
        incident.id,
        "imported",
        f"Imported from {past.origin or 'another status page'}",
        actor_id=actor_id,
        now=now,
        data={"origin": past.origin},
    )
    record_audit(
        session,
        "incident",
        incident.id,
        "import",
        {
            "title": title,
            "status": status,
            "public_status": past.public_status,
            "public_impact": past.public_impact,
            "created_at": created,
            "resolved_at": resolved_at,
            "updates": len(updates),
            "components": sorted(c.component_id for c in incident.affected),
            "origin": past.origin,
        },
        actor_id=actor_id,
        now=now,
    )
    bump_public_version(session, now)
    session.flush()
    logger.info("incident %s imported (%s) by %s", incident.id, past.origin, actor_id)
    return incident


def _changed_ids(updates: Sequence[PastUpdate]) -> list[int]:
    return [cid for update in updates for cid in update.component_changes]


def record_past_maintenance(
    session: Session, past: PastMaintenance, *, actor_id: int | None, now: datetime
) -> Maintenance:
    """Write maintenance scheduled elsewhere, past or still ahead, with its updates as they were.

    Nobody is notified, and no reminder is due: the source sent its own. Nothing starts or
    completes it automatically; staff move a window still ahead on by hand, as on the source.
    """
    title = _title(past.title)
    updates = sorted(past.updates, key=lambda u: u.created_at)
    _check_times(past.created_at, now, updates)
    if past.scheduled_until <= past.scheduled_for:
        raise DomainError("The window ends before it starts.", field="scheduled_until")
    components = _components(session, list(dict.fromkeys(past.component_ids)))
    last = updates[-1].created_at if updates else past.created_at
    announcement = next((u.body for u in updates if u.status == MaintenanceStatus.SCHEDULED), "")
    maintenance = Maintenance(
        title=title,
        body=announcement or (updates[0].body if updates else ""),
        status=past.status,
        scheduled_for=past.scheduled_for,
        scheduled_until=past.scheduled_until,
        auto_start=False,
        auto_complete=False,
        started_at=past.started_at,
        completed_at=past.completed_at,
        created_at=past.created_at,
        updated_at=last,
    )
    maintenance.components = [components[cid] for cid in components]
    maintenance.updates = [
        MaintenanceUpdate(
            status=MaintenanceStatus(u.status),
            body=u.body,
            author_id=actor_id,
            created_at=u.created_at,
        )
        for u in updates
    ]
    session.add(maintenance)
    session.flush()
    history = []
    for component_id in components:
        if past.started_at is not None:
            history.append(
                (
                    past.started_at,
                    component_id,
                    ComponentStatus.OPERATIONAL,
                    ComponentStatus.UNDER_MAINTENANCE,
                )
            )
        if past.completed_at is not None and past.started_at is not None:
            history.append(
                (
                    past.completed_at,
                    component_id,
                    ComponentStatus.UNDER_MAINTENANCE,
                    ComponentStatus.OPERATIONAL,
                )
            )
    _write_history(
        session, history, components, now=now, actor_id=actor_id, maintenance_id=maintenance.id
    )
    record_audit(
        session,
        "maintenance",
        maintenance.id,
        "import",
        {
            "title": title,
            "status": past.status,
            "scheduled_for": past.scheduled_for,
            "scheduled_until": past.scheduled_until,
            "updates": len(updates),
            "components": sorted(components),
            "origin": past.origin,
        },
        actor_id=actor_id,
        now=now,
    )
    bump_public_version(session, now)
    session.flush()
    logger.info("maintenance %s imported (%s) by %s", maintenance.id, past.origin, actor_id)
    return maintenance
