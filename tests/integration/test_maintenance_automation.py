"""Scheduled maintenance in the domain and its automation, on a frozen clock.

Runs on SQLite and PostgreSQL. `T0` is a fixed instant; every call passes its `now`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.components.models import Component, ComponentStatus
from statuspage.core.errors import DomainError, InvalidTransition, NotFound
from statuspage.core.models import AuditEntry, SiteState
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.incidents.automation import run_maintenance_automation
from statuspage.incidents.maintenance import (
    DEFAULT_MESSAGES,
    NewMaintenance,
    advance_maintenance,
    post_maintenance_update,
    schedule_maintenance,
    send_maintenance_reminder,
    update_maintenance,
)
from statuspage.incidents.models import Maintenance, MaintenanceStatus, MaintenanceUpdate

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
M = MaintenanceStatus


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def public_version(session) -> int:
    return session.scalar(sa.select(SiteState.public_version).where(SiteState.id == 1))


def notifications(session) -> list[tuple[str, int | None]]:
    """The outbox but the component events (checked in test_component_events.py)."""
    rows = session.scalars(
        sa.select(Notification)
        .where(Notification.kind != NotificationKind.COMPONENT_STATUS)
        .order_by(Notification.id)
    )
    return [(row.kind.value, row.maintenance_id) for row in rows]


def count(session, model) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def window(
    starts: float = 120,
    hours: float = 2,
    *,
    title: str = "Database upgrade",
    component_ids=(),
    **flags,
) -> NewMaintenance:
    return NewMaintenance(
        title=title,
        scheduled_for=at(starts),
        scheduled_until=at(starts + hours * 60),
        body="Expect a short read-only period.",
        component_ids=list(component_ids),
        **flags,
    )


@pytest.fixture
def schedule(session):
    def make(command: NewMaintenance, *, now: datetime = T0) -> Maintenance:
        maintenance = schedule_maintenance(session, command, actor_id=None, now=now)
        session.commit()
        return maintenance

    return make


# --- the domain -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (window(title="   "), "title"),
        (window(title="x" * 201), "title"),
        (
            NewMaintenance(title="Backwards", scheduled_for=at(60), scheduled_until=at(30)),
            "scheduled_until",
        ),
        (
            NewMaintenance(title="Empty", scheduled_for=at(60), scheduled_until=at(60)),
            "scheduled_until",
        ),
        (window(starts=-60), "scheduled_for"),
        (window(reminder_minutes_before=0), "reminder_minutes_before"),
        (window(reminder_minutes_before=20_000), "reminder_minutes_before"),
        (
            NewMaintenance(
                title="Naive",
                scheduled_for=at(60).replace(tzinfo=None),
                scheduled_until=at(120),
            ),
            "scheduled_for",
        ),
    ],
)
def test_refused_schedules_write_nothing(session, command, field):
    before = public_version(session)
    with pytest.raises(DomainError) as refused:
        schedule_maintenance(session, command, actor_id=None, now=T0)
    assert refused.value.field == field
    session.rollback()
    assert count(session, Maintenance) == 0
    assert count(session, Notification) == 0
    assert public_version(session) == before


def test_unknown_components_are_refused(session, make_component):
    api = make_component("API")
    with pytest.raises(NotFound) as refused:
        schedule_maintenance(
            session, window(component_ids=[api.id, api.id + 99]), actor_id=None, now=T0
        )
    assert refused.value.field == "components"


def test_a_start_a_moment_ago_is_accepted_but_seeding_may_go_further_back(session):
    schedule_maintenance(session, window(starts=-4), actor_id=None, now=T0)
    with pytest.raises(DomainError):
        schedule_maintenance(session, window(starts=-600), actor_id=None, now=T0)
    past = schedule_maintenance(
        session, window(starts=-600), actor_id=None, now=T0, allow_past=True, notify=False
    )
    assert past.scheduled_for == at(-600)
    assert [kind for kind, mid in notifications(session) if mid == past.id] == []


def test_scheduling_announces_audits_and_bumps_the_public_version(session, make_component):
    api = make_component("API")
    before = public_version(session)
    maintenance = schedule_maintenance(
        session,
        window(component_ids=[api.id], auto_start=True, reminder_minutes_before=30),
        actor_id=None,
        now=T0,
    )
    session.commit()
    assert maintenance.status == M.SCHEDULED
    assert [(u.status, u.body) for u in maintenance.updates] == [
        (M.SCHEDULED, "Expect a short read-only period.")
    ]
    outbox = session.scalar(sa.select(Notification))
    assert outbox.kind == NotificationKind.MAINTENANCE_SCHEDULED
    assert outbox.maintenance_update_id == maintenance.updates[0].id
    assert outbox.component_ids == [api.id]
    audit = session.scalar(sa.select(AuditEntry).where(AuditEntry.entity_type == "maintenance"))
    assert audit.action == "schedule" and audit.changes["reminder_minutes_before"] == 30
    assert public_version(session) == before + 1


def test_editing_a_scheduled_window(session, schedule, make_component):
    api, web = make_component("API"), make_component("Web")
    maintenance = schedule(window(component_ids=[api.id], reminder_minutes_before=60))
    maintenance.reminder_sent_at = at(60)
    session.commit()
    before = public_version(session)
    changes = update_maintenance(
        session,
        maintenance,
        NewMaintenance(
            title="Database and web upgrade",
            scheduled_for=at(180),
            scheduled_until=at(300),
            body="New words.",
            component_ids=[web.id, api.id],
            auto_complete=True,
            reminder_minutes_before=60,
        ),
        actor_id=None,
        now=at(70),
    )
    session.commit()
    assert set(changes) == {
        "title",
        "body",
        "scheduled_for",
        "scheduled_until",
        "components",
        "auto_complete",
    }
    assert {c.name for c in maintenance.components} == {"API", "Web"}
    assert maintenance.updates[0].body == "New words."  # the announcement follows the message
    assert maintenance.reminder_sent_at is None  # moved: remind again for the new time
    assert public_version(session) == before + 1
    same = NewMaintenance(
        title="Database and web upgrade",
        scheduled_for=at(180),
        scheduled_until=at(300),
        body="New words.",
        component_ids=[api.id, web.id],
        auto_complete=True,
        reminder_minutes_before=60,
    )
    assert update_maintenance(session, maintenance, same, actor_id=None, now=at(71)) == {}
    assert public_version(session) == before + 1


def test_edit_refusals(session, schedule):
    maintenance = schedule(window(starts=10))
    backwards = NewMaintenance(title="x", scheduled_for=at(10), scheduled_until=at(5))
    with pytest.raises(DomainError, match="end after it starts"):
        update_maintenance(session, maintenance, backwards, actor_id=None, now=T0)
    session.rollback()
    into_the_past = NewMaintenance(title="x", scheduled_for=at(-30), scheduled_until=at(60))
    with pytest.raises(DomainError, match="start in the past"):
        update_maintenance(session, maintenance, into_the_past, actor_id=None, now=T0)
    session.rollback()
    # A start already behind us may stay as it is (nobody started it yet).
    kept = NewMaintenance(title="Renamed", scheduled_for=at(10), scheduled_until=at(130))
    assert "title" in update_maintenance(session, maintenance, kept, actor_id=None, now=at(20))
    session.commit()

    advance_maintenance(session, maintenance, M.IN_PROGRESS, actor_id=None, now=at(21))
    session.commit()
    running = NewMaintenance(
        title="Renamed again", scheduled_for=at(10), scheduled_until=at(200), body="Longer."
    )
    with pytest.raises(DomainError) as locked:
        update_maintenance(session, maintenance, running, actor_id=None, now=at(30))
    assert locked.value.field == "title"
    session.rollback()
    longer = NewMaintenance(
        title="Renamed", scheduled_for=at(10), scheduled_until=at(200), body="Longer."
    )
    changes = update_maintenance(session, maintenance, longer, actor_id=None, now=at(30))
    assert set(changes) == {"scheduled_until", "body"}
    session.commit()
    # Overrunning: the end already behind us may stay, but a new end may not be in the past.
    overrun = NewMaintenance(
        title="Renamed", scheduled_for=at(10), scheduled_until=at(200), body="Nearly there."
    )
    assert update_maintenance(session, maintenance, overrun, actor_id=None, now=at(300))
    session.commit()
    earlier = NewMaintenance(
        title="Renamed", scheduled_for=at(10), scheduled_until=at(250), body="Nearly there."
    )
    with pytest.raises(DomainError, match="end in the past"):
        update_maintenance(session, maintenance, earlier, actor_id=None, now=at(300))
    session.rollback()
    assert maintenance.status == M.IN_PROGRESS and maintenance.body == "Nearly there."
    advance_maintenance(session, maintenance, M.COMPLETED, actor_id=None, now=at(400))
    with pytest.raises(InvalidTransition, match="can no longer be edited"):
        update_maintenance(session, maintenance, longer, actor_id=None, now=at(500))


def test_moves_post_default_messages_and_notify_once(session, schedule, make_component):
    api = make_component("API")
    maintenance = schedule(window(component_ids=[api.id]))
    before = public_version(session)
    advance_maintenance(session, maintenance, M.IN_PROGRESS, actor_id=None, now=at(120))
    advance_maintenance(session, maintenance, M.VERIFYING, body="  ", actor_id=None, now=at(150))
    advance_maintenance(session, maintenance, "in_progress", actor_id=None, now=at(160))
    advance_maintenance(
        session, maintenance, M.COMPLETED, body="All done.", actor_id=None, now=at(170)
    )
    session.commit()
    assert [(u.status, u.body) for u in reversed(maintenance.updates)][1:] == [
        (M.IN_PROGRESS, DEFAULT_MESSAGES[M.IN_PROGRESS]),
        (M.VERIFYING, DEFAULT_MESSAGES[M.VERIFYING]),
        (M.IN_PROGRESS, DEFAULT_MESSAGES[M.IN_PROGRESS]),
        (M.COMPLETED, "All done."),
    ]
    assert maintenance.started_at == at(120) and maintenance.completed_at == at(170)
    assert [kind for kind, _ in notifications(session)] == [
        "maintenance_scheduled",
        "maintenance_started",  # once, not again after verifying
        "maintenance_completed",
    ]
    assert public_version(session) == before + 4
    assert session.get(Component, api.id).status == ComponentStatus.OPERATIONAL
    with pytest.raises(InvalidTransition, match="completed"):
        advance_maintenance(session, maintenance, M.IN_PROGRESS, actor_id=None, now=at(180))
    with pytest.raises(InvalidTransition):
        post_maintenance_update(session, maintenance, body="More", actor_id=None, now=at(180))


def test_a_move_from_a_stale_copy_is_refused(session, schedule, database_url):
    maintenance = schedule(window())
    assert maintenance.status == M.SCHEDULED  # loaded now, before someone else moves it
    engine = sa.create_engine(database_url)
    try:
        with Session(engine) as other:
            advance_maintenance(
                other,
                other.get(Maintenance, maintenance.id),
                M.IN_PROGRESS,
                actor_id=None,
                now=at(120),
            )
            other.commit()
        # `maintenance` still says scheduled: moving it from there must not win twice.
        with pytest.raises(InvalidTransition, match="just moved"):
            advance_maintenance(session, maintenance, M.COMPLETED, actor_id=None, now=at(121))
        session.rollback()
    finally:
        engine.dispose()
    assert session.get(Maintenance, maintenance.id).status == M.IN_PROGRESS


def test_completing_leaves_components_another_maintenance_still_holds(
    session, schedule, make_component
):
    shared = make_component("Shared")
    first = schedule(window(component_ids=[shared.id]))
    second = schedule(window(title="Second", component_ids=[shared.id]))
    advance_maintenance(session, first, M.IN_PROGRESS, actor_id=None, now=at(120))
    advance_maintenance(session, second, M.IN_PROGRESS, actor_id=None, now=at(121))
    advance_maintenance(session, first, M.COMPLETED, actor_id=None, now=at(130))
    assert shared.status == ComponentStatus.UNDER_MAINTENANCE
    advance_maintenance(session, second, M.COMPLETED, actor_id=None, now=at(140))
    assert shared.status == ComponentStatus.OPERATIONAL


def test_an_update_that_keeps_the_status(session, schedule):
    maintenance = schedule(window())
    before = public_version(session)
    with pytest.raises(DomainError) as empty:
        post_maintenance_update(session, maintenance, body="  ", actor_id=None, now=at(10))
    assert empty.value.field == "body"
    update = post_maintenance_update(
        session, maintenance, body="Still on for tonight.", actor_id=None, now=at(10)
    )
    session.commit()
    assert update.status == M.SCHEDULED and maintenance.status == M.SCHEDULED
    assert maintenance.updates[0].body == "Still on for tonight."
    assert public_version(session) == before + 1
    assert [kind for kind, _ in notifications(session)] == ["maintenance_scheduled"]


# --- the automation ---------------------------------------------------------------------------


def test_reminder_is_queued_once_at_its_time(session, schedule, make_component):
    api = make_component("API")
    maintenance = schedule(window(starts=120, component_ids=[api.id], reminder_minutes_before=60))
    schedule(window(starts=120, title="No reminder"))
    assert run_maintenance_automation(session, now=at(59)).reminded == 0
    report = run_maintenance_automation(session, now=at(60))
    session.commit()
    assert report.reminded == 1 and report.total == 1
    assert maintenance.reminder_sent_at == at(60)
    assert run_maintenance_automation(session, now=at(61)).reminded == 0
    assert run_maintenance_automation(session, now=at(119)).reminded == 0
    session.commit()
    reminders = session.scalars(
        sa.select(Notification).where(Notification.kind == NotificationKind.MAINTENANCE_REMINDER)
    ).all()
    assert [(n.maintenance_id, n.component_ids) for n in reminders] == [(maintenance.id, [api.id])]
    assert maintenance.status == M.SCHEDULED  # no auto start asked for


def test_no_reminder_once_the_window_has_started(session, schedule):
    late = schedule(window(starts=10, reminder_minutes_before=60, auto_start=True))
    started_by_hand = schedule(window(starts=100, reminder_minutes_before=60))
    advance_maintenance(session, started_by_hand, M.IN_PROGRESS, actor_id=None, now=at(5))
    session.commit()
    # The worker was down until after the start (and past both reminder times).
    report = run_maintenance_automation(session, now=at(45))
    session.commit()
    assert (report.reminded, report.started) == (0, 1)
    assert late.reminder_sent_at is None and started_by_hand.reminder_sent_at is None
    assert send_maintenance_reminder(session, late, actor_id=None, now=at(46)) is False
    assert "maintenance_reminder" not in [kind for kind, _ in notifications(session)]


def test_auto_start_and_auto_complete_at_their_times(session, schedule, make_component):
    api = make_component("API")
    auto = schedule(
        window(starts=60, hours=1, component_ids=[api.id], auto_start=True, auto_complete=True)
    )
    manual = schedule(window(starts=60, hours=1, title="By hand"))
    assert run_maintenance_automation(session, now=at(59)).total == 0
    report = run_maintenance_automation(session, now=at(60))
    session.commit()
    assert (report.started, report.completed) == (1, 0)
    assert auto.status == M.IN_PROGRESS and auto.started_at == at(60)
    assert session.get(Component, api.id).status == ComponentStatus.UNDER_MAINTENANCE
    latest = auto.updates[0]
    assert (latest.status, latest.body, latest.author_id) == (
        M.IN_PROGRESS,
        DEFAULT_MESSAGES[M.IN_PROGRESS],
        None,
    )
    advance_maintenance(session, auto, M.VERIFYING, actor_id=None, now=at(100))
    session.commit()
    assert run_maintenance_automation(session, now=at(119)).total == 0
    report = run_maintenance_automation(session, now=at(120))
    session.commit()
    assert (report.started, report.completed) == (0, 1)
    assert auto.status == M.COMPLETED and auto.completed_at == at(120)
    assert session.get(Component, api.id).status == ComponentStatus.OPERATIONAL
    assert manual.status == M.SCHEDULED
    assert [kind for kind, mid in notifications(session) if mid == auto.id] == [
        "maintenance_scheduled",
        "maintenance_started",
        "maintenance_completed",
    ]
    assert run_maintenance_automation(session, now=at(500)).total == 0


def test_a_window_missed_entirely_starts_and_completes_in_one_run(session, schedule):
    missed = schedule(window(starts=10, hours=1, auto_start=True, auto_complete=True))
    start_only = schedule(window(starts=10, hours=1, title="Start only", auto_start=True))
    report = run_maintenance_automation(session, now=at(600))
    session.commit()
    assert (report.started, report.completed) == (2, 1)
    assert missed.status == M.COMPLETED
    assert [u.status for u in reversed(missed.updates)] == [
        M.SCHEDULED,
        M.IN_PROGRESS,
        M.COMPLETED,
    ]
    assert start_only.status == M.IN_PROGRESS


@pytest.fixture
def two_workers(database_url) -> Iterator[tuple[Session, Session]]:
    engines = [sa.create_engine(database_url) for _ in range(2)]
    sessions = [Session(engine) for engine in engines]
    try:
        yield sessions[0], sessions[1]
    finally:
        for worker in sessions:
            worker.rollback()
            worker.close()
        for engine in engines:
            engine.dispose()


def test_two_workers_at_once_act_exactly_once(session, schedule, database_url, two_workers):
    starting = schedule(window(starts=60, auto_start=True))
    reminding = schedule(window(starts=100, title="Later", reminder_minutes_before=60))
    first, second = two_workers
    # Both workers have read the rows before either acts.
    assert first.get(Maintenance, starting.id).status == M.SCHEDULED
    assert second.get(Maintenance, starting.id).status == M.SCHEDULED
    second.get(Maintenance, reminding.id)

    if database_url.startswith("postgresql"):
        # The first holds its rows locked; the second skips them instead of waiting.
        one = run_maintenance_automation(first, now=at(60))
        other = run_maintenance_automation(second, now=at(60))
        first.commit()
        second.commit()
    else:
        # SQLite lets one writer in at a time: the second runs after the first committed,
        # with its stale copies in memory.
        one = run_maintenance_automation(first, now=at(60))
        first.commit()
        other = run_maintenance_automation(second, now=at(60))
        second.commit()
    assert (one.started, one.reminded) == (1, 1)
    assert other.total == 0
    assert run_maintenance_automation(second, now=at(61)).total == 0
    second.commit()

    session.expire_all()
    starts = session.scalar(
        sa.select(sa.func.count(MaintenanceUpdate.id)).where(
            MaintenanceUpdate.maintenance_id == starting.id,
            MaintenanceUpdate.status == M.IN_PROGRESS,
        )
    )
    assert starts == 1
    assert sorted(kind for kind, _ in notifications(session)) == [
        "maintenance_reminder",
        "maintenance_scheduled",
        "maintenance_scheduled",
        "maintenance_started",
    ]
