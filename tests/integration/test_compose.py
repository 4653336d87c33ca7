"""Emails composed from outbox notifications: subjects, both parts, links, hostile text."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

import pytest

from statuspage.core.outbox import NotificationKind, queue_notification
from statuspage.incidents.closure import ClosureReportText, write_closure_report
from statuspage.incidents.maintenance import NewMaintenance, schedule_maintenance
from statuspage.incidents.models import (
    PostIncidentReview,
    Priority,
    PublicStatus,
    ReviewActionItem,
    ReviewStatus,
    TaskStatus,
)
from statuspage.incidents.operations import post_update
from statuspage.mail.message import build_message
from statuspage.notifications.compose import NothingToSend, compose_notification
from tests.hostile import HOSTILE_BODY, HOSTILE_TITLE, assert_inert

SITE = "https://status.example.com"


def url(path: str) -> str:
    return SITE + path


def compose(session, notification, **kwargs):
    return compose_notification(
        session, notification, site_name="Example <Status>", url=url, **kwargs
    )


def test_an_incident_update_email_starts_with_its_status(
    session, make_component, make_incident, now
):
    api = make_component("API")
    incident = make_incident("API errors", components={api.id: "partial_outage"})
    update = post_update(
        session,
        incident,
        status=PublicStatus.IDENTIFIED,
        body="We found a **bad** deploy.",
        component_statuses={api.id: "degraded_performance"},
        actor_id=None,
        now=now,
    )
    incident.next_update_at = now + timedelta(minutes=30)
    note = queue_notification(
        session,
        NotificationKind.INCIDENT_UPDATE,
        now=now,
        incident_id=incident.id,
        incident_update_id=update.id,
        component_ids=[api.id],
    )
    session.flush()

    email = compose(session, note, manage_url=SITE + "/subscription/abc")

    assert email.subject == "[Identified] API errors"
    assert "We found a **bad** deploy." in email.text
    assert "API: Degraded performance" in email.text
    assert "UTC" in email.text
    assert f"Follow this incident: {SITE}/incidents/{incident.id}" in email.text
    assert "Next update by" in email.text
    assert f"{SITE}/subscription/abc" in email.text
    assert "<strong>bad</strong>" in email.html
    assert f'href="{SITE}/incidents/{incident.id}"' in email.html
    assert "Example &lt;Status&gt;" in email.html
    assert "UTC" in email.html


def test_every_kind_has_a_subject_and_both_parts(session, make_component, make_incident, now):
    api = make_component("API")
    incident = make_incident("Login outage", components={api.id: "major_outage"})
    write_closure_report(
        session,
        incident,
        ClosureReportText("It broke.", "All logins.", "A bug.", "Rolled back.", "More tests."),
        actor_id=None,
        now=now,
    )
    review = PostIncidentReview(
        incident_id=incident.id,
        status=ReviewStatus.PUBLISHED,
        summary="What we learned.",
        created_at=now,
        updated_at=now,
    )
    review.action_items = [
        ReviewActionItem(title="Add a canary", priority=Priority.P2, status=TaskStatus.DONE),
        ReviewActionItem(title="Alert sooner", priority=Priority.P3),
    ]
    session.add(review)
    maintenance = schedule_maintenance(
        session,
        NewMaintenance(
            title="Database upgrade",
            scheduled_for=now + timedelta(hours=2),
            scheduled_until=now + timedelta(hours=3),
            body="Expect brief pauses.",
            component_ids=[api.id],
        ),
        actor_id=None,
        now=now,
    )
    session.flush()
    expected = {
        NotificationKind.CLOSURE_REPORT: ("[Closure report] Login outage", "Rolled back."),
        NotificationKind.REVIEW_PUBLISHED: (
            "[Post-incident review] Login outage",
            "Follow-up actions: 1 of 2 done.",
        ),
        NotificationKind.MAINTENANCE_SCHEDULED: (
            "[Scheduled maintenance] Database upgrade",
            "Expect brief pauses.",
        ),
        NotificationKind.MAINTENANCE_REMINDER: (
            "[Maintenance reminder] Database upgrade",
            "Components: API",
        ),
        NotificationKind.MAINTENANCE_STARTED: (
            "[Maintenance in progress] Database upgrade",
            f"{SITE}/maintenance/{maintenance.id}",
        ),
        NotificationKind.MAINTENANCE_COMPLETED: (
            "[Maintenance completed] Database upgrade",
            "UTC",
        ),
    }
    for kind, (subject, words) in expected.items():
        note = queue_notification(
            session, kind, now=now, incident_id=incident.id, maintenance_id=maintenance.id
        )
        session.flush()
        email = compose(session, note)
        assert email.subject == subject
        assert words in email.text
        assert email.html.lstrip().startswith("<!DOCTYPE html>")
        assert "Change which components" not in email.text  # no manage link given


def test_hostile_text_is_inert_in_both_parts(session, make_component, make_incident, now):
    api = make_component(HOSTILE_TITLE[:100])
    incident = make_incident("placeholder", components={api.id: "major_outage"}, body=HOSTILE_BODY)
    incident.title = HOSTILE_TITLE
    update = incident.public_updates[0]
    write_closure_report(
        session,
        incident,
        ClosureReportText(HOSTILE_BODY, HOSTILE_BODY, HOSTILE_BODY, HOSTILE_BODY, HOSTILE_BODY),
        actor_id=None,
        now=now,
    )
    maintenance = schedule_maintenance(
        session,
        NewMaintenance(
            title=HOSTILE_TITLE,
            scheduled_for=now + timedelta(hours=2),
            scheduled_until=now + timedelta(hours=3),
            body=HOSTILE_BODY,
            component_ids=[api.id],
        ),
        actor_id=None,
        now=now,
    )
    session.flush()
    notes = [
        queue_notification(
            session,
            NotificationKind.INCIDENT_UPDATE,
            now=now,
            incident_id=incident.id,
            incident_update_id=update.id,
        ),
        queue_notification(
            session, NotificationKind.CLOSURE_REPORT, now=now, incident_id=incident.id
        ),
        queue_notification(
            session, NotificationKind.MAINTENANCE_SCHEDULED, now=now, maintenance_id=maintenance.id
        ),
    ]
    session.flush()
    for note in notes:
        email = compose(session, note)
        assert_inert(email.html)
        assert "&lt;script&gt;" in email.html or "alert(1)" not in email.html
        # The whole message, as sent: the subject stays one header line.
        message = build_message(
            sender="status@example.com",
            to=["reader@example.com"],
            subject=email.subject + "\r\nBcc: victim@example.com",
            text=email.text,
            html=email.html,
        )
        parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
        assert parsed["Bcc"] is None
        assert parsed.get_content_type() == "multipart/alternative"
        html_part = parsed.get_body(preferencelist=("html",))
        assert html_part is not None
        assert_inert(html_part.get_content())


def test_a_notification_for_something_deleted_says_so(session, make_incident, now):
    incident = make_incident("Gone soon")
    note = queue_notification(
        session,
        NotificationKind.INCIDENT_UPDATE,
        now=now,
        incident_id=incident.id,
        incident_update_id=None,
    )
    session.flush()
    with pytest.raises(NothingToSend):
        compose(session, note)
