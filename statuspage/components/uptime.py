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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache

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
        return add_in_order(day.measured_minutes for day in self.days)

    @property
    def downtime_minutes(self) -> float:
        return add_in_order(day.downtime_minutes for day in self.days)

    @property
    def uptime_percent(self) -> float | None:
        measured = self.measured_minutes
        if measured <= 0:
            return None
        return 100.0 * (1.0 - self.downtime_minutes / measured)


def add_in_order(values: Iterable[float]) -> float:
    """Left to right, one addition at a time (what `sum` does up to Python 3.11; 3.12
    compensates). Spelled out because a stored total of the closed days plus today must equal,
    to the last bit, the total of all the days (components/uptime_days.py)."""
    total = 0.0
    for value in values:
        total += value
    return total


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
    return UptimeReport(days=count_days(points, window_days(now, days, zone), until=now, zone=zone))


def count_days(
    points: Sequence[StatusPoint], calendar: Sequence[date], *, until: datetime, zone: tzinfo = UTC
) -> list[DayUptime]:
    """The days of `calendar` (consecutive, oldest first), counting time up to `until`.

    A day's figures depend only on the points, the day and `until` (for the day that holds
    it), never on where the window starts: so a closed day counted once and stored adds up
    exactly as it would in any later window (components/uptime_days.py relies on it).
    """
    entries = [DayUptime(day=day) for day in calendar]
    if not points or not entries:
        return entries
    by_day = {entry.day: entry for entry in entries}
    window_start = day_start(calendar[0], zone)
    ordered = sorted(points, key=lambda point: point.at)
    for index, point in enumerate(ordered):
        start = max(point.at, window_start)
        end = ordered[index + 1].at if index + 1 < len(ordered) else until
        end = min(end, until)
        if end <= start:
            continue
        _spread_interval(by_day, start, end, point.status, zone)
    return entries


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


# The uptime bar as one SVG per component: a few paths (one per kind of day) instead of an
# element per day. In viewBox units: a day every DAY_STEP, DAY_WIDTH wide, BAR_HEIGHT high.
DAY_STEP = 10
DAY_WIDTH = 8
BAR_HEIGHT = 32
LEVELS = ("operational", "degraded", "minor", "major", "no_data")


@dataclass(frozen=True)
class UptimeBar:
    """What the page draws and says for one component's bar."""

    width: int
    paths: tuple[tuple[str, str], ...]  # (level, SVG path data), levels in LEVELS order
    outage_days: int
    degraded_days: int
    no_data_days: int


def uptime_bar(levels: Iterable[str]) -> UptimeBar:
    """Path data per level (the days' `DayUptime.level`, oldest first): each day a rectangle,
    written relative to the previous one of its level (`m20 0h8v32h-8z`), so that 50 bars of
    90 days compress to almost nothing. Bars repeat (most components have quiet months), so
    they are kept: a render draws only the ones it has not seen."""
    return _drawn_bar(tuple(levels))


@lru_cache(maxsize=4096)
def _drawn_bar(levels: tuple[str, ...]) -> UptimeBar:
    moves: dict[str, list[str]] = {}
    last: dict[str, int] = {}
    counts = {level: 0 for level in LEVELS}
    index = -1
    for index, level in enumerate(levels):
        counts[level] += 1
        x = index * DAY_STEP
        if level in last:
            step = f"m{x - last[level]} 0"
        else:
            step = f"M{x} 0"
            moves[level] = []
        moves[level].append(f"{step}h{DAY_WIDTH}v{BAR_HEIGHT}h-{DAY_WIDTH}z")
        last[level] = x
    return UptimeBar(
        width=(index + 1) * DAY_STEP,
        paths=tuple((level, "".join(moves[level])) for level in LEVELS if level in moves),
        outage_days=counts["minor"] + counts["major"],
        degraded_days=counts["degraded"],
        no_data_days=counts["no_data"],
    )
