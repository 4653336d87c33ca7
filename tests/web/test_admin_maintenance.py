"""The staff screens for scheduled maintenance: schedule, edit, move on, post updates."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from statuspage.components.models import Component, ComponentStatus
from statuspage.core.models import AuditEntry, SiteState
from statuspage.core.outbox import Notification
from statuspage.incidents.maintenance import (
    DEFAULT_MESSAGES,
    NewMaintenance,
    advance_maintenance,
    schedule_maintenance,
)
from statuspage.incidents.models import Maintenance, MaintenanceStatus, MaintenanceUpdate
from tests.conftest import csrf_token_from, login_with_csrf

M = MaintenanceStatus
FORMAT = "%Y-%m-%dT%H:%M"


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def local(value: datetime) -> str:
    return value.strftime(FORMAT)


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def form_data(now: datetime, **overrides) -> dict:
    starts = (now + timedelta(days=1)).replace(second=0)
    data = {
        "title": "Database upgrade",
        "body": "The API is **read-only** for a few minutes.",
        "scheduled_for": local(starts),
        "scheduled_until": local(starts + timedelta(hours=2)),
        "reminder_minutes_before": "60",
        "auto_start": "y",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def publisher(make_user, login):
    user = make_user("communicator")
    login(user)
    return user


@pytest.fixture
def scheduled(session, make_component, now):
    database = make_component("Database")
    maintenance = schedule_maintenance(
        session,
        NewMaintenance(
            title="Storage move",
            scheduled_for=now + timedelta(hours=3),
            scheduled_until=now + timedelta(hours=5),
            body="We move the storage.",
            component_ids=[database.id],
            reminder_minutes_before=30,
        ),
        actor_id=None,
        now=now,
    )
    session.commit()
    return maintenance


def test_scheduling_through_the_form(client, session, publisher, make_component, now):
    api = make_component("API")
    make_component("Web")
    session.commit()
    page = text(client.get("/admin/maintenance/new"))
    assert "Starts at (UTC)" in page and "Ends at (UTC)" in page
    assert f'name="components" type="checkbox" value="{api.id}"' in page
    assert 'name="reminder_minutes_before" type="number" value="60"' in page
    response = client.post(
        "/admin/maintenance/new", data=form_data(now, components=[str(api.id)], auto_complete="y")
    )
    assert response.status_code == 302, text(response)[:2000]
    maintenance = session.scalar(sa.select(Maintenance))
    assert response.headers["Location"].endswith(f"/admin/maintenance/{maintenance.id}")
    assert [c.name for c in maintenance.components] == ["API"]
    assert (maintenance.auto_start, maintenance.auto_complete) == (True, True)
    assert maintenance.reminder_minutes_before == 60
    assert maintenance.scheduled_for == (now + timedelta(days=1)).replace(second=0)
    assert [u.author_id for u in maintenance.updates] == [publisher.id]
    assert [n.kind.value for n in session.scalars(sa.select(Notification))] == [
        "maintenance_scheduled"
    ]
    listed = text(client.get("/admin/maintenance"))
    assert "Database upgrade" in listed and "Automatically starts and completes" in listed
    detail = text(client.get(f"/admin/maintenance/{maintenance.id}"))
    assert "<strong>read-only</strong>" in detail
    assert "Start the maintenance" in detail and "Complete the maintenance" in detail
    assert "Move to verifying" not in detail  # not allowed from scheduled
    assert "1 h before the start, not sent yet" in detail


def test_silent_scheduling_and_no_reminder(client, session, publisher, now):
    response = client.post(
        "/admin/maintenance/new", data=form_data(now, reminder_minutes_before="", silent="y")
    )
    assert response.status_code == 302
    maintenance = session.scalar(sa.select(Maintenance))
    assert maintenance.reminder_minutes_before is None
    assert count(session, Notification) == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"title": ""}, "This field is required."),
        ({"scheduled_until": "past"}, "The window must end after it starts."),
        ({"scheduled_for": "yesterday"}, "The window cannot start in the past."),
        ({"scheduled_for": ""}, "Give a date and time (UTC)."),
        ({"scheduled_for": "not a date"}, "Not a valid datetime value."),
        ({"components": ["9999"]}, "is not a valid choice"),
        ({"reminder_minutes_before": "0"}, "Number must be between 1 and 10080."),
    ],
)
def test_bad_schedules_are_400_and_write_nothing(
    client, session, publisher, make_component, now, overrides, message
):
    make_component("API")
    session.commit()
    data = form_data(now)
    if overrides.get("scheduled_until") == "past":
        overrides = {"scheduled_until": local(now + timedelta(hours=20))}
    if overrides.get("scheduled_for") == "yesterday":
        overrides = {"scheduled_for": local(now - timedelta(days=1))}
    data.update(overrides)
    before = session.scalar(sa.select(SiteState.public_version))
    response = client.post("/admin/maintenance/new", data=data)
    assert response.status_code == 400
    assert message in text(response)
    assert count(session, Maintenance) == 0
    assert count(session, Notification) == 0
    assert session.scalar(sa.select(SiteState.public_version)) == before


def test_who_may_do_what(app, client, session, make_user, login, scheduled, now):
    base = f"/admin/maintenance/{scheduled.id}"
    anonymous = app.test_client()
    assert anonymous.get("/admin/maintenance").headers["Location"].startswith("/login")
    assert anonymous.post(f"{base}/status/in_progress").status_code == 401
    login(make_user("responder"))
    assert client.get("/admin/maintenance").status_code == 200
    assert client.get(base).status_code == 200
    assert "Start the maintenance" not in text(client.get(base))  # no buttons without PUBLISH
    assert client.get("/admin/maintenance/new").status_code == 403
    assert client.post("/admin/maintenance/new", data=form_data(now)).status_code == 403
    assert client.get(f"{base}/edit").status_code == 403
    assert client.post(f"{base}/edit", data=form_data(now)).status_code == 403
    assert client.post(f"{base}/status/in_progress").status_code == 403
    assert client.post(f"{base}/updates", data={"update-body": "x"}).status_code == 403
    assert count(session, MaintenanceUpdate) == 1
    assert session.get(Maintenance, scheduled.id).status == M.SCHEDULED
    assert client.get("/admin/maintenance/999").status_code == 404


def test_moving_on_with_and_without_a_message(client, session, publisher, scheduled):
    base = f"/admin/maintenance/{scheduled.id}"
    database_id = scheduled.components[0].id
    started = client.post(
        f"{base}/status/in_progress", data={"move-in_progress-body": "We have *begun*."}
    )
    assert started.status_code == 302
    session.expire_all()
    assert session.get(Component, database_id).status == ComponentStatus.UNDER_MAINTENANCE
    assert client.post(f"{base}/status/verifying").status_code == 302
    detail = text(client.get(base))
    assert "<em>begun</em>" in detail and DEFAULT_MESSAGES[M.VERIFYING] in detail
    assert "Back to in progress (verification failed)" in detail
    public = text(client.get(f"/maintenance/{scheduled.id}"))
    assert "Verifying" in public and "<em>begun</em>" in public
    assert (
        client.post(f"{base}/status/completed", data={"move-completed-silent": "y"}).status_code
        == 302
    )
    session.expire_all()
    maintenance = session.get(Maintenance, scheduled.id)
    assert maintenance.status == M.COMPLETED
    assert session.get(Component, database_id).status == ComponentStatus.OPERATIONAL
    kinds = [
        n.kind.value for n in session.scalars(sa.select(Notification).order_by(Notification.id))
    ]
    # Completion was silent for email; the channels' component events say API moved twice.
    assert [k for k in kinds if k != "component_status"] == [
        "maintenance_scheduled",
        "maintenance_started",
    ]
    assert kinds.count("component_status") == 2


def test_refused_moves_are_409_and_write_nothing(client, session, publisher, scheduled):
    base = f"/admin/maintenance/{scheduled.id}"
    refused = client.post(f"{base}/status/verifying", data={"move-verifying-body": "x"})
    assert refused.status_code == 409
    assert "cannot move to verifying" in text(refused)
    assert client.post(f"{base}/status/scheduled").status_code == 404
    assert client.post(f"{base}/status/nonsense").status_code == 404
    assert count(session, MaintenanceUpdate) == 1
    assert session.get(Maintenance, scheduled.id).status == M.SCHEDULED
    too_long = client.post(
        f"{base}/status/in_progress", data={"move-in_progress-body": "x" * 20001}
    )
    assert too_long.status_code == 400
    assert count(session, MaintenanceUpdate) == 1


def test_posting_an_update_keeps_the_status(client, session, publisher, scheduled):
    base = f"/admin/maintenance/{scheduled.id}"
    empty = client.post(f"{base}/updates", data={"update-body": "  "})
    assert empty.status_code == 400 and "This field is required." in text(empty)
    posted = client.post(f"{base}/updates", data={"update-body": "Still on for tonight."})
    assert posted.status_code == 302
    session.expire_all()
    maintenance = session.get(Maintenance, scheduled.id)
    assert maintenance.status == M.SCHEDULED
    assert [(u.status, u.body) for u in maintenance.updates][0] == (
        M.SCHEDULED,
        "Still on for tonight.",
    )
    assert "Still on for tonight." in text(client.get(f"/maintenance/{scheduled.id}"))


def test_editing_while_scheduled_running_and_completed(client, session, publisher, scheduled, now):
    base = f"/admin/maintenance/{scheduled.id}"
    page = client.get(f"{base}/edit").get_data(as_text=True)
    loaded = re.search(r'name="loaded" type="hidden" value="([^"]+)"', page).group(1)
    assert 'value="Storage move"' in page and "checked" in page
    data = form_data(
        now,
        title="Storage move, part one",
        components=[str(scheduled.components[0].id)],
        loaded=loaded,
    )
    assert client.post(f"{base}/edit", data=data).status_code == 302
    session.expire_all()
    assert session.get(Maintenance, scheduled.id).title == "Storage move, part one"
    stale = client.post(f"{base}/edit", data=dict(data, title="Other"))  # same old `loaded`
    assert stale.status_code == 409 and "changed since you opened it" in text(stale)
    assert "edit: " in text(stale)
    backwards = client.post(
        f"{base}/edit",
        data=dict(data, scheduled_until=data["scheduled_for"], loaded=""),
    )
    assert backwards.status_code == 400 and "must end after it starts" in text(backwards)
    session.expire_all()
    assert session.get(Maintenance, scheduled.id).title == "Storage move, part one"

    assert client.post(f"{base}/status/in_progress").status_code == 302
    running = text(client.get(f"{base}/edit"))
    assert 'name="title"' not in running and "only its end, its message" in running
    later = (now + timedelta(days=2)).replace(second=0)
    assert (
        client.post(
            f"{base}/edit", data={"body": "Taking longer.", "scheduled_until": local(later)}
        ).status_code
        == 302
    )
    session.expire_all()
    maintenance = session.get(Maintenance, scheduled.id)
    assert maintenance.scheduled_until == later and maintenance.body == "Taking longer."

    assert client.post(f"{base}/status/completed").status_code == 302
    assert client.get(f"{base}/edit").status_code == 302
    refused = client.post(f"{base}/edit", data={"body": "x", "scheduled_until": local(later)})
    assert refused.status_code == 409 and "can no longer be edited" in text(refused)
    late_update = client.post(f"{base}/updates", data={"update-body": "One more thing"})
    assert late_update.status_code == 409
    audits = session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.entity_type == "maintenance")
    ).all()
    assert audits.count("edit") == 2


def test_the_list_pages_completed_maintenance(client, session, publisher, now):
    for index in range(23):
        done = schedule_maintenance(
            session,
            NewMaintenance(
                title=f"Old window {index}",
                scheduled_for=now - timedelta(days=30 - index),
                scheduled_until=now - timedelta(days=30 - index, hours=-1),
            ),
            actor_id=None,
            now=now,
            allow_past=True,
        )
        advance_maintenance(
            session, done, M.COMPLETED, actor_id=None, now=now - timedelta(days=30 - index)
        )
    session.commit()
    first = text(client.get("/admin/maintenance"))
    assert "Old window 22" in first and "Old window 2<" not in first
    assert "Page 1 of 2" in first
    second = text(client.get("/admin/maintenance?page=2"))
    assert "Old window 2<" in second and "Old window 22" not in second


def test_every_maintenance_form_checks_its_csrf_token(
    csrf_client, session, make_user, scheduled, now
):
    login_with_csrf(csrf_client, make_user("communicator"))
    base = f"/admin/maintenance/{scheduled.id}"
    assert csrf_client.post("/admin/maintenance/new", data=form_data(now)).status_code == 400
    assert csrf_client.post(f"{base}/status/in_progress").status_code == 400
    assert csrf_client.post(f"{base}/updates", data={"update-body": "x"}).status_code == 400
    assert csrf_client.post(f"{base}/edit", data=form_data(now)).status_code == 400
    assert count(session, Maintenance) == 1
    assert count(session, MaintenanceUpdate) == 1

    token = csrf_token_from(csrf_client.get(base).get_data(as_text=True))
    posted = csrf_client.post(
        f"{base}/updates", data={"update-body": "x", "update-csrf_token": token}
    )
    assert posted.status_code == 302
    started = csrf_client.post(
        f"{base}/status/in_progress", data={"move-in_progress-csrf_token": token}
    )
    assert started.status_code == 302
    token = csrf_token_from(csrf_client.get("/admin/maintenance/new").get_data(as_text=True))
    created = csrf_client.post(
        "/admin/maintenance/new", data=dict(form_data(now), csrf_token=token)
    )
    assert created.status_code == 302
    assert count(session, Maintenance) == 2


def test_a_refused_update_to_completed_maintenance_is_shown(
    client, session, publisher, scheduled, now
):
    """A page opened before the maintenance completed posts an update: 409, nothing written,
    and the refusal is on the page although its form no longer is."""
    base = f"/admin/maintenance/{scheduled.id}"
    assert client.post(f"{base}/status/in_progress").status_code == 302
    assert client.post(f"{base}/status/completed").status_code == 302
    before = session.scalar(sa.select(sa.func.count()).select_from(MaintenanceUpdate))
    answer = client.post(f"{base}/updates", data={"update-body": "One more thing."})
    assert answer.status_code == 409
    page = text(answer)
    assert 'role="alert"' in page
    assert "This maintenance is completed; post no more updates to it." in page
    assert 'name="update-body"' not in page  # the form itself stays hidden
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(MaintenanceUpdate)) == before
