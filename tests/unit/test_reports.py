"""The period report's arithmetic, on incidents built in memory: no database."""

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest

import statuspage.models  # noqa: F401  (every mapper known before building transient rows)
from statuspage.core.errors import DomainError
from statuspage.incidents import reports
from statuspage.incidents.models import (
    Incident,
    IncidentStatus,
    Priority,
    PublicStatus,
    SlaPolicy,
    SlaTarget,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
PERIOD = reports.Period(date(2026, 3, 1), date(2026, 3, 31))


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def incident(
    id: int,
    *,
    status: IncidentStatus = IncidentStatus.RESOLVED,
    priority: Priority | None = Priority.P1,
    category_id: int | None = None,
    started: datetime = T0,
    detected: float | None = 0,
    acknowledged: float | None = None,
    mitigated: float | None = None,
    resolved: float | None = None,
    closed: float | None = None,
    public: bool = False,
    title: str = "Something broke",
) -> Incident:
    """An incident whose milestones are given in minutes after the impact started."""

    def at(offset: float | None) -> datetime | None:
        return None if offset is None else started + minutes(offset)

    return Incident(
        id=id,
        title=title,
        status=status,
        priority=priority,
        category_id=category_id,
        impact_started_at=started,
        detected_at=at(detected),
        reported_at=at(detected) or started,
        acknowledged_at=at(acknowledged),
        mitigated_at=at(mitigated),
        resolved_at=at(resolved),
        closed_at=at(closed),
        is_public=public,
        public_status=PublicStatus.INVESTIGATING if public else None,
    )


def policy(priority: Priority, ack: int, mitigate: int, resolve: int, cadence: int = 30):
    return SlaPolicy(
        priority=priority,
        name=priority.value,
        acknowledge_minutes=ack,
        mitigate_minutes=mitigate,
        resolve_minutes=resolve,
        update_cadence_minutes=cadence,
        business_hours_only=False,
    )


POLICIES = {
    Priority.P1: policy(Priority.P1, 60, 240, 480),
    Priority.P2: policy(Priority.P2, 240, 480, 1440),
}


# --- the period -------------------------------------------------------------------------


def test_a_period_is_whole_utc_days_with_an_exclusive_end():
    period = reports.period_of_days(date(2026, 3, 1), date(2026, 3, 31))
    assert period.start == datetime(2026, 3, 1, tzinfo=UTC)
    assert period.end == datetime(2026, 4, 1, tzinfo=UTC)
    assert period.days == 31
    one_day = reports.period_of_days(date(2026, 3, 5), date(2026, 3, 5))
    assert one_day.end - one_day.start == timedelta(days=1)


def test_last_days_ends_today():
    period = reports.last_days(date(2026, 3, 31), 30)
    assert (period.first_day, period.last_day, period.days) == (
        date(2026, 3, 2),
        date(2026, 3, 31),
        30,
    )
    assert reports.last_days(date(1, 1, 5), 30).first_day == date(1, 1, 1)


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        (date(2026, 3, 2), date(2026, 3, 1), "end"),
        (date(2024, 1, 1), date(2025, 1, 1), "start"),  # 367 days
        (date(9999, 12, 1), date(9999, 12, 31), "end"),  # the day after cannot be written
    ],
)
def test_impossible_periods_are_refused_with_a_reason(first, last, field):
    with pytest.raises(DomainError) as error:
        reports.period_of_days(first, last)
    assert error.value.field == field
    assert error.value.message


def test_the_longest_period_is_allowed():
    first = date(2024, 1, 1)
    period = reports.period_of_days(first, first + timedelta(days=reports.MAX_PERIOD_DAYS - 1))
    assert period.days == reports.MAX_PERIOD_DAYS


# --- durations --------------------------------------------------------------------------


def test_minutes_between_is_none_without_both_ends_and_never_negative():
    assert reports.minutes_between(T0, T0 + minutes(90)) == 90
    assert reports.minutes_between(None, T0) is None
    assert reports.minutes_between(T0, None) is None
    assert reports.minutes_between(T0 + minutes(5), T0) == 0


def test_the_three_measures_follow_their_definitions():
    row = incident(1, detected=10, acknowledged=25, resolved=70)
    assert reports.time_to_detect(row) == 10  # detected - impact started
    assert reports.time_to_acknowledge(row) == 15  # acknowledged - detected
    assert reports.time_to_restore(row) == 70  # resolved - impact started


def test_duration_stats_mean_median_and_count():
    stats = reports.DurationStats.of([10, None, 30, 5, 0])
    assert stats.count == 4
    assert stats.mean == pytest.approx(11.25)
    assert stats.median == pytest.approx(7.5)
    assert reports.DurationStats.of([None]) == reports.DurationStats(0, None, None)


# --- the summary ------------------------------------------------------------------------


def hand_made() -> list[Incident]:
    return [
        # P1, network: detected after 10, acknowledged 5 later, restored after 60
        incident(1, category_id=1, detected=10, acknowledged=15, resolved=60),
        # P1, network: 30, 20, 120
        incident(2, category_id=1, detected=30, acknowledged=50, resolved=120),
        # P3, database, still open and not acknowledged: only MTTD (5)
        incident(
            3,
            status=IncidentStatus.INVESTIGATING,
            priority=Priority.P3,
            category_id=2,
            detected=5,
        ),
        # not prioritized yet, detected at once
        incident(4, status=IncidentStatus.NEW, priority=None, detected=0),
        # cancelled: counted apart, left out of every measure
        incident(
            5,
            status=IncidentStatus.CANCELLED,
            priority=Priority.P2,
            category_id=2,
            detected=600,
            acknowledged=700,
            resolved=900,
        ),
    ]


def test_summary_overall_and_per_priority():
    report = reports.summarize(
        PERIOD,
        hand_made(),
        now=NOW,
        policies={},
        category_names={1: "Network", 2: "Database"},
    )
    assert report.total == 4
    assert report.cancelled == 1

    overall = report.overall
    assert overall.label == "All"
    assert overall.incidents == 4
    assert (overall.detect.count, overall.detect.mean, overall.detect.median) == (4, 11.25, 7.5)
    assert (overall.acknowledge.count, overall.acknowledge.mean) == (2, 12.5)
    assert (overall.restore.count, overall.restore.mean, overall.restore.median) == (2, 90, 90)

    by_label = {group.label: group for group in report.by_priority}
    assert list(by_label) == ["P1", "P2", "P3", "P4", "No priority"]
    assert by_label["P1"].incidents == 2
    assert by_label["P1"].detect.mean == 20
    assert by_label["P1"].acknowledge.mean == 12.5
    assert by_label["P1"].restore.mean == 90
    assert by_label["P2"].incidents == 0  # its only incident was cancelled
    assert by_label["P2"].detect == reports.DurationStats(0, None, None)
    assert by_label["P3"].detect.mean == 5
    assert by_label["P3"].acknowledge.count == 0
    assert by_label["P3"].restore.count == 0
    assert by_label["No priority"].detect.mean == 0

    assert report.volume_by_priority == [
        ("P1", 2),
        ("P2", 0),
        ("P3", 1),
        ("P4", 0),
        ("No priority", 1),
    ]
    assert report.volume_by_category == [("Network", 2), ("Database", 1), ("Uncategorized", 1)]


def test_no_priority_group_only_when_needed_and_empty_period():
    report = reports.summarize(PERIOD, [], now=NOW, policies=POLICIES)
    assert report.total == 0
    assert [g.label for g in report.by_priority] == ["P1", "P2", "P3", "P4"]
    assert report.volume_by_category == []
    assert report.overall.restore == reports.DurationStats(0, None, None)
    assert all(item.measured == 0 and item.percent is None for item in report.compliance)


# --- SLA compliance ---------------------------------------------------------------------


def by_target(compliance):
    return {item.target: (item.measured, item.breached) for item in compliance}


def test_sla_compliance_from_milestones():
    rows = [
        # within every P1 target (ack 60, mitigate 240, resolve 480)
        incident(1, detected=0, acknowledged=30, mitigated=100, resolved=200),
        # acknowledged after 90 minutes: the acknowledge target breached
        incident(2, detected=0, acknowledged=90, mitigated=100, resolved=200),
        # resolved after 10 hours: mitigate (no mitigation, so resolution) and resolve breached
        incident(3, detected=0, acknowledged=10, resolved=600),
        # still open, detected 20 minutes before now: nothing is past due yet
        incident(
            4,
            status=IncidentStatus.INVESTIGATING,
            started=NOW - minutes(20),
            detected=0,
            acknowledged=5,
        ),
        # no priority, no policy: not measured
        incident(5, priority=None, detected=0, acknowledged=500),
        # a priority without a policy: not measured either
        incident(6, priority=Priority.P4, detected=0, acknowledged=5000),
    ]
    compliance = reports.sla_compliance(rows, POLICIES, now=NOW)
    assert by_target(compliance) == {
        SlaTarget.ACKNOWLEDGE: (4, 1),
        SlaTarget.MITIGATE: (4, 1),
        SlaTarget.RESOLVE: (4, 1),
        SlaTarget.UPDATE: (0, 0),  # none of them public
        None: (4, 2),
    }
    overall = compliance[-1]
    assert overall.label == "All targets"
    assert overall.met == 2
    assert overall.percent == 50.0


def test_a_running_clock_counts_as_breached_once_past_due():
    late = incident(1, status=IncidentStatus.INVESTIGATING, started=NOW - minutes(120), detected=0)
    compliance = by_target(reports.sla_compliance([late], POLICIES, now=NOW))
    assert compliance[SlaTarget.ACKNOWLEDGE] == (1, 1)  # 120 > 60 minutes, not acknowledged
    assert compliance[SlaTarget.RESOLVE] == (1, 0)  # 120 < 480: not yet


def test_recorded_breaches_count_and_update_cadence_is_for_public_incidents():
    public = incident(1, detected=0, acknowledged=5, mitigated=10, resolved=20, public=True)
    private = incident(2, detected=0, acknowledged=5, mitigated=10, resolved=20)
    compliance = reports.sla_compliance(
        [public, private],
        POLICIES,
        now=NOW,
        # the SLA job saw the public incident go quiet for too long; the private one cannot
        # breach a public cadence, whatever a row says
        recorded_breaches={1: [SlaTarget.UPDATE], 2: [SlaTarget.UPDATE]},
        last_public_updates={1: T0},
    )
    assert by_target(compliance)[SlaTarget.UPDATE] == (1, 1)
    assert by_target(compliance)[None] == (2, 1)
    assert by_target(compliance)[SlaTarget.ACKNOWLEDGE] == (2, 0)


def test_cancelled_incidents_are_not_measured():
    cancelled = incident(1, status=IncidentStatus.CANCELLED, detected=0, acknowledged=500)
    assert by_target(reports.sla_compliance([cancelled], POLICIES, now=NOW))[None] == (0, 0)


# --- CSV --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Database slow", "Database slow"),
        ("a=b", "a=b"),
        ("", ""),
        ("2026-03-02T10:00:00Z", "2026-03-02T10:00:00Z"),
    ],
)
def test_formula_cells_are_neutralised(cell, expected):
    assert reports.neutralize_cell(cell) == expected


def test_csv_row_has_every_column_and_neutralises_text():
    row = incident(
        7,
        title="=cmd|' /C calc'!A0",
        detected=10,
        acknowledged=25,
        resolved=70,
        closed=90,
    )
    cells = reports.csv_row(row, "@Network")
    assert len(cells) == len(reports.CSV_HEADER)
    assert dict(zip(reports.CSV_HEADER, cells, strict=True)) == {
        "id": "7",
        "title": "'=cmd|' /C calc'!A0",
        "status": "resolved",
        "priority": "P1",
        "category": "'@Network",
        "impact_started_at": "2026-03-02T10:00:00Z",
        "detected_at": "2026-03-02T10:10:00Z",
        "acknowledged_at": "2026-03-02T10:25:00Z",
        "resolved_at": "2026-03-02T11:10:00Z",
        "closed_at": "2026-03-02T11:30:00Z",
        "mttd_minutes": "10.0",
        "mtta_minutes": "15.0",
        "mttr_minutes": "70.0",
    }


def test_csv_row_leaves_missing_milestones_empty():
    cells = dict(
        zip(
            reports.CSV_HEADER,
            reports.csv_row(incident(8, priority=None, detected=None), None),
            strict=True,
        )
    )
    assert cells["priority"] == cells["category"] == cells["detected_at"] == ""
    assert cells["mttd_minutes"] == cells["mtta_minutes"] == cells["mttr_minutes"] == ""


def test_reports_module_imports_no_flask():
    code = (
        "import sys, statuspage.incidents.reports\n"
        "print(','.join(sorted(m for m in sys.modules if m == 'flask' or m.startswith('flask'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
