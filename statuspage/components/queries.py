"""What the public page needs about components, in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.components.models import (
    Component,
    ComponentGroup,
    ComponentStatus,
    ComponentStatusChange,
    worst_status,
)
from statuspage.components.uptime import (
    StatusPoint,
    UptimeReport,
    compute_uptime,
    day_start,
    window_days,
)


@dataclass(frozen=True)
class DayIncident:
    id: int
    title: str


@dataclass
class ComponentView:
    component: Component
    uptime: UptimeReport
    incidents_by_day: dict[date, list[DayIncident]] = field(default_factory=dict)


@dataclass
class GroupView:
    group: ComponentGroup | None
    components: list[ComponentView]

    @property
    def worst_status(self) -> ComponentStatus:
        return worst_status(view.component.status for view in self.components)


def all_component_statuses(session: Session) -> list[ComponentStatus]:
    return list(session.scalars(sa.select(Component.status)))


def status_points(
    session: Session, component_ids: list[int], since: datetime
) -> dict[int, list[StatusPoint]]:
    """Each component's changes since `since`, preceded by the last change before it.

    The change before the window is found per component through the (component_id, changed_at)
    index, so the cost follows the number of components, not the length of the history.
    """
    points: dict[int, list[StatusPoint]] = defaultdict(list)
    if not component_ids:
        return points
    earlier = sa.orm.aliased(ComponentStatusChange)
    last_before = (
        sa.select(earlier.id)
        .where(earlier.component_id == Component.id, earlier.changed_at < since)
        .order_by(earlier.changed_at.desc(), earlier.id.desc())
        .limit(1)
        .correlate(Component)
        .scalar_subquery()
    )
    previous_ids = sa.select(last_before).where(Component.id.in_(component_ids))
    rows = session.execute(
        sa.select(
            ComponentStatusChange.component_id,
            ComponentStatusChange.changed_at,
            ComponentStatusChange.status,
        )
        .where(
            sa.or_(
                sa.and_(
                    ComponentStatusChange.component_id.in_(component_ids),
                    ComponentStatusChange.changed_at >= since,
                ),
                ComponentStatusChange.id.in_(previous_ids),
            )
        )
        .order_by(ComponentStatusChange.changed_at, ComponentStatusChange.id)
    )
    for component_id, changed_at, status in rows:
        points[component_id].append(StatusPoint(at=changed_at, status=status))
    return points


def incidents_by_component_day(
    session: Session, component_ids: list[int], first_day: date, now: datetime
) -> dict[int, dict[date, list[DayIncident]]]:
    """Public incidents touching each component on each day of the window."""
    # Imported here: the incident models import the component models, not the reverse.
    from statuspage.incidents.models import Incident, IncidentComponent

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


def status_page_groups(session: Session, *, now: datetime, days: int) -> list[GroupView]:
    """Components by group with their uptime bars; ungrouped components come last.

    A fixed number of queries whatever the history holds: components with groups, status
    points, incidents in the window.
    """
    components = shown_components(session)
    components = [
        c
        for c in components
        if not c.only_show_if_degraded or c.status != ComponentStatus.OPERATIONAL
    ]
    ids = [c.id for c in components]
    calendar = window_days(now, days)
    points = status_points(session, ids, day_start(calendar[0]))
    incidents = incidents_by_component_day(session, ids, calendar[0], now)

    groups: list[GroupView] = []
    by_group: dict[int | None, GroupView] = {}
    for component in components:
        view = ComponentView(
            component=component,
            uptime=compute_uptime(points.get(component.id, []), now=now, days=days),
            incidents_by_day=dict(incidents.get(component.id, {})),
        )
        key = component.group_id
        if key not in by_group:
            by_group[key] = GroupView(group=component.group, components=[])
            groups.append(by_group[key])
        by_group[key].components.append(view)
    # Ungrouped components read best after the groups.
    groups.sort(key=lambda g: g.group is None)
    return groups


def list_components_for_filter(session: Session) -> list[Component]:
    return list(
        session.scalars(
            sa.select(Component).where(Component.showcase.is_(True)).order_by(Component.name)
        )
    )


def shown_components(session: Session) -> list[Component]:
    """Components shown publicly, with their groups loaded, in page order; one query.

    By group (position), then by position within the group; components outside any group
    last. Operational `only_show_if_degraded` components are included: the page leaves them
    out itself, the JSON API reports the flag and leaves the choice to the reader.
    """
    return list(
        session.scalars(
            sa.select(Component)
            .where(Component.showcase.is_(True))
            .outerjoin(ComponentGroup, ComponentGroup.id == Component.group_id)
            .order_by(
                ComponentGroup.position.is_(None),
                ComponentGroup.position,
                ComponentGroup.id,
                Component.position,
                Component.id,
            )
            .options(sa.orm.contains_eager(Component.group))
        )
    )
