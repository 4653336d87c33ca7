"""The staff page for channel subscriptions: who may see it, what it shows (the latest
deliveries with status code, latency and response excerpt; hosts, never full URLs), disable
and enable, and replay of one delivery with the same webhook-id, against a loopback consumer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from statuspage.core.db import utcnow
from statuspage.notifications import channel_subscriptions
from statuspage.notifications.models import (
    ChannelDelivery,
    ChannelDeliveryState,
    ChannelStatus,
    ChannelSubscription,
)
from statuspage.notifications.netguard import NetworkPolicy
from statuspage.worker.channels import run_channels
from tests.conftest import csrf_token_from, login_with_csrf
from tests.fakes.webhook_receiver import Action, WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def subscribed(
    app: Flask, session: Any, receiver: WebhookReceiver
) -> Callable[..., ChannelSubscription]:
    app.config.update(CHANNEL_ALLOW_HTTP=True, CHANNEL_ALLOWED_TEST_NETWORKS=["127.0.0.0/8"])

    def make(path: str = "/secret-path/abc123") -> ChannelSubscription:
        created = channel_subscriptions.subscribe_webhook(
            session,
            receiver.url(path),
            all_components=True,
            policy=NetworkPolicy.from_config(app.config),
            now=utcnow(),
        )
        session.commit()
        receiver.secrets[path] = created.secret
        return session.get(ChannelSubscription, created.subscription_id)

    return make


def deliver(app: Flask) -> None:
    with app.app_context():
        run_channels(send_only=True)


@pytest.mark.parametrize(
    ("role", "status"), [("viewer", 403), ("responder", 403), ("communicator", 200), ("admin", 200)]
)
def test_only_publishers_see_channel_subscriptions(
    client: FlaskClient,
    make_user: Callable[..., Any],
    login: Callable[..., Any],
    role: str,
    status: int,
) -> None:
    login(make_user(role))
    assert client.get("/admin/channels").status_code == status


def test_the_list_and_detail_show_deliveries_but_not_the_url_path(
    app: Flask,
    client: FlaskClient,
    session: Any,
    receiver: WebhookReceiver,
    subscribed: Callable[..., ChannelSubscription],
    make_user: Callable[..., Any],
    login: Callable[..., Any],
) -> None:
    receiver.script("/secret-path/abc123", Action(200, body=b"thanks, got it"))
    subscription = subscribed()
    deliver(app)
    login(make_user("communicator"))
    listing = client.get("/admin/channels").get_data(as_text=True)
    assert "127.0.0.1" in listing and "abc123" not in listing
    assert "HTTP 200 in" in listing and "Active" in listing
    detail = client.get(f"/admin/channels/{subscription.id}").get_data(as_text=True)
    assert "thanks, got it" in detail and "abc123" not in detail
    assert "verification" in detail
    assert client.get("/admin/channels/999999").status_code == 404
    assert client.get("/admin/channels?status=nonsense").status_code == 400


def test_replay_sends_the_same_webhook_id_again(
    app: Flask,
    client: FlaskClient,
    session: Any,
    receiver: WebhookReceiver,
    subscribed: Callable[..., ChannelSubscription],
    make_user: Callable[..., Any],
    login: Callable[..., Any],
) -> None:
    subscription = subscribed()
    deliver(app)
    delivery = session.scalar(sa.select(ChannelDelivery))
    login(make_user("communicator"))
    response = client.post(f"/admin/channels/deliveries/{delivery.id}/replay")
    assert response.status_code == 302
    session.expire_all()
    assert session.get(ChannelDelivery, delivery.id).state == ChannelDeliveryState.PENDING
    # A replay of a verification to an active subscription is not sent (it is not pending):
    # disable and enable make no difference; replay an incident delivery instead.
    assert session.get(ChannelSubscription, subscription.id).status == ChannelStatus.ACTIVE


def test_replay_of_an_update_reaches_the_receiver_with_the_same_id(
    app: Flask,
    client: FlaskClient,
    session: Any,
    receiver: WebhookReceiver,
    subscribed: Callable[..., ChannelSubscription],
    make_user: Callable[..., Any],
    make_component: Callable[..., Any],
    make_incident: Callable[..., Any],
    login: Callable[..., Any],
) -> None:
    path = "/secret-path/abc123"
    subscribed(path)
    deliver(app)
    api = make_component("API")
    # API stays operational: the incident's event only, no component event.
    make_incident("Replay me", components={api.id: "operational"}, started=utcnow())
    session.commit()
    with app.app_context():
        run_channels()
    delivery = session.scalar(
        sa.select(ChannelDelivery).where(ChannelDelivery.notification_id.is_not(None))
    )
    assert delivery.state == ChannelDeliveryState.DELIVERED
    login(make_user("communicator"))
    client.post(f"/admin/channels/deliveries/{delivery.id}/replay")
    deliver(app)
    ids = [r.message_id for r in receiver.received(path)]
    assert ids.count(delivery.message_id) == 2
    assert all(r.verified for r in receiver.received(path))
    assert len(receiver.accepted(path)) == 2  # the consumer drops the repeat by its id


def test_disable_and_enable(
    app: Flask,
    client: FlaskClient,
    session: Any,
    subscribed: Callable[..., ChannelSubscription],
    make_user: Callable[..., Any],
    login: Callable[..., Any],
) -> None:
    subscription = subscribed()
    deliver(app)
    login(make_user("communicator"))
    client.post(f"/admin/channels/{subscription.id}/disable")
    session.expire_all()
    assert session.get(ChannelSubscription, subscription.id).status == ChannelStatus.DISABLED
    assert "Enable" in client.get(f"/admin/channels/{subscription.id}").get_data(as_text=True)
    client.post(f"/admin/channels/{subscription.id}/enable")
    session.expire_all()
    assert session.get(ChannelSubscription, subscription.id).status == ChannelStatus.ACTIVE
    # Enabling what is not disabled is refused, not a 500.
    assert client.post(f"/admin/channels/{subscription.id}/enable").status_code in (302, 409)


def test_buttons_need_the_csrf_token(
    csrf_client: FlaskClient, session: Any, make_user: Callable[..., Any]
) -> None:
    subscription = ChannelSubscription(
        kind="webhook", target="https://hooks.example.com/x", manage_token_hash="h" * 64
    )
    session.add(subscription)
    session.commit()
    login_with_csrf(csrf_client, make_user("communicator"))
    assert csrf_client.post(f"/admin/channels/{subscription.id}/disable").status_code == 400
    page = csrf_client.get(f"/admin/channels/{subscription.id}").get_data(as_text=True)
    response = csrf_client.post(
        f"/admin/channels/{subscription.id}/disable", data={"csrf_token": csrf_token_from(page)}
    )
    assert response.status_code == 302
    session.expire_all()
    assert session.get(ChannelSubscription, subscription.id).status == ChannelStatus.DISABLED
