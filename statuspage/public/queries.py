"""Queries for the public pages that combine packages (components and incidents)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

from sqlalchemy.orm import Session

from statuspage.components.models import Component, ComponentGroup, ComponentStatus, worst_status
from statuspage.components.queries import shown_components, status_points
from statuspage.components.uptime import UptimeReport, compute_uptime, day_start, window_days
from statuspage.incidents.queries import DayIncident, incidents_by_component_day


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


def status_page_groups(
    session: Session,
    *,
    now: datetime,
    days: int,
    zone: tzinfo = UTC,
    audience_ids: Collection[int] = (),
) -> list[GroupView]:
    """Components by group with their uptime bars (days of `zone`, the page's time zone);
    ungrouped components come last.

    A fixed number of queries whatever the history holds: components with groups, status
    points, incidents in the window.
    """
    components = shown_components(session, audience_ids=audience_ids)
    components = [
        c
        for c in components
        if not c.only_show_if_degraded or c.status != ComponentStatus.OPERATIONAL
    ]
    ids = [c.id for c in components]
    calendar = window_days(now, days, zone)
    points = status_points(session, ids, day_start(calendar[0], zone))
    incidents = incidents_by_component_day(session, ids, calendar[0], now, zone)

    groups: list[GroupView] = []
    by_group: dict[int | None, GroupView] = {}
    for component in components:
        view = ComponentView(
            component=component,
            uptime=compute_uptime(points.get(component.id, []), now=now, days=days, zone=zone),
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
