"""Stored uptime days and the status history query, against the live count, on SQLite and
PostgreSQL: random histories (hypothesis), then a change recorded for a past moment."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statuspage.components.models import (
    Component,
    ComponentStatus,
    ComponentStatusChange,
    UptimeDay,
    UptimeWindow,
)
from statuspage.components.queries import status_points
from statuspage.components.status import add_component
from statuspage.components.uptime import StatusPoint, compute_uptime, day_start, window_days
from statuspage.components.uptime_days import uptime_reports, uptime_summaries

NOW = datetime(2026, 3, 29, 13, 17, 23, 250_000, tzinfo=UTC)  # a DST change in Europe
ZONES = [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Tokyo"), ZoneInfo("Pacific/Chatham")]
RELAXED = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Minutes before NOW, and a status; some land on the same moment, some before the window.
changes = st.lists(
    st.tuples(st.integers(min_value=1, max_value=60 * 24 * 40), st.sampled_from(ComponentStatus)),
    max_size=25,
)


def _component(session, created_minutes_ago: int, history) -> Component:
    component = add_component(
        session, name="C", now=NOW - timedelta(minutes=created_minutes_ago, seconds=7)
    )
    for minutes, status in history:
        session.add(
            ComponentStatusChange(
                component_id=component.id,
                status=status,
                changed_at=NOW - timedelta(minutes=minutes, microseconds=minutes * 37),
            )
        )
    session.flush()
    return component


def _live(session, component_id: int, days: int, zone) -> object:
    first = window_days(NOW, days, zone)[0]
    points = status_points(session, [component_id], day_start(first, zone))
    return compute_uptime(points.get(component_id, []), now=NOW, days=days, zone=zone)


def _assert_same(stored, live) -> None:
    assert [d.day for d in stored.days] == [d.day for d in live.days]
    for mine, theirs in zip(stored.days, live.days, strict=True):
        assert mine.has_data == theirs.has_data, mine.day
        assert mine.measured_minutes == theirs.measured_minutes, mine.day
        assert mine.maintenance_minutes == theirs.maintenance_minutes, mine.day
        assert mine.minutes_by_status == theirs.minutes_by_status, mine.day
        assert mine.level == theirs.level
    # To the last bit, not approximately: the page shows the same figure as before.
    assert stored.measured_minutes == live.measured_minutes
    assert stored.downtime_minutes == live.downtime_minutes
    assert stored.uptime_percent == live.uptime_percent


def _assert_summary(summary, live) -> None:
    assert summary.levels == [d.level for d in live.days]
    assert summary.measured_minutes == live.measured_minutes
    assert summary.downtime_minutes == live.downtime_minutes
    assert summary.uptime_percent == live.uptime_percent


@RELAXED
@given(
    created=st.integers(min_value=1, max_value=60 * 24 * 50),
    history=changes,
    zone=st.sampled_from(ZONES),
    days=st.sampled_from([1, 2, 30, 45]),
    backdated=st.tuples(
        st.integers(min_value=1, max_value=60 * 24 * 40), st.sampled_from(ComponentStatus)
    ),
)
def test_stored_days_equal_the_live_count(session, created, history, zone, days, backdated):
    component = _component(session, created, history)
    live = _live(session, component.id, days, zone)
    # First call counts and stores the closed days, the second reads them back.
    for _ in range(2):
        _assert_same(
            uptime_reports(session, [component.id], now=NOW, days=days, zone=zone)[component.id],
            live,
        )
        _assert_summary(
            uptime_summaries(session, [component.id], now=NOW, days=days, zone=zone)[component.id],
            live,
        )
        session.flush()

    # A change recorded afterwards for a past moment (an import, an edit): the stored days
    # from then on are dropped and counted again.
    minutes, status = backdated
    session.add(
        ComponentStatusChange(
            component_id=component.id,
            status=status,
            changed_at=NOW - timedelta(minutes=minutes, seconds=3),
        )
    )
    session.flush()
    live = _live(session, component.id, days, zone)
    _assert_same(
        uptime_reports(session, [component.id], now=NOW, days=days, zone=zone)[component.id],
        live,
    )
    _assert_summary(
        uptime_summaries(session, [component.id], now=NOW, days=days, zone=zone)[component.id],
        live,
    )


def test_closed_days_are_stored_once_and_today_is_not(session):
    component = _component(session, 60 * 24 * 10, [(60 * 24 * 3, ComponentStatus.MAJOR_OUTAGE)])
    zone = ZoneInfo("Europe/Berlin")
    uptime_summaries(session, [component.id], now=NOW, days=30, zone=zone)
    days = session.scalars(
        sa.select(UptimeDay.day).where(UptimeDay.component_id == component.id)
    ).all()
    today = NOW.astimezone(zone).date()
    assert len(days) == 29 and today not in days and max(days) == today - timedelta(days=1)
    window = session.scalars(
        sa.select(UptimeWindow).where(UptimeWindow.component_id == component.id)
    ).one()
    assert window.zone == "Europe/Berlin" and window.days == 29 and len(window.levels) == 29

    # The next render reads them: no statement touches the status history before today.
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        statements.append(statement)

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        uptime_summaries(session, [component.id], now=NOW + timedelta(hours=1), days=30, zone=zone)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert len(statements) == 2, statements  # the stored window, today's points
    assert "INSERT" not in " ".join(statements).upper()


def test_a_live_change_keeps_the_stored_window_and_a_past_one_drops_it(session):
    component = _component(session, 60 * 24 * 10, [(60 * 24 * 3, ComponentStatus.MAJOR_OUTAGE)])
    zone = ZoneInfo("Asia/Tokyo")
    uptime_summaries(session, [component.id], now=NOW, days=30, zone=zone)
    later = NOW + timedelta(minutes=30)  # still the same day in Tokyo (22:47)

    def window_count() -> int:
        query = sa.select(sa.func.count()).where(UptimeWindow.component_id == component.id)
        return session.scalar(query.select_from(UptimeWindow))

    # A publish today changes the status now: the closed days' window still holds.
    session.add(
        ComponentStatusChange(
            component_id=component.id, status=ComponentStatus.PARTIAL_OUTAGE, changed_at=later
        )
    )
    session.flush()
    assert window_count() == 1
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        statements.append(statement)

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        summary = uptime_summaries(session, [component.id], now=later, days=30, zone=zone)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert "INSERT" not in " ".join(statements).upper(), statements
    first = window_days(later, 30, zone)[0]
    points = status_points(session, [component.id], day_start(first, zone))
    _assert_summary(
        summary[component.id],
        compute_uptime(points[component.id], now=later, days=30, zone=zone),
    )

    # A change recorded for yesterday lands on a stored day: the window goes with it.
    session.add(
        ComponentStatusChange(
            component_id=component.id,
            status=ComponentStatus.DEGRADED_PERFORMANCE,
            changed_at=NOW - timedelta(days=1),
        )
    )
    session.flush()
    assert window_count() == 0


def test_deleting_a_component_drops_its_days(session):
    component = _component(session, 60 * 24 * 5, [])
    uptime_summaries(session, [component.id], now=NOW, days=10, zone=UTC)
    assert session.scalar(sa.select(sa.func.count()).select_from(UptimeDay)) == 9
    session.execute(
        sa.delete(ComponentStatusChange).where(ComponentStatusChange.component_id == component.id)
    )
    session.delete(component)
    session.flush()
    assert session.scalar(sa.select(sa.func.count()).select_from(UptimeDay)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(UptimeWindow)) == 0


def _old_status_points(session, component_ids, since):
    """The query as it was before the UNION ALL rewrite (an OR the index could not serve)."""
    earlier = sa.orm.aliased(ComponentStatusChange)
    last_before = (
        sa.select(earlier.id)
        .where(earlier.component_id == Component.id, earlier.changed_at < since)
        .order_by(earlier.changed_at.desc(), earlier.id.desc())
        .limit(1)
        .correlate(Component)
        .scalar_subquery()
    )
    previous_ids = sa.select(last_before).where(Component.id.in_(component_ids))
    rows = session.execute(
        sa.select(
            ComponentStatusChange.component_id,
            ComponentStatusChange.changed_at,
            ComponentStatusChange.status,
        )
        .where(
            sa.or_(
                sa.and_(
                    ComponentStatusChange.component_id.in_(component_ids),
                    ComponentStatusChange.changed_at >= since,
                ),
                ComponentStatusChange.id.in_(previous_ids),
            )
        )
        .order_by(ComponentStatusChange.changed_at, ComponentStatusChange.id)
    )
    points = defaultdict(list)
    for component_id, changed_at, status in rows:
        points[component_id].append(StatusPoint(at=changed_at, status=status))
    return dict(points)


@RELAXED
@given(
    histories=st.lists(changes, min_size=1, max_size=4),
    since_minutes=st.integers(min_value=0, max_value=60 * 24 * 45),
    same_moment=st.booleans(),
)
def test_status_points_equal_the_old_query(session, histories, since_minutes, same_moment):
    ids = []
    for history in histories:
        if same_moment and history:  # ties on changed_at: the larger id is the later change
            history = [*history, history[0]]
        ids.append(_component(session, 60 * 24 * 50, history).id)
    since = NOW - timedelta(minutes=since_minutes)
    # Include an id with no component, as a caller might after a deletion.
    wanted = [*ids, 2_000_000]
    assert dict(status_points(session, wanted, since)) == _old_status_points(session, wanted, since)


def test_the_worker_stores_the_closed_days_of_every_bar_once(app, session, make_component):
    from statuspage.worker.uptime import run_uptime_days

    make_component("API")
    make_component("Web")
    make_component("No bar", showcase=False)
    session.commit()
    with app.app_context():
        assert run_uptime_days() == 2
        assert run_uptime_days() == 0  # up to date: nothing counted again
    windows = session.scalars(sa.select(UptimeWindow.levels)).all()
    assert len(windows) == 2 and all(len(levels) == 89 for levels in windows)
