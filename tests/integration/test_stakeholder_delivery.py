"""Stakeholders told by the process, end to end: a P1 declared through the admin, and one
opened by an Alertmanager webhook, each reach Leadership and Support within one worker cycle
(the worker's delivery run against the loopback SendGrid fake), with the internal summary.
P2 tells Support only, P3 nobody."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage.auth.tokens import create_token
from statuspage.core.models import TimelineEvent
from statuspage.core.outbox import Notification, NotificationKind, NotificationState
from statuspage.incidents.models import Incident
from statuspage.mail.transports import MANAGE_URL_TOKEN
from statuspage.stakeholders.lists import ListFields, update_list
from statuspage.stakeholders.models import StakeholderList, StakeholderMessage
from statuspage.worker.delivery import run_delivery
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.web.test_alerts import FIRING


@pytest.fixture
def sendgrid(app) -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as fake:
        app.config.update(
            MAIL_TRANSPORT="sendgrid",
            SENDGRID_API_KEY=fake.api_key,
            SENDGRID_API_HOST=fake.url,
            SENDGRID_TIMEOUT=5,
            MAIL_FROM="Test Status <status@example.com>",
        )
        yield fake


@pytest.fixture
def people(session, make_user, now):
    """Leadership: a staff manager and the CEO's plain address; Support: the support inbox and
    the same manager (who must get one email, not two)."""
    boss = make_user("manager", email="boss@example.com", name="Bea Boss")
    lists = {s.name: s for s in session.scalars(sa.select(StakeholderList))}
    update_list(
        session,
        lists["Leadership"].id,
        ListFields(
            name="Leadership",
            priorities=lists["Leadership"].priorities,
            events=lists["Leadership"].events,
            user_ids=[boss.id],
            emails=["CEO@example.com"],
        ),
        actor_id=None,
        now=now,
    )
    update_list(
        session,
        lists["Support"].id,
        ListFields(
            name="Support",
            priorities=lists["Support"].priorities,
            events=lists["Support"].events,
            user_ids=[boss.id],
            emails=["support@example.com"],
        ),
        actor_id=None,
        now=now,
    )
    session.commit()
    return boss


def one_worker_cycle(app) -> Any:
    with app.app_context():
        return run_delivery()


def stakeholder_messages(session, incident_id: int) -> list[StakeholderMessage]:
    session.expire_all()
    return list(
        session.scalars(
            sa.select(StakeholderMessage)
            .where(StakeholderMessage.incident_id == incident_id)
            .order_by(StakeholderMessage.id)
        )
    )


def timeline(session, incident_id: int) -> list[str]:
    return list(
        session.scalars(
            sa.select(TimelineEvent.summary)
            .where(
                TimelineEvent.incident_id == incident_id,
                TimelineEvent.kind == "stakeholders_notified",
            )
            .order_by(TimelineEvent.id)
        )
    )


def summary_request(sendgrid: FakeSendGrid, incident_id: int):
    (request,) = [r for r in sendgrid.requests if f"incident #{incident_id}]" in r.body["subject"]]
    return request


def test_p1_declared_through_the_admin_tells_leadership_and_support_at_once(
    app, client, login, session, make_user, make_component, people, sendgrid
):
    lead = make_user("responder", email="ida@example.com", name="Ida Lead")
    comms = make_user("communicator", email="cora@example.com", name="Cora Comms")
    api = make_component("Public API")
    session.commit()
    login(people)
    logged = client.post(
        "/admin/incidents/new",
        data={"title": "API errors", "source": "staff", "components": [api.id]},
    )
    assert logged.status_code == 302
    incident = session.scalars(sa.select(Incident)).one()
    for user, role in ((lead, "incident_manager"), (comms, "comms_lead")):
        assigned = client.post(
            f"/admin/incidents/{incident.id}/roles",
            data={"role-user": user.id, "role-role": role},
        )
        assert assigned.status_code == 302
    session.refresh(incident)
    declared = client.post(
        f"/admin/incidents/{incident.id}/categorize",
        data={"cat-impact": "high", "cat-urgency": "high", "cat-version": incident.version},
    )
    assert declared.status_code == 302

    # Written in the same transaction as the priority: message, outbox row, timeline.
    (message,) = stakeholder_messages(session, incident.id)
    assert message.event == "declared" and message.list_names == ["Leadership", "Support"]
    assert sorted(r.email for r in message.recipients) == [
        "boss@example.com",
        "ceo@example.com",
        "support@example.com",
    ]
    assert timeline(session, incident.id) == ["Leadership and Support notified: P1 declared"]
    assert sendgrid.requests == []  # nothing is sent from the request

    report = one_worker_cycle(app)

    assert report.recipients_sent == 3
    request = summary_request(sendgrid, incident.id)
    assert sorted(request.recipients) == [
        "boss@example.com",
        "ceo@example.com",
        "support@example.com",
    ]
    body = request.body
    assert body["subject"] == f"[P1 incident #{incident.id}] Declared: API errors"
    text, html = (part["value"] for part in body["content"])
    for expected in (
        "P1 declared",
        "Internal summary for Leadership, Support",
        "Priority:       P1 (Critical)",
        "Impact:         high impact, high urgency",
        "Status:         new (not on the public page)",
        "Public API (Operational)",
        "Incident commander: Ida Lead",
        "Comms lead: Cora Comms",
        "none: customers have not been told of this incident; once they are, the P1 cadence "
        "asks for an update every 30 minutes",
        f"Open the incident (staff): http://localhost/admin/incidents/{incident.id}",
    ):
        assert expected in text, expected
    assert "Ida Lead" in html and f"/admin/incidents/{incident.id}" in html
    # Internal mail: no subscriber links, no unsubscribe header.
    assert MANAGE_URL_TOKEN not in text + html
    assert all("headers" not in p for p in request.personalizations)
    session.expire_all()
    notification = session.get(Notification, message.notification_id)
    assert notification.kind == NotificationKind.STAKEHOLDER_SUMMARY
    assert notification.state == NotificationState.DONE

    # The next cycle sends nothing again.
    again = one_worker_cycle(app)
    assert again.recipients_sent == 0
    assert len(sendgrid.requests) == 1
    log = client.get("/admin/deliveries").get_data(as_text=True)
    assert "Stakeholder summary (internal)" in log
    detail = client.get(f"/admin/deliveries/{notification.id}").get_data(as_text=True)
    assert detail.count("<td>3</td>") >= 1  # the one batch, sent to the three


@pytest.fixture
def alert_token(session, make_user, now) -> str:
    user = make_user("responder")
    _, secret = create_token(session, user, "Alertmanager", actor_id=user.id, now=now)
    session.commit()
    return secret


def fire(client, token: str, severity: str, fingerprint: str) -> int:
    body = copy.deepcopy(FIRING)
    body["alerts"][0]["labels"]["severity"] = severity
    body["alerts"][0]["fingerprint"] = fingerprint
    body["commonLabels"]["severity"] = severity
    response = client.post(
        "/api/v1/alerts/alertmanager",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {token}"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.get_json()
    (result,) = response.get_json()["alerts"]
    assert result["action"] == "opened"
    return result["incident_id"]


def test_p1_opened_by_an_alertmanager_webhook_tells_leadership_and_support(
    app, client, session, make_component, people, sendgrid, alert_token
):
    make_component("Public API")
    session.commit()

    incident_id = fire(client, alert_token, "critical", "c0ffee0000000001")

    (message,) = stakeholder_messages(session, incident_id)
    assert message.event == "declared"
    assert timeline(session, incident_id) == ["Leadership and Support notified: P1 declared"]

    report = one_worker_cycle(app)

    assert report.recipients_sent == 3
    request = summary_request(sendgrid, incident_id)
    assert sorted(request.recipients) == [
        "boss@example.com",
        "ceo@example.com",
        "support@example.com",
    ]
    text = request.body["content"][0]["value"]
    assert request.body["subject"] == (
        f"[P1 incident #{incident_id}] Declared: API error rate above 5%"
    )
    assert "Priority:       P1 (Critical)" in text
    assert "Status:         triage (not on the public page)" in text
    assert "Public API (" in text
    assert "Roles:          nobody assigned yet" in text


def test_p2_tells_support_only_and_p3_tells_nobody(
    app, client, session, make_component, people, sendgrid, alert_token
):
    p2 = fire(client, alert_token, "error", "c0ffee0000000002")
    p3 = fire(client, alert_token, "warning", "c0ffee0000000003")
    assert session.get(Incident, p2).priority == "P2"
    assert session.get(Incident, p3).priority == "P3"

    (message,) = stakeholder_messages(session, p2)
    assert message.list_names == ["Support"]
    assert timeline(session, p2) == ["Support notified: P2 declared"]
    assert stakeholder_messages(session, p3) == [] and timeline(session, p3) == []

    one_worker_cycle(app)

    request = summary_request(sendgrid, p2)
    assert sorted(request.recipients) == ["boss@example.com", "support@example.com"]
    assert [r for r in sendgrid.requests if f"incident #{p3}]" in r.body["subject"]] == []
    session.expire_all()
    kinds = session.scalars(
        sa.select(Notification.kind).where(Notification.incident_id == p3)
    ).all()
    assert NotificationKind.STAKEHOLDER_SUMMARY not in kinds


def test_each_event_tells_the_lists_whose_rules_name_it(session, people, now, mailer):
    """Raised, status changed, SLA breached, resolved and review published, each from the one
    domain function where it happens; each telling once."""
    from datetime import timedelta

    from statuspage.incidents.casework import override_priority
    from statuspage.incidents.escalation import check_sla
    from statuspage.incidents.lifecycle import TransitionDetails, transition_incident
    from statuspage.incidents.models import IncidentStatus, Level, ReviewStatus
    from statuspage.incidents.operations import NewIncident, categorize_incident, open_incident
    from statuspage.incidents.reviews import publish_review, start_review

    start = now - timedelta(hours=3)
    incident = open_incident(session, NewIncident(title="Queue backlog"), actor_id=None, now=start)
    categorize_incident(
        session,
        incident,
        category_id=None,
        subcategory_id=None,
        impact=Level.HIGH,
        urgency=Level.MEDIUM,
        actor_id=None,
        now=start,
    )  # P2: Support
    override_priority(
        session,
        incident,
        "P1",
        "Payments affected",
        expected_version=None,
        actor_id=None,
        now=start,
    )  # raised: Leadership and Support
    override_priority(
        session, incident, "P2", "Payments fine", expected_version=None, actor_id=None, now=start
    )  # lowered: nobody
    override_priority(
        session, incident, "P1", "Payments again", expected_version=None, actor_id=None, now=start
    )  # raised again
    session.commit()
    # P1 acknowledge target is 60 minutes: breached three hours in, once however often checked.
    check_sla(session, now=now, mailer=mailer)
    check_sla(session, now=now + timedelta(minutes=1), mailer=mailer)
    session.commit()
    transition_incident(session, incident, IncidentStatus.INVESTIGATING, actor_id=None, now=now)
    transition_incident(
        session,
        incident,
        IncidentStatus.RESOLVED,
        actor_id=None,
        now=now,
        details=TransitionDetails(
            resolution_code="fixed", resolution_summary="Drained.", verification="Watched."
        ),
    )
    review = start_review(session, incident, actor_id=None, now=now)
    review.status = ReviewStatus.APPROVED  # arranged: approval has its own tests
    publish_review(session, incident, review, publish_publicly=False, actor_id=None, now=now)
    session.commit()

    told = [
        (m.event.value, m.list_names, m.detail) for m in stakeholder_messages(session, incident.id)
    ]
    assert told == [
        ("declared", ["Support"], "P2 declared"),
        ("priority_raised", ["Leadership", "Support"], "priority raised from P2 to P1"),
        ("priority_raised", ["Leadership", "Support"], "priority raised from P2 to P1"),
        ("sla_breached", ["Leadership", "Support"], "SLA breached: acknowledge target"),
        ("status_changed", ["Support"], "status changed from new to investigating"),
        ("resolved", ["Leadership", "Support"], "resolved (P1)"),
        ("review_published", ["Leadership"], "post-incident review published"),
    ]
    assert len(timeline(session, incident.id)) == len(told)


def test_the_summary_email_is_in_the_pages_default_language(
    app, client, login, session, make_component, people, sendgrid
):
    from tests.web.german_catalog import de

    app.config["DEFAULT_LANGUAGE"] = "de"
    api = make_component("Public API")
    session.commit()
    login(people)
    client.post(
        "/admin/incidents/new",
        data={"title": "API errors", "source": "staff", "components": [api.id]},
    )
    incident = session.scalars(sa.select(Incident)).one()
    declared = client.post(
        f"/admin/incidents/{incident.id}/categorize",
        data={"cat-impact": "high", "cat-urgency": "high", "cat-version": incident.version},
    )
    assert declared.status_code == 302
    one_worker_cycle(app)

    (request,) = [r for r in sendgrid.requests if f"#{incident.id}]" in r.body["subject"]]
    body = request.body
    assert body["subject"] == de(
        "[%(priority)s incident #%(number)s] %(event)s: %(title)s",
        priority="P1",
        number=incident.id,
        event=de("Declared"),
        title="API errors",
    )
    text = body["content"][0]["value"]
    high = de("High").lower()
    for expected in (
        de(
            "Internal summary for %(lists)s. Not for customers: do not forward.",
            lists="Leadership, Support",
        ),
        de("%(impact)s impact, %(urgency)s urgency", impact=high, urgency=high),
        de("New").lower(),
        de("Operational"),
        de(
            "none: customers have not been told of this incident; once they are, the "
            "%(priority)s cadence asks for an update every %(minutes)s minutes",
            priority="P1",
            minutes=30,
        ),
    ):
        assert expected in text, (expected, text)
    assert "impact" not in text and "customers" not in text
