"""Component events: every status change of a listed component reaches the webhook (and
chat, SMS) subscriptions that chose it as Statuspage's component webhook (`page`,
`component_update` with old and new status, `component`), signed, received by the verifying
loopback consumer (tests/fakes/webhook_receiver.py).

A change published in an incident update and one made directly by staff (the write API) each
send one; a private component's change sends nothing; a subscription to another component
gets nothing; email subscribers get no email for it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from statuspage.auth.tokens import create_token
from statuspage.core.db import utcnow
from statuspage.core.outbox import Notification, NotificationKind, NotificationState
from statuspage.incidents.models import PublicStatus
from statuspage.incidents.operations import NewIncident, open_incident, post_update
from statuspage.notifications import delivery
from statuspage.notifications.models import ChannelDelivery
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.webhook_receiver import Received, WebhookReceiver
from tests.integration.test_delivery import add_subscribers, settings, transport_for
from tests.integration.test_webhook_channel import LOOPBACK, deliver, subscribe


@pytest.fixture
def channel_app(app: Flask) -> Flask:
    app.config.update(
        CHANNEL_ALLOW_HTTP=True,
        CHANNEL_ALLOWED_TEST_NETWORKS=LOOPBACK,
        CHANNEL_TIMEOUT=2.0,
        CHANNEL_BACKOFF_BASE=0.01,
        CHANNEL_BACKOFF_CAP=0.05,
    )
    return app


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def subscribed(
    client: FlaskClient, receiver: WebhookReceiver, app: Flask, path: str, **form: Any
) -> None:
    secret, _ = subscribe(client, receiver.url(path), **form)
    receiver.secrets[path] = secret
    deliver(app)
    [verification] = receiver.accepted(path)
    assert verification.body["type"] == "verification"


def component_events(receiver: WebhookReceiver, path: str) -> list[Received]:
    got = [r for r in receiver.accepted(path) if "component_update" in r.body]
    for request in got:
        assert request.verified, request.problems  # signature checked by standardwebhooks
        assert request.problems == []
        assert request.body["meta"]["event_type"] == "component.update"
        assert request.body["meta"]["message_id"] == request.message_id
    return got


def test_a_change_in_an_update_and_one_by_staff_each_send_a_component_event(
    channel_app: Flask,
    client: FlaskClient,
    session: Any,
    receiver: WebhookReceiver,
    make_component: Callable[..., Any],
    make_user: Callable[..., Any],
    now: datetime,
) -> None:
    api = make_component("API")
    session.commit()
    subscribed(client, receiver, channel_app, "/hooks/all")

    # 1. Published in an incident update.
    incident = open_incident(
        session,
        NewIncident(title="API errors", impact_started_at=now, component_ids=[api.id]),
        actor_id=None,
        now=utcnow(),
    )
    post_update(
        session,
        incident,
        status=PublicStatus.INVESTIGATING,
        body="Looking.",
        component_statuses={api.id: "major_outage"},
        actor_id=None,
        now=utcnow(),
    )
    session.commit()
    deliver(channel_app)
    [first] = component_events(receiver, "/hooks/all")
    body = first.body
    assert body["component_update"]["old_status"] == "operational"
    assert body["component_update"]["new_status"] == "major_outage"
    assert body["component_update"]["component_id"] == f"c{api.id}"
    assert body["component_update"]["id"].startswith("cu")
    assert body["component_update"]["created_at"].endswith("Z")
    assert body["component"] == {
        "id": f"c{api.id}",
        "name": "API",
        "status": "major_outage",
        "created_at": body["component"]["created_at"],
        "page_id": body["page"]["id"],
    }
    assert body["page"]["status_indicator"] == "critical"
    assert body["page"]["status_description"] == "Major System Outage"
    # The same component and page as the public JSON API.
    summary = client.get("/api/v2/summary.json").get_json()
    assert body["page"]["id"] == summary["page"]["id"]
    assert body["component"]["id"] in {c["id"] for c in summary["components"]}
    # The incident event came too, with the change inside its update.
    incident_events = [r for r in receiver.accepted("/hooks/all") if "incident" in r.body]
    assert len(incident_events) == 1

    # 2. Directly by staff, through the write API.
    user = make_user("admin")
    _, secret = create_token(session, user, "tests", actor_id=None, now=now)
    session.commit()
    response = client.patch(
        f"/api/v1/components/{api.id}",
        json={"status": "partial_outage"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    deliver(channel_app)
    events = component_events(receiver, "/hooks/all")
    assert len(events) == 2
    second = events[1].body
    assert second["component_update"]["old_status"] == "major_outage"
    assert second["component_update"]["new_status"] == "partial_outage"
    assert second["component"]["status"] == "partial_outage"
    assert second["page"]["status_indicator"] in ("major", "critical")
    assert events[0].message_id != events[1].message_id
    assert second["component_update"]["id"] != body["component_update"]["id"]

    # Setting the status it already has changes nothing and sends nothing.
    client.patch(
        f"/api/v1/components/{api.id}",
        json={"status": "partial_outage"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    deliver(channel_app)
    assert len(component_events(receiver, "/hooks/all")) == 2
    rows = session.scalars(sa.select(ChannelDelivery)).all()
    assert all(row.last_status_code == 200 for row in rows)


def test_private_components_and_other_components_send_nothing(
    channel_app: Flask,
    client: FlaskClient,
    session: Any,
    receiver: WebhookReceiver,
    make_component: Callable[..., Any],
    now: datetime,
) -> None:
    from statuspage.audiences import manage
    from statuspage.components.status import change_component_status

    api, web = make_component("API"), make_component("Web")
    vault = make_component("Vault", is_public=False)
    audience = manage.create_audience(
        session, manage.AudienceFields(name="Enterprise"), actor_id=None, now=now
    )
    vault.audiences.append(audience)
    session.commit()
    subscribed(client, receiver, channel_app, "/hooks/all")
    subscribed(client, receiver, channel_app, "/hooks/web", scope="some", components=[str(web.id)])

    # A private component's change: no outbox row at all, nothing sent.
    change_component_status(session, vault, "major_outage", now=utcnow())
    session.commit()
    assert session.scalar(sa.select(sa.func.count(Notification.id))) == 0
    deliver(channel_app)
    assert component_events(receiver, "/hooks/all") == []

    # API's change reaches the subscription to everything, not the one to Web only.
    change_component_status(session, api, "degraded_performance", now=utcnow())
    session.commit()
    deliver(channel_app)
    [event] = component_events(receiver, "/hooks/all")
    assert event.body["component"]["name"] == "API"
    assert "Vault" not in event.raw.decode()
    assert len(receiver.accepted("/hooks/web")) == 1  # its verification only

    # Web's change reaches both.
    change_component_status(session, web, "partial_outage", now=utcnow())
    session.commit()
    deliver(channel_app)
    [for_web] = component_events(receiver, "/hooks/web")
    assert for_web.body["component"]["name"] == "Web"
    assert len(component_events(receiver, "/hooks/all")) == 2


def test_email_subscribers_get_no_email_for_a_component_change(
    session: Any, make_component: Callable[..., Any], now: datetime
) -> None:
    from statuspage.components.status import change_component_status

    api = make_component("API")
    session.commit()
    add_subscribers(session, 3, confirmed=now)
    change_component_status(session, api, "major_outage", now=utcnow())
    session.commit()
    [notification] = session.scalars(sa.select(Notification)).all()
    assert notification.kind == NotificationKind.COMPONENT_STATUS
    assert notification.component_ids == [api.id] and notification.status_change_id

    with FakeSendGrid() as fake:
        delivery.deliver(
            session,
            transport_for(fake),
            settings(),
            clock=utcnow,
            rng=random.Random(1),
        )
        assert fake.requests == []
    session.expire_all()
    notification = session.get(Notification, notification.id)
    assert notification.state == NotificationState.DONE
    assert notification.recipient_count == 0


def test_an_internal_stakeholder_summary_never_reaches_a_channel_subscription(
    channel_app: Flask,
    client: FlaskClient,
    session: Any,
    receiver: WebhookReceiver,
    make_incident: Callable[..., Any],
    now: datetime,
) -> None:
    """A kind the channels have no event for is skipped at expansion (it used to stop it)."""
    from statuspage.core.outbox import queue_notification

    subscribed(client, receiver, channel_app, "/hooks/all")
    incident = make_incident("Internal only", started=utcnow())
    summary = queue_notification(
        session, NotificationKind.STAKEHOLDER_SUMMARY, incident_id=incident.id, now=utcnow()
    )
    session.commit()
    deliver(channel_app)
    assert (
        session.scalar(
            sa.select(sa.func.count(ChannelDelivery.id)).where(
                ChannelDelivery.notification_id == summary.id
            )
        )
        == 0
    )
    assert [r.body["meta"]["event_type"] for r in receiver.accepted("/hooks/all")] == [
        "verification",
        "incident.update",
    ]
