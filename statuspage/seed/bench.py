"""Benchmark data: many years of resolved incidents, written fast with bulk Core inserts.

The page benchmark compares a small history with a huge one. To make that comparison fair the
last `WINDOW_DAYS` are the same in every data set: `RECENT_INCIDENTS` incidents, generated from a
fixed seed and placed relative to `now`. Only the history before that window grows: the other
incidents are spread over the preceding years, at most `MAX_INCIDENTS_PER_DAY` a day. A page that
only shows the recent past should therefore cost the same on both.

Flask-free, like the domain: plain functions over a SQLAlchemy `Session` or `Connection`. Unlike
`statuspage.seed.demo`, this does not go through the domain functions (one ORM object and a
flush at a time, many times slower at this size); it writes what those functions would leave behind
for a closed, published incident: the incident, its affected components, three public updates,
what each update did to the components, and the component status history. No timeline events,
audit rows or closure reports: the public pages do not read them.

Ids are assigned here, in time order, so that rows can reference each other without a round trip
per row and so that a larger id always means a later status change for the same component (the
uptime query relies on that). On PostgreSQL the id sequences are moved past the written ids.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, scoped_session

from statuspage.components.models import (
    Component,
    ComponentGroup,
    ComponentStatus,
    ComponentStatusChange,
)
from statuspage.incidents.models import (
    Incident,
    IncidentComponent,
    IncidentSource,
    IncidentStatus,
    IncidentUpdate,
    IncidentUpdateComponent,
    Level,
    Maintenance,
    PublicImpact,
    PublicStatus,
)
from statuspage.incidents.operations import IMPACT_OF_STATUS
from statuspage.incidents.priority import DEFAULT_MATRIX

GROUP_NAMES = ("Customer-facing", "API", "Infrastructure", "Data", "Integrations")
COMPONENTS_PER_GROUP = 10
COMPONENT_COUNT = len(GROUP_NAMES) * COMPONENTS_PER_GROUP
RECENT_INCIDENTS = 30
WINDOW_DAYS = 90
MAX_INCIDENTS_PER_DAY = 70
MIN_HISTORY_DAYS = 365
LONGEST_INCIDENT_MINUTES = 240
DEFAULT_CHUNK_SIZE = 2_000

# Within any run of `_reuse_gap(components)` consecutive incidents a component is affected at
# most once. `seed_bench` checks that incidents are far enough apart for that run to outlast the
# longest incident: then no two incidents on the same component overlap, and each component's
# status history is a clean down-up-down-up sequence (with 50 components, even at
# MAX_INCIDENTS_PER_DAY).

TITLES = (
    "Elevated error rates",
    "Slow responses",
    "Requests timing out",
    "Intermittent failures",
    "Delayed processing",
    "Login problems for some users",
    "Degraded performance in one region",
    "Partial unavailability",
    "Data not updating",
    "Increased latency",
)

_OUTAGES = (
    (ComponentStatus.DEGRADED_PERFORMANCE, 50),
    (ComponentStatus.PARTIAL_OUTAGE, 35),
    (ComponentStatus.MAJOR_OUTAGE, 15),
)
_IMPACT_ORDER = list(PublicImpact)
_LEVEL_OF_IMPACT = {
    PublicImpact.NONE: Level.LOW,
    PublicImpact.MINOR: Level.LOW,
    PublicImpact.MAJOR: Level.MEDIUM,
    PublicImpact.CRITICAL: Level.HIGH,
}

# A session (scoped, as Flask-SQLAlchemy gives, or not) or a plain connection.
Bind = Session | scoped_session[Session] | sa.Connection
Progress = Callable[[int], Any]


class BenchDataExists(RuntimeError):
    """The database is not empty; benchmark data only goes into an empty one."""


@dataclass(frozen=True)
class BenchSummary:
    components: int
    incidents: int
    recent_incidents: int
    window_start: datetime
    oldest_incident_at: datetime


@dataclass(frozen=True)
class _PlannedIncident:
    started: datetime
    minutes: int
    title: str
    # (component, status while down); the component is a position until ids exist.
    outages: tuple[tuple[int, ComponentStatus], ...]
    urgency: Level
    source: IncidentSource


def window_start(now: datetime) -> datetime:
    """Midnight UTC of the first of the last `WINDOW_DAYS` calendar days, as the uptime bars."""
    first_day = now.astimezone(UTC).date() - timedelta(days=WINDOW_DAYS - 1)
    return datetime.combine(first_day, time.min, tzinfo=UTC)


def history_days(incidents: int) -> int:
    """How many days before the window the older incidents are spread over."""
    older = max(0, incidents - RECENT_INCIDENTS)
    return max(MIN_HISTORY_DAYS, math.ceil(older / MAX_INCIDENTS_PER_DAY))


def database_is_empty(bind: Bind) -> bool:
    """True when there are no components, groups, incidents or maintenance windows yet."""
    for table in (ComponentGroup, Component, Incident, Maintenance):
        if bind.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
            return False
    return True


def seed_bench(
    bind: Bind,
    *,
    incidents: int,
    now: datetime,
    progress: Progress | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    components_per_group: int = COMPONENTS_PER_GROUP,
) -> BenchSummary:
    """Fill an empty, migrated database; `progress(n)` hears of every n incidents written.

    `components_per_group` components in each of the `GROUP_NAMES` (10: 50 components); the
    incidents go round the components in the same way whatever their number. Does not commit:
    the caller does, as with the domain functions.
    """
    if incidents < RECENT_INCIDENTS:
        raise ValueError(f"Ask for at least {RECENT_INCIDENTS} incidents, not {incidents}.")
    if components_per_group < 1:
        raise ValueError(f"Ask for at least 1 component per group, not {components_per_group}.")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    components = len(GROUP_NAMES) * components_per_group
    _check_no_overlap(incidents, components)
    if not database_is_empty(bind):
        raise BenchDataExists(
            "The database already has components or incidents; "
            "benchmark data only goes into an empty database."
        )
    now = now.astimezone(UTC).replace(microsecond=0)
    plan = list(_older_incidents(incidents - RECENT_INCIDENTS, now, components))
    plan += _recent_incidents(now, components)
    created = plan[0].started - timedelta(days=30)
    component_ids = _insert_components(bind, created, components_per_group)
    # The plan refers to components by position; map positions to the ids just written.
    plan = [
        replace(p, outages=tuple((component_ids[pos], status) for pos, status in p.outages))
        for p in plan
    ]
    ids = _IdCounter(bind)
    for start in range(0, len(plan), chunk_size):
        chunk = plan[start : start + chunk_size]
        _insert_incidents(bind, chunk, ids)
        if progress is not None:
            progress(len(chunk))
    _move_sequences_past_ids(bind)
    return BenchSummary(
        components=len(component_ids),
        incidents=len(plan),
        recent_incidents=RECENT_INCIDENTS,
        window_start=window_start(now),
        oldest_incident_at=plan[0].started,
    )


def _reuse_gap(components: int) -> int:
    """How many consecutive incidents apart the same component is affected, at the least."""
    return components // 2


def _check_no_overlap(incidents: int, components: int) -> None:
    """Refuse a size where two incidents on the same component could overlap in time.

    Consecutive older incidents start at least half their spacing apart (the jitter is under
    half of it); the recent ones are days apart.
    """
    older = incidents - RECENT_INCIDENTS
    if older == 0:
        return
    spacing_minutes = history_days(incidents) * 24 * 60 / older
    closest_minutes = (_reuse_gap(components) - 0.5) * spacing_minutes
    if closest_minutes <= LONGEST_INCIDENT_MINUTES:
        raise ValueError(
            f"{components} components are too few for {incidents} incidents: the same "
            "component's incidents would overlap. Ask for more components or fewer incidents."
        )


def _recent_incidents(now: datetime, components: int) -> list[_PlannedIncident]:
    """The last 90 days, identical whatever the size: spaced three days apart, oldest first."""
    rng = random.Random("statuspage-bench-recent")
    today = datetime.combine(now.date(), time.min, tzinfo=UTC)
    planned = []
    for k in reversed(range(RECENT_INCIDENTS)):
        days_ago = 2 + 3 * k  # 2 .. 89 days ago: the newest is over before `now`
        started = today - timedelta(days=days_ago) + timedelta(hours=(7 + 5 * k) % 24, minutes=12)
        planned.append(
            _plan_one(rng, started, components, position=(7 * k) % components, two=k % 2 == 1)
        )
    return planned


def _older_incidents(count: int, now: datetime, components: int) -> Iterator[_PlannedIncident]:
    """`count` incidents evenly spread over the years before the window, oldest first."""
    if count == 0:
        return
    rng = random.Random("statuspage-bench-history")
    end = window_start(now) - timedelta(days=1)
    begin = end - timedelta(days=history_days(count + RECENT_INCIDENTS))
    spacing = (end - begin) / count
    for i in range(count):
        jitter = spacing * rng.random() * 0.5
        started = (begin + spacing * i + jitter).replace(microsecond=0)
        yield _plan_one(rng, started, components, position=i % components, two=i % 2 == 1)


def _plan_one(
    rng: random.Random, started: datetime, components: int, *, position: int, two: bool
) -> _PlannedIncident:
    statuses = [status for status, _ in _OUTAGES]
    weights = [weight for _, weight in _OUTAGES]
    positions = [position]
    if two:
        positions.append((position + _reuse_gap(components)) % components)
    return _PlannedIncident(
        started=started,
        minutes=rng.randint(15, LONGEST_INCIDENT_MINUTES),
        title=rng.choice(TITLES),
        outages=tuple((p, rng.choices(statuses, weights)[0]) for p in positions),
        urgency=rng.choice(list(Level)),
        source=rng.choice((IncidentSource.MONITORING, IncidentSource.CUSTOMER)),
    )


def _insert_components(bind: Bind, created: datetime, per_group: int) -> list[int]:
    """Groups and components, each component with its first history row as `add_component`."""
    group_table = ComponentGroup.__table__
    component_table = Component.__table__
    change_table = ComponentStatusChange.__table__
    group_base = _max_id(bind, group_table)
    component_base = _max_id(bind, component_table)
    change_base = _max_id(bind, change_table)
    groups, components, changes = [], [], []
    for g, group_name in enumerate(GROUP_NAMES):
        group_id = group_base + g + 1
        groups.append(
            {
                "id": group_id,
                "name": group_name,
                "description": "",
                "position": g,
                "created_at": created,
                "updated_at": created,
            }
        )
        for c in range(per_group):
            component_id = component_base + len(components) + 1
            components.append(
                {
                    "id": component_id,
                    "group_id": group_id,
                    "name": f"{group_name} service {c + 1}",
                    "description": "",
                    "position": c,
                    "status": ComponentStatus.OPERATIONAL,
                    "showcase": True,
                    "only_show_if_degraded": False,
                    "start_date": created.date(),
                    "created_at": created,
                    "updated_at": created,
                }
            )
            changes.append(
                {
                    "id": change_base + len(changes) + 1,
                    "component_id": component_id,
                    "old_status": None,
                    "status": ComponentStatus.OPERATIONAL,
                    "changed_at": created,
                    "incident_id": None,
                    "maintenance_id": None,
                    "actor_id": None,
                }
            )
    _insert_many(bind, group_table, groups)
    _insert_many(bind, component_table, components)
    _insert_many(bind, change_table, changes)
    return [row["id"] for row in components]


class _IdCounter:
    """Next free id per table, starting after what the table already holds."""

    def __init__(self, bind: Bind) -> None:
        self._last = {
            table.name: _max_id(bind, table)
            for table in (
                Incident.__table__,
                IncidentUpdate.__table__,
                ComponentStatusChange.__table__,
            )
        }

    def next(self, table: sa.Table) -> int:
        self._last[table.name] += 1
        return self._last[table.name]


def _max_id(bind: Bind, table: sa.Table) -> int:
    return bind.execute(sa.select(sa.func.max(table.c.id))).scalar_one() or 0


def _insert_incidents(bind: Bind, chunk: list[_PlannedIncident], ids: _IdCounter) -> None:
    incident_table = Incident.__table__
    update_table = IncidentUpdate.__table__
    change_table = ComponentStatusChange.__table__
    incidents: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    update_changes: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    operational = ComponentStatus.OPERATIONAL
    for planned in chunk:
        incident_id = ids.next(incident_table)
        started = planned.started
        ended = started + timedelta(minutes=planned.minutes)
        detected = started + timedelta(minutes=max(1, planned.minutes // 10))
        published = detected + timedelta(minutes=2)
        identified = started + timedelta(minutes=planned.minutes * 0.4)
        monitoring = started + timedelta(minutes=planned.minutes * 0.7)
        closed = ended + timedelta(hours=3)
        impact = max(
            (IMPACT_OF_STATUS[status] for _, status in planned.outages), key=_IMPACT_ORDER.index
        )
        level = _LEVEL_OF_IMPACT[impact]
        incidents.append(
            {
                "id": incident_id,
                "title": planned.title,
                "description": "",
                "status": IncidentStatus.CLOSED,
                "source": planned.source,
                "reporter_name": "",
                "reporter_contact": "",
                "category_id": None,
                "subcategory_id": None,
                "impact": level,
                "urgency": planned.urgency,
                "priority": DEFAULT_MATRIX[(level, planned.urgency)],
                "priority_override_reason": "",
                "assignee_id": None,
                "is_public": True,
                "public_status": PublicStatus.RESOLVED,
                "public_impact": impact,
                "published_at": published,
                "monitoring_at": monitoring,
                "public_resolved_at": ended,
                "next_update_at": None,
                "impact_started_at": started,
                "detected_at": detected,
                "reported_at": detected,
                "acknowledged_at": detected + timedelta(minutes=1),
                "identified_at": identified,
                "mitigated_at": monitoring,
                "resolved_at": ended,
                "closed_at": closed,
                "cancelled_at": None,
                "workaround": "",
                "resolution_code": "fixed",
                "resolution_summary": "The cause was found and fixed.",
                "verification": "Error rates and latency back to normal for 30 minutes.",
                "cancel_reason": "",
                "created_at": detected,
                "updated_at": closed,
            }
        )
        steps = (
            (PublicStatus.INVESTIGATING, published, "We are investigating this problem."),
            (PublicStatus.MONITORING, monitoring, "A fix is in place; we are watching it."),
            (PublicStatus.RESOLVED, ended, "This incident has been resolved."),
        )
        update_ids = []
        for status, at, body in steps:
            update_ids.append(ids.next(update_table))
            updates.append(
                {
                    "id": update_ids[-1],
                    "incident_id": incident_id,
                    "status": status,
                    "body": body,
                    "original_body": None,
                    "deliver_notifications": False,
                    "author_id": None,
                    "created_at": at,
                    "published_at": at,
                    "edited_at": None,
                }
            )
        for component_id, down in planned.outages:
            # What post_update leaves: the link ends with the status the last update set.
            links.append(
                {"incident_id": incident_id, "component_id": component_id, "status": operational}
            )
            for update_id, old, new, at in (
                (update_ids[0], operational, down, published),
                (update_ids[1], down, operational, monitoring),
            ):
                update_changes.append(
                    {
                        "update_id": update_id,
                        "component_id": component_id,
                        "old_status": old,
                        "new_status": new,
                    }
                )
                changes.append(
                    {
                        "id": ids.next(change_table),
                        "component_id": component_id,
                        "old_status": old,
                        "status": new,
                        "changed_at": at,
                        "incident_id": incident_id,
                        "maintenance_id": None,
                        "actor_id": None,
                    }
                )
    _insert_many(bind, incident_table, incidents)
    _insert_many(bind, IncidentComponent.__table__, links)
    _insert_many(bind, update_table, updates)
    _insert_many(bind, IncidentUpdateComponent.__table__, update_changes)
    _insert_many(bind, change_table, changes)


def _insert_many(bind: Bind, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows that all have the same keys, in one statement per call.

    SQLite: a plain executemany, which its driver runs in a tight C loop. PostgreSQL: psycopg 3
    would send one INSERT per row, so the rows go as one array per column instead, unpacked
    by `unnest`: one round trip, and still the columns' own types (UTC timestamps, enums) for
    every element. Columns the rows leave out get their defaults either way.
    """
    if not rows:
        return
    if _dialect_name(bind) != "postgresql":
        bind.execute(sa.insert(table), rows)
        return
    names = list(rows[0])
    columns: list[sa.ColumnElement[Any]] = [
        sa.func.unnest(
            sa.cast(
                sa.bindparam(name, type_=postgresql.ARRAY(table.c[name].type)),
                postgresql.ARRAY(table.c[name].type),
            )
        )
        for name in names
    ]
    params: dict[str, Any] = {name: [row[name] for row in rows] for name in names}
    for name, value in _left_out_defaults(table, names).items():
        names.append(name)
        columns.append(sa.bindparam(f"default_{name}", value, type_=table.c[name].type))
    bind.execute(sa.insert(table).from_select(names, sa.select(*columns)), params)


def _left_out_defaults(table: sa.Table, given: list[str]) -> dict[str, Any]:
    """The Python-side default of each column not given (an INSERT ... SELECT skips them)."""
    values: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.name in given or not isinstance(default, sa.ColumnDefault):
            continue
        if default.is_scalar:
            values[column.name] = default.arg
        elif default.is_callable:
            values[column.name] = default.arg(None)  # SQLAlchemy wraps it to take a context
    return values


def _dialect_name(bind: Bind) -> str:
    connection = bind if isinstance(bind, sa.Connection) else bind.connection()
    return connection.dialect.name


def _move_sequences_past_ids(bind: Bind) -> None:
    """PostgreSQL hands out ids from sequences, which explicit ids do not advance."""
    if _dialect_name(bind) != "postgresql":
        return
    for model in (ComponentGroup, Component, ComponentStatusChange, Incident, IncidentUpdate):
        table = model.__table__
        highest = sa.select(sa.func.max(table.c.id)).scalar_subquery()
        sequence = sa.func.pg_get_serial_sequence(table.name, "id")
        bind.execute(sa.select(sa.func.setval(sequence, highest)))
