"""SLA clocks: how far each target of an incident's priority has run.

A clock starts when the incident was detected (or logged) and stops at its milestone:
acknowledge -> acknowledged_at, mitigate -> mitigated_at (or resolved_at), resolve -> resolved_at.
The public-update clock runs from the last public update (or from detection when there is none)
while the incident is publicly unresolved. At 75% a clock is at risk; at 100% it is breached.
Business-hours-only policies count Monday to Friday, 09:00-17:00 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.incidents.models import (
    Incident,
    IncidentStatus,
    IncidentUpdate,
    PublicStatus,
    SlaPolicy,
    SlaState,
    SlaTarget,
)

AT_RISK_FRACTION = 0.75
BUSINESS_START_HOUR = 9
BUSINESS_END_HOUR = 17

CLOSED_STATES = (IncidentStatus.CLOSED, IncidentStatus.CANCELLED)


@dataclass(frozen=True)
class SlaClock:
    target: SlaTarget
    started_at: datetime
    due_at: datetime
    stopped_at: datetime | None
    minutes_allowed: int
    minutes_used: float

    @property
    def fraction(self) -> float:
        return self.minutes_used / self.minutes_allowed if self.minutes_allowed else 0.0

    @property
    def state(self) -> SlaState:
        if self.fraction >= 1.0:
            return SlaState.BREACHED
        if self.fraction >= AT_RISK_FRACTION:
            return SlaState.AT_RISK
        return SlaState.OK

    @property
    def running(self) -> bool:
        return self.stopped_at is None


def business_minutes_between(start: datetime, end: datetime) -> float:
    """Minutes inside Monday-Friday 09:00-17:00 UTC between two instants."""
    if end <= start:
        return 0.0
    total = 0.0
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        if day.weekday() < 5:
            open_at = day.replace(hour=BUSINESS_START_HOUR)
            close_at = day.replace(hour=BUSINESS_END_HOUR)
            lo, hi = max(start, open_at), min(end, close_at)
            if hi > lo:
                total += (hi - lo).total_seconds() / 60
        day += timedelta(days=1)
    return total


def add_business_minutes(start: datetime, minutes: int) -> datetime:
    """The instant `minutes` business minutes after `start`."""
    remaining = float(minutes)
    cursor = start
    while True:
        day = cursor.replace(hour=0, minute=0, second=0, microsecond=0)
        if day.weekday() < 5:
            open_at = day.replace(hour=BUSINESS_START_HOUR)
            close_at = day.replace(hour=BUSINESS_END_HOUR)
            lo = max(cursor, open_at)
            if lo < close_at:
                available = (close_at - lo).total_seconds() / 60
                if available >= remaining:
                    return lo + timedelta(minutes=remaining)
                remaining -= available
        cursor = day + timedelta(days=1)


def compute_clocks(
    incident: Incident,
    policy: SlaPolicy | None,
    *,
    now: datetime,
    last_public_update_at: datetime | None,
) -> list[SlaClock]:
    if policy is None:
        return []
    start = incident.detected_at or incident.reported_at
    targets = [
        (SlaTarget.ACKNOWLEDGE, policy.acknowledge_minutes, start, incident.acknowledged_at),
        (
            SlaTarget.MITIGATE,
            policy.mitigate_minutes,
            start,
            incident.mitigated_at or incident.resolved_at,
        ),
        (SlaTarget.RESOLVE, policy.resolve_minutes, start, incident.resolved_at),
    ]
    if incident.is_public and incident.public_status != PublicStatus.RESOLVED:
        targets.append(
            (SlaTarget.UPDATE, policy.update_cadence_minutes, last_public_update_at or start, None)
        )
    clocks = []
    for target, allowed, begun, stopped in targets:
        if stopped is None and incident.status in CLOSED_STATES:
            stopped = incident.closed_at or incident.cancelled_at or now
        end = stopped or now
        if policy.business_hours_only:
            used = business_minutes_between(begun, end)
            due = add_business_minutes(begun, allowed)
        else:
            used = max(0.0, (end - begun).total_seconds() / 60)
            due = begun + timedelta(minutes=allowed)
        clocks.append(SlaClock(target, begun, due, stopped, allowed, used))
    return clocks


def clocks_for(session: Session, incident: Incident, *, now: datetime) -> list[SlaClock]:
    if incident.priority is None:
        return []
    policy = session.scalar(sa.select(SlaPolicy).where(SlaPolicy.priority == incident.priority))
    last_update = session.scalar(
        sa.select(sa.func.max(IncidentUpdate.published_at)).where(
            IncidentUpdate.incident_id == incident.id
        )
    )
    return compute_clocks(incident, policy, now=now, last_public_update_at=last_update)


_ORDER = [SlaState.OK, SlaState.AT_RISK, SlaState.BREACHED]


def worst_state(clocks: list[SlaClock]) -> SlaState:
    return max((clock.state for clock in clocks), key=_ORDER.index, default=SlaState.OK)


def running_state(clocks: list[SlaClock]) -> SlaState:
    """The worst state of the running clocks: what `Incident.sla_state` holds once the SLA job
    has run (see `escalation`), computed now instead of at the job's last run."""
    return worst_state([clock for clock in clocks if clock.running])


@dataclass(frozen=True)
class SlaSummary:
    """The incident page's SLA header, read from the same clocks as its clock table.

    `state` is the worst of all the clocks shown; `stopped` says that no running clock is that
    bad (the breach is history: the milestone came late). `any_clocks` is False without a
    priority or a policy for it.
    """

    state: SlaState
    stopped: bool
    any_clocks: bool


def summarize(clocks: list[SlaClock]) -> SlaSummary:
    state = worst_state(clocks)
    stopped = state != SlaState.OK and running_state(clocks) != state
    return SlaSummary(state=state, stopped=stopped, any_clocks=bool(clocks))


def running_states(
    session: Session, incidents: list[Incident], *, now: datetime
) -> dict[int, SlaState]:
    """`running_state` of each incident's clocks, computed now: for a list of incidents, in two
    statements however many there are."""
    priorities = {incident.priority for incident in incidents if incident.priority is not None}
    if not priorities:
        return {incident.id: SlaState.OK for incident in incidents}
    policies = {
        policy.priority: policy
        for policy in session.scalars(
            sa.select(SlaPolicy).where(SlaPolicy.priority.in_(priorities))
        )
    }
    ids = [incident.id for incident in incidents]
    last_updates = dict(
        session.execute(
            sa.select(IncidentUpdate.incident_id, sa.func.max(IncidentUpdate.published_at))
            .where(IncidentUpdate.incident_id.in_(ids))
            .group_by(IncidentUpdate.incident_id)
        ).all()
    )
    states = {}
    for incident in incidents:
        if incident.priority is None:
            states[incident.id] = SlaState.OK
            continue
        clocks = compute_clocks(
            incident,
            policies.get(incident.priority),
            now=now,
            last_public_update_at=last_updates.get(incident.id),
        )
        states[incident.id] = running_state(clocks)
    return states
