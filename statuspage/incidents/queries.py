"""Bounded queries for the public pages: what is wrong now, what is planned, what happened."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from statuspage.components.models import ComponentStatus, worst_status
from statuspage.components.uptime import day_start
from statuspage.incidents.models import (
    Incident,
    IncidentComponent,
    IncidentUpdate,
    Maintenance,
    MaintenanceStatus,
    PostIncidentReview,
    Priority,
    PublicStatus,
    ReviewStatus,
    TaskStatus,
    maintenance_component,
)
from statuspage.incidents.reviews import parse_timeline_time

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
            worst[change.component_id] = worst_status((current, change.new_status))
    return [(link.component.name, worst[link.component_id]) for link in incident.affected]


def feed_entries(
    session: Session, *, limit: int, component_id: int | None = None
) -> list[Incident | Maintenance]:
    """The newest public incidents and maintenance for the feeds, newest first.

    Newest by when customers first saw it: an incident's first public update, maintenance's
    announcement (scheduled maintenance is public from then, so it is included). Each table
    gives at most `limit` rows, the two lists are merged and cut to `limit`; updates, closure
    reports and components come with them through `selectinload`, so the number of statements
    does not grow with the number of entries.
    """
    incident_query = (
        sa.select(Incident)
        .where(Incident.is_public.is_(True))
        .order_by(Incident.published_at.desc(), Incident.id.desc())
        .limit(limit)
        .options(
            selectinload(Incident.updates),
            selectinload(Incident.closure_report),
            selectinload(Incident.affected).selectinload(IncidentComponent.component),
        )
    )
    maintenance_query = (
        sa.select(Maintenance)
        .order_by(Maintenance.created_at.desc(), Maintenance.id.desc())
        .limit(limit)
        .options(selectinload(Maintenance.updates), selectinload(Maintenance.components))
    )
    if component_id is not None:
        incident_query = incident_query.where(
            Incident.id.in_(
                sa.select(IncidentComponent.incident_id).where(
                    IncidentComponent.component_id == component_id
                )
            )
        )
        maintenance_query = maintenance_query.where(
            Maintenance.id.in_(
                sa.select(maintenance_component.c.maintenance_id).where(
                    maintenance_component.c.component_id == component_id
                )
            )
        )

    def first_public(item: Incident | Maintenance) -> datetime:
        if isinstance(item, Incident):
            return item.published_at or item.created_at
        return item.created_at

    merged: list[Incident | Maintenance] = [
        *session.scalars(incident_query),
        *session.scalars(maintenance_query),
    ]
    merged.sort(key=lambda item: (first_public(item), item.id), reverse=True)
    return merged[:limit]


# The public JSON API (Statuspage v2). Each function runs a fixed number of statements
# however many incidents exist: updates, component changes and components come through
# `selectinload`.

API_LIMIT = 50


def _api_incident_options() -> list[sa.orm.interfaces.LoaderOption]:
    from statuspage.incidents.models import IncidentUpdateComponent

    return [
        selectinload(Incident.updates)
        .selectinload(IncidentUpdate.component_changes)
        .selectinload(IncidentUpdateComponent.component),
        selectinload(Incident.affected).selectinload(IncidentComponent.component),
    ]


def api_recent_incidents(session: Session, *, limit: int = API_LIMIT) -> list[Incident]:
    """The most recent public incidents, newest first (by when they were published)."""
    return list(
        session.scalars(
            sa.select(Incident)
            .where(Incident.is_public.is_(True))
            .order_by(Incident.published_at.desc(), Incident.id.desc())
            .limit(limit)
            .options(*_api_incident_options())
        )
    )


def api_unresolved_incidents(session: Session) -> list[Incident]:
    """Public incidents not yet resolved, newest first. Not cut: none may go unmentioned."""
    return list(
        session.scalars(
            sa.select(Incident)
            .where(Incident.is_public.is_(True), Incident.public_status.in_(UNRESOLVED))
            .order_by(Incident.published_at.desc(), Incident.id.desc())
            .options(*_api_incident_options())
        )
    )


def api_maintenances(
    session: Session,
    *,
    statuses: tuple[MaintenanceStatus, ...] | None = None,
    newest_first: bool = False,
    limit: int = API_LIMIT,
) -> list[Maintenance]:
    """Scheduled maintenance in the given statuses (all when None), by scheduled start."""
    start = Maintenance.scheduled_for.desc() if newest_first else Maintenance.scheduled_for
    ident = Maintenance.id.desc() if newest_first else Maintenance.id
    query = (
        sa.select(Maintenance)
        .order_by(start, ident)
        .limit(limit)
        .options(selectinload(Maintenance.components), selectinload(Maintenance.updates))
    )
    if statuses is not None:
        query = query.where(Maintenance.status.in_(statuses))
    return list(session.scalars(query))


def api_page_updated_at(session: Session) -> datetime | None:
    """When anything customers can see last changed, in one statement (the incident parts
    through indexes; components, groups and maintenance are small tables).

    The site state's stamp, bumped on public changes, and the latest of: a component or group
    change, an incident's first publication or resolution, an update to an unresolved incident,
    a maintenance change.
    """
    from statuspage.components.models import Component, ComponentGroup
    from statuspage.core.models import SiteState

    def latest(column: sa.orm.InstrumentedAttribute[datetime]) -> sa.ScalarSelect[datetime]:
        return sa.select(sa.func.max(column)).scalar_subquery()

    unresolved_update = (
        sa.select(sa.func.max(IncidentUpdate.published_at))
        .join(Incident, Incident.id == IncidentUpdate.incident_id)
        .where(Incident.is_public.is_(True), Incident.public_status.in_(UNRESOLVED))
        .scalar_subquery()
    )
    row = session.execute(
        sa.select(
            latest(SiteState.public_changed_at),
            latest(Component.updated_at),
            latest(ComponentGroup.updated_at),
            latest(Incident.published_at),
            latest(Incident.public_resolved_at),
            unresolved_update,
            latest(Maintenance.updated_at),
        )
    ).one()
    values = [value for value in row if value is not None]
    return max(values) if values else None


# Post-incident reviews published publicly: what customers may read of them. Staff names
# (owners, approver) are left out on purpose; so is everything of an unpublished review.

REVIEW_SECTIONS = (
    ("summary", "Summary"),
    ("impact", "Impact"),
    ("leadup", "Leadup"),
    ("trigger", "Trigger"),
    ("detection", "Detection"),
    ("response", "Response"),
    ("recovery", "Recovery"),
    ("contributing_factors", "Contributing factors and root causes"),
    ("went_well", "What went well"),
    ("went_badly", "What went badly"),
    ("got_lucky", "Where we got lucky"),
    ("communications", "Our communication during the incident"),
)


@dataclass(frozen=True)
class PublicTimelineEntry:
    at: datetime | None  # None when the stored time does not parse
    text: str


@dataclass(frozen=True)
class PublicActionItem:
    title: str
    priority: Priority
    due_at: datetime | None
    status: TaskStatus
    completed_at: datetime | None


@dataclass(frozen=True)
class PublicReview:
    incident_id: int
    published_at: datetime
    sections: list[tuple[str, str]]  # (heading, Markdown), empty sections left out
    timeline: list[PublicTimelineEntry]
    action_items: list[PublicActionItem]

    @property
    def summary(self) -> str:
        return next((text for heading, text in self.sections if heading == "Summary"), "")

    @property
    def done(self) -> int:
        return sum(1 for item in self.action_items if item.status == TaskStatus.DONE)

    @property
    def cancelled(self) -> int:
        return sum(1 for item in self.action_items if item.status == TaskStatus.CANCELLED)

    @property
    def counted(self) -> int:
        """Action items that count towards progress: cancelled ones are left out."""
        return len(self.action_items) - self.cancelled

    @property
    def progress_words(self) -> str:
        """'3 of 5 done', with cancelled items said apart; '' without action items."""
        if not self.action_items:
            return ""
        words = f"{self.done} of {self.counted} done"
        if self.cancelled:
            words += f" ({self.cancelled} cancelled)"
        return words

    @property
    def updated_at(self) -> datetime:
        """The latest change customers can see: publication, then action items added or
        completed since."""
        moments = [self.published_at]
        moments += [item.completed_at for item in self.action_items if item.completed_at]
        return max(moments)


def _publicly_published() -> tuple[sa.ColumnElement[bool], ...]:
    return (
        PostIncidentReview.status == ReviewStatus.PUBLISHED,
        PostIncidentReview.published_at.is_not(None),
    )


def public_review_of(review: PostIncidentReview) -> PublicReview:
    """The public face of a review published publicly (the caller checked that it is)."""
    assert review.published_at is not None
    timeline = [
        PublicTimelineEntry(at=parse_timeline_time(entry.get("at")), text=str(entry.get("text")))
        for entry in (review.timeline or [])
        if isinstance(entry, dict)
    ]
    timeline.sort(key=lambda entry: (entry.at is None, entry.at or review.published_at))
    return PublicReview(
        incident_id=review.incident_id,
        published_at=review.published_at,
        sections=[
            (heading, getattr(review, name))
            for name, heading in REVIEW_SECTIONS
            if (getattr(review, name) or "").strip()
        ],
        timeline=timeline,
        action_items=[
            PublicActionItem(
                title=item.title,
                priority=item.priority,
                due_at=item.due_at,
                status=item.status,
                completed_at=item.completed_at,
            )
            for item in review.action_items
        ],
    )


def published_reviews(session: Session, incident_ids: list[int]) -> dict[int, PublicReview]:
    """The publicly published reviews of these incidents, by incident id (two statements at
    most, however many incidents)."""
    if not incident_ids:
        return {}
    found = session.scalars(
        sa.select(PostIncidentReview)
        .where(PostIncidentReview.incident_id.in_(incident_ids), *_publicly_published())
        .options(selectinload(PostIncidentReview.action_items))
    )
    return {review.incident_id: public_review_of(review) for review in found}


def published_review(session: Session, incident_id: int) -> PublicReview | None:
    """The incident's review, when it is published publicly; None otherwise."""
    return published_reviews(session, [incident_id]).get(incident_id)


@dataclass(frozen=True)
class DayIncident:
    id: int
    title: str


def incidents_by_component_day(
    session: Session, component_ids: list[int], first_day: date, now: datetime
) -> dict[int, dict[date, list[DayIncident]]]:
    """Public incidents touching each component on each day of the window."""
    result: dict[int, dict[date, list[DayIncident]]] = defaultdict(lambda: defaultdict(list))
    if not component_ids:
        return result
    window_start = day_start(first_day)

    def touching(condition: sa.ColumnElement[bool]) -> sa.Select[Any]:
        return sa.select(Incident.id).where(
            Incident.is_public.is_(True), Incident.impact_started_at <= now, condition
        )

    # First the incidents inside the window, through two indexed halves (resolved in the
    # window; still unresolved). Starting from the components instead would walk every
    # incident they ever had.
    incident_ids = list(
        session.scalars(
            sa.union_all(
                touching(Incident.public_resolved_at >= window_start),
                touching(Incident.public_resolved_at.is_(None)),
            )
        )
    )
    if not incident_ids:
        return result
    rows = session.execute(
        sa.select(
            IncidentComponent.component_id,
            Incident.id,
            Incident.title,
            Incident.impact_started_at,
            Incident.public_resolved_at,
        )
        .join(Incident, Incident.id == IncidentComponent.incident_id)
        .where(
            IncidentComponent.incident_id.in_(incident_ids),
            IncidentComponent.component_id.in_(component_ids),
        )
        .order_by(Incident.impact_started_at)
    )
    today = now.date()
    for component_id, incident_id, title, started, resolved in rows:
        day = max(started.date(), first_day)
        last = min((resolved or now).date(), today)
        while day <= last:
            result[component_id][day].append(DayIncident(incident_id, title))
            day += timedelta(days=1)
    return result
