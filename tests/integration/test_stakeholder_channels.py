"""Channels staff attach to a stakeholder list, end to end: a manager adds a Slack channel
and a signed webhook to Leadership, Discord and Teams channels to Support, on the lists'
pages; incidents are declared; the worker delivers to the loopback stand-ins (tests/fakes:
the webhook consumer verifies the Standard Webhooks signature with the `standardwebhooks`
library; the Slack, Teams and Discord stand-ins check the documented formats).

A P2 declared reaches Support's Discord and Teams only; a P1 declared reaches Leadership's
Slack and webhook once each (and Support's channels), with the internal summary and nothing
public; a public webhook subscriber gets the public update but never a summary; running the
worker again repeats nothing. The list's email members still get their email.
Also: who may add a channel (CONFIGURE), the CSRF token, URLs refused (SSRF rules, the chat
service's host, SMS), removing a channel, and the secret shown once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from statuspage.core.db import utcnow
from statuspage.core.models import AuditEntry, TimelineEvent
from statuspage.core.outbox import Notification, NotificationKind, NotificationState
from statuspage.incidents.models import Level, PublicStatus
from statuspage.incidents.operations import post_update
from statuspage.notifications.models import (
    ChannelDelivery,
    ChannelKind,
    ChannelStatus,
    ChannelSubscription,
)
from statuspage.stakeholders.lists import ListFields, update_list
from statuspage.stakeholders.models import StakeholderList
from statuspage.worker.channels import run_channels
from statuspage.worker.delivery import run_delivery
from tests.conftest import csrf_token_from, login_with_csrf
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import FakeSlack
from tests.fakes.teams_server import FakeTeams
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.integration.test_webhook_channel import subscribe
from tests.web.test_admin_stakeholders import declared

LOOPBACK = ["127.0.0.0/8"]
CHANNEL_SETTINGS = {
    "CHANNEL_ALLOW_HTTP": True,
    "CHANNEL_ALLOWED_TEST_NETWORKS": LOOPBACK,
    "CHANNEL_TIMEOUT": 5.0,
    "CHANNEL_BACKOFF_BASE": 0.01,
    "CHANNEL_BACKOFF_CAP": 0.05,
}


@pytest.fixture
def channel_app(app: Flask, tmp_path: Path) -> Flask:
    app.config.update(CHANNEL_SETTINGS, MAIL_TRANSPORT="file", MAIL_FILE_DIR=str(tmp_path / "mail"))
    return app


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def lists(session: Any) -> dict[str, StakeholderList]:
    session.expire_all()
    return {s.name: s for s in session.scalars(sa.select(StakeholderList))}


def deliver(app: Flask) -> Any:
    with app.app_context():
        return run_channels()


def add_channel(client: FlaskClient, list_id: int, kind: str, url: str) -> Any:
    return client.post(
        f"/admin/stakeholders/{list_id}/channels",
        data={"channel-kind": kind, "channel-url": url},
    )


def shown_secret(html: str) -> str:
    return re.search(r'id="webhook-secret">([^<]+)<', html).group(1)  # type: ignore[union-attr]


def summaries(receiver: WebhookReceiver, path: str) -> list[dict[str, Any]]:
    got = [r for r in receiver.accepted(path) if r.body.get("type") != "verification"]
    for request in got:
        assert request.verified, request.problems  # signed with this channel's secret
        assert request.problems == []
    return [r.body for r in got]


def test_declared_incidents_reach_the_told_lists_channels_once_and_nothing_public(
    channel_app: Flask,
    client: FlaskClient,
    login: Callable[..., Any],
    session: Any,
    receiver: WebhookReceiver,
    make_user: Callable[..., Any],
    make_component: Callable[..., Any],
    now: datetime,
) -> None:
    manager = make_user("manager", email="mia@example.com", name="Mia Manager")
    checkout = make_component("Checkout")
    by_name = lists(session)
    leadership, support = by_name["Leadership"], by_name["Support"]
    update_list(
        session,
        leadership.id,
        ListFields(
            name="Leadership",
            priorities=leadership.priorities,
            events=leadership.events,
            emails=["ceo@example.com"],
        ),
        actor_id=None,
        now=now,
    )
    session.commit()
    login(manager)

    with FakeSlack() as slack, FakeDiscord() as discord, FakeTeams() as teams:
        page = client.get(f"/admin/stakeholders/{leadership.id}")
        assert page.status_code == 200
        assert "No channels: only the members" in page.get_data(as_text=True)
        added = add_channel(client, leadership.id, "slack", slack.webhook_url)
        assert added.status_code == 302
        assert added.headers["Location"].endswith(f"/admin/stakeholders/{leadership.id}#channels")
        hook = add_channel(client, leadership.id, "webhook", receiver.url("/leadership"))
        assert hook.status_code == 200, hook.get_data(as_text=True)[:500]
        assert hook.headers["Cache-Control"] == "no-store"
        receiver.secrets["/leadership"] = shown_secret(hook.get_data(as_text=True))
        assert receiver.secrets["/leadership"].startswith("whsec_")
        assert add_channel(client, support.id, "discord", discord.webhook_url).status_code == 302
        assert add_channel(client, support.id, "teams", teams.webhook_url).status_code == 302
        # The secret is shown once: the list's page names the channel by host only.
        listed = client.get(f"/admin/stakeholders/{leadership.id}").get_data(as_text=True)
        assert receiver.secrets["/leadership"] not in listed
        assert "Waiting for verification" in listed and "Slack" in listed

        # A reader's public webhook, on the same receiver.
        secret, _ = subscribe(client, receiver.url("/public"))
        receiver.secrets["/public"] = secret
        deliver(channel_app)  # the two webhooks' verification events
        session.expire_all()
        assert {
            s.kind: s.status
            for s in session.scalars(
                sa.select(ChannelSubscription).where(
                    ChannelSubscription.stakeholder_list_id == leadership.id
                )
            )
        } == {ChannelKind.SLACK: ChannelStatus.ACTIVE, ChannelKind.WEBHOOK: ChannelStatus.ACTIVE}

        # P2: Support's rules only.
        p2 = declared(
            session, utcnow(), impact=Level.MEDIUM, urgency=Level.HIGH, title="Slow search"
        )
        # P1: Leadership and Support; and it goes public with an update on Checkout.
        p1 = declared(session, utcnow(), title="Checkout down")
        post_update(
            session,
            p1,
            status=PublicStatus.INVESTIGATING,
            body="Checkout is failing for some customers.",
            component_statuses={checkout.id: "major_outage"},
            actor_id=None,
            now=utcnow(),
        )
        session.commit()
        assert p2.priority.value == "P2" and p1.priority.value == "P1"
        deliver(channel_app)
        deliver(channel_app)  # a second run repeats nothing

        # Leadership's webhook: one summary (P1 declared), signed, and nothing public.
        (summary,) = summaries(receiver, "/leadership")
        assert summary["meta"]["event_type"] == "stakeholder.summary"
        body = summary["stakeholder_summary"]
        assert body["event"] == "declared" and body["detail"] == "P1 declared"
        assert body["lists"] == ["Leadership", "Support"]
        assert body["incident"]["id"] == f"i{p1.id}" and body["incident"]["priority"] == "P1"
        assert body["incident"]["name"] == "Checkout down"
        assert body["incident"]["staff_url"].endswith(f"/admin/incidents/{p1.id}")
        assert "incident" not in summary and "component" not in summary
        assert len(receiver.received("/leadership")) == 2  # verification + the summary, once

        # Leadership's Slack: the same summary once, built by the Block Kit builder.
        assert [r.problem for r in slack.requests] == [""]
        (message,) = slack.messages
        header = message["blocks"][0]["text"]["text"]
        assert header == f"[P1 declared] #{p1.id} Checkout down (P1)"
        assert "Internal summary for Leadership, Support." in message["blocks"][2]["text"]["text"]
        button = message["blocks"][-1]["elements"][0]
        assert button["text"]["text"] == "Open the incident (staff)"
        assert button["url"].endswith(f"/admin/incidents/{p1.id}")

        # Support's Discord: P2 then P1, each once; no public update either.
        assert [r.problem for r in discord.requests] == ["", ""]
        titles = [m["embeds"][0]["title"] for m in discord.messages]
        assert titles == [
            f"[P2 declared] #{p2.id} Slow search (P2)",
            f"[P1 declared] #{p1.id} Checkout down (P1)",
        ]
        # Support's Teams: the same two, as Adaptive Cards.
        assert [r.problem for r in teams.requests] == ["", ""]
        headings = [card["body"][1]["text"] for card in teams.cards]
        assert headings == titles
        assert teams.cards[1]["actions"][0]["title"] == "Open the incident (staff)"

    # The public webhook: the update and Checkout's component event, never a summary.
    public = [r.body for r in receiver.accepted("/public")]
    assert [b["meta"]["event_type"] for b in public] == [
        "verification",
        "component.update",
        "incident.update",
    ] or [b["meta"]["event_type"] for b in public] == [
        "verification",
        "incident.update",
        "component.update",
    ]
    assert not any("stakeholder_summary" in b for b in public)

    # Exactly once per event per channel, in the delivery log.
    session.expire_all()
    rows = session.execute(
        sa.select(ChannelDelivery.subscription_id, ChannelDelivery.notification_id).where(
            ChannelDelivery.event_type == "stakeholder.summary"
        )
    ).all()
    assert len(rows) == len(set(rows)) == 6  # Slack, webhook (P1); Discord, Teams (P2, P1)
    list_ids = dict(
        session.execute(
            sa.select(ChannelSubscription.id, ChannelSubscription.stakeholder_list_id)
        ).all()
    )
    assert all(list_ids[subscription_id] is not None for subscription_id, _ in rows)
    assert (
        session.scalar(
            sa.select(sa.func.count(ChannelDelivery.id)).where(
                ChannelDelivery.subscription_id.in_(
                    [sid for sid, list_id in list_ids.items() if list_id is not None]
                ),
                ChannelDelivery.event_type.not_in(["stakeholder.summary", "verification"]),
            )
        )
        == 0
    )
    assert all(
        state == "delivered"
        for state in session.scalars(
            sa.select(ChannelDelivery.state).where(
                ChannelDelivery.event_type == "stakeholder.summary"
            )
        )
    )

    # Support has no email members: its channel alone made it "notified".
    timeline = session.scalars(
        sa.select(TimelineEvent.summary).where(
            TimelineEvent.incident_id == p2.id, TimelineEvent.kind == "stakeholders_notified"
        )
    ).all()
    assert timeline == ["Support notified: P2 declared"]

    # Leadership's email member still gets the P1 summary by email.
    with channel_app.app_context():
        run_delivery()
    session.expire_all()
    emailed = session.scalars(
        sa.select(Notification).where(
            Notification.kind == NotificationKind.STAKEHOLDER_SUMMARY,
            Notification.incident_id == p1.id,
        )
    ).one()
    assert emailed.state == NotificationState.DONE and emailed.recipient_count == 1


def test_only_a_list_manager_adds_a_channel_and_bad_urls_are_refused(
    channel_app: Flask,
    client: FlaskClient,
    login: Callable[..., Any],
    session: Any,
    make_user: Callable[..., Any],
) -> None:
    leadership = lists(session)["Leadership"]
    login(make_user("communicator"))
    refused = add_channel(client, leadership.id, "webhook", "https://hooks.example.com/x")
    assert refused.status_code == 403
    assert session.scalar(sa.select(sa.func.count(ChannelSubscription.id))) == 0
    client.post("/logout")

    login(make_user("manager"))
    channel_app.config["CHANNEL_ALLOWED_TEST_NETWORKS"] = []  # the production rules
    for kind, url, says in (
        ("webhook", "http://127.0.0.1:9/hook", ""),
        ("webhook", "https://169.254.169.254/latest/meta-data", ""),
        ("webhook", "https://[::ffff:10.0.0.1]/hook", ""),
        ("slack", "https://example.com/services/T1/B1/x", "hooks.slack.com"),
        ("discord", "https://hooks.slack.com/services/T1/B1/x", "discord.com"),
        ("sms", "+447700900123", "Not a valid choice"),
        ("webhook", "not a url", ""),
    ):
        response = add_channel(client, leadership.id, kind, url)
        assert response.status_code == 400, (kind, url)
        html = response.get_data(as_text=True)
        assert 'class="error"' in html, (kind, url)
        assert says in html
    assert add_channel(client, 999_999, "webhook", "https://hooks.example.com/x").status_code == 404
    assert session.scalar(sa.select(sa.func.count(ChannelSubscription.id))) == 0


def test_removing_a_channel_stops_it_and_is_audited(
    channel_app: Flask,
    client: FlaskClient,
    login: Callable[..., Any],
    session: Any,
    make_user: Callable[..., Any],
    now: datetime,
) -> None:
    leadership = lists(session)["Leadership"]
    manager = make_user("manager")
    login(manager)
    with FakeSlack() as slack:
        assert add_channel(client, leadership.id, "slack", slack.webhook_url).status_code == 302
        channel = session.scalars(sa.select(ChannelSubscription)).one()
        # Another list's id does not reach it.
        support = lists(session)["Support"]
        wrong = client.post(f"/admin/stakeholders/{support.id}/channels/{channel.id}/remove")
        assert wrong.status_code == 404
        removed = client.post(f"/admin/stakeholders/{leadership.id}/channels/{channel.id}/remove")
        assert removed.status_code == 302
        declared(session, utcnow())
        deliver(channel_app)
        assert slack.requests == []
    session.expire_all()
    assert session.get(ChannelSubscription, channel.id).status == ChannelStatus.UNSUBSCRIBED
    actions = session.scalars(
        sa.select(AuditEntry.action).where(
            AuditEntry.entity_type == "stakeholder_list", AuditEntry.entity_id == leadership.id
        )
    ).all()
    assert {"channel_added", "channel_removed"} <= set(actions)
    page = client.get(f"/admin/stakeholders/{leadership.id}").get_data(as_text=True)
    assert "No channels: only the members" in page


def test_adding_a_channel_needs_the_csrf_token(
    csrf_client: FlaskClient, session: Any, make_user: Callable[..., Any]
) -> None:
    csrf_client.application.config.update(CHANNEL_SETTINGS)
    leadership = lists(session)["Leadership"]
    login_with_csrf(csrf_client, make_user("manager"))
    with FakeSlack() as slack:
        data = {"channel-kind": "slack", "channel-url": slack.webhook_url}
        url = f"/admin/stakeholders/{leadership.id}/channels"
        assert csrf_client.post(url, data=data).status_code == 400
        assert session.scalar(sa.select(sa.func.count(ChannelSubscription.id))) == 0
        page = csrf_client.get(f"/admin/stakeholders/{leadership.id}").get_data(as_text=True)
        token = re.search(r'name="channel-csrf_token"[^>]*value="([^"]+)"', page)
        assert token is not None
        added = csrf_client.post(url, data={**data, "channel-csrf_token": token.group(1)})
        assert added.status_code == 302
        channel = session.scalars(sa.select(ChannelSubscription)).one()
        remove = f"/admin/stakeholders/{leadership.id}/channels/{channel.id}/remove"
        assert csrf_client.post(remove).status_code == 400
        page = csrf_client.get(f"/admin/stakeholders/{leadership.id}").get_data(as_text=True)
        assert (
            csrf_client.post(remove, data={"csrf_token": csrf_token_from(page)}).status_code == 302
        )
