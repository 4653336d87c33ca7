"""Public updates in the staff area: write, preview, drafts, publish, edit, "next update by"."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage.components.models import ComponentStatus, ComponentStatusChange
from statuspage.core.models import AuditEntry, SiteState
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.incidents.models import Incident, IncidentStatus, IncidentTemplate, IncidentUpdate
from statuspage.incidents.operations import NewIncident, open_incident
from tests.conftest import PASSWORD, csrf_token_from, login_with_csrf

# Each component status change also writes a component event (for webhook, chat and SMS).
NOT_COMPONENT = Notification.kind != NotificationKind.COMPONENT_STATUS


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def client_for(app: Any, user: Any) -> Any:
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def count(session: Any, model: Any, *where: Any) -> int:
    session.expire_all()
    column = next(iter(sa.inspect(model).primary_key))
    return session.scalar(sa.select(sa.func.count(column)).where(*where))


def public_version(session: Any) -> int:
    session.expire_all()
    return session.scalar(sa.select(SiteState.public_version).where(SiteState.id == 1))


def later(now: Any, minutes: int) -> str:
    return (now + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def site(session: Any, make_component: Any, now: Any) -> SimpleNamespace:
    """Incident "API errors" (not public) affecting API and Website; Billing is not affected.
    Its template has investigating and identified texts."""
    api, web, billing = make_component("API"), make_component("Website"), make_component("Billing")
    web.status = ComponentStatus.DEGRADED_PERFORMANCE  # as set before the incident, say
    template = IncidentTemplate(
        name="API errors",
        message_templates={
            "investigating": "We are investigating API errors.",
            "identified": "We found the cause of the **API errors**.",
        },
    )
    session.add(template)
    session.flush()
    incident = open_incident(
        session,
        NewIncident(title="API errors", component_ids=[api.id, web.id]),
        actor_id=None,
        now=now - timedelta(minutes=10),
    )
    incident.template_id = template.id
    session.commit()
    return SimpleNamespace(
        api_id=api.id,
        web_id=web.id,
        billing_id=billing.id,
        incident_id=incident.id,
        url=f"/admin/incidents/{incident.id}",
    )


def form(site: SimpleNamespace, **overrides: Any) -> dict[str, str]:
    data = {
        "status": "investigating",
        "body": "We are looking into **errors**.",
        f"component-{site.api_id}": "major_outage",
        f"component-{site.web_id}": "degraded_performance",
        "notify": "y",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def statuses(session: Any, site: SimpleNamespace) -> dict[str, str]:
    session.expire_all()
    rows = session.execute(sa.text("SELECT name, status FROM component ORDER BY name")).all()
    return {name: status for name, status in rows}


# The form


def test_the_form_starts_from_the_template_and_the_components_current_statuses(
    app, client, login, make_user, site
):
    login(make_user("communicator"))
    page = text(client.get(f"{site.url}/updates/new?status=identified"))
    assert re.search(r'<input checked id="status-1" name="status"[^>]*value="identified"', page)
    assert "We found the cause of the **API errors**.</textarea>" in page
    assert (
        f'href="{site.url}/updates/new?status=investigating">use the Investigating template' in page
    )
    # One row per affected component, its current status selected; Billing is not offered.
    assert re.search(
        rf'name="component-{site.web_id}">.*?<option value="degraded_performance" selected>', page
    )
    assert re.search(
        rf'name="component-{site.api_id}">.*?<option value="operational" selected>', page
    )
    assert f"component-{site.billing_id}" not in page
    assert re.search(r'checked id="notify" name="notify"', page)
    assert "Next update by (UTC, optional)" in page
    assert ">Preview</button>" in page and ">Publish</button>" in page
    assert ">Save draft</button>" in page  # communicators may also keep a draft for later

    default = text(client.get(f"{site.url}/updates/new"))
    assert "We are investigating API errors.</textarea>" in default
    responder = client_for(app, make_user("responder"))
    as_responder = text(responder.get(f"{site.url}/updates/new"))
    assert ">Save draft</button>" in as_responder and ">Publish</button>" not in as_responder


def test_preview_shows_sanitized_html_and_writes_nothing(client, login, make_user, session, site):
    login(make_user("communicator"))
    version = public_version(session)
    response = client.post(
        f"{site.url}/updates/new",
        data=form(site, body="**Bold** <script>alert(1)</script> [x](javascript:alert(1))"),
    )
    page = text(response)
    assert response.status_code == 200
    assert '<h2 id="preview-h">Preview</h2>' in page
    assert "<strong>Bold</strong>" in page
    assert "<script>alert(1)</script>" not in page
    assert 'href="javascript:' not in page
    assert "API: Major outage" in page  # the change it would make
    # The form keeps what was typed and chosen.
    assert re.search(
        rf'name="component-{site.api_id}">.*?<option value="major_outage" selected>', page
    )
    assert count(session, IncidentUpdate) == 0
    assert public_version(session) == version


# Publishing


def test_publishing_changes_components_queues_the_notification_and_goes_public(
    client, login, make_user, session, site, now
):
    communicator = make_user("communicator")
    login(communicator)
    version = public_version(session)
    response = client.post(f"{site.url}/updates", data=form(site, next_update_at=later(now, 90)))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"{site.url}#updates-h")

    session.expire_all()
    [update] = session.scalars(sa.select(IncidentUpdate)).all()
    assert update.published_at is not None and update.author_id == communicator.id
    # Only the component whose status changed is recorded; the website stayed degraded.
    assert [(c.component_id, c.new_status) for c in update.component_changes] == [
        (site.api_id, ComponentStatus.MAJOR_OUTAGE)
    ]
    assert statuses(session, site) == {
        "API": "major_outage",
        "Billing": "operational",
        "Website": "degraded_performance",
    }
    assert (
        count(session, ComponentStatusChange, ComponentStatusChange.incident_id.is_not(None)) == 1
    )
    [notification] = session.scalars(sa.select(Notification).where(NOT_COMPONENT)).all()
    assert notification.incident_update_id == update.id
    assert notification.component_ids == sorted([site.api_id, site.web_id])
    assert public_version(session) == version + 1
    incident = session.get(Incident, site.incident_id)
    assert incident.is_public
    assert incident.next_update_at.strftime("%Y-%m-%dT%H:%M") == later(now, 90)

    public = text(client.get(f"/incidents/{site.incident_id}"))
    assert "We are looking into <strong>errors</strong>." in public
    assert "Next update by <time" in public
    front = text(client.get("/"))
    assert "Next update by <time" in front
    detail = text(client.get(site.url))
    assert "Public updates" in detail and "API: Operational → Major outage" in detail


def test_with_notify_unchecked_no_notification_is_written(client, login, make_user, session, site):
    login(make_user("manager"))
    assert client.post(f"{site.url}/updates", data=form(site, notify=None)).status_code == 302
    assert count(session, IncidentUpdate) == 1
    assert count(session, Notification) == 0
    session.expire_all()
    assert session.scalar(sa.select(IncidentUpdate)).deliver_notifications is False


@pytest.mark.parametrize(
    ("case", "overrides", "message"),
    [
        ("empty message", {"body": "   "}, "A public update needs a message."),
        ("unknown status", {"status": "fixed"}, "Not a valid choice"),
        ("unknown component status", {"component-API": "on_fire"}, "Unknown component status"),
        ("component outside", {"component-Billing": "major_outage"}, "affected components"),
        ("past next update", {"next_update_at": "2001-01-01T00:00"}, "in the future"),
        ("resolved with next update", {"status": "resolved", "next_update_at": "+60"}, "resolved"),
    ],
)
def test_bad_input_is_a_400_with_the_reason_and_writes_nothing(
    client, login, make_user, session, site, now, case, overrides, message
):
    login(make_user("admin"))
    ids = {"API": site.api_id, "Billing": site.billing_id}
    data = form(site)
    for key, value in overrides.items():
        if key.startswith("component-"):
            key = f"component-{ids[key.split('-', 1)[1]]}"
        if value == "+60":
            value = later(now, 60)
        data[key] = value
    version = public_version(session)
    for url in (f"{site.url}/updates", f"{site.url}/updates/draft"):
        if url.endswith("draft") and "next_update_at" in overrides:
            continue  # a draft refuses any next-update time (tested below)
        response = client.post(url, data=data)
        assert response.status_code == 400, (case, url)
        assert message in text(response), (case, url)
    assert count(session, IncidentUpdate) == 0
    assert count(session, Notification) == 0
    assert (
        count(session, ComponentStatusChange, ComponentStatusChange.incident_id.is_not(None)) == 0
    )
    assert public_version(session) == version
    assert statuses(session, site)["API"] == "operational"


@pytest.mark.parametrize("status", [IncidentStatus.CLOSED, IncidentStatus.CANCELLED])
def test_closed_and_cancelled_incidents_refuse_updates(
    client, login, make_user, session, site, status
):
    session.get(Incident, site.incident_id).status = status
    session.commit()
    login(make_user("admin"))
    response = client.post(f"{site.url}/updates", data=form(site))
    assert response.status_code == 400
    assert f"is {status.value}: it takes no more public updates" in text(response)
    assert count(session, IncidentUpdate) == 0
    assert "takes no more public updates" in text(client.get(site.url))
    assert "Write a public update</a>" not in text(client.get(site.url))


def test_a_draft_keeps_no_next_update_time(client, login, make_user, session, site, now):
    login(make_user("responder"))
    response = client.post(
        f"{site.url}/updates/draft", data=form(site, next_update_at=later(now, 30))
    )
    assert response.status_code == 400
    assert "A draft does not keep a next-update time" in text(response)
    assert count(session, IncidentUpdate) == 0


def test_publishing_is_atomic_when_a_component_change_fails(
    app, client, login, make_user, session, site, monkeypatch
):
    import statuspage.incidents.publishing as publishing

    real = publishing.record_status  # each component's change, before the one flush
    calls = []

    def failing_on_the_second(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("the second component's change fails")
        return real(*args, **kwargs)

    monkeypatch.setattr(publishing, "record_status", failing_on_the_second)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # the site's 500 handler rolls back
    login(make_user("communicator"))
    version = public_version(session)
    response = client.post(
        f"{site.url}/updates",
        data=form(site, **{f"component-{site.web_id}": "partial_outage"}),
    )
    assert response.status_code == 500
    assert len(calls) == 2
    assert count(session, IncidentUpdate) == 0
    assert count(session, Notification) == 0
    assert (
        count(session, ComponentStatusChange, ComponentStatusChange.incident_id.is_not(None)) == 0
    )
    assert statuses(session, site) == {
        "API": "operational",
        "Billing": "operational",
        "Website": "degraded_performance",
    }
    assert public_version(session) == version
    assert session.get(Incident, site.incident_id).is_public is False


# Drafts


def test_responders_save_drafts_and_communicators_publish_them(
    app, client, login, make_user, session, site
):
    login(make_user("responder"))
    assert (
        client.post(f"{site.url}/updates/draft", data=form(site, status="identified")).status_code
        == 302
    )
    session.expire_all()
    [draft] = session.scalars(sa.select(IncidentUpdate)).all()
    assert draft.published_at is None
    assert statuses(session, site)["API"] == "operational"
    assert count(session, Notification) == 0
    assert client.get(f"/incidents/{site.incident_id}").status_code == 404  # not public yet

    # A responder may not publish, discard or edit published text.
    base = f"{site.url}/updates/{draft.id}"
    assert client.post(f"{base}/publish").status_code == 403
    assert client.post(f"{base}/discard").status_code == 403
    assert client.post(f"{base}/text", data={"body": "x"}).status_code == 403
    assert client.post(f"{site.url}/updates", data=form(site)).status_code == 403
    # ... but may change the draft.
    changed = form(site, status="identified", body="Cause found.")
    assert client.post(f"{base}/draft", data=changed).status_code == 302
    detail = text(client.get(site.url))
    assert "Drafts (not public)" in detail and "Cause found." in detail
    assert f'action="{base}/publish"' not in detail

    communicator = client_for(app, make_user("communicator"))
    detail = text(communicator.get(site.url))
    assert f'action="{base}/publish"' in detail and f'action="{base}/discard"' in detail
    assert communicator.post(f"{base}/publish").status_code == 302
    session.expire_all()
    draft = session.get(IncidentUpdate, draft.id)
    assert draft.published_at is not None and draft.body == "Cause found."
    assert statuses(session, site)["API"] == "major_outage"
    [notification] = session.scalars(sa.select(Notification).where(NOT_COMPONENT)).all()
    assert notification.incident_update_id == draft.id
    assert "Cause found." in text(communicator.get(f"/incidents/{site.incident_id}"))
    # Published: no draft any more.
    assert communicator.post(f"{base}/publish").status_code == 409
    assert communicator.post(f"{base}/discard").status_code == 409


def test_a_draft_is_published_from_its_page_with_the_changes_made_there(
    app, client, login, make_user, session, site, now
):
    login(make_user("responder"))
    client.post(f"{site.url}/updates/draft", data=form(site, body="First try", notify=None))
    session.expire_all()
    draft_id = session.scalar(sa.select(IncidentUpdate.id))
    manager = client_for(app, make_user("manager"))
    page = text(manager.get(f"{site.url}/updates/{draft_id}/edit"))
    assert "Draft public update" in page and "First try</textarea>" in page
    assert not re.search(r'checked id="notify"', page)  # as saved
    assert f'formaction="{site.url}/updates/{draft_id}/publish"' in page
    response = manager.post(
        f"{site.url}/updates/{draft_id}/publish",
        data=form(site, body="Better words", status="identified", next_update_at=later(now, 45)),
    )
    assert response.status_code == 302
    session.expire_all()
    update = session.get(IncidentUpdate, draft_id)
    assert (update.body, update.status, update.deliver_notifications) == (
        "Better words",
        "identified",
        True,
    )
    assert count(session, Notification, NOT_COMPONENT) == 1
    assert session.get(Incident, site.incident_id).next_update_at is not None


def test_discarding_a_draft_deletes_it_and_keeps_the_audit(
    app, client, login, make_user, session, site
):
    login(make_user("manager"))
    client.post(f"{site.url}/updates/draft", data=form(site, body="Never mind"))
    session.expire_all()
    draft_id = session.scalar(sa.select(IncidentUpdate.id))
    assert client.post(f"{site.url}/updates/{draft_id}/discard").status_code == 302
    assert count(session, IncidentUpdate) == 0
    actions = session.scalars(
        sa.select(AuditEntry.action).where(
            AuditEntry.entity_type == "incident_update", AuditEntry.entity_id == draft_id
        )
    ).all()
    assert sorted(actions) == ["discard", "draft"]
    assert client.post(f"{site.url}/updates/{draft_id}/discard").status_code == 404


# Editing a published update


def test_editing_a_published_update_keeps_the_original_and_notifies_nobody(
    app, client, login, make_user, session, site
):
    login(make_user("communicator"))
    client.post(f"{site.url}/updates", data=form(site, body="Teh API is down."))
    session.expire_all()
    update_id = session.scalar(sa.select(IncidentUpdate.id))
    page = text(client.get(f"{site.url}/updates/{update_id}/edit"))
    assert "Edit a published update" in page and "Teh API is down.</textarea>" in page
    assert 'name="status"' not in page and "component-" not in page  # the message only
    preview = client.post(f"{site.url}/updates/{update_id}/edit", data={"body": "The *API*"})
    assert preview.status_code == 200 and "The <em>API</em>" in text(preview)

    assert (
        client.post(f"{site.url}/updates/{update_id}/text", data={"body": "  "}).status_code == 400
    )
    response = client.post(
        f"{site.url}/updates/{update_id}/text", data={"body": "The API is down."}
    )
    assert response.status_code == 302
    session.expire_all()
    update = session.get(IncidentUpdate, update_id)
    assert update.body == "The API is down." and update.original_body == "Teh API is down."
    assert update.edited_at is not None
    assert count(session, Notification, NOT_COMPONENT) == 1  # only the publish's
    edit = session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "edit"))
    assert edit.changes["body"] == ["Teh API is down.", "The API is down."]
    public = text(client.get(f"/incidents/{site.incident_id}"))
    assert "The API is down." in public and '<span class="edited">edited <time' in public
    assert "edited <time" in text(client.get(site.url))

    responder = client_for(app, make_user("responder"))
    assert (
        responder.post(f"{site.url}/updates/{update_id}/text", data={"body": "x"}).status_code
        == 403
    )


# "Next update by" on the incident page


def test_the_next_update_time_is_set_checked_and_removed_on_the_incident_page(
    app, client, login, make_user, session, site, now
):
    login(make_user("communicator"))
    url = f"{site.url}/next-update"
    refused = client.post(url, data={"next_update_at": later(now, 30)})
    assert refused.status_code == 400 and "The incident is not public yet" in text(refused)
    client.post(f"{site.url}/updates", data=form(site))
    past = client.post(url, data={"next_update_at": "2001-01-01T00:00"})
    assert past.status_code == 400
    assert "Choose a next-update time in the future." in text(past)
    assert 'value="2001-01-01T00:00"' in text(past)  # what was typed stays
    assert client.post(url, data={"next_update_at": "tomorrow"}).status_code == 400
    assert client.post(url, data={"next_update_at": later(now, 30)}).status_code == 302
    session.expire_all()
    incident = session.get(Incident, site.incident_id)
    assert incident.next_update_at.strftime("%Y-%m-%dT%H:%M") == later(now, 30)
    assert "Next update by <time" in text(client.get(f"/incidents/{site.incident_id}"))
    assert (
        client.post(url, data={"next_update_at": later(now, 30), "clear": "1"}).status_code == 302
    )
    session.expire_all()
    assert session.get(Incident, site.incident_id).next_update_at is None
    assert "Next update by" not in text(client.get(f"/incidents/{site.incident_id}"))

    responder = client_for(app, make_user("responder"))
    assert responder.post(url, data={"next_update_at": later(now, 30)}).status_code == 403


# Access


def test_anonymous_visitors_and_viewers(app, client, make_user, session, site):
    response = client.get(f"{site.url}/updates/new")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.post(f"{site.url}/updates", data=form(site)).status_code == 401
    viewer = client_for(app, make_user("viewer"))
    page = text(viewer.get(f"{site.url}/updates/new"))
    assert ">Preview</button>" in page
    assert ">Publish</button>" not in page and ">Save draft</button>" not in page
    assert viewer.post(f"{site.url}/updates", data=form(site)).status_code == 403
    assert viewer.post(f"{site.url}/updates/draft", data=form(site)).status_code == 403
    assert count(session, IncidentUpdate) == 0
    assert viewer.get(f"{site.url}/updates/999/edit").status_code == 404


def test_publishing_needs_the_csrf_token(csrf_client, make_user, session, site):
    login_with_csrf(csrf_client, make_user("communicator"))
    assert csrf_client.post(f"{site.url}/updates", data=form(site)).status_code == 400
    assert count(session, IncidentUpdate) == 0
    page = csrf_client.get(f"{site.url}/updates/new").get_data(as_text=True)
    data = form(site, csrf_token=csrf_token_from(page))
    assert csrf_client.post(f"{site.url}/updates", data=data).status_code == 302
    assert count(session, IncidentUpdate) == 1


def test_communicators_keep_a_draft_for_later_and_viewers_cannot(
    app, client, login, make_user, session, site
):
    login(make_user("viewer"))
    assert client.post(f"{site.url}/updates/draft", data=form(site)).status_code == 403
    assert session.scalars(sa.select(IncidentUpdate)).all() == []

    communicator = client_for(app, make_user("communicator"))
    response = communicator.post(f"{site.url}/updates/draft", data=form(site, body="Later."))
    assert response.status_code == 302
    session.expire_all()
    [draft] = session.scalars(sa.select(IncidentUpdate)).all()
    assert draft.published_at is None and draft.body == "Later."
    assert communicator.post(f"{site.url}/updates/{draft.id}/publish").status_code == 302
