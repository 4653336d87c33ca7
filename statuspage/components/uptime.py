"""Uptime from a component's status history.

Counting method (shown on the public page as well):

- A component's timeline is cut into intervals by its status changes; each interval has one
  status, so overlapping incidents on one component never count twice.
- Minutes in major_outage count fully as downtime; minutes in partial_outage count at 30%;
  degraded_performance is reported but is not downtime.
- Minutes under_maintenance are left out entirely: neither up nor down.
- Days are calendar days in the page's time zone (UTC unless staff set another). Today
  counts up to now; days before the component existed have no
  data and are left out.

uptime % = 100 x (1 - weighted downtime minutes / measured minutes), over the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from statuspage.components.models import ComponentStatus

DOWNTIME_WEIGHT = {
    ComponentStatus.OPERATIONAL: 0.0,
    ComponentStatus.DEGRADED_PERFORMANCE: 0.0,
    ComponentStatus.PARTIAL_OUTAGE: 0.3,
    ComponentStatus.MAJOR_OUTAGE: 1.0,
}

# A day's colour in the uptime bar, by weighted downtime minutes.
MINOR_DAY_BELOW_MINUTES = 30.0


@dataclass(frozen=True)
class StatusPoint:
    """The component entered `status` at `at`."""

    at: datetime
    status: ComponentStatus


@dataclass
class DayUptime:
    day: date
    has_data: bool = False
    measured_minutes: float = 0.0
    maintenance_minutes: float = 0.0
    minutes_by_status: dict[ComponentStatus, float] = field(default_factory=dict)

    @property
    def downtime_minutes(self) -> float:
        return sum(
            minutes * DOWNTIME_WEIGHT.get(status, 0.0)
            for status, minutes in self.minutes_by_status.items()
        )

    @property
    def outage_minutes(self) -> float:
        """Unweighted minutes in partial or major outage, as shown to readers."""
        return self.minutes_by_status.get(
            ComponentStatus.MAJOR_OUTAGE, 0.0
        ) + self.minutes_by_status.get(ComponentStatus.PARTIAL_OUTAGE, 0.0)

    @property
    def level(self) -> str:
        """no_data, operational, degraded, minor (short outage), major (long outage)."""
        if not self.has_data:
            return "no_data"
        down = self.downtime_minutes
        if down <= 0:
            if self.minutes_by_status.get(ComponentStatus.DEGRADED_PERFORMANCE, 0.0) > 0:
                return "degraded"
            return "operational"
        return "minor" if down < MINOR_DAY_BELOW_MINUTES else "major"

    @property
    def uptime_percent(self) -> float | None:
        if self.measured_minutes <= 0:
            return None
        return 100.0 * (1.0 - self.downtime_minutes / self.measured_minutes)


@dataclass
class UptimeReport:
    days: list[DayUptime]

    @property
    def measured_minutes(self) -> float:
        return sum(day.measured_minutes for day in self.days)

    @property
    def downtime_minutes(self) -> float:
        return sum(day.downtime_minutes for day in self.days)

    @property
    def uptime_percent(self) -> float | None:
        measured = self.measured_minutes
        if measured <= 0:
            return None
        return 100.0 * (1.0 - self.downtime_minutes / measured)


def day_start(day: date, zone: tzinfo = UTC) -> datetime:
    """The first moment of `day` in `zone` (the page's time zone; UTC by default), in UTC."""
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def window_days(now: datetime, days: int, zone: tzinfo = UTC) -> list[date]:
    today = now.astimezone(zone).date()
    return [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def compute_uptime(
    points: Sequence[StatusPoint], *, now: datetime, days: int, zone: tzinfo = UTC
) -> UptimeReport:
    """Per-day uptime over the `days` calendar days of `zone` ending today.

    `points` are the component's status changes in time order. The first point is when the
    history begins (a component's creation, or the last change before the window); time before
    it has no data.
    """
    calendar = window_days(now, days, zone)
    report = UptimeReport(days=[DayUptime(day=day) for day in calendar])
    if not points:
        return report
    by_day = {entry.day: entry for entry in report.days}
    window_start = day_start(calendar[0], zone)
    ordered = sorted(points, key=lambda point: point.at)
    for index, point in enumerate(ordered):
        start = max(point.at, window_start)
        end = ordered[index + 1].at if index + 1 < len(ordered) else now
        end = min(end, now)
        if end <= start:
            continue
        _spread_interval(by_day, start, end, point.status, zone)
    return report


def _spread_interval(
    by_day: dict[date, DayUptime],
    start: datetime,
    end: datetime,
    status: ComponentStatus,
    zone: tzinfo = UTC,
) -> None:
    cursor = start
    while cursor < end:
        day = cursor.astimezone(zone).date()
        next_midnight = day_start(day + timedelta(days=1), zone)
        piece_end = min(end, next_midnight)
        minutes = (piece_end - cursor).total_seconds() / 60.0
        entry = by_day.get(day)
        if entry is not None:
            entry.has_data = True
            if status == ComponentStatus.UNDER_MAINTENANCE:
                entry.maintenance_minutes += minutes
            else:
                entry.measured_minutes += minutes
                entry.minutes_by_status[status] = entry.minutes_by_status.get(status, 0.0) + minutes
        cursor = piece_end
