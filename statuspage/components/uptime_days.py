"""Closed days of uptime, counted once and kept; only today is counted on each render.

A day is closed once it is over in the page's time zone. Its figures are counted by the same
code as the live count (`uptime.count_days`) and stored as computed in `uptime_day`, one row
per component, zone and day, so a report built from stored days and a live today is exactly
the report a live count of the whole window gives (tests/integration/test_uptime_days.py
checks that over random histories). Days are stored on demand (the first render that misses
them) and ahead of time by the worker shortly after midnight. A status change recorded for an
earlier moment drops the stored days from that moment on (`models._forget_uptime_days`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from statuspage.components.models import ComponentStatus, UptimeDay, UptimeWindow
from statuspage.components.queries import status_points
from statuspage.components.uptime import (
    DayUptime,
    UptimeReport,
    add_in_order,
    count_days,
    day_start,
    window_days,
)

# Set in `session.info` when days were stored, so a reading request knows to commit them.
STORED_FLAG = "statuspage.uptime_days_stored"

# Stored minute columns, in the order the live count first meets them (any order sums alike:
# at most two of them weigh anything).
_MINUTE_COLUMNS = (
    (ComponentStatus.OPERATIONAL, "operational_minutes"),
    (ComponentStatus.DEGRADED_PERFORMANCE, "degraded_minutes"),
    (ComponentStatus.PARTIAL_OUTAGE, "partial_minutes"),
    (ComponentStatus.MAJOR_OUTAGE, "major_minutes"),
)


# One letter per day in `uptime_window.levels`.
LEVEL_LETTERS = {
    "operational": "o",
    "degraded": "d",
    "minor": "m",
    "major": "M",
    "no_data": "-",
}
LETTER_LEVELS = {letter: level for level, letter in LEVEL_LETTERS.items()}


@dataclass(frozen=True)
class UptimeSummary:
    """What the front page shows of a component's window: each day's level, oldest first,
    and the totals, equal to the last bit to `UptimeReport`'s for the same window."""

    levels: list[str]
    measured_minutes: float
    downtime_minutes: float

    @property
    def day_count(self) -> int:
        return len(self.levels)

    @property
    def uptime_percent(self) -> float | None:
        if self.measured_minutes <= 0:
            return None
        return 100.0 * (1.0 - self.downtime_minutes / self.measured_minutes)


def uptime_summaries(
    session: Session,
    component_ids: Sequence[int],
    *,
    now: datetime,
    days: int,
    zone: tzinfo = UTC,
) -> dict[int, UptimeSummary]:
    """The front page's bars: each component's closed days as one stored row (summed and
    stored first when missing or a day old), plus today counted live.

    Statements: one for the stored windows, one for today's status points; on the first
    render of a day, a few more to read or count the closed days and store the windows.
    The Python work is a few operations per component, not per day."""
    if not component_ids:
        return {}
    calendar = window_days(now, days, zone)
    closed, today = calendar[:-1], calendar[-1]
    windows = _closed_windows(session, component_ids, closed, zone) if closed else {}
    points = status_points(session, list(component_ids), day_start(today, zone))
    result: dict[int, UptimeSummary] = {}
    for component_id in component_ids:
        levels, measured, downtime = windows.get(component_id, ([], 0.0, 0.0))
        live = count_days(points.get(component_id, []), [today], until=now, zone=zone)[0]
        result[component_id] = UptimeSummary(
            levels=[*levels, live.level],
            # The in-order sum of all the days: the closed days' sum, then today.
            measured_minutes=measured + live.measured_minutes,
            downtime_minutes=downtime + live.downtime_minutes,
        )
    return result


def _closed_windows(
    session: Session, component_ids: Sequence[int], closed: Sequence[date], zone: tzinfo
) -> dict[int, tuple[list[str], float, float]]:
    key = zone_key(zone)
    table = UptimeWindow.__table__
    rows = session.execute(
        sa.select(
            table.c.component_id,
            table.c.levels,
            table.c.measured_minutes,
            table.c.downtime_minutes,
        ).where(
            table.c.component_id.in_(list(component_ids)),
            table.c.zone == key,
            table.c.last_day == closed[-1],
            table.c.days == len(closed),
        )
    )
    windows = {
        component_id: ([LETTER_LEVELS[letter] for letter in levels], measured, downtime)
        for component_id, levels, measured, downtime in rows
    }
    missing = [c for c in component_ids if c not in windows]
    if not missing:
        return windows
    stored = ensure_days(session, missing, closed, zone=zone)
    fresh = []
    for component_id in missing:
        entries = [stored[component_id][day] for day in closed]
        levels = [entry.level for entry in entries]
        measured = add_in_order(entry.measured_minutes for entry in entries)
        downtime = add_in_order(entry.downtime_minutes for entry in entries)
        windows[component_id] = (levels, measured, downtime)
        fresh.append(
            {
                "component_id": component_id,
                "zone": key,
                "last_day": closed[-1],
                "days": len(closed),
                "levels": "".join(LEVEL_LETTERS[level] for level in levels),
                "measured_minutes": measured,
                "downtime_minutes": downtime,
            }
        )
    # Replaces yesterday's row; a row another process wrote meanwhile has the same figures.
    insert = _dialect_insert(session)(table)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[table.c.component_id, table.c.zone],
            set_={
                name: insert.excluded[name]
                for name in ("last_day", "days", "levels", "measured_minutes", "downtime_minutes")
            },
        ),
        fresh,
    )
    session.info[STORED_FLAG] = True
    return windows


def _dialect_insert(session: Session) -> Any:
    """INSERT with ON CONFLICT, which both supported databases have."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def zone_key(zone: tzinfo) -> str:
    """The name stored days are kept under: the IANA key, or "UTC"."""
    return str(getattr(zone, "key", None) or zone.tzname(None) or "UTC")


def uptime_reports(
    session: Session,
    component_ids: Sequence[int],
    *,
    now: datetime,
    days: int,
    zone: tzinfo = UTC,
) -> dict[int, UptimeReport]:
    """Each component's report over the `days` days of `zone` ending today: closed days from
    storage (counted and stored first when missing), today counted live.

    Statements: one for the stored days, one for today's status points; when days are
    missing, one more to read their history and one to store them."""
    if not component_ids:
        return {}
    calendar = window_days(now, days, zone)
    closed, today = calendar[:-1], calendar[-1]
    stored = ensure_days(session, component_ids, closed, zone=zone) if closed else {}
    points = status_points(session, list(component_ids), day_start(today, zone))
    reports: dict[int, UptimeReport] = {}
    for component_id in component_ids:
        mine = stored.get(component_id, {})
        live = count_days(points.get(component_id, []), [today], until=now, zone=zone)
        reports[component_id] = UptimeReport(days=[mine[day] for day in closed] + live)
    return reports


def ensure_days(
    session: Session, component_ids: Sequence[int], closed: Sequence[date], *, zone: tzinfo
) -> dict[int, dict[date, DayUptime]]:
    """The stored days `closed` (consecutive, all over) of each component; the missing ones
    are counted from the history and stored (flushed, not committed)."""
    key = zone_key(zone)
    stored = stored_days(session, component_ids, closed[0], closed[-1], key)
    wanted = len(closed)
    missing = [c for c in component_ids if len(stored.get(c, {})) < wanted]
    if not missing:
        return stored
    first = min(
        day for component_id in missing for day in closed if day not in stored.get(component_id, {})
    )
    calendar = [day for day in closed if day >= first]
    end = day_start(closed[-1] + timedelta(days=1), zone)
    points = status_points(session, missing, day_start(first, zone))
    rows = []
    for component_id in missing:
        mine = stored.setdefault(component_id, {})
        for entry in count_days(points.get(component_id, []), calendar, until=end, zone=zone):
            if entry.day not in mine:
                mine[entry.day] = entry
                rows.append(_row(component_id, key, entry, zone))
    save_days(session, rows)
    return stored


def stored_days(
    session: Session, component_ids: Iterable[int], first: date, last: date, zone_name: str
) -> dict[int, dict[date, DayUptime]]:
    table = UptimeDay.__table__
    rows = session.execute(
        sa.select(
            table.c.component_id,
            table.c.day,
            table.c.has_data,
            table.c.measured_minutes,
            table.c.maintenance_minutes,
            *(table.c[column] for _, column in _MINUTE_COLUMNS),
        ).where(
            table.c.component_id.in_(list(component_ids)),
            table.c.zone == zone_name,
            table.c.day >= first,
            table.c.day <= last,
        )
    )
    result: dict[int, dict[date, DayUptime]] = {}
    statuses = [status for status, _ in _MINUTE_COLUMNS]
    for component_id, day, has_data, measured, maintenance, *minutes in rows:
        result.setdefault(component_id, {})[day] = DayUptime(
            day=day,
            has_data=has_data,
            measured_minutes=measured,
            maintenance_minutes=maintenance,
            minutes_by_status={s: m for s, m in zip(statuses, minutes, strict=True) if m},
        )
    return result


def save_days(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert stored days; a day another process stored meanwhile is left as it is (the same
    figures, counted from the same history)."""
    if not rows:
        return
    # One executemany: SQLAlchemy batches it (PostgreSQL: 1,000 rows a statement).
    session.execute(_dialect_insert(session)(UptimeDay.__table__).on_conflict_do_nothing(), rows)
    session.info[STORED_FLAG] = True


def _row(component_id: int, zone_name: str, entry: DayUptime, zone: tzinfo) -> dict[str, Any]:
    row: dict[str, Any] = {
        "component_id": component_id,
        "zone": zone_name,
        "day": entry.day,
        "ends_at": day_start(entry.day + timedelta(days=1), zone),
        "has_data": entry.has_data,
        "measured_minutes": entry.measured_minutes,
        "maintenance_minutes": entry.maintenance_minutes,
    }
    for status, column in _MINUTE_COLUMNS:
        row[column] = entry.minutes_by_status.get(status, 0.0)
    return row


def store_closed_days(
    session: Session, component_ids: Sequence[int], *, now: datetime, days: int, zone: tzinfo
) -> int:
    """Sum and store the closed days of the window ending today where they are not stored
    yet (the worker's run after midnight, so the first render of a day need not); returns
    how many bars needed it. One statement when every bar is up to date."""
    closed = window_days(now, days, zone)[:-1]
    if not closed or not component_ids:
        return 0
    session.info.pop(STORED_FLAG, None)
    table = UptimeWindow.__table__
    current = set(
        session.scalars(
            sa.select(table.c.component_id).where(
                table.c.component_id.in_(list(component_ids)),
                table.c.zone == zone_key(zone),
                table.c.last_day == closed[-1],
                table.c.days == len(closed),
            )
        )
    )
    missing = [c for c in component_ids if c not in current]
    if missing:
        _closed_windows(session, missing, closed, zone)
    return len(missing)
