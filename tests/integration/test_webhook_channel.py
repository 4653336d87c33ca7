"""The webhook channel end to end, against a real loopback consumer that verifies signatures
with the `standardwebhooks` library (tests/fakes/webhook_receiver.py).

From the public subscribe page: the signing secret and manage link shown once, the
verification event (the subscription is active only once the endpoint answered 2xx), then an
incident's updates, each signed, Statuspage compatible, and with the same incident shape as
`/api/v2`. Also: per-component choice, 410 Gone disables and emails the owner, repeated
failures disable, Retry-After is honoured, rotate and unsubscribe on the manage page, and an
address the SSRF rules refuse is a form error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from statuspage.core.db import utcnow
from statuspage.incidents.models import PublicStatus
from statuspage.incidents.operations import post_update
from statuspage.notifications.models import (
    ChannelDelivery,
    ChannelDeliveryState,
    ChannelStatus,
    ChannelSubscription,
)
from statuspage.worker.channels import run_channels, send_channel_disabled_email
from tests.fakes.webhook_receiver import Action, WebhookReceiver

LOOPBACK = ["127.0.0.0/8"]


@pytest.fixture
def channel_app(app: Flask, tmp_path: Path) -> Flask:
    app.config.update(
        CHANNEL_ALLOW_HTTP=True,
        CHANNEL_ALLOWED_TEST_NETWORKS=LOOPBACK,
        CHANNEL_TIMEOUT=2.0,
        CHANNEL_BACKOFF_BASE=0.01,
        CHANNEL_BACKOFF_CAP=0.05,
        MAIL_TRANSPORT="file",
        MAIL_FILE_DIR=str(tmp_path / "mail"),
    )
    return app


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def subscribe(client: FlaskClient, url: str, **form: Any) -> tuple[str, str]:
    """Subscribe `url` on the public page; the secret and manage link it shows once."""
    response = client.post("/subscribe/webhook", data={"url": url, "scope": "all", **form})
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    secret = re.search(r'id="signing-secret">([^<]+)<', html).group(1)  # type: ignore[union-attr]
    manage = re.search(r'id="manage-link">([^<]+)<', html).group(1)  # type: ignore[union-attr]
    assert response.headers["Cache-Control"] == "no-store"
    return secret, manage.replace("http://localhost", "")


def deliver(app: Flask) -> Any:
    with app.app_context():
        return run_channels()


def wait_for_retries(app: Flask, rounds: int = 20) -> None:
    """Run the worker until nothing is pending (retries here are a few milliseconds)."""
    import time

    for _ in range(rounds):
        report = deliver(app)
        if report.retry_at is None:
            return
        time.sleep(max(0.0, (report.retry_at - utcnow()).total_seconds()) + 0.01)


def test_a_reader_subscribes_a_url_verifies_it_and_receives_an_incident_signed(
    channel_app: Flask,
    client: FlaskClient,
    session: Any,
    receiver: WebhookReceiver,
    make_component: Callable[..., Any],
    now: datetime,
) -> None:
    api = make_component("API")
    session.commit()
    path = "/hooks/ops"
    secret, manage = subscribe(client, receiver.url(path))
    assert secret.startswith("whsec_")
    subscription = session.scalar(sa.select(ChannelSubscription))
    assert subscription.status == ChannelStatus.PENDING
    assert secret not in manage and subscription.manage_token_hash not in manage

    # Nothing but the verification is sent before the endpoint has answered it.
    receiver.secrets[path] = secret
    receiver.script(path, Action(500))
    channel_app.config.update(CHANNEL_BACKOFF_BASE=60, CHANNEL_BACKOFF_CAP=60)
    deliver(channel_app)
    session.expire_all()
    assert session.get(ChannelSubscription, subscription.id).status == ChannelStatus.PENDING
    channel_app.config.update(CHANNEL_BACKOFF_BASE=0.01, CHANNEL_BACKOFF_CAP=0.05)
    session.execute(sa.update(ChannelDelivery).values(next_attempt_at=utcnow()))
    session.commit()
    wait_for_retries(channel_app)
    session.expire_all()
    assert session.get(ChannelSubscription, subscription.id).status == ChannelStatus.ACTIVE
    [verification] = receiver.accepted(path)
    assert verification.verified and verification.body["type"] == "verification"
    assert verification.headers["webhook-challenge"] == verification.body["challenge"]
    first_try = receiver.received(path)[0]
    assert first_try.message_id == verification.message_id  # a retry keeps its webhook-id

    # An incident with three updates, published after the subscription started.
    from statuspage.incidents.operations import NewIncident, open_incident

    incident = open_incident(
        session,
        NewIncident(title="Checkout <b>errors</b>", impact_started_at=now, component_ids=[api.id]),
        actor_id=None,
        now=utcnow(),
    )
    bodies = ["We are looking into it.", "Cause found.", "Fixed."]
    statuses = [PublicStatus.INVESTIGATING, PublicStatus.IDENTIFIED, PublicStatus.RESOLVED]
    component_statuses = ["major_outage", "partial_outage", "operational"]
    for body, status, component_status in zip(bodies, statuses, component_statuses, strict=True):
        post_update(
            session,
            incident,
            status=status,
            body=body,
            component_statuses={api.id: component_status},
            actor_id=None,
            now=utcnow(),
        )
        session.commit()
        deliver(channel_app)

    events = receiver.accepted(path)[1:]
    got = [r for r in events if "incident" in r.body]
    # Each status change of API is a component event of its own (checked below and in
    # test_component_events_*).
    assert len(events) == 6 and len(got) == 3
    assert [r.body["meta"]["event_type"] for r in events if r not in got] == [
        "component.update"
    ] * 3
    assert [r.body["incident"]["incident_updates"][0]["body"] for r in got] == bodies
    for request in got:
        assert request.verified, request.problems
        assert request.problems == []
        assert request.body["meta"]["event_type"] == "incident.update"
    last = got[-1].body
    assert last["page"]["status_indicator"] == "none"
    assert last["incident"]["status"] == "resolved"
    assert [u["body"] for u in last["incident"]["incident_updates"]] == bodies[::-1]
    assert last["incident"]["incident_updates"][2]["affected_components"] == [
        {
            "code": f"c{api.id}",
            "name": "API",
            "old_status": "operational",
            "new_status": "major_outage",
        }
    ]
    # The same incident as the public JSON API shows it (the keys both carry).
    api_incident = client.get("/api/v2/incidents.json").get_json()["incidents"][0]
    for key in ("id", "name", "status", "impact", "shortlink", "created_at", "resolved_at"):
        assert last["incident"][key] == api_incident[key], key
    assert [u["id"] for u in last["incident"]["incident_updates"]] == [
        u["id"] for u in api_incident["incident_updates"]
    ]
    assert last["page"]["id"] == client.get("/api/v2/status.json").get_json()["page"]["id"]
    # The delivery log: every row delivered, with its status code and latency.
    rows = session.scalars(sa.select(ChannelDelivery).order_by(ChannelDelivery.id)).all()
    assert [row.state for row in rows] == [ChannelDeliveryState.DELIVERED] * 7
    assert all(row.last_status_code == 200 and row.last_latency_ms is not None for row in rows)
    assert rows[0].attempts == 2


def test_component_choice_unsubscribe_and_rotation_on_the_manage_page(
    channel_app: Flask,
    client: FlaskClient,
    session: Any,
    receiver: WebhookReceiver,
    make_component: Callable[..., Any],
    make_incident: Callable[..., Any],
) -> None:
    api, web = make_component("API"), make_component("Web")
    session.commit()
    secret, manage = subscribe(
        client, receiver.url("/only-web"), scope="some", components=[str(web.id)]
    )
    receiver.secrets["/only-web"] = secret
    deliver(channel_app)
    make_incident("API down", components={api.id: "major_outage"}, started=utcnow())
    session.commit()
    deliver(channel_app)
    assert len(receiver.accepted("/only-web")) == 1  # the verification only

    # A new secret: the old one stops at once.
    page = client.post(manage, data={"action": "rotate"})
    new_secret = re.search(r'id="signing-secret">([^<]+)<', page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert new_secret != secret
    make_incident("Web down", components={web.id: "major_outage"}, started=utcnow())
    session.commit()
    deliver(channel_app)
    latest = receiver.received("/only-web")[-1]
    assert not latest.verified  # still checked against the old secret
    receiver.secrets["/only-web"] = new_secret
    assert latest.body["incident"]["name"] == "Web down"

    assert client.post(manage, data={"action": "unsubscribe"}).status_code == 302
    assert "Unsubscribed" in client.get(manage).get_data(as_text=True)
    make_incident("Web down again", components={web.id: "major_outage"}, started=utcnow())
    session.commit()
    before = len(receiver.received("/only-web"))
    deliver(channel_app)
    assert len(receiver.received("/only-web")) == before
    assert client.get("/channel/not-a-token").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://10.0.0.5/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://2130706433/hook",
        "ftp://example.com/hook",
        "https://user:pw@example.com/hook",
    ],
)
def test_the_subscribe_page_refuses_urls_the_ssrf_rules_refuse(
    app: Flask, client: FlaskClient, session: Any, url: str
) -> None:
    response = client.post("/subscribe/webhook", data={"url": url, "scope": "all"})
    assert response.status_code == 400
    assert 'class="error"' in response.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count(ChannelSubscription.id))) == 0


def test_a_bad_owner_address_is_a_field_error(
    app: Flask, client: FlaskClient, session: Any
) -> None:
    response = client.post(
        "/subscribe/webhook",
        data={"url": "https://93.184.215.14/h", "owner_email": "not an address", "scope": "all"},
    )
    assert response.status_code == 400
    assert 'id="owner_email-error"' in response.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count(ChannelSubscription.id))) == 0


def test_plain_http_is_refused_unless_allowed(
    app: Flask, client: FlaskClient, session: Any
) -> None:
    app.config.update(CHANNEL_ALLOWED_TEST_NETWORKS=LOOPBACK)
    response = client.post(
        "/subscribe/webhook", data={"url": "http://127.0.0.1:9/h", "scope": "all"}
    )
    assert response.status_code == 400
    assert "https://" in response.get_data(as_text=True)


def test_410_disables_at_once_and_the_owner_is_told(
    channel_app: Flask,
    client: FlaskClient,
    session: Any,
    receiver: WebhookReceiver,
    make_component: Callable[..., Any],
    make_incident: Callable[..., Any],
    tmp_path: Path,
) -> None:
    channel_app.config.update(CHANNEL_PER_HOST_LIMIT=1)  # one request at a time: in order
    api = make_component("API")
    session.commit()
    subscribe(client, receiver.url("/gone"), owner_email="owner@example.com")
    deliver(channel_app)
    receiver.default("/gone", Action(410, body=b"this hook was deleted"))
    # API stays operational: incident events only, no component event.
    make_incident("One", components={api.id: "operational"}, started=utcnow())
    make_incident("Two", components={api.id: "operational"}, started=utcnow())
    session.commit()
    report = deliver(channel_app)
    session.expire_all()
    subscription = session.scalar(sa.select(ChannelSubscription))
    assert subscription.status == ChannelStatus.DISABLED
    assert "410" in subscription.disabled_reason
    assert report.disabled == [subscription.id]
    states = sorted(s.value for s in session.scalars(sa.select(ChannelDelivery.state)))
    assert states == ["delivered", "failed", "gave_up"]  # the second is never sent
    assert len(receiver.received("/gone")) == 2
    excerpt = session.scalar(
        sa.select(ChannelDelivery.last_response_excerpt).where(
            ChannelDelivery.state == ChannelDeliveryState.FAILED
        )
    )
    assert excerpt == "this hook was deleted"

    with channel_app.app_context():
        assert send_channel_disabled_email(subscription.id)
    [eml] = (tmp_path / "mail").glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == "owner@example.com"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "127.0.0.1" in text and "/gone" not in text  # the host only, never the path


def test_failures_in_a_row_disable_and_retry_after_is_honoured(
    channel_app: Flask,
    client: FlaskClient,
    session: Any,
    receiver: WebhookReceiver,
    make_component: Callable[..., Any],
    make_incident: Callable[..., Any],
) -> None:
    channel_app.config.update(
        CHANNEL_DISABLE_AFTER_FAILURES=3, CHANNEL_MAX_ATTEMPTS=10, CHANNEL_BACKOFF_CAP=300
    )
    api = make_component("API")
    session.commit()
    subscribe(client, receiver.url("/busy"))
    deliver(channel_app)
    receiver.script("/busy", Action(429, headers={"Retry-After": "120"}))
    make_incident("Busy", components={api.id: "operational"}, started=utcnow())
    session.commit()
    report = deliver(channel_app)
    delivery = session.scalar(
        sa.select(ChannelDelivery).where(ChannelDelivery.notification_id.is_not(None))
    )
    assert delivery.state == ChannelDeliveryState.PENDING
    wait = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
    assert 119 <= wait <= 121  # the receiver's time, not the (tiny) backoff
    assert report.retry_at is not None and report.retry_at >= delivery.next_attempt_at - timedelta(
        seconds=1
    )

    # Failures in a row: three 500s disable it.
    session.execute(sa.update(ChannelDelivery).values(next_attempt_at=utcnow()))
    session.commit()
    receiver.default("/busy", Action(500))
    wait_for_retries(channel_app)
    session.expire_all()
    subscription = session.scalar(sa.select(ChannelSubscription))
    assert subscription.status == ChannelStatus.DISABLED
    assert subscription.disabled_reason == "3 failed deliveries in a row"
    assert len(receiver.received("/busy")) == 4  # the verification, the 429, two 500s


def test_updates_addressed_to_audiences_never_reach_channel_subscriptions(
    channel_app: Flask,
    client: FlaskClient,
    session: Any,
    receiver: WebhookReceiver,
    make_component: Callable[..., Any],
    now: datetime,
) -> None:
    """Webhook, chat and SMS subscriptions are the public's: an update addressed to an
    audience is not sent to them, and the public updates they get do not carry it."""
    from statuspage.audiences import manage
    from statuspage.incidents.operations import NewIncident, open_incident

    api = make_component("API")
    audience = manage.create_audience(
        session, manage.AudienceFields(name="Enterprise"), actor_id=None, now=now
    )
    session.commit()
    path = "/hooks/public"
    secret, _ = subscribe(client, receiver.url(path))
    receiver.secrets[path] = secret
    deliver(channel_app)
    assert len(receiver.accepted(path)) == 1  # the verification

    incident = open_incident(
        session,
        NewIncident(title="Slow API", impact_started_at=now, component_ids=[api.id]),
        actor_id=None,
        now=utcnow(),
    )
    post_update(
        session,
        incident,
        status=PublicStatus.IDENTIFIED,
        body="PRIVATE-MARKER failover of your dedicated cluster",
        audience_ids=[audience.id],
        actor_id=None,
        now=utcnow(),
    )
    session.commit()
    deliver(channel_app)
    assert len(receiver.accepted(path)) == 1

    post_update(
        session,
        incident,
        status=PublicStatus.INVESTIGATING,
        body="We are looking into slow answers.",
        actor_id=None,
        now=utcnow(),
    )
    session.commit()
    deliver(channel_app)
    got = receiver.accepted(path)
    assert len(got) == 2
    assert "PRIVATE-MARKER" not in got[1].raw.decode()
    assert [u["body"] for u in got[1].body["incident"]["incident_updates"]] == [
        "We are looking into slow answers."
    ]


def test_a_french_webhook_subscription_still_gets_the_default_language_body(
    channel_app: Flask,
    client: FlaskClient,
    session: Any,
    receiver: WebhookReceiver,
    make_component: Callable[..., Any],
    now: datetime,
) -> None:
    """Statuspage compatibility: the body is the default language's, whatever the subscription
    chose and whatever staff translated (chat and SMS follow the language; webhooks do not)."""
    from statuspage.incidents import translations as tr
    from statuspage.incidents.operations import NewIncident, open_incident

    api = make_component("API")
    session.commit()
    path = "/hooks/fr"
    secret, _ = subscribe(client, receiver.url(path), language="fr")
    receiver.secrets[path] = secret
    wait_for_retries(channel_app)
    subscription = session.scalar(sa.select(ChannelSubscription))
    assert subscription.language == "fr"
    incident = open_incident(
        session,
        NewIncident(title="Checkout errors", impact_started_at=now, component_ids=[api.id]),
        actor_id=None,
        now=utcnow(),
    )
    update = post_update(
        session,
        incident,
        status=PublicStatus.INVESTIGATING,
        body="We are looking into it.",
        component_statuses={api.id: "major_outage"},
        actor_id=None,
        now=utcnow(),
    )
    tr.set_translation(
        session,
        "update",
        update.id,
        "fr",
        {"body": "Nous enquêtons."},
        default_language="en",
        actor_id=None,
        now=utcnow(),
    )
    session.commit()
    wait_for_retries(channel_app)
    events = [r.body for r in receiver.accepted(path) if r.body.get("incident")]
    assert len(events) == 1
    assert events[0]["incident"]["incident_updates"][0]["body"] == "We are looking into it."
    assert "Nous enquêtons" not in str(receiver.accepted(path))
