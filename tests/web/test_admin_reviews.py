"""Closure report and post-incident review screens."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from statuspage.core.models import AuditEntry
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.incidents import reviews
from statuspage.incidents.lifecycle import TransitionDetails, transition_incident
from statuspage.incidents.models import (
    ClosureReport,
    IncidentStatus,
    PostIncidentReview,
    Priority,
    ReviewActionItem,
    ReviewStatus,
    TaskStatus,
)
from tests.conftest import PASSWORD, csrf_token_from, login_with_csrf


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_review_starts_with_the_incident_timeline_and_needs_a_manager_to_approve(
    app, client, session, make_user, login, make_incident
):
    incident = make_incident("Checkout down", body="We are looking into it.")
    incident_id = incident.id
    responder = make_user("responder")
    login(responder)
    url = f"/admin/incidents/{incident_id}/review"
    assert "Start the review" in text(client.get(url))
    assert client.post(f"{url}/start").status_code == 302
    assert client.post(f"{url}/start").status_code == 409  # one review per incident
    review = session.scalar(sa.select(PostIncidentReview))
    texts = [entry["text"] for entry in review.timeline]
    assert "Impact started" in texts
    assert "Public update (investigating): We are looking into it." in texts

    refused = client.post(f"{url}/in_review")
    assert refused.status_code == 409  # no summary yet
    bad = client.post(url, data={"summary": "x", "timeline": "yesterday | something"})
    assert bad.status_code == 400 and "Line 1: start with a time" in text(bad)
    saved = client.post(
        url,
        data={
            "summary": "A **bad** deploy",
            "went_well": "Fast rollback",
            "timeline": "2026-05-04T09:30:00+00:00 | Deploy started\n"
            "2026-05-04T09:41:00 | Errors seen",
        },
    )
    assert saved.status_code == 302
    assert client.post(f"{url}/in_review").status_code == 302
    assert client.post(f"{url}/approved").status_code == 403  # a manager's call
    manager = make_user("manager")
    other = app.test_client()
    assert (
        other.post(
            "/login", data={"email": manager.email, "password": "a perfectly long password"}
        ).status_code
        == 302
    )
    assert other.post(f"{url}/approved").status_code == 302
    session.expire_all()
    review = session.scalar(sa.select(PostIncidentReview))
    assert review.status == ReviewStatus.APPROVED and review.approved_by_id == manager.id
    assert review.timeline[1] == {"at": "2026-05-04T09:41:00+00:00", "text": "Errors seen"}
    page = text(client.get(url))
    assert "<strong>bad</strong>" in page and "Save review" not in page  # locked once approved


def test_closure_report_needs_publish_permission_and_every_section(
    app, client, session, make_user, login, make_incident
):
    incident = make_incident("API errors")
    incident_id = incident.id
    url = f"/admin/incidents/{incident_id}/closure-report"
    login(make_user("responder"))
    assert client.get(url).status_code == 200
    assert client.post(url, data={"summary": "s"}).status_code == 403
    communicator = app.test_client()
    user = make_user("communicator")
    communicator.post("/login", data={"email": user.email, "password": "a perfectly long password"})
    missing = communicator.post(url, data={"summary": "s", "impact": "i"})
    assert missing.status_code == 400
    assert session.scalar(sa.select(sa.func.count(ClosureReport.id))) == 0
    done = communicator.post(
        url,
        data={
            "summary": "Errors for 20 minutes",
            "impact": "All",
            "cause": "Deploy",
            "resolution": "Rollback",
            "prevention": "Canary <script>x()</script>",
        },
    )
    assert done.status_code == 302
    public = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Errors for 20 minutes" in public and "<script>x()" not in public


# Closure report: prefill, publication and its one notification


def test_closure_report_form_is_prefilled_and_publishing_notifies_once(
    app, client, session, make_user, login, make_component, make_incident, now
):
    api = make_component("Payments API")
    incident = make_incident(
        "Payments failing",
        components={api.id: "major_outage"},
        started=now - timedelta(hours=2),
        resolved_after=timedelta(minutes=50),
    )
    incident.resolution_summary = "Rolled back deploy 42."
    session.commit()
    url = f"/admin/incidents/{incident.id}/closure-report"
    login(make_user("communicator"))
    form = text(client.get(url))
    assert "Duration: 50 min" in form and "Affected components: Payments API." in form
    assert "Rolled back deploy 42.</textarea>" in form
    assert "emails subscribers once" in form

    data = {
        "summary": "Payments failed.",
        "impact": "All card payments for 50 minutes.",
        "cause": "A bad deploy.",
        "resolution": "Rolled back.",
        "prevention": "Canary deploys.",
    }
    too_long = client.post(url, data={**data, "cause": "x" * 20001})
    assert too_long.status_code == 400
    assert session.scalar(sa.select(sa.func.count(ClosureReport.id))) == 0
    assert client.post(url, data=data).status_code == 302
    assert client.post(url, data={**data, "cause": "A bad config push."}).status_code == 302
    sent = session.scalars(
        sa.select(Notification).where(Notification.kind == NotificationKind.CLOSURE_REPORT)
    ).all()
    assert len(sent) == 1 and sent[0].component_ids == [api.id]
    public = text(client.get(f"/incidents/{incident.id}"))
    assert "A bad config push." in public


# Action items


def review_url(incident_id: int) -> str:
    return f"/admin/incidents/{incident_id}/review"


@pytest.fixture
def started_review(session, make_incident, now):
    incident = make_incident("Checkout down")
    review = reviews.start_review(session, incident, actor_id=None, now=now)
    reviews.update_review(
        session, review, reviews.ReviewText(summary="A bad deploy."), actor_id=None, now=now
    )
    session.commit()
    return incident, review


def test_action_items_are_added_changed_and_removed_by_the_team(
    app, client, session, make_user, login, started_review
):
    incident, review = started_review
    owner = make_user("responder", name="Olivia Owner")
    login(make_user("responder"))
    url = review_url(incident.id)
    blank = client.post(f"{url}/items", data={"item-title": " ", "item-priority": "P2"})
    assert blank.status_code == 400 and "This field is required." in text(blank)
    bad_priority = client.post(f"{url}/items", data={"item-title": "x", "item-priority": "P9"})
    assert bad_priority.status_code == 400
    assert session.scalar(sa.select(sa.func.count(ReviewActionItem.id))) == 0

    added = client.post(
        f"{url}/items",
        data={
            "item-title": "Add a canary stage",
            "item-owner": str(owner.id),
            "item-priority": "P2",
            "item-due_on": "2026-07-01",
            "item-status": "open",
        },
    )
    assert added.status_code == 302
    item = session.scalar(sa.select(ReviewActionItem))
    assert (item.title, item.priority, item.owner_id) == (
        "Add a canary stage",
        Priority.P2,
        owner.id,
    )
    assert item.due_at == datetime(2026, 7, 1, tzinfo=UTC)
    page = text(client.get(url))
    assert "Add a canary stage" in page and "Olivia Owner" in page
    assert "Progress: 0 of 1 done." in page

    status_url = f"{url}/items/{item.id}/status"
    assert client.post(status_url, data={f"status{item.id}-status": "nope"}).status_code == 400
    assert client.post(status_url, data={f"status{item.id}-status": "done"}).status_code == 302
    session.refresh(item)
    assert item.status == TaskStatus.DONE and item.completed_at is not None
    assert "Progress: 1 of 1 done." in text(client.get(url))

    edit_url = f"{url}/items/{item.id}/edit"
    assert 'value="Add a canary stage"' in text(client.get(edit_url))
    edited = client.post(
        edit_url,
        data={"edit-title": "Add two canary stages", "edit-priority": "P1", "edit-status": "done"},
    )
    assert edited.status_code == 302
    session.refresh(item)
    assert (item.title, item.priority, item.owner_id) == (
        "Add two canary stages",
        Priority.P1,
        None,
    )
    assert client.post(f"{url}/items/9999/status", data={}).status_code == 404

    assert client.post(f"{url}/items/{item.id}/remove").status_code == 302
    assert session.scalar(sa.select(sa.func.count(ReviewActionItem.id))) == 0
    audited = session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.entity_type == "review_action_item")
    ).all()
    assert sorted(audited) == ["add", "edit", "remove", "status"]


def test_action_items_need_work_incidents_permission(
    client, session, make_user, login, started_review
):
    incident, review = started_review
    login(make_user("communicator"))
    url = review_url(incident.id)
    assert client.get(url).status_code == 200
    refused = client.post(f"{url}/items", data={"item-title": "x", "item-priority": "P2"})
    assert refused.status_code == 403
    assert session.scalar(sa.select(sa.func.count(ReviewActionItem.id))) == 0


# Publishing


def approve(session, incident, review, now) -> None:
    for status in ("in_review", "approved"):
        reviews.move_review(session, incident, review, status, actor_id=None, now=now)
    session.commit()


def review_notifications(session) -> int:
    return session.scalar(
        sa.select(sa.func.count(Notification.id)).where(
            Notification.kind == NotificationKind.REVIEW_PUBLISHED
        )
    )


def test_publishing_is_a_comms_choice_internal_first_then_public(
    app, client, session, make_user, login, started_review, now
):
    incident, review = started_review
    url = review_url(incident.id)
    login(make_user("responder"))
    assert client.post(f"{url}/publish", data={"publish_publicly": "y"}).status_code == 403
    assert client.post(f"{url}/published").status_code == 404  # not a plain move

    communicator = app.test_client()
    user = make_user("communicator")
    communicator.post("/login", data={"email": user.email, "password": PASSWORD})
    assert communicator.post(f"{url}/publish").status_code == 409  # a draft
    approve(session, incident, review, now)
    page = text(communicator.get(url))
    assert "Publish on the public status page" in page and "Publish the review" in page

    assert communicator.post(f"{url}/publish").status_code == 302  # box not ticked
    session.refresh(review)
    assert review.status == ReviewStatus.PUBLISHED and review.published_at is None
    assert review_notifications(session) == 0
    page = text(communicator.get(url))
    assert "Internal only:" in page and "Save review" not in page
    assert "A bad deploy." not in text(client.get(f"/incidents/{incident.id}"))

    later = communicator.post(f"{url}/publish", data={"publish_publicly": "y"})
    assert later.status_code == 302
    session.refresh(review)
    assert review.published_at is not None and review_notifications(session) == 1
    assert "Public:" in text(communicator.get(url))
    assert communicator.post(f"{url}/publish", data={"publish_publicly": "y"}).status_code == 409
    assert review_notifications(session) == 1


def test_a_review_of_an_internal_incident_cannot_go_public(
    client, session, make_user, login, make_incident, now
):
    incident = make_incident("Internal only", public=False)
    review = reviews.start_review(session, incident, actor_id=None, now=now)
    reviews.update_review(
        session, review, reviews.ReviewText(summary="Internal."), actor_id=None, now=now
    )
    approve(session, incident, review, now)
    login(make_user("manager"))
    url = review_url(incident.id)
    assert "can only be published internally" in text(client.get(url))
    refused = client.post(f"{url}/publish", data={"publish_publicly": "y"})
    assert refused.status_code == 409
    session.refresh(review)
    assert review.status == ReviewStatus.APPROVED and review_notifications(session) == 0


def test_removing_an_item_of_a_published_review_is_refused(
    client, session, make_user, login, started_review, now
):
    incident, review = started_review
    item = reviews.add_action_item(
        session,
        incident,
        review,
        reviews.ActionItemInput(title="Canary", priority="P2"),
        actor_id=None,
        now=now,
    )
    approve(session, incident, review, now)
    reviews.publish_review(
        session, incident, review, publish_publicly=False, actor_id=None, now=now
    )
    session.commit()
    login(make_user("manager"))
    url = review_url(incident.id)
    assert client.post(f"{url}/items/{item.id}/remove").status_code == 409
    assert session.scalar(sa.select(sa.func.count(ReviewActionItem.id))) == 1
    # Status changes stay possible: the public page shows the progress.
    assert (
        client.post(
            f"{url}/items/{item.id}/status", data={f"status{item.id}-status": "cancelled"}
        ).status_code
        == 302
    )


# The REVIEW_REQUIRED_PRIORITIES setting


@pytest.mark.parametrize(("setting", "closes"), [("P3", False), ("P1,P2", True)])
def test_closing_honours_the_review_required_setting(
    database_url, session, make_user, make_incident, now, setting, closes
):
    from statuspage.extensions import db
    from tests.conftest import make_app

    incident = make_incident("Minor glitch", public=False)
    incident.priority = Priority.P3
    transition_incident(session, incident, IncidentStatus.INVESTIGATING, actor_id=None, now=now)
    transition_incident(
        session,
        incident,
        IncidentStatus.RESOLVED,
        actor_id=None,
        now=now,
        details=TransitionDetails("", "", "rolled_back", "Rolled back.", "Checked."),
    )
    session.commit()
    configured = make_app(database_url, REVIEW_REQUIRED_PRIORITIES=setting)
    client = configured.test_client()
    user = make_user("manager")
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    response = client.post(
        f"/admin/incidents/{incident.id}/transition",
        data={"move-target": "closed", "move-version": incident.version},
    )
    with configured.app_context():
        db.engine.dispose()  # its pooled connections, before the tables are emptied
    session.refresh(incident)
    if closes:
        assert response.status_code == 302 and incident.status == IncidentStatus.CLOSED
    else:
        assert response.status_code == 409
        assert "P3 incidents need an approved post-incident review" in text(response)
        assert incident.status == IncidentStatus.RESOLVED


def test_review_forms_carry_csrf_tokens(csrf_client, session, make_user, started_review, now):
    incident, review = started_review
    approve(session, incident, review, now)
    login_with_csrf(csrf_client, make_user("manager"))
    url = review_url(incident.id)
    assert csrf_client.post(f"{url}/publish", data={"publish_publicly": "y"}).status_code == 400
    refused = csrf_client.post(f"{url}/items", data={"item-title": "x", "item-priority": "P2"})
    assert refused.status_code == 400
    assert session.scalar(sa.select(sa.func.count(ReviewActionItem.id))) == 0
    page = csrf_client.get(url).get_data(as_text=True)
    token = csrf_token_from(page)
    added = csrf_client.post(
        f"{url}/items",
        data={"item-csrf_token": token, "item-title": "Canary", "item-priority": "P2"},
    )
    assert added.status_code == 302
    published = csrf_client.post(
        f"{url}/publish", data={"csrf_token": token, "publish_publicly": "y"}
    )
    assert published.status_code == 302
    session.refresh(review)
    assert review.published_at is not None
