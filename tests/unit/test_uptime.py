from datetime import UTC, datetime, timedelta

import pytest

from statuspage.components.models import ComponentStatus as C
from statuspage.components.uptime import StatusPoint, compute_uptime

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def report_for(points, days=90, now=NOW):
    return compute_uptime([StatusPoint(a, s) for a, s in points], now=now, days=days)


def by_day(report):
    return {d.day.isoformat(): d for d in report.days}


def test_always_operational_is_one_hundred_percent():
    report = report_for([(LONG_AGO, C.OPERATIONAL)])
    assert len(report.days) == 90
    assert report.days[-1].day.isoformat() == "2026-03-10"
    assert report.uptime_percent == pytest.approx(100.0)
    assert all(day.level == "operational" for day in report.days)
    # Today counts only up to now: 12 hours.
    assert report.days[-1].measured_minutes == pytest.approx(720)


def test_major_outage_counts_fully_and_partial_at_thirty_percent():
    report = report_for(
        [
            (LONG_AGO, C.OPERATIONAL),
            (at(2026, 3, 5, 10, 0), C.MAJOR_OUTAGE),
            (at(2026, 3, 5, 11, 0), C.PARTIAL_OUTAGE),
            (at(2026, 3, 5, 13, 0), C.OPERATIONAL),
        ]
    )
    day = by_day(report)["2026-03-05"]
    assert day.outage_minutes == pytest.approx(180)
    assert day.downtime_minutes == pytest.approx(60 + 0.3 * 120)
    assert day.level == "major"
    assert day.uptime_percent == pytest.approx(100 * (1 - 96 / 1440))
    measured = 89 * 1440 + 720
    assert report.uptime_percent == pytest.approx(100 * (1 - 96 / measured))


def test_degraded_performance_is_shown_but_not_downtime():
    report = report_for(
        [
            (LONG_AGO, C.OPERATIONAL),
            (at(2026, 3, 1, 8, 0), C.DEGRADED_PERFORMANCE),
            (at(2026, 3, 1, 9, 0), C.OPERATIONAL),
        ]
    )
    day = by_day(report)["2026-03-01"]
    assert day.downtime_minutes == 0
    assert day.level == "degraded"
    assert report.uptime_percent == pytest.approx(100.0)


def test_short_outage_is_a_minor_day():
    report = report_for(
        [
            (LONG_AGO, C.OPERATIONAL),
            (at(2026, 3, 2, 8, 0), C.MAJOR_OUTAGE),
            (at(2026, 3, 2, 8, 20), C.OPERATIONAL),
        ]
    )
    assert by_day(report)["2026-03-02"].level == "minor"


def test_outage_across_midnight_is_split_at_the_utc_day_boundary():
    report = report_for(
        [
            (LONG_AGO, C.OPERATIONAL),
            (at(2026, 3, 3, 23, 0), C.MAJOR_OUTAGE),
            (at(2026, 3, 4, 2, 30), C.OPERATIONAL),
        ]
    )
    days = by_day(report)
    assert days["2026-03-03"].downtime_minutes == pytest.approx(60)
    assert days["2026-03-04"].downtime_minutes == pytest.approx(150)
    assert days["2026-03-02"].downtime_minutes == 0


def test_zone_of_the_input_does_not_move_the_day_boundary():
    plus_two = datetime(2026, 3, 4, 1, 0, tzinfo=UTC).astimezone(
        __import__("datetime").timezone(timedelta(hours=2))
    )  # 01:00 UTC written as 03:00+02:00
    report = report_for(
        [(LONG_AGO, C.OPERATIONAL), (plus_two, C.MAJOR_OUTAGE), (at(2026, 3, 4, 2), C.OPERATIONAL)]
    )
    days = by_day(report)
    assert days["2026-03-04"].downtime_minutes == pytest.approx(60)
    assert days["2026-03-03"].downtime_minutes == 0


def test_outage_spanning_months_counts_on_every_day():
    report = report_for(
        [
            (LONG_AGO, C.OPERATIONAL),
            (at(2026, 1, 31, 12, 0), C.MAJOR_OUTAGE),
            (at(2026, 2, 2, 12, 0), C.OPERATIONAL),
        ]
    )
    days = by_day(report)
    assert days["2026-01-31"].downtime_minutes == pytest.approx(720)
    assert days["2026-02-01"].downtime_minutes == pytest.approx(1440)
    assert days["2026-02-01"].uptime_percent == pytest.approx(0.0)
    assert days["2026-02-02"].downtime_minutes == pytest.approx(720)


def test_outage_still_going_counts_up_to_now():
    report = report_for([(LONG_AGO, C.OPERATIONAL), (at(2026, 3, 10, 11, 0), C.MAJOR_OUTAGE)])
    assert report.days[-1].downtime_minutes == pytest.approx(60)


def test_overlapping_incidents_on_one_component_never_count_twice():
    # Two incidents: the first takes the component down at 10:00, the second (opened at 10:30)
    # sets it to partial, the first's fix brings it back to major, and all ends at 12:00.
    # The history is one timeline, so each minute is counted once.
    report = report_for(
        [
            (LONG_AGO, C.OPERATIONAL),
            (at(2026, 3, 6, 10, 0), C.MAJOR_OUTAGE),
            (at(2026, 3, 6, 10, 30), C.PARTIAL_OUTAGE),
            (at(2026, 3, 6, 11, 0), C.MAJOR_OUTAGE),
            (at(2026, 3, 6, 12, 0), C.OPERATIONAL),
        ]
    )
    day = by_day(report)["2026-03-06"]
    assert day.outage_minutes == pytest.approx(120)
    assert day.downtime_minutes == pytest.approx(90 + 0.3 * 30)
    assert day.measured_minutes == pytest.approx(1440)


def test_maintenance_is_excluded_from_both_sides():
    report = report_for(
        [
            (LONG_AGO, C.OPERATIONAL),
            (at(2026, 3, 7, 2, 0), C.UNDER_MAINTENANCE),
            (at(2026, 3, 7, 6, 0), C.OPERATIONAL),
        ]
    )
    day = by_day(report)["2026-03-07"]
    assert day.maintenance_minutes == pytest.approx(240)
    assert day.measured_minutes == pytest.approx(1200)
    assert day.downtime_minutes == 0
    assert day.uptime_percent == pytest.approx(100.0)
    assert day.level == "operational"


def test_a_day_entirely_under_maintenance_has_no_uptime_figure():
    report = report_for(
        [
            (LONG_AGO, C.OPERATIONAL),
            (at(2026, 3, 8, 0, 0), C.UNDER_MAINTENANCE),
            (at(2026, 3, 9, 0, 0), C.OPERATIONAL),
        ]
    )
    day = by_day(report)["2026-03-08"]
    assert day.uptime_percent is None
    assert day.measured_minutes == 0


def test_days_before_the_component_existed_have_no_data():
    report = report_for([(at(2026, 3, 8, 12, 0), C.OPERATIONAL)])
    days = by_day(report)
    assert days["2026-03-07"].level == "no_data"
    assert days["2026-03-08"].measured_minutes == pytest.approx(720)
    assert report.measured_minutes == pytest.approx(720 + 1440 + 720)


def test_history_before_the_window_sets_the_status_at_its_start():
    # The component went down before the 90-day window and came back on its second day.
    first_day = (NOW - timedelta(days=89)).date()
    report = report_for(
        [
            (LONG_AGO, C.OPERATIONAL),
            (at(2025, 12, 1, 0, 0), C.MAJOR_OUTAGE),
            (
                datetime.combine(first_day + timedelta(days=1), datetime.min.time(), UTC),
                C.OPERATIONAL,
            ),
        ]
    )
    assert report.days[0].day == first_day
    assert report.days[0].downtime_minutes == pytest.approx(1440)
    assert report.days[1].downtime_minutes == 0


def test_no_history_means_no_data():
    report = report_for([])
    assert report.uptime_percent is None
    assert all(day.level == "no_data" for day in report.days)


def test_displayed_uptime_never_rounds_downtime_up_to_a_hundred_percent():
    from statuspage.templating import uptime_percent

    assert uptime_percent(99.9968) == "99.99%"
    assert uptime_percent(100.0) == "100.00%"
    assert uptime_percent(None) == "No data"


def test_days_follow_the_page_time_zone():
    """An outage from 23:00 to 01:00 UTC falls on two UTC days, but on one day in Tokyo
    (08:00 to 10:00 there)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from statuspage.components.models import ComponentStatus
    from statuspage.components.uptime import StatusPoint, compute_uptime

    points = [
        StatusPoint(at=datetime(2026, 3, 1, 0, 0, tzinfo=UTC), status=ComponentStatus.OPERATIONAL),
        StatusPoint(
            at=datetime(2026, 3, 9, 23, 0, tzinfo=UTC), status=ComponentStatus.MAJOR_OUTAGE
        ),
        StatusPoint(at=datetime(2026, 3, 10, 1, 0, tzinfo=UTC), status=ComponentStatus.OPERATIONAL),
    ]
    now = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)
    utc = compute_uptime(points, now=now, days=5)
    tokyo = compute_uptime(points, now=now, days=5, zone=ZoneInfo("Asia/Tokyo"))
    down_utc = {d.day.isoformat(): d.outage_minutes for d in utc.days if d.outage_minutes}
    down_tokyo = {d.day.isoformat(): d.outage_minutes for d in tokyo.days if d.outage_minutes}
    assert down_utc == {"2026-03-09": 60.0, "2026-03-10": 60.0}
    assert down_tokyo == {"2026-03-10": 120.0}
    assert tokyo.days[-1].day.isoformat() == "2026-03-12"  # 21:00 in Tokyo


def test_a_change_recorded_now_cannot_land_on_a_stored_day():
    from datetime import UTC, datetime, timedelta

    from statuspage.components.models import _after_every_day_end

    now = datetime(2026, 12, 4, 22, 3, 10, tzinfo=UTC)
    # No quarter hour (a midnight somewhere) between the moment and now plus a minute.
    assert _after_every_day_end(now, now)
    assert _after_every_day_end(now - timedelta(minutes=2), now)
    assert _after_every_day_end(now + timedelta(days=1), now)  # a moment still to come
    # A quarter hour passed since: a day may have ended, and been stored, after the moment.
    assert not _after_every_day_end(now - timedelta(minutes=5), now)
    assert not _after_every_day_end(now - timedelta(days=3), now)
    # Within the clocks' minute of the next quarter hour: another process may be past it.
    late = datetime(2026, 12, 4, 22, 14, 30, tzinfo=UTC)
    assert not _after_every_day_end(late, late)
    # Chatham's midnight (+12:45 or +13:45) is a quarter hour too.
    assert not _after_every_day_end(
        datetime(2026, 12, 4, 10, 14, 59, tzinfo=UTC), datetime(2026, 12, 4, 10, 15, 1, tzinfo=UTC)
    )
