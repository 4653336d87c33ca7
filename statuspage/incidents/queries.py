"""Bounded queries for the pages: the public ones (what is wrong now, what is planned, what
happened) and the staff area's screens (an incident's workspace, the incident list, problems,
the shared choice lists)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, defer, selectinload

from statuspage.audiences import visibility
from statuspage.auth.models import User
from statuspage.auth.queries import user_choices, users_by_id
from statuspage.components.models import Component, ComponentGroup, ComponentStatus, worst_status
from statuspage.components.queries import component_choices
from statuspage.components.uptime import day_start
from statuspage.core.models import AuditEntry, SiteState, TimelineEvent
from statuspage.core.paging import Paged, clamp_page
from statuspage.incidents.models import (
    Category,
    Evidence,
    Incident,
    IncidentComponent,
    IncidentLink,
    IncidentNote,
    IncidentRoleAssignment,
    IncidentStatus,
    IncidentTemplate,
    IncidentUpdate,
    IncidentUpdateComponent,
    Maintenance,
    MaintenanceStatus,
    PostIncidentReview,
    Priority,
    Problem,
    ProblemStatus,
    PublicStatus,
    ReviewStatus,
    SlaPolicy,
    SlaState,
    Task,
    TaskStatus,
    maintenance_component,
    problem_incident,
)
from statuspage.incidents.problems import Suggestions, linked_problems, suggestions_for
from statuspage.incidents.reviews import get_review, parse_timeline_time
from statuspage.incidents.sla import SlaClock, clocks_for

ACTIVE_MAINTENANCE = (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)
RECENT_LIMIT = 200
# Unresolved public statuses: an IN list the public_status index can serve, where
# `!= resolved` would read every incident ever published.
UNRESOLVED = (PublicStatus.INVESTIGATING, PublicStatus.IDENTIFIED, PublicStatus.MONITORING)
UPCOMING_LIMIT = 20


def seen_by(audience_ids: Collection[int]) -> sa.ColumnElement[bool]:
    """Incidents the reader sees: public ones, and those addressed to their audiences."""
    return visibility.incident_clause(Incident.id, Incident.is_public, audience_ids)


def _public_incident_options() -> list[sa.orm.interfaces.LoaderOption]:
    return [
        selectinload(Incident.updates),
        selectinload(Incident.affected).selectinload(IncidentComponent.component),
    ]


def active_incidents(session: Session, *, audience_ids: Collection[int] = ()) -> list[Incident]:
    return list(
        session.scalars(
            sa.select(Incident)
            .where(seen_by(audience_ids), Incident.public_status.in_(UNRESOLVED))
            .order_by(Incident.published_at.desc())
            .options(*_public_incident_options())
        )
    )


def unresolved_public_impacts(session: Session, *, audience_ids: Collection[int] = ()) -> list[str]:
    return [
        impact.value
        for impact in session.scalars(
            sa.select(Incident.public_impact).where(
                seen_by(audience_ids), Incident.public_status.in_(UNRESOLVED)
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


def recent_days(
    session: Session, *, now: datetime, days: int, audience_ids: Collection[int] = ()
) -> list[DayEntries]:
    """Public incidents and completed maintenance of the last `days` UTC days, newest first."""
    today = now.date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    incidents = list(
        session.scalars(
            sa.select(Incident)
            .where(seen_by(audience_ids), Incident.impact_started_at >= since)
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
    session: Session,
    *,
    page: int,
    per_page: int,
    component_id: int | None = None,
    audience_ids: Collection[int] = (),
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
        .where(seen_by(audience_ids))
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


def public_incident(
    session: Session, incident_id: int, *, audience_ids: Collection[int] = ()
) -> Incident | None:
    return session.scalar(
        sa.select(Incident)
        .where(Incident.id == incident_id, seen_by(audience_ids))
        .options(
            *_public_incident_options(),
            selectinload(Incident.closure_report),
            selectinload(Incident.updates).selectinload(IncidentUpdate.component_changes),
        )
    )


@dataclass(frozen=True)
class EarlierVersion:
    """A published update's text as it read from `since` until an edit replaced it `until`."""

    body: str
    since: datetime
    until: datetime


def update_histories(session: Session, incident: Incident) -> dict[int, list[EarlierVersion]]:
    """The earlier texts of the incident's edited public updates, oldest first, keyed by
    update id: read back from the edits' audit rows, which hold the whole text before and
    after each edit. One statement; updates never edited are absent."""
    edited = {u.id: u for u in incident.public_updates if u.edited_at is not None}
    if not edited:
        return {}
    entries = session.scalars(
        sa.select(AuditEntry)
        .where(
            AuditEntry.entity_type == "incident_update",
            AuditEntry.entity_id.in_(edited),
            AuditEntry.action == "edit",
        )
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    histories: dict[int, list[EarlierVersion]] = defaultdict(list)
    for entry in entries:
        body = entry.changes.get("body")
        if not (isinstance(body, list) and len(body) == 2 and isinstance(body[0], str)):
            continue
        update = edited[entry.entity_id]
        versions = histories[update.id]
        since = versions[-1].until if versions else (update.published_at or entry.at)
        versions.append(EarlierVersion(body=body[0], since=since, until=entry.at))
    return dict(histories)


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
    session: Session,
    *,
    limit: int,
    component_id: int | None = None,
    audience_ids: Collection[int] = (),
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
        .where(seen_by(audience_ids))
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
    return [
        selectinload(Incident.updates)
        .selectinload(IncidentUpdate.component_changes)
        .selectinload(IncidentUpdateComponent.component),
        selectinload(Incident.affected).selectinload(IncidentComponent.component),
    ]


def api_recent_incidents(
    session: Session, *, limit: int = API_LIMIT, audience_ids: Collection[int] = ()
) -> list[Incident]:
    """The most recent public incidents, newest first (by when they were published)."""
    return list(
        session.scalars(
            sa.select(Incident)
            .where(seen_by(audience_ids))
            .order_by(Incident.published_at.desc(), Incident.id.desc())
            .limit(limit)
            .options(*_api_incident_options())
        )
    )


def api_unresolved_incidents(
    session: Session, *, audience_ids: Collection[int] = ()
) -> list[Incident]:
    """Public incidents not yet resolved, newest first. Not cut: none may go unmentioned."""
    return list(
        session.scalars(
            sa.select(Incident)
            .where(seen_by(audience_ids), Incident.public_status.in_(UNRESOLVED))
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
    # Translations (`incidents/translations.py`): the review's id, each section's field name,
    # and once localized, each section's language and whether a translation was found.
    review_id: int = 0
    section_keys: tuple[str, ...] = ()
    section_languages: tuple[str, ...] = ()
    translated: bool = True

    def named_sections(self) -> list[tuple[str, str, str]]:
        """(field name, heading, text) of each section shown."""
        return [
            (key, heading, text)
            for key, (heading, text) in zip(self.section_keys, self.sections, strict=True)
        ]

    def section_language(self, index: int) -> str:
        """The language of section `index` once localized, else ""."""
        return self.section_languages[index] if index < len(self.section_languages) else ""

    @property
    def summary(self) -> str:
        if self.section_keys:
            return next((text for key, _, text in self.named_sections() if key == "summary"), "")
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
    shown = [
        (name, heading)
        for name, heading in REVIEW_SECTIONS
        if (getattr(review, name) or "").strip()
    ]
    return PublicReview(
        incident_id=review.incident_id,
        published_at=review.published_at,
        sections=[(heading, getattr(review, name)) for name, heading in shown],
        review_id=review.id,
        section_keys=tuple(name for name, _ in shown),
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
    session: Session,
    component_ids: list[int],
    first_day: date,
    now: datetime,
    zone: tzinfo = UTC,
) -> dict[int, dict[date, list[DayIncident]]]:
    """Public incidents touching each component on each day (of `zone`) of the window."""
    result: dict[int, dict[date, list[DayIncident]]] = defaultdict(lambda: defaultdict(list))
    if not component_ids:
        return result
    window_start = day_start(first_day, zone)

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
    today = now.astimezone(zone).date()
    for component_id, incident_id, title, started, resolved in rows:
        day = max(started.astimezone(zone).date(), first_day)
        last = min((resolved or now).astimezone(zone).date(), today)
        while day <= last:
            result[component_id][day].append(DayIncident(incident_id, title))
            day += timedelta(days=1)
    return result


# --- the staff area -------------------------------------------------------------------------
# What the admin screens show, each a fixed number of statements whatever the number of
# incidents, users or categories. The choice lists every admin form shares (categories,
# templates) are written here once; components come from `components.queries`, people from
# `auth.queries`.


# A select option as (value, label); "" is the blank option's value.
Choice = tuple[int | str, str]


@dataclass
class CategoryTree:
    """The whole category taxonomy from one statement, in the managers' order (position,
    then name). Every category select and category name on an admin page comes from it."""

    ordered: list[Category]

    @property
    def by_id(self) -> dict[int, Category]:
        return {category.id: category for category in self.ordered}

    def top_level(self, *, exclude: int | None = None) -> list[Category]:
        return [c for c in self.ordered if c.parent_id is None and c.id != exclude]

    def children(self, parent_id: int, *, exclude: int | None = None) -> list[Category]:
        return [c for c in self.ordered if c.parent_id == parent_id and c.id != exclude]

    def children_by_parent(self) -> dict[int, list[Category]]:
        children: dict[int, list[Category]] = {}
        for category in self.ordered:
            if category.parent_id is not None:
                children.setdefault(category.parent_id, []).append(category)
        return children

    def top_level_choices(self, blank: str, *, exclude: int | None = None) -> list[Choice]:
        """("", blank), then each top-level category."""
        return [("", blank)] + [(c.id, c.name) for c in self.top_level(exclude=exclude)]

    def subcategory_choices(self, blank: str) -> list[Choice]:
        """("", blank), then each subcategory as "Parent › Child"."""
        names = {c.id: c.name for c in self.ordered}
        return [("", blank)] + [
            (c.id, f"{names[c.parent_id]} › {c.name}")
            for c in self.ordered
            if c.parent_id is not None and c.parent_id in names
        ]

    def grouped_subcategory_choices(self, blank: str) -> dict[str, list[Choice]]:
        """Subcategories grouped under their category's name (a select's <optgroup>s), after
        a group holding the blank choice: without JavaScript the reader still sees which
        subcategory belongs to which category."""
        groups: dict[str, list[Choice]] = {"": [("", blank)]}
        children = self.children_by_parent()
        for category in self.top_level():
            subs = children.get(category.id, [])
            if subs:
                groups[category.name] = [(sub.id, sub.name) for sub in subs]
        return groups

    def nested_choices(self, blank: str) -> list[Choice]:
        """One select for either level: each top-level category followed by its
        subcategories ("Parent › Child")."""
        names = {c.id: c.name for c in self.ordered}
        pairs: list[Choice] = [("", blank)]
        children = self.children_by_parent()
        for category in self.top_level():
            pairs.append((category.id, category.name))
            pairs.extend(
                (sub.id, f"{category.name} › {sub.name}") for sub in children.get(category.id, [])
            )
        # Subcategories whose parent is missing would otherwise be unreachable.
        pairs.extend(
            (c.id, c.name)
            for c in self.ordered
            if c.parent_id is not None and c.parent_id not in names
        )
        return pairs


def category_tree(session: Session) -> CategoryTree:
    return CategoryTree(
        list(session.scalars(sa.select(Category).order_by(Category.position, Category.name)))
    )


def templates_by_name(session: Session) -> list[IncidentTemplate]:
    return list(session.scalars(sa.select(IncidentTemplate).order_by(IncidentTemplate.name)))


def template_choices(session: Session) -> list[Choice]:
    """("", "No template"), then each incident template by name."""
    return [("", "No template")] + [(t.id, t.name) for t in templates_by_name(session)]


def sla_policy_for(session: Session, priority: Priority) -> SlaPolicy | None:
    return session.scalar(sa.select(SlaPolicy).where(SlaPolicy.priority == priority))


# The incident list: filters, sorts, one page.

PER_PAGE = 50
NONE = "none"  # priority=none: not prioritized yet; assignee=none: nobody assigned

_STATUS_ORDER = sa.case(
    {status: index for index, status in enumerate(IncidentStatus)}, value=Incident.status
)
# Each sort ends with the id so that pages never repeat or skip a row.
SORTS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "newest": ("Newest first", (Incident.created_at.desc(), Incident.id.desc())),
    "oldest": ("Oldest first", (Incident.created_at.asc(), Incident.id.asc())),
    "priority": (
        "Priority (P1 first)",
        (
            Incident.priority.is_(None),  # unprioritized last on every database
            Incident.priority.asc(),
            Incident.created_at.desc(),
            Incident.id.desc(),
        ),
    ),
    "status": (
        "Status (lifecycle order)",
        (_STATUS_ORDER, Incident.created_at.desc(), Incident.id.desc()),
    ),
    "updated": ("Recently updated", (Incident.updated_at.desc(), Incident.id.desc())),
}
DEFAULT_SORT = "newest"


@dataclass(frozen=True)
class IncidentFilters:
    status: IncidentStatus | None = None
    priority: Priority | str | None = None  # a Priority, or NONE
    component_id: int | None = None
    assignee_id: int | str | None = None  # a user id, or NONE
    sla: SlaState | None = None
    search: str = ""
    sort: str = DEFAULT_SORT

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        where: list[sa.ColumnElement[bool]] = []
        if self.status is not None:
            where.append(Incident.status == self.status)
        if self.priority == NONE:
            where.append(Incident.priority.is_(None))
        elif self.priority is not None:
            where.append(Incident.priority == self.priority)
        if self.component_id is not None:
            where.append(
                Incident.id.in_(
                    sa.select(IncidentComponent.incident_id).where(
                        IncidentComponent.component_id == self.component_id
                    )
                )
            )
        if self.assignee_id == NONE:
            where.append(Incident.assignee_id.is_(None))
        elif self.assignee_id is not None:
            where.append(Incident.assignee_id == self.assignee_id)
        if self.sla is not None:
            where.append(Incident.sla_state == self.sla)
        if self.search:
            # lower(...) LIKE lower(...) on SQLite, ILIKE on PostgreSQL; % and _ typed by the
            # user are matched literally.
            where.append(
                sa.or_(
                    Incident.title.icontains(self.search, autoescape=True),
                    Incident.description.icontains(self.search, autoescape=True),
                )
            )
        return where


@dataclass(frozen=True)
class IncidentPage(Paged):
    page: int
    per_page: int
    total: int
    incidents: list[Incident]
    assignees: dict[int, User]  # the accounts the page's incidents are assigned to


def list_incidents(
    session: Session, filters: IncidentFilters, *, page: int, per_page: int = PER_PAGE
) -> IncidentPage:
    """One page of matching incidents with their components and assignees: four or five
    statements."""
    where = filters.conditions()
    total = session.scalar(sa.select(sa.func.count(Incident.id)).where(*where)) or 0
    page = clamp_page(page, total, per_page)
    incidents = list(
        session.scalars(
            sa.select(Incident)
            .where(*where)
            .order_by(*SORTS[filters.sort][1])
            .limit(per_page)
            .offset((page - 1) * per_page)
            .options(
                defer(Incident.description),
                selectinload(Incident.affected).selectinload(IncidentComponent.component),
            )
        )
    )
    assignees = users_by_id(session, (incident.assignee_id for incident in incidents))
    return IncidentPage(
        page=page, per_page=per_page, total=total, incidents=incidents, assignees=assignees
    )


# One incident's workspace.

AUDIT_PAGE = 200


def admin_incident(session: Session, incident_id: int) -> Incident | None:
    """The incident with what its page shows of it: components, updates with their component
    changes, the closure report."""
    return session.scalar(
        sa.select(Incident)
        .where(Incident.id == incident_id)
        .options(
            selectinload(Incident.affected).selectinload(IncidentComponent.component),
            selectinload(Incident.updates)
            .selectinload(IncidentUpdate.component_changes)
            .selectinload(IncidentUpdateComponent.component),
            selectinload(Incident.closure_report),
        )
    )


@dataclass(frozen=True)
class IncidentWorkspace:
    """Everything the incident page shows besides its forms, and the choice lists its forms
    offer. A fixed number of statements however many users, categories or incidents exist."""

    incident: Incident
    users: dict[int, User]  # everyone the page names, disabled accounts included
    roles: list[IncidentRoleAssignment]
    tasks: list[Task]
    notes: list[IncidentNote]
    evidence: list[Evidence]
    links: list[IncidentLink]
    timeline: list[TimelineEvent]
    categories: CategoryTree
    clocks: list[SlaClock]
    linked_problems: list[Problem]
    review: PostIncidentReview | None
    suggestions: Suggestions
    # choice lists for the page's forms
    component_choices: list[tuple[int, str]]
    template_choices: list[Choice]
    user_choices: list[tuple[int, str]]


def incident_workspace(
    session: Session, incident_id: int, *, now: datetime
) -> IncidentWorkspace | None:
    """The incident's page in a fixed number of statements (about fifteen), or None when
    there is no such incident."""
    incident = admin_incident(session, incident_id)
    if incident is None:
        return None
    roles = list(
        session.scalars(
            sa.select(IncidentRoleAssignment)
            .where(IncidentRoleAssignment.incident_id == incident_id)
            .order_by(IncidentRoleAssignment.role)
        )
    )
    tasks = list(
        session.scalars(
            sa.select(Task).where(Task.incident_id == incident_id).order_by(Task.kind, Task.id)
        )
    )
    notes = list(
        session.scalars(
            sa.select(IncidentNote)
            .where(IncidentNote.incident_id == incident_id)
            .order_by(IncidentNote.created_at.desc())
        )
    )
    evidence = list(
        session.scalars(
            sa.select(Evidence)
            .where(Evidence.incident_id == incident_id)
            .order_by(Evidence.created_at.desc())
        )
    )
    links = list(
        session.scalars(
            sa.select(IncidentLink).where(
                sa.or_(
                    IncidentLink.incident_id == incident_id, IncidentLink.other_id == incident_id
                )
            )
        )
    )
    timeline = list(
        session.scalars(
            sa.select(TimelineEvent)
            .where(TimelineEvent.incident_id == incident_id)
            .order_by(TimelineEvent.occurred_at, TimelineEvent.id)
        )
    )
    named = [
        incident.assignee_id,
        *(update.author_id for update in incident.updates),
        *(role.user_id for role in roles),
        *(task.owner_id for task in tasks),
        *(note.author_id for note in notes),
        *(event.actor_id for event in timeline),
    ]
    return IncidentWorkspace(
        incident=incident,
        users=users_by_id(session, named),
        roles=roles,
        tasks=tasks,
        notes=notes,
        evidence=evidence,
        links=links,
        timeline=timeline,
        categories=category_tree(session),
        clocks=clocks_for(session, incident, now=now),
        linked_problems=linked_problems(session, incident),
        review=get_review(session, incident),
        suggestions=suggestions_for(session, incident, now=now),
        component_choices=component_choices(session),
        template_choices=template_choices(session),
        user_choices=user_choices(session),
    )


def incident_audit(
    session: Session, incident_id: int, *, limit: int = AUDIT_PAGE
) -> list[AuditEntry]:
    """The incident's audit trail, newest first, at most `limit` entries: the incident's own
    rows and those of its public updates (drafts, edits, publishes, discarded drafts: each
    names its incident), closure report and review."""
    update_ids = sa.select(IncidentUpdate.id).where(IncidentUpdate.incident_id == incident_id)
    names_incident = AuditEntry.changes["incident_id"].as_integer() == incident_id
    review_ids = sa.select(PostIncidentReview.id).where(
        PostIncidentReview.incident_id == incident_id
    )
    return list(
        session.scalars(
            sa.select(AuditEntry)
            .where(
                sa.or_(
                    sa.and_(
                        AuditEntry.entity_type == "incident", AuditEntry.entity_id == incident_id
                    ),
                    sa.and_(
                        AuditEntry.entity_type == "incident_update",
                        sa.or_(AuditEntry.entity_id.in_(update_ids), names_incident),
                    ),
                    sa.and_(AuditEntry.entity_type == "closure_report", names_incident),
                    sa.and_(
                        AuditEntry.entity_type == "post_incident_review",
                        AuditEntry.entity_id.in_(review_ids),
                    ),
                )
            )
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )


# Problems and known errors.

PROBLEM_LIST_LIMIT = 200


@dataclass(frozen=True)
class ProblemList:
    problems: list[Problem]
    linked: dict[int, int]  # problem id -> number of incidents linked to it


def list_problems(
    session: Session, *, status: ProblemStatus | None, limit: int = PROBLEM_LIST_LIMIT
) -> ProblemList:
    """The most recently changed problems (in one status, or all) with their components and
    how many incidents each has: three statements."""
    query = sa.select(Problem).options(selectinload(Problem.components))
    if status is not None:
        query = query.where(Problem.status == status)
    problems = list(session.scalars(query.order_by(Problem.updated_at.desc()).limit(limit)))
    linked: dict[int, int] = {}
    if problems:
        linked = {
            problem_id: int(count)
            for problem_id, count in session.execute(
                sa.select(problem_incident.c.problem_id, sa.func.count())
                .where(problem_incident.c.problem_id.in_([p.id for p in problems]))
                .group_by(problem_incident.c.problem_id)
            )
        }
    return ProblemList(problems=problems, linked=linked)


@dataclass(frozen=True)
class ProblemDetail:
    problem: Problem
    incidents: list[tuple[Incident, datetime]]  # linked incidents with when, newest first
    category: Category | None
    parent: Category | None


def problem_detail(session: Session, problem_id: int) -> ProblemDetail | None:
    problem = session.scalar(
        sa.select(Problem).where(Problem.id == problem_id).options(selectinload(Problem.components))
    )
    if problem is None:
        return None
    incidents = [
        (incident, linked_at)
        for incident, linked_at in session.execute(
            sa.select(Incident, problem_incident.c.linked_at)
            .join(problem_incident, problem_incident.c.incident_id == Incident.id)
            .where(problem_incident.c.problem_id == problem.id)
            .order_by(problem_incident.c.linked_at.desc(), Incident.id.desc())
        )
    ]
    category = session.get(Category, problem.category_id) if problem.category_id else None
    parent = (
        session.get(Category, category.parent_id)
        if category is not None and category.parent_id
        else None
    )
    return ProblemDetail(problem=problem, incidents=incidents, category=category, parent=parent)


def priorities_without_escalation(session: Session) -> list[Priority]:
    """Priorities whose SLA policy names nobody to tell of a breach (or has no policy)."""
    policies = {policy.priority: policy for policy in session.scalars(sa.select(SlaPolicy))}
    return [
        priority
        for priority in Priority
        if priority not in policies or not policies[priority].escalation_contacts
    ]
