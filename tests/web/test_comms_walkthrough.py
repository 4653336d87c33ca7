"""Issue 4's acceptance path, as a new user would try it, through the admin forms.

A communicator publishes investigating, identified, monitoring and resolved with component
changes; a manager works the incident through its lifecycle; the communicator writes the closure
report and publishes the review; the front page, the incident page and the history show each step.
"""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from flask.testing import FlaskClient

from statuspage.components.models import Component
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.incidents.models import (
    Category,
    Incident,
    IncidentStatus,
    IncidentUpdate,
    PostIncidentReview,
    ReviewStatus,
)
from statuspage.incidents.operations import NewIncident, open_incident


def text(response) -> str:
    return response.get_data(as_text=True)


def words(html: str) -> str:
    """The page's text with tags and runs of whitespace collapsed, as a reader sees it."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def client_for(app, user) -> FlaskClient:
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie.clear()
    response = client.post(
        "/login", data={"email": user.email, "password": "a perfectly long password"}
    )
    assert response.status_code == 302
    return client


def test_a_communicator_runs_the_public_side_of_an_incident(
    app, session, make_user, make_component, now
):
    api, web = make_component("API"), make_component("Website")
    billing = make_component("Billing")
    session.add(Category(name="Application"))
    incident = open_incident(
        session,
        NewIncident(title="Checkout errors", component_ids=[api.id, web.id]),
        actor_id=None,
        now=now - timedelta(minutes=30),
    )
    session.commit()
    incident_id, api_id, web_id = incident.id, api.id, web.id
    admin_url = f"/admin/incidents/{incident_id}"
    public = app.test_client()

    comms = client_for(app, make_user("communicator"))
    manager = client_for(app, make_user("manager"))

    # Not public before the first update.
    assert public.get(f"/incidents/{incident_id}").status_code == 404
    assert "Checkout errors" not in text(public.get("/"))

    steps = [
        (
            "investigating",
            "We are looking into failed checkouts.",
            "major_outage",
            "partial_outage",
        ),
        (
            "identified",
            "A bad deploy of the payment service.",
            "partial_outage",
            "degraded_performance",
        ),
        (
            "monitoring",
            "Rolled back; watching the error rate.",
            "degraded_performance",
            "operational",
        ),
        ("resolved", "Checkouts work normally again.", "operational", "operational"),
    ]
    labels = {
        "major_outage": "Major outage",
        "partial_outage": "Partial outage",
        "degraded_performance": "Degraded performance",
        "operational": "Operational",
    }
    for status, body, api_status, web_status in steps:
        answer = comms.post(
            f"{admin_url}/updates",
            data={
                "status": status,
                "body": body,
                f"component-{api_id}": api_status,
                f"component-{web_id}": web_status,
                "notify": "y",
            },
        )
        assert answer.status_code == 302, text(answer)[:3000]
        session.expire_all()
        assert session.get(Component, api_id).status == api_status
        assert session.get(Component, web_id).status == web_status

        front = words(text(public.get("/")))
        page = words(text(public.get(f"/incidents/{incident_id}")))
        history = words(text(public.get("/history")))
        assert body in page
        assert re.search(rf"API [^A-Za-z]*{labels[api_status]}", front), front
        assert "Checkout errors" in history
        if status == "resolved":
            assert "Active incidents" not in front
            assert "All Systems Operational" in front
            assert re.search(r"Past incidents .*Checkout errors", front)
        else:
            active = front.split("Active incidents", 1)[1]
            assert re.search(rf"Checkout errors .*{status.capitalize()}", active)
    assert session.get(Component, billing.id).status == "operational"  # never touched

    page = text(public.get(f"/incidents/{incident_id}"))
    order = [page.index(body) for _, body, _, _ in steps]
    assert order == sorted(order, reverse=True)  # newest first
    assert (
        session.scalar(
            sa.select(sa.func.count(Notification.id)).where(
                Notification.kind == NotificationKind.INCIDENT_UPDATE
            )
        )
        == 4
    )

    # The manager works the incident; closing needs the closure report and the review (P1).
    def version() -> int:
        session.expire_all()
        return session.get(Incident, incident_id).version

    def move(target: str, **extra: str) -> None:
        answer = manager.post(
            f"{admin_url}/transition",
            data={"move-target": target, "move-version": version(), **extra},
        )
        assert answer.status_code == 302, text(answer)[:3000]

    move("triage")
    assert (
        manager.post(
            f"{admin_url}/categorize",
            data={
                "cat-category": session.scalar(sa.select(Category.id)),
                "cat-impact": "high",
                "cat-urgency": "high",
                "cat-version": version(),
            },
        ).status_code
        == 302
    )
    move("investigating")
    move("identified")
    move("mitigated", **{"move-workaround": "Rolled back the payment service"})
    move(
        "resolved",
        **{
            "move-resolution_code": "rolled_back",
            "move-resolution_summary": "Rolled back the faulty deploy",
            "move-check_operational": "y",
            "move-check_users": "y",
            "move-check_side_effects": "y",
        },
    )
    move("post_incident")
    refused = manager.post(
        f"{admin_url}/transition", data={"move-target": "closed", "move-version": version()}
    )
    assert refused.status_code == 409 and "closure report" in text(refused)

    report = {
        "summary": "Checkouts failed for 40 minutes.",
        "impact": "About a third of checkout attempts failed.",
        "cause": "A deploy of the payment service with a bad configuration.",
        "resolution": "We rolled the deploy back.",
        "prevention": "Configuration is now validated before deploys.",
    }
    assert comms.post(f"{admin_url}/closure-report", data=report).status_code == 302

    assert manager.post(f"{admin_url}/review/start").status_code == 302
    assert (
        manager.post(
            f"{admin_url}/review",
            data={"summary": "A configuration check was missing.", "timeline": ""},
        ).status_code
        == 302
    )
    assert (
        manager.post(
            f"{admin_url}/review/items",
            data={"item-title": "Validate configuration in CI", "item-priority": "P2"},
        ).status_code
        == 302
    )
    assert manager.post(f"{admin_url}/review/in_review").status_code == 302
    assert manager.post(f"{admin_url}/review/approved").status_code == 302
    published = comms.post(f"{admin_url}/review/publish", data={"publish_publicly": "y"})
    assert published.status_code == 302, text(published)[:3000]
    move("closed")

    session.expire_all()
    incident = session.get(Incident, incident_id)
    assert incident.status == IncidentStatus.CLOSED
    review = session.scalar(sa.select(PostIncidentReview))
    assert review.status == ReviewStatus.PUBLISHED and review.published_at is not None
    assert session.scalar(sa.select(sa.func.count(IncidentUpdate.id))) == 4

    page = words(text(public.get(f"/incidents/{incident_id}")))
    for body in report.values():
        assert body in page
    assert "A configuration check was missing." in page
    assert "Validate configuration in CI" in page
    assert "0 of 1 done" in page
    history = words(text(public.get("/history")))
    assert "Checkout errors" in history
    kinds = set(session.scalars(sa.select(Notification.kind)))
    assert {NotificationKind.CLOSURE_REPORT, NotificationKind.REVIEW_PUBLISHED} <= kinds
