"""Bounded queries for the public pages: what is wrong now, what is planned, what happened."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from statuspage.components.models import ComponentStatus
from statuspage.incidents.models import (
    Incident,
    IncidentComponent,
    IncidentUpdate,
    Maintenance,
    MaintenanceStatus,
    PublicStatus,
    maintenance_component,
)

ACTIVE_MAINTENANCE = (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)
RECENT_LIMIT = 200
# Unresolved public statuses: an IN list the public_status index can serve, where
# `!= resolved` would read every incident ever published.
UNRESOLVED = (PublicStatus.INVESTIGATING, PublicStatus.IDENTIFIED, PublicStatus.MONITORING)
UPCOMING_LIMIT = 20


def _public_incident_options() -> list[sa.orm.interfaces.LoaderOption]:
    return [
        selectinload(Incident.updates),
        selectinload(Incident.affected).selectinload(IncidentComponent.component),
    ]


def active_incidents(session: Session) -> list[Incident]:
    return list(
        session.scalars(
            sa.select(Incident)
            .where(Incident.is_public.is_(True), Incident.public_status.in_(UNRESOLVED))
            .order_by(Incident.published_at.desc())
            .options(*_public_incident_options())
        )
    )


def unresolved_public_impacts(session: Session) -> list[str]:
    return [
        impact.value
        for impact in session.scalars(
            sa.select(Incident.public_impact).where(
                Incident.is_public.is_(True), Incident.public_status.in_(UNRESOLVED)
            )
        )
    ]


@dataclass
class MaintenanceOverview:
    in_progress: list[Maintenance]
    upcoming: list[Maintenance]


def maintenance_overview(session: Session, *, now: datetime) -> MaintenanceOverview:
    in_progress = list(
        session.scalars(
            sa.select(Maintenance)
            .where(Maintenance.status.in_(ACTIVE_MAINTENANCE))
            .order_by(Maintenance.scheduled_for)
            .options(selectinload(Maintenance.components), selectinload(Maintenance.updates))
        )
    )
    upcoming = list(
        session.scalars(
            sa.select(Maintenance)
            .where(Maintenance.status == MaintenanceStatus.SCHEDULED)
            .order_by(Maintenance.scheduled_for)
            .limit(UPCOMING_LIMIT)
            .options(selectinload(Maintenance.components), selectinload(Maintenance.updates))
        )
    )
    return MaintenanceOverview(in_progress=in_progress, upcoming=upcoming)


@dataclass
class DayEntries:
    day: date
    incidents: list[Incident]
    maintenances: list[Maintenance]

    @property
    def empty(self) -> bool:
        return not self.incidents and not self.maintenances


def recent_days(session: Session, *, now: datetime, days: int) -> list[DayEntries]:
    """Public incidents and completed maintenance of the last `days` UTC days, newest first."""
    today = now.date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    incidents = list(
        session.scalars(
            sa.select(Incident)
            .where(Incident.is_public.is_(True), Incident.impact_started_at >= since)
            .order_by(Incident.impact_started_at.desc())
            .limit(RECENT_LIMIT)
            .options(*_public_incident_options())
        )
    )
    maintenances = list(
        session.scalars(
            sa.select(Maintenance)
            .where(
                Maintenance.status == MaintenanceStatus.COMPLETED,
                Maintenance.scheduled_for >= since,
            )
            .order_by(Maintenance.scheduled_for.desc())
            .limit(RECENT_LIMIT)
            .options(selectinload(Maintenance.updates))
        )
    )
    incidents_by_day: dict[date, list[Incident]] = defaultdict(list)
    for incident in incidents:
        incidents_by_day[incident.impact_started_at.date()].append(incident)
    maintenance_by_day: dict[date, list[Maintenance]] = defaultdict(list)
    for maintenance in maintenances:
        maintenance_by_day[maintenance.scheduled_for.date()].append(maintenance)
    return [
        DayEntries(
            day=day,
            incidents=incidents_by_day.get(day, []),
            maintenances=maintenance_by_day.get(day, []),
        )
        for day in (today - timedelta(days=offset) for offset in range(days))
    ]


@dataclass
class HistoryPage:
    page: int
    per_page: int
    has_next: bool
    months: list[tuple[date, list[Incident | Maintenance]]]
    pages: int | None = None  # not counted: counting would read the whole history

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def history_page(
    session: Session, *, page: int, per_page: int, component_id: int | None = None
) -> HistoryPage:
    """Public incidents and maintenance, newest first, grouped by month.

    Each table gives at most the rows up to the end of the page, newest first through its
    time index; the union of those is sorted and cut to the page (one row more tells whether
    an older page exists). Then two queries load the rows. No count of the whole history.
    """
    depth = page * per_page + 1
    incident_rows = (
        sa.select(
            sa.literal("incident").label("kind"),
            Incident.id.label("id"),
            Incident.impact_started_at.label("at"),
        )
        .where(Incident.is_public.is_(True))
        .order_by(Incident.impact_started_at.desc(), Incident.id.desc())
        .limit(depth)
    )
    maintenance_rows = (
        sa.select(
            sa.literal("maintenance").label("kind"),
            Maintenance.id.label("id"),
            Maintenance.scheduled_for.label("at"),
        )
        .where(Maintenance.status != MaintenanceStatus.SCHEDULED)
        .order_by(Maintenance.scheduled_for.desc(), Maintenance.id.desc())
        .limit(depth)
    )
    if component_id is not None:
        incident_rows = incident_rows.where(
            Incident.id.in_(
                sa.select(IncidentComponent.incident_id).where(
                    IncidentComponent.component_id == component_id
                )
            )
        )
        maintenance_rows = maintenance_rows.where(
            Maintenance.id.in_(
                sa.select(maintenance_component.c.maintenance_id).where(
                    maintenance_component.c.component_id == component_id
                )
            )
        )
    both = sa.union_all(
        sa.select(incident_rows.subquery()), sa.select(maintenance_rows.subquery())
    ).subquery()
    picked = session.execute(
        sa.select(both.c.kind, both.c.id)
        .order_by(both.c.at.desc(), both.c.id.desc())
        .limit(per_page + 1)
        .offset((page - 1) * per_page)
    ).all()
    has_next = len(picked) > per_page
    picked = picked[:per_page]
    incident_ids = [row.id for row in picked if row.kind == "incident"]
    maintenance_ids = [row.id for row in picked if row.kind == "maintenance"]
    incidents = (
        {
            incident.id: incident
            for incident in session.scalars(
                sa.select(Incident)
                .where(Incident.id.in_(incident_ids))
                .options(selectinload(Incident.affected).selectinload(IncidentComponent.component))
            )
        }
        if incident_ids
        else {}
    )
    maintenances = (
        {
            m.id: m
            for m in session.scalars(
                sa.select(Maintenance)
                .where(Maintenance.id.in_(maintenance_ids))
                .options(selectinload(Maintenance.components))
            )
        }
        if maintenance_ids
        else {}
    )
    months: list[tuple[date, list[Incident | Maintenance]]] = []
    for row in picked:
        item: Incident | Maintenance = (
            incidents[row.id] if row.kind == "incident" else maintenances[row.id]
        )
        at = item.impact_started_at if isinstance(item, Incident) else item.scheduled_for
        month = date(at.year, at.month, 1)
        if not months or months[-1][0] != month:
            months.append((month, []))
        months[-1][1].append(item)
    return HistoryPage(page=page, per_page=per_page, has_next=has_next, months=months)


def latest_update(incident: Incident) -> IncidentUpdate | None:
    published = incident.public_updates
    return published[0] if published else None


def public_incident(session: Session, incident_id: int) -> Incident | None:
    return session.scalar(
        sa.select(Incident)
        .where(Incident.id == incident_id, Incident.is_public.is_(True))
        .options(
            *_public_incident_options(),
            selectinload(Incident.closure_report),
            selectinload(Incident.updates).selectinload(IncidentUpdate.component_changes),
        )
    )


_SEVERITY_ORDER = [
    ComponentStatus.OPERATIONAL,
    ComponentStatus.UNDER_MAINTENANCE,
    ComponentStatus.DEGRADED_PERFORMANCE,
    ComponentStatus.PARTIAL_OUTAGE,
    ComponentStatus.MAJOR_OUTAGE,
]


def worst_component_statuses(incident: Incident) -> list[tuple[str, ComponentStatus]]:
    """Each affected component with the worst status the incident's updates gave it.

    A resolved incident's components are operational again; readers want to know how bad it was.
    """
    worst: dict[int, ComponentStatus] = {
        link.component_id: link.status for link in incident.affected
    }
    for update in incident.public_updates:
        for change in update.component_changes:
            current = worst.get(change.component_id, ComponentStatus.OPERATIONAL)
            if _SEVERITY_ORDER.index(change.new_status) > _SEVERITY_ORDER.index(current):
                worst[change.component_id] = change.new_status
    return [(link.component.name, worst[link.component_id]) for link in incident.affected]
