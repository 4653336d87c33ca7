"""Staff enter times in their own zone (issue 14): the account's zone, else the page's, else
UTC. Forms name the zone next to each time field, store UTC, and show stored times back in
the zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from statuspage.auth.models import User
from statuspage.auth.users import UserError, set_time_zone
from statuspage.branding import settings as branding
from statuspage.core.models import AuditEntry
from statuspage.incidents.models import Incident, Maintenance, Task

FORMAT = "%Y-%m-%dT%H:%M"


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def input_value(page: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', page)
    assert match, f"no input {name}"
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


def newest(session, model):
    session.expire_all()
    return session.scalars(sa.select(model).order_by(model.id.desc())).first()


@pytest.fixture
def staff(session, make_user, login):
    user = make_user("manager")
    session.commit()
    login(user)
    return user


def choose_zone(session, user, zone: str) -> None:
    set_time_zone(session, user.id, zone, actor_id=user.id, now=datetime.now(UTC))
    session.commit()


def new_incident(client, **fields):
    return client.post(
        "/admin/incidents/new", data={"title": "API errors", "source": "staff", **fields}
    )


def test_a_tokyo_user_backdates_in_tokyo_time_and_utc_is_stored(session, client, staff):
    choose_zone(session, staff, "Asia/Tokyo")
    form = text(client.get("/admin/incidents/new"))
    assert "Impact started at (Asia/Tokyo)" in form
    assert "Detected at (Asia/Tokyo)" in form

    response = new_incident(client, impact_started_at="2026-03-10T09:00")
    assert response.status_code == 302, text(response)[:2000]
    incident = newest(session, Incident)
    assert incident.impact_started_at == datetime(2026, 3, 10, 0, 0, tzinfo=UTC)

    page = text(client.get(f"/admin/incidents/{incident.id}"))
    assert input_value(page, "edit-impact_started_at") == "2026-03-10T09:00"
    assert "Impact started at (Asia/Tokyo)" in page


def test_editing_keeps_the_time_when_the_form_comes_back_unchanged(session, client, staff):
    choose_zone(session, staff, "Asia/Tokyo")
    new_incident(client, impact_started_at="2026-03-10T09:00")
    incident = newest(session, Incident)
    page = text(client.get(f"/admin/incidents/{incident.id}"))
    response = client.post(
        f"/admin/incidents/{incident.id}/details",
        data={
            "edit-title": "API errors (EU)",
            "edit-source": "staff",
            "edit-impact_started_at": input_value(page, "edit-impact_started_at"),
            "edit-detected_at": "2026-03-10T09:30",
            "edit-version": str(incident.version),
        },
    )
    assert response.status_code == 302, text(response)[:2000]
    incident = newest(session, Incident)
    assert incident.title == "API errors (EU)"
    assert incident.impact_started_at == datetime(2026, 3, 10, 0, 0, tzinfo=UTC)
    assert incident.detected_at == datetime(2026, 3, 10, 0, 30, tzinfo=UTC)


def test_without_a_zone_times_are_utc_as_before(session, client, staff):
    form = text(client.get("/admin/incidents/new"))
    assert "Impact started at (UTC)" in form
    new_incident(client, impact_started_at="2026-03-10T09:00")
    assert newest(session, Incident).impact_started_at == datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def test_without_a_zone_the_page_zone_is_used(session, client, staff):
    branding.update_page(
        session,
        branding.PageFields(time_zone="America/New_York"),
        actor_id=None,
        now=datetime.now(UTC),
    )
    session.commit()
    assert "Impact started at (America/New_York)" in text(client.get("/admin/incidents/new"))
    new_incident(client, impact_started_at="2026-03-10T09:00")
    # 10 March 2026: New York is on daylight time (UTC-4) since the 8th.
    assert newest(session, Incident).impact_started_at == datetime(2026, 3, 10, 13, 0, tzinfo=UTC)

    choose_zone(session, staff, "Asia/Tokyo")
    assert "Impact started at (Asia/Tokyo)" in text(client.get("/admin/incidents/new"))


def test_a_local_time_the_clocks_skip_is_a_field_error(session, client, staff):
    choose_zone(session, staff, "Europe/Berlin")
    response = new_incident(client, impact_started_at="2026-03-29T02:30")
    assert response.status_code == 400
    page = text(response)
    assert "2026-03-29 02:30 does not exist in Europe/Berlin" in page
    assert newest(session, Incident) is None


def test_a_local_time_that_happens_twice_is_the_first_of_the_two(session, client, staff):
    choose_zone(session, staff, "Europe/Berlin")
    # 25 October 2026, 02:30 happens in summer time (UTC+2) and again in winter time (UTC+1).
    response = new_incident(client, impact_started_at="2026-10-25T02:30")
    assert response.status_code == 302
    assert newest(session, Incident).impact_started_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_task_due_times_are_in_the_staff_zone(session, client, staff):
    choose_zone(session, staff, "Asia/Tokyo")
    new_incident(client)
    incident = newest(session, Incident)
    assert "Due (Asia/Tokyo)" in text(client.get(f"/admin/incidents/{incident.id}"))
    response = client.post(
        f"/admin/incidents/{incident.id}/tasks",
        data={"task-kind": "response", "task-title": "Check", "task-due_at": "2030-01-02T09:00"},
    )
    assert response.status_code == 302, text(response)[:2000]
    assert newest(session, Task).due_at == datetime(2030, 1, 2, 0, 0, tzinfo=UTC)


def test_next_update_time_is_entered_and_shown_in_the_staff_zone(
    session, client, staff, make_incident
):
    choose_zone(session, staff, "Asia/Tokyo")
    incident = make_incident()
    session.commit()
    page = text(client.get(f"/admin/incidents/{incident.id}"))
    assert "Next update by (Asia/Tokyo)" in page

    wanted = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    local = wanted.astimezone(ZoneInfo("Asia/Tokyo")).strftime(FORMAT)
    response = client.post(
        f"/admin/incidents/{incident.id}/next-update", data={"next_update_at": local}
    )
    assert response.status_code == 302, text(response)[:2000]
    session.expire_all()
    assert session.get(Incident, incident.id).next_update_at == wanted

    page = text(client.get(f"/admin/incidents/{incident.id}"))
    assert input_value(page, "next_update_at") == local
    form = text(client.get(f"/admin/incidents/{incident.id}/updates/new"))
    assert "Next update by (Asia/Tokyo, optional)" in form


def test_maintenance_windows_are_in_the_staff_zone(session, client, staff):
    choose_zone(session, staff, "Asia/Tokyo")
    tokyo = ZoneInfo("Asia/Tokyo")
    form = text(client.get("/admin/maintenance/new"))
    assert "Starts at (Asia/Tokyo)" in form and "Ends at (Asia/Tokyo)" in form

    starts = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    response = client.post(
        "/admin/maintenance/new",
        data={
            "title": "Database upgrade",
            "scheduled_for": starts.astimezone(tokyo).strftime(FORMAT),
            "scheduled_until": (starts + timedelta(hours=2)).astimezone(tokyo).strftime(FORMAT),
            "reminder_minutes_before": "60",
            "silent": "y",
        },
    )
    assert response.status_code == 302, text(response)[:2000]
    maintenance = newest(session, Maintenance)
    assert maintenance.scheduled_for == starts
    assert maintenance.scheduled_until == starts + timedelta(hours=2)

    edit = text(client.get(f"/admin/maintenance/{maintenance.id}/edit"))
    assert input_value(edit, "scheduled_for") == starts.astimezone(tokyo).strftime(FORMAT)

    missing = client.post(
        f"/admin/maintenance/{maintenance.id}/edit",
        data={"title": "Database upgrade", "scheduled_for": "", "scheduled_until": ""},
    )
    assert missing.status_code == 400
    assert "Give a date and time (Asia/Tokyo)." in text(missing)


def test_staff_choose_their_zone_on_the_account_page(session, client, staff):
    page = text(client.get("/account/time-zone"))
    assert "Your time zone" in page and 'list="zone-names"' in page

    refused = client.post("/account/time-zone", data={"time_zone": "Mars/Olympus_Mons"})
    assert refused.status_code == 400
    assert "Give a time zone name such as Europe/Berlin" in text(refused)

    saved = client.post("/account/time-zone", data={"time_zone": " Asia/Tokyo "})
    assert saved.status_code == 302
    session.expire_all()
    assert session.get(User, staff.id).time_zone == "Asia/Tokyo"
    audit = session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.entity_type == "user", AuditEntry.action == "set_time_zone"
        )
    ).one()
    assert audit.entity_id == staff.id and audit.actor_id == staff.id
    assert audit.changes == {"time_zone": ["", "Asia/Tokyo"]}
    assert "Now: <strong>Asia/Tokyo</strong>" in client.get("/account/time-zone").get_data(
        as_text=True
    )

    client.post("/account/time-zone", data={"time_zone": ""})
    session.expire_all()
    assert session.get(User, staff.id).time_zone == ""


def test_the_account_page_needs_a_login(client):
    response = client.get("/account/time-zone")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post("/account/time-zone", data={"time_zone": "UTC"}).status_code == 302


def test_set_time_zone_refuses_unknown_and_path_like_names(session, make_user):
    user = make_user("viewer")
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", "Europe/" + "x" * 80):
        with pytest.raises(UserError):
            set_time_zone(session, user.id, bad, actor_id=user.id, now=datetime.now(UTC))
    assert user.time_zone == ""
