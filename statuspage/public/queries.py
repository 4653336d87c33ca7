"""Queries for the public pages that combine packages (components and incidents)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from sqlalchemy.orm import Session

from statuspage.components.models import Component, ComponentGroup, ComponentStatus, worst_status
from statuspage.components.queries import shown_components
from statuspage.components.uptime import (
    DayUptime,
    UptimeBar,
    UptimeReport,
    uptime_bar,
    window_days,
)
from statuspage.components.uptime_days import UptimeSummary, uptime_reports, uptime_summaries
from statuspage.incidents.queries import DayIncident, incidents_by_component_day


@dataclass
class ComponentView:
    component: Component
    uptime: UptimeSummary
    bar: UptimeBar


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

    A fixed number of queries whatever the history holds: components with groups, the stored
    closed days (one row per bar), today's status points (a few more on the first render of
    a day, to sum and store the closed days). Incidents are on each component's day-by-day
    page.
    """
    components = shown_components(session, audience_ids=audience_ids)
    components = [
        c
        for c in components
        if not c.only_show_if_degraded or c.status != ComponentStatus.OPERATIONAL
    ]
    shown = [c.id for c in components if c.showcase]
    summaries = uptime_summaries(session, shown, now=now, days=days, zone=zone)
    empty = UptimeSummary(levels=[], measured_minutes=0.0, downtime_minutes=0.0)

    groups: list[GroupView] = []
    by_group: dict[int | None, GroupView] = {}
    for component in components:
        summary = summaries.get(component.id, empty)
        view = ComponentView(component=component, uptime=summary, bar=uptime_bar(summary.levels))
        key = component.group_id
        if key not in by_group:
            by_group[key] = GroupView(group=component.group, components=[])
            groups.append(by_group[key])
        by_group[key].components.append(view)
    # Ungrouped components read best after the groups.
    groups.sort(key=lambda g: g.group is None)
    return groups


@dataclass(frozen=True)
class UptimeDayRow:
    """One line of a component's day-by-day page."""

    uptime: DayUptime
    incidents: list[DayIncident]


def component_uptime_days(
    session: Session, component: Component, *, now: datetime, days: int, zone: tzinfo = UTC
) -> tuple[UptimeReport, list[UptimeDayRow]]:
    """One component's window, newest day first, with the public incidents of each day."""
    report = uptime_reports(session, [component.id], now=now, days=days, zone=zone)[component.id]
    first: date = window_days(now, days, zone)[0]
    incidents = incidents_by_component_day(session, [component.id], first, now, zone)
    mine = incidents.get(component.id, {})
    rows = [UptimeDayRow(day, list(mine.get(day.day, []))) for day in reversed(report.days)]
    return report, rows
