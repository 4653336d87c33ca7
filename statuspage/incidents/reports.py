"""Reports over a period: response times, volume, SLA compliance, and the CSV export.

Which incidents count: those whose impact started inside the period (a half-open range of UTC
instants, `start <= impact_started_at < end`). Cancelled incidents (false alarms, duplicates)
are counted on their own and left out of every other number; the CSV export lists them too,
with their status, so nothing is hidden from whoever analyses it.

Definitions (also written on the dashboard):

- MTTD, time to detect = detected_at - impact_started_at
- MTTA, time to acknowledge = acknowledged_at - detected_at
- MTTR, time to restore = resolved_at - impact_started_at (the first resolution: milestones are
  stamped once, so a reopened incident keeps its first resolved_at)

An incident without the milestone a measure needs is left out of that measure only. A duration
below zero (a backdated time edited after the fact) counts as zero.

SLA compliance, per target: an incident with a priority and a policy meets a target unless
that target breached, either as computed now from its milestones against the current policy
(`sla.compute_clocks`; a clock still running counts as a breach only once it is past due), or
as recorded by the SLA job (a breached `sla_event` row). Recorded events matter for the public
update cadence, whose past gaps cannot be recomputed from milestones. The update-cadence target
is measured for public incidents only. "All targets" is the share of measured incidents with
no breach at all.

Every function here takes the session and `now` explicitly and runs a fixed number of
statements whatever the number of incidents; the period is capped at `MAX_PERIOD_DAYS`.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, load_only

from statuspage.core.csv_safety import neutralize_cell
from statuspage.core.errors import DomainError
from statuspage.core.translation import N_
from statuspage.incidents.models import (
    Category,
    Incident,
    IncidentStatus,
    IncidentUpdate,
    Priority,
    SlaEvent,
    SlaPolicy,
    SlaState,
    SlaTarget,
)
from statuspage.incidents.sla import compute_clocks

MAX_PERIOD_DAYS = 366
NO_PRIORITY = N_("No priority")
UNCATEGORIZED = N_("Uncategorized")
ALL = N_("All")

# Targets measured for every incident with a policy; UPDATE only for public ones.
MILESTONE_TARGETS = (SlaTarget.ACKNOWLEDGE, SlaTarget.MITIGATE, SlaTarget.RESOLVE)

# A spreadsheet treats a cell starting with one of these as a formula (or a command).


# --- the period -------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole UTC days, `first_day` to `last_day` inclusive."""

    first_day: date
    last_day: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(0), tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.last_day, time(0), tzinfo=UTC) + timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def period_of_days(first_day: date, last_day: date) -> Period:
    """The period from `first_day` to `last_day` (both included), or a `DomainError`."""
    if last_day < first_day:
        raise DomainError(N_("The end date comes before the start date."), field="end")
    if (last_day - first_day).days + 1 > MAX_PERIOD_DAYS:
        raise DomainError(
            N_("Choose a period of at most %(max)s days."),
            max=MAX_PERIOD_DAYS,
            field="start",
        )
    if last_day >= date.max:
        raise DomainError(N_("Choose an end date before 31 December 9999."), field="end")
    return Period(first_day, last_day)


def last_days(today: date, days: int = 30) -> Period:
    """The `days` days ending with `today` (fewer at the very start of the calendar)."""
    span = timedelta(days=days - 1)
    return Period(today - span if today - date.min >= span else date.min, today)


# --- durations --------------------------------------------------------------------------


def minutes_between(earlier: datetime | None, later: datetime | None) -> float | None:
    """Minutes from `earlier` to `later`; None when either is missing; never below zero."""
    if earlier is None or later is None:
        return None
    return max(0.0, (later - earlier).total_seconds() / 60)


def time_to_detect(incident: Incident) -> float | None:
    return minutes_between(incident.impact_started_at, incident.detected_at)


def time_to_acknowledge(incident: Incident) -> float | None:
    return minutes_between(incident.detected_at, incident.acknowledged_at)


def time_to_restore(incident: Incident) -> float | None:
    return minutes_between(incident.impact_started_at, incident.resolved_at)


@dataclass(frozen=True)
class DurationStats:
    """Mean and median of some durations, in minutes; `count` is how many were measured."""

    count: int
    mean: float | None
    median: float | None

    @classmethod
    def of(cls, values: Iterable[float | None]) -> DurationStats:
        measured = [v for v in values if v is not None]
        if not measured:
            return cls(0, None, None)
        return cls(len(measured), statistics.fmean(measured), statistics.median(measured))


@dataclass(frozen=True)
class ResponseTimes:
    """MTTD, MTTA and MTTR for one group of incidents (all of them, or one priority)."""

    label: str
    incidents: int
    detect: DurationStats
    acknowledge: DurationStats
    restore: DurationStats

    @classmethod
    def of(cls, label: str, incidents: Sequence[Incident]) -> ResponseTimes:
        return cls(
            label=label,
            incidents=len(incidents),
            detect=DurationStats.of(time_to_detect(i) for i in incidents),
            acknowledge=DurationStats.of(time_to_acknowledge(i) for i in incidents),
            restore=DurationStats.of(time_to_restore(i) for i in incidents),
        )


# --- SLA compliance ---------------------------------------------------------------------


@dataclass(frozen=True)
class Compliance:
    """How many measured incidents met a target (`target` None: all their targets)."""

    target: SlaTarget | None
    measured: int
    breached: int

    @property
    def met(self) -> int:
        return self.measured - self.breached

    @property
    def percent(self) -> float | None:
        return 100.0 * self.met / self.measured if self.measured else None

    @property
    def label(self) -> str:
        if self.target is None:
            return N_("All targets")
        return {
            SlaTarget.ACKNOWLEDGE: N_("Acknowledge"),
            SlaTarget.MITIGATE: N_("Mitigate"),
            SlaTarget.RESOLVE: N_("Resolve"),
            SlaTarget.UPDATE: N_("Public update cadence"),
        }[self.target]


def breached_targets(
    incident: Incident,
    policy: SlaPolicy,
    *,
    now: datetime,
    last_public_update_at: datetime | None,
    recorded: Iterable[SlaTarget] = (),
) -> tuple[set[SlaTarget], set[SlaTarget]]:
    """(targets measured, targets breached) for one incident under `policy`."""
    measured = set(MILESTONE_TARGETS)
    if incident.is_public:
        measured.add(SlaTarget.UPDATE)
    clocks = compute_clocks(incident, policy, now=now, last_public_update_at=last_public_update_at)
    breached = {clock.target for clock in clocks if clock.state == SlaState.BREACHED}
    breached |= set(recorded)
    return measured, breached & measured


def sla_compliance(
    incidents: Sequence[Incident],
    policies: Mapping[Priority, SlaPolicy],
    *,
    now: datetime,
    last_public_updates: Mapping[int, datetime] | None = None,
    recorded_breaches: Mapping[int, Iterable[SlaTarget]] | None = None,
) -> list[Compliance]:
    """Compliance per target, then for all targets together (see the module's docstring)."""
    last_public_updates = last_public_updates or {}
    recorded_breaches = recorded_breaches or {}
    measured: Counter[SlaTarget] = Counter()
    breached: Counter[SlaTarget] = Counter()
    incidents_measured = incidents_breached = 0
    for incident in incidents:
        policy = policies.get(incident.priority) if incident.priority else None
        if policy is None or incident.status == IncidentStatus.CANCELLED:
            continue
        its_targets, its_breaches = breached_targets(
            incident,
            policy,
            now=now,
            last_public_update_at=last_public_updates.get(incident.id),
            recorded=recorded_breaches.get(incident.id, ()),
        )
        measured.update(its_targets)
        breached.update(its_breaches)
        incidents_measured += 1
        incidents_breached += bool(its_breaches)
    per_target = [Compliance(t, measured[t], breached[t]) for t in SlaTarget]
    return per_target + [Compliance(None, incidents_measured, incidents_breached)]


# --- the period report ------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodReport:
    period: Period
    total: int  # incidents counted (cancelled ones left out)
    cancelled: int
    overall: ResponseTimes
    by_priority: list[ResponseTimes]
    volume_by_priority: list[tuple[str, int]]
    volume_by_category: list[tuple[str, int]]
    compliance: list[Compliance] = field(default_factory=list)

    @property
    def compliance_overall(self) -> Compliance:
        return self.compliance[-1]


def summarize(
    period: Period,
    incidents: Sequence[Incident],
    *,
    now: datetime,
    policies: Mapping[Priority, SlaPolicy],
    category_names: Mapping[int, str] | None = None,
    last_public_updates: Mapping[int, datetime] | None = None,
    recorded_breaches: Mapping[int, Iterable[SlaTarget]] | None = None,
) -> PeriodReport:
    """The report for incidents already chosen for the period. Pure: no database."""
    category_names = category_names or {}
    counted = [i for i in incidents if i.status != IncidentStatus.CANCELLED]
    groups: dict[str, list[Incident]] = defaultdict(list)
    for incident in counted:
        groups[incident.priority.value if incident.priority else NO_PRIORITY].append(incident)
    labels = [p.value for p in Priority] + ([NO_PRIORITY] if groups.get(NO_PRIORITY) else [])

    categories: Counter[str] = Counter(
        category_names.get(i.category_id, UNCATEGORIZED) if i.category_id else UNCATEGORIZED
        for i in counted
    )
    return PeriodReport(
        period=period,
        total=len(counted),
        cancelled=len(incidents) - len(counted),
        overall=ResponseTimes.of(ALL, counted),
        by_priority=[ResponseTimes.of(label, groups.get(label, [])) for label in labels],
        volume_by_priority=[(label, len(groups.get(label, []))) for label in labels],
        volume_by_category=sorted(categories.items(), key=lambda item: (-item[1], item[0])),
        compliance=sla_compliance(
            counted,
            policies,
            now=now,
            last_public_updates=last_public_updates,
            recorded_breaches=recorded_breaches,
        ),
    )


def _in_period(period: Period) -> list[sa.ColumnElement[bool]]:
    return [Incident.impact_started_at >= period.start, Incident.impact_started_at < period.end]


# Only what the measures and the SLA clocks read; descriptions and the rest stay in the table.
_REPORT_COLUMNS = (
    Incident.status,
    Incident.priority,
    Incident.category_id,
    Incident.is_public,
    Incident.public_status,
    Incident.impact_started_at,
    Incident.detected_at,
    Incident.reported_at,
    Incident.acknowledged_at,
    Incident.mitigated_at,
    Incident.resolved_at,
    Incident.closed_at,
    Incident.cancelled_at,
)


def period_report(session: Session, period: Period, *, now: datetime) -> PeriodReport:
    """Five statements, however many incidents the period holds."""
    conditions = _in_period(period)
    in_period_ids = sa.select(Incident.id).where(*conditions).scalar_subquery()
    incidents = session.scalars(
        sa.select(Incident).where(*conditions).options(load_only(*_REPORT_COLUMNS))
    ).all()
    policies = {p.priority: p for p in session.scalars(sa.select(SlaPolicy))}
    last_updates = {
        incident_id: published_at
        for incident_id, published_at in session.execute(
            sa.select(IncidentUpdate.incident_id, sa.func.max(IncidentUpdate.published_at))
            .where(
                IncidentUpdate.incident_id.in_(in_period_ids),
                IncidentUpdate.published_at.is_not(None),
            )
            .group_by(IncidentUpdate.incident_id)
        )
    }
    recorded: dict[int, set[SlaTarget]] = defaultdict(set)
    for incident_id, target in session.execute(
        sa.select(SlaEvent.incident_id, SlaEvent.target).where(
            SlaEvent.state == SlaState.BREACHED, SlaEvent.incident_id.in_(in_period_ids)
        )
    ):
        recorded[incident_id].add(target)
    category_names = {
        category_id: name
        for category_id, name in session.execute(
            sa.select(Category.id, Category.name).where(
                Category.id.in_(sa.select(Incident.category_id).where(*conditions))
            )
        )
    }
    return summarize(
        period,
        incidents,
        now=now,
        policies=policies,
        category_names=category_names,
        last_public_updates=last_updates,
        recorded_breaches=recorded,
    )


# --- CSV export -------------------------------------------------------------------------

CSV_HEADER = (
    "id",
    "title",
    "status",
    "priority",
    "category",
    "impact_started_at",
    "detected_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
    "mttd_minutes",
    "mtta_minutes",
    "mttr_minutes",
)


def _iso(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _minutes(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def csv_row(incident: Incident, category_name: str | None) -> list[str]:
    """One incident as CSV cells, every one safe to open in a spreadsheet."""
    cells = [
        str(incident.id),
        incident.title,
        incident.status.value,
        incident.priority.value if incident.priority else "",
        category_name or "",
        _iso(incident.impact_started_at),
        _iso(incident.detected_at),
        _iso(incident.acknowledged_at),
        _iso(incident.resolved_at),
        _iso(incident.closed_at),
        _minutes(time_to_detect(incident)),
        _minutes(time_to_acknowledge(incident)),
        _minutes(time_to_restore(incident)),
    ]
    return [neutralize_cell(cell) for cell in cells]


def export_rows(session: Session, period: Period) -> Iterator[list[str]]:
    """The header, then every incident of the period (cancelled ones too), oldest first.

    One statement, read in batches.
    """
    yield list(CSV_HEADER)
    rows = session.execute(
        sa.select(Incident, Category.name)
        .outerjoin(Category, Category.id == Incident.category_id)
        .where(*_in_period(period))
        .options(load_only(Incident.id, Incident.title, *_REPORT_COLUMNS))
        .order_by(Incident.impact_started_at, Incident.id)
        .execution_options(yield_per=500)
    )
    for incident, category_name in rows:
        yield csv_row(incident, category_name)
