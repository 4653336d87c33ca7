"""SLA clocks, computed from an incident's milestones alone: no database, no app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from statuspage.incidents.models import (
    Incident,
    IncidentStatus,
    Priority,
    PublicStatus,
    SlaPolicy,
    SlaState,
    SlaTarget,
)
from statuspage.incidents.sla import (
    business_minutes_between,
    compute_clocks,
    worst_state,
)

MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday, 08:00 UTC


def policy(**overrides: Any) -> SlaPolicy:
    fields: dict[str, Any] = {
        "priority": Priority.P1,
        "name": "Critical",
        "acknowledge_minutes": 60,
        "mitigate_minutes": 240,
        "resolve_minutes": 480,
        "update_cadence_minutes": 30,
        "business_hours_only": False,
        "escalation_contacts": [],
    }
    fields.update(overrides)
    return SlaPolicy(**fields)


def incident(**overrides: Any) -> Incident:
    fields: dict[str, Any] = {
        "title": "Database down",
        "status": IncidentStatus.INVESTIGATING,
        "priority": Priority.P1,
        "detected_at": MONDAY,
        "reported_at": MONDAY,
        "is_public": False,
    }
    fields.update(overrides)
    return Incident(**fields)


def clocks(
    subject: Incident, sla: SlaPolicy | None = None, *, at: timedelta, last_update: Any = None
) -> dict[SlaTarget, Any]:
    computed = compute_clocks(
        subject, sla or policy(), now=MONDAY + at, last_public_update_at=last_update
    )
    return {clock.target: clock for clock in computed}


@pytest.mark.parametrize(
    ("minutes", "state"),
    [
        (0, SlaState.OK),
        (44.4, SlaState.OK),  # 74%
        (45, SlaState.AT_RISK),  # 75% exactly
        (59.9, SlaState.AT_RISK),
        (60, SlaState.BREACHED),  # 100% exactly
        (600, SlaState.BREACHED),
    ],
)
def test_acknowledge_clock_states_at_the_thresholds(minutes: float, state: SlaState) -> None:
    clock = clocks(incident(), at=timedelta(minutes=minutes))[SlaTarget.ACKNOWLEDGE]
    assert clock.state == state
    assert clock.running
    assert clock.due_at == MONDAY + timedelta(minutes=60)


def test_each_target_has_its_own_allowance() -> None:
    at_three_hours = clocks(incident(), at=timedelta(hours=3))
    assert at_three_hours[SlaTarget.ACKNOWLEDGE].state == SlaState.BREACHED  # 300%
    assert at_three_hours[SlaTarget.MITIGATE].state == SlaState.AT_RISK  # 180/240 = 75%
    assert at_three_hours[SlaTarget.RESOLVE].state == SlaState.OK  # 180/480 = 37.5%
    assert SlaTarget.UPDATE not in at_three_hours  # not public: no cadence


def test_the_clock_starts_at_detection_or_else_when_logged() -> None:
    late_detection = incident(detected_at=MONDAY + timedelta(minutes=30))
    clock = clocks(late_detection, at=timedelta(minutes=60))[SlaTarget.ACKNOWLEDGE]
    assert clock.started_at == MONDAY + timedelta(minutes=30)
    assert clock.minutes_used == pytest.approx(30)
    logged_only = incident(detected_at=None, reported_at=MONDAY + timedelta(minutes=10))
    assert clocks(logged_only, at=timedelta(minutes=70))[
        SlaTarget.ACKNOWLEDGE
    ].minutes_used == pytest.approx(60)


def test_a_milestone_stops_its_clock_for_good() -> None:
    acknowledged = incident(acknowledged_at=MONDAY + timedelta(minutes=50))
    for later in (timedelta(minutes=55), timedelta(days=3)):
        clock = clocks(acknowledged, at=later)[SlaTarget.ACKNOWLEDGE]
        assert not clock.running
        assert clock.stopped_at == MONDAY + timedelta(minutes=50)
        assert clock.minutes_used == pytest.approx(50)
        assert clock.state == SlaState.AT_RISK  # what it reached, kept once stopped


def test_resolution_stops_mitigate_and_resolve_and_an_acknowledged_breach_stays() -> None:
    resolved = incident(
        status=IncidentStatus.RESOLVED,
        acknowledged_at=MONDAY + timedelta(minutes=90),
        resolved_at=MONDAY + timedelta(minutes=120),
    )
    found = clocks(resolved, at=timedelta(days=2))
    assert not any(clock.running for clock in found.values())
    assert found[SlaTarget.ACKNOWLEDGE].state == SlaState.BREACHED
    assert found[SlaTarget.MITIGATE].stopped_at == MONDAY + timedelta(minutes=120)
    assert found[SlaTarget.RESOLVE].state == SlaState.OK  # 120 of 480 minutes


def test_closing_or_cancelling_stops_every_clock() -> None:
    cancelled = incident(
        status=IncidentStatus.CANCELLED, cancelled_at=MONDAY + timedelta(minutes=20)
    )
    found = clocks(cancelled, at=timedelta(days=1))
    assert all(clock.stopped_at == MONDAY + timedelta(minutes=20) for clock in found.values())
    assert worst_state([c for c in found.values() if c.running]) == SlaState.OK


def test_public_update_cadence_runs_from_the_last_update_until_publicly_resolved() -> None:
    public = incident(is_public=True, public_status=PublicStatus.INVESTIGATING)
    first = clocks(public, at=timedelta(minutes=31))[SlaTarget.UPDATE]
    assert first.started_at == MONDAY and first.state == SlaState.BREACHED
    after_update = clocks(
        public, at=timedelta(minutes=31), last_update=MONDAY + timedelta(minutes=20)
    )[SlaTarget.UPDATE]
    assert after_update.started_at == MONDAY + timedelta(minutes=20)
    assert after_update.state == SlaState.OK  # 11 of 30 minutes
    publicly_resolved = incident(is_public=True, public_status=PublicStatus.RESOLVED)
    assert SlaTarget.UPDATE not in clocks(publicly_resolved, at=timedelta(minutes=31))


def test_no_policy_no_clocks() -> None:
    assert compute_clocks(incident(), None, now=MONDAY, last_public_update_at=None) == []


def test_worst_state_orders_ok_at_risk_breached() -> None:
    found = clocks(incident(), at=timedelta(hours=3))
    assert worst_state(list(found.values())) == SlaState.BREACHED
    assert worst_state([found[SlaTarget.MITIGATE], found[SlaTarget.RESOLVE]]) == SlaState.AT_RISK
    assert worst_state([]) == SlaState.OK


# Business hours: Monday to Friday, 09:00-17:00 UTC.

FRIDAY_16 = datetime(2026, 3, 6, 16, 0, tzinfo=UTC)


def test_business_minutes_skip_nights_and_weekends() -> None:
    assert business_minutes_between(FRIDAY_16, FRIDAY_16 + timedelta(hours=1)) == 60
    # Friday 16:00 to Monday 10:00: one hour on Friday, one on Monday.
    assert business_minutes_between(FRIDAY_16, FRIDAY_16 + timedelta(days=2, hours=18)) == 120
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    assert business_minutes_between(saturday, saturday + timedelta(hours=20)) == 0


def test_business_hours_policy_pauses_the_clock_over_the_weekend() -> None:
    sla = policy(priority=Priority.P4, acknowledge_minutes=120, business_hours_only=True)
    friday = incident(priority=Priority.P4, detected_at=FRIDAY_16, reported_at=FRIDAY_16)

    def ack_at(moment: datetime) -> Any:
        found = compute_clocks(friday, sla, now=moment, last_public_update_at=None)
        return {clock.target: clock for clock in found}[SlaTarget.ACKNOWLEDGE]

    monday_10 = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    assert ack_at(monday_10).due_at == monday_10
    saturday_noon = ack_at(datetime(2026, 3, 7, 12, 0, tzinfo=UTC))
    assert saturday_noon.minutes_used == 60 and saturday_noon.state == SlaState.OK  # 50%
    assert ack_at(datetime(2026, 3, 9, 9, 29, tzinfo=UTC)).state == SlaState.OK  # 89 = 74%
    assert ack_at(datetime(2026, 3, 9, 9, 30, tzinfo=UTC)).state == SlaState.AT_RISK  # 75%
    assert ack_at(monday_10).state == SlaState.BREACHED


def test_a_business_hours_clock_started_at_night_begins_at_nine() -> None:
    sla = policy(acknowledge_minutes=60, business_hours_only=True)
    night = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)  # Tuesday 02:00
    found = compute_clocks(
        incident(detected_at=night, reported_at=night),
        sla,
        now=night + timedelta(hours=7, minutes=45),
        last_public_update_at=None,
    )
    ack = {clock.target: clock for clock in found}[SlaTarget.ACKNOWLEDGE]
    assert ack.due_at == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    assert ack.minutes_used == 45 and ack.state == SlaState.AT_RISK
