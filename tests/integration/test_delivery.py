"""Delivering notifications: expansion into batches, claims, sending, retries, dispatch.

Against the real SendGrid transport and the loopback fake SendGrid server, on SQLite and
PostgreSQL. Time is injected (`clock`), and backoff jitter takes a seeded `random.Random`.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.outbox import Notification, NotificationState
from statuspage.incidents.models import IncidentUpdate
from statuspage.mail.transports import (
    BatchResult,
    DeliveryError,
    OutgoingBatch,
    transport_from_config,
)
from statuspage.notifications import delivery
from statuspage.notifications.delivery import (
    DeliverySettings,
    backoff_seconds,
    claim_due_batches,
    deliver,
    expand_fully,
    expand_notification,
)
from statuspage.notifications.models import (
    BatchState,
    DeliveryBatch,
    Subscriber,
    subscriber_component,
)
from statuspage.notifications.subscriptions import subscriber_id_from_manage_token
from tests.fakes.sendgrid_server import FakeSendGrid

SECRET = "test-secret-key-not-for-production"


def settings(**overrides: Any) -> DeliverySettings:
    values: dict[str, Any] = {
        "site_name": "Test Status",
        "site_url": "http://status.test",
        "secret_key": SECRET,
        "sender": "status@example.com",
        "batch_size": 10,
        "lease": timedelta(minutes=5),
        "max_attempts": 10,
    }
    values.update(overrides)
    return DeliverySettings(**values)


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as fake:
        yield fake


def transport_for(fake: FakeSendGrid) -> Any:
    return transport_from_config(
        {
            "MAIL_TRANSPORT": "sendgrid",
            "SENDGRID_API_KEY": fake.api_key,
            "SENDGRID_API_HOST": fake.url,
            "SENDGRID_TIMEOUT": 5,
        },
        instance_path="/nonexistent",
    )


def add_subscribers(
    session: Any, count: int, *, confirmed: datetime | None, start: int = 0, **fields: Any
) -> list[int]:
    rows = [
        {
            "email": f"reader{start + index}@example.com",
            "all_components": True,
            "created_at": confirmed or datetime(2020, 1, 1).astimezone(),
            "confirmed_at": confirmed,
            "imported": False,
            "suppressed_reason": "",
            **fields,
        }
        for index in range(count)
    ]
    session.execute(sa.insert(Subscriber), rows)
    session.commit()
    return list(
        session.scalars(
            sa.select(Subscriber.id)
            .where(Subscriber.email.in_([row["email"] for row in rows]))
            .order_by(Subscriber.id)
        )
    )


@pytest.fixture
def announce(
    session: Any, make_component: Callable[..., Any], make_incident: Callable[..., Any]
) -> Callable[..., Notification]:
    """Publish an incident update (which writes its notification) and commit."""

    def make(title: str = "API errors") -> Notification:
        component = make_component("API")
        incident = make_incident(title, components={component.id: "major_outage"})
        session.commit()
        return session.scalars(
            sa.select(Notification)
            .where(Notification.incident_id == incident.id)
            .order_by(Notification.id.desc())
        ).first()

    return make


def delivered_addresses(fake: FakeSendGrid) -> Counter[str]:
    """How many times each address was accepted by the fake SendGrid."""
    counts: Counter[str] = Counter()
    for request in fake.requests:
        if request.status == 202:
            counts.update(request.recipients)
    return counts


def fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def batches(session: Any, notification_id: int) -> list[DeliveryBatch]:
    session.expire_all()
    return list(
        session.scalars(
            sa.select(DeliveryBatch)
            .where(DeliveryBatch.notification_id == notification_id)
            .order_by(DeliveryBatch.seq)
        )
    )


# --- expansion ---


def test_expansion_writes_batches_step_by_step_and_resumes_where_it_stopped(
    session: Any, announce: Callable[..., Notification], now: datetime
) -> None:
    ids = add_subscribers(session, 25, confirmed=now - timedelta(days=1))
    notification = announce()

    first = expand_notification(session, notification, now=now, batch_size=10)
    session.commit()
    assert first is not None and first.seq == 1 and first.subscriber_ids == ids[:10]
    session.expire_all()
    assert notification.expanded_through_id == ids[9]
    assert notification.recipient_count == 10
    assert notification.expanded_at is None
    assert notification.state == NotificationState.SENDING

    # A new worker (after a crash) carries on from the cursor: nothing written twice.
    written = expand_fully(session, notification.id, clock=fixed(now), batch_size=10)
    assert written == 2
    rows = batches(session, notification.id)
    assert [b.seq for b in rows] == [1, 2, 3]
    assert [len(b.subscriber_ids) for b in rows] == [10, 10, 5]
    assert sum((b.subscriber_ids for b in rows), []) == ids
    assert all(b.state == BatchState.PENDING for b in rows)
    session.refresh(notification)
    assert notification.recipient_count == 25
    assert notification.expanded_at == now
    # Expanding again writes nothing.
    assert expand_fully(session, notification.id, clock=fixed(now), batch_size=10) == 0
    assert len(batches(session, notification.id)) == 3


def test_a_worker_with_a_stale_cursor_writes_no_overlapping_batch(
    session: Any, announce: Callable[..., Notification], now: datetime
) -> None:
    add_subscribers(session, 15, confirmed=now - timedelta(days=1))
    notification = announce()
    # Two workers read the notification with the cursor at 0...
    other = Session(session.get_bind())
    try:
        theirs = other.get(Notification, notification.id)
        assert theirs is not None and theirs.expanded_through_id == 0
        # ...this one writes its batch first...
        assert expand_notification(session, notification, now=now, batch_size=10) is not None
        session.commit()
        # ...and the other one's attempt from the same cursor writes nothing.
        assert expand_notification(other, theirs, now=now, batch_size=10) is None
        other.commit()
    finally:
        other.close()
    rows = batches(session, notification.id)
    assert len(rows) == 1 and len(rows[0].subscriber_ids) == 10


def test_the_audience_leaves_out_late_and_inactive_subscribers_and_other_components(
    session: Any,
    announce: Callable[..., Notification],
    make_component: Callable[..., Any],
    now: datetime,
) -> None:
    confirmed = now - timedelta(days=1)
    everyone = add_subscribers(session, 3, confirmed=confirmed)
    unconfirmed = add_subscribers(session, 1, confirmed=None, start=10)
    unsubscribed = add_subscribers(
        session, 1, confirmed=confirmed, start=20, unsubscribed_at=confirmed
    )
    other = make_component("Billing")
    elsewhere = add_subscribers(session, 1, confirmed=confirmed, start=30, all_components=False)
    session.execute(
        sa.insert(subscriber_component), [{"subscriber_id": elsewhere[0], "component_id": other.id}]
    )
    session.commit()
    notification = announce()
    late = add_subscribers(session, 1, confirmed=now + timedelta(seconds=1), start=40)

    expand_fully(session, notification.id, clock=fixed(now), batch_size=10)
    listed = sum((b.subscriber_ids for b in batches(session, notification.id)), [])
    assert listed == everyone
    assert not set(listed) & set(unconfirmed + unsubscribed + elsewhere + late)


# --- sending ---


def test_fan_out_sends_every_subscriber_exactly_once_one_personalization_each(
    session: Any, announce: Callable[..., Notification], sendgrid: FakeSendGrid, now: datetime
) -> None:
    add_subscribers(session, 25, confirmed=now - timedelta(days=1))
    notification = announce("Database down")

    report = deliver(
        session, transport_for(sendgrid), settings(), clock=fixed(now), rng=random.Random(1)
    )
    assert report.batches_written == 3 and report.batches_sent == 3
    assert report.recipients_sent == 25
    assert len(sendgrid.requests) == 3
    assert delivered_addresses(sendgrid) == Counter(
        {f"reader{index}@example.com": 1 for index in range(25)}
    )
    request = sendgrid.requests[0]
    assert request.body["subject"].startswith("[Investigating] Database down")
    for personalization in request.personalizations:
        assert len(personalization["to"]) == 1  # two subscribers never share a To
        manage = personalization["substitutions"]["-manage_url-"]
        token = manage.rsplit("/", 1)[1]
        subscriber = session.scalar(
            sa.select(Subscriber).where(Subscriber.email == personalization["to"][0]["email"])
        )
        assert subscriber_id_from_manage_token(SECRET, token) == subscriber.id
        assert personalization["headers"]["List-Unsubscribe"] == (
            f"<http://status.test/unsubscribe/{token}>"
        )
    rows = batches(session, notification.id)
    assert all(b.state == BatchState.SENT and b.provider_message_id for b in rows)
    assert [b.sent_count for b in rows] == [10, 10, 5]
    session.refresh(notification)
    assert notification.state == NotificationState.DONE
    assert notification.completed_at == now
    assert notification.last_error == ""

    # Running again sends nothing: an accepted batch is never sent again.
    again = deliver(session, transport_for(sendgrid), settings(), clock=fixed(now))
    assert not again
    assert len(sendgrid.requests) == 3


def test_a_subscriber_who_unsubscribes_before_their_batch_is_sent_does_not_get_it(
    session: Any, announce: Callable[..., Notification], sendgrid: FakeSendGrid, now: datetime
) -> None:
    ids = add_subscribers(session, 4, confirmed=now - timedelta(days=1))
    notification = announce()
    expand_fully(session, notification.id, clock=fixed(now), batch_size=10)
    session.get(Subscriber, ids[1]).unsubscribed_at = now
    session.get(Subscriber, ids[2]).suppressed_at = now
    session.commit()

    deliver(session, transport_for(sendgrid), settings(), clock=fixed(now))
    assert set(delivered_addresses(sendgrid)) == {"reader0@example.com", "reader3@example.com"}
    assert batches(session, notification.id)[0].sent_count == 2


def test_an_empty_audience_finishes_at_once_without_a_request(
    session: Any, announce: Callable[..., Notification], sendgrid: FakeSendGrid, now: datetime
) -> None:
    notification = announce()
    deliver(session, transport_for(sendgrid), settings(), clock=fixed(now))
    session.refresh(notification)
    assert notification.state == NotificationState.DONE
    assert notification.recipient_count == 0
    assert sendgrid.requests == []


def test_server_errors_are_retried_with_backoff_until_accepted(
    session: Any, announce: Callable[..., Notification], sendgrid: FakeSendGrid, now: datetime
) -> None:
    add_subscribers(session, 3, confirmed=now - timedelta(days=1))
    notification = announce()
    sendgrid.respond_with(500, {"errors": [{"message": "internal"}]})

    report = deliver(
        session, transport_for(sendgrid), settings(), clock=fixed(now), rng=random.Random(7)
    )
    assert report.batches_retrying == 1 and report.batches_sent == 0
    (batch,) = batches(session, notification.id)
    assert batch.state == BatchState.PENDING
    assert batch.attempts == 1
    assert "500" in batch.last_error
    wait = (batch.next_attempt_at - now).total_seconds()
    expected = backoff_seconds(1, rng=random.Random(7))
    assert wait == pytest.approx(expected, abs=0.01)
    assert 0 <= wait <= 20  # base 10 s * 2**1

    # Not due yet: nothing is sent.
    deliver(session, transport_for(sendgrid), settings(), clock=fixed(now))
    assert len(sendgrid.requests) == 1
    later = batch.next_attempt_at + timedelta(seconds=1)
    deliver(session, transport_for(sendgrid), settings(), clock=fixed(later))
    (batch,) = batches(session, notification.id)
    assert batch.state == BatchState.SENT and batch.attempts == 2 and batch.last_error == ""
    assert sum(delivered_addresses(sendgrid).values()) == 3


def test_a_rate_limit_waits_for_the_reset_time(
    session: Any, announce: Callable[..., Notification], sendgrid: FakeSendGrid, now: datetime
) -> None:
    add_subscribers(session, 2, confirmed=now - timedelta(days=1))
    notification = announce()
    sendgrid.respond_with(
        429,
        {"errors": [{"message": "too many requests"}]},
        headers={"X-RateLimit-Reset": str(int(time.time()) + 600)},
    )
    deliver(session, transport_for(sendgrid), settings(), clock=fixed(now), rng=random.Random(0))
    (batch,) = batches(session, notification.id)
    assert batch.state == BatchState.PENDING
    assert (batch.next_attempt_at - now).total_seconds() >= 590


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (429, {"Retry-After": "30", "X-RateLimit-Reset": "+30"}),
        (429, {"X-RateLimit-Reset": "+30"}),
        (503, {"Retry-After": "30"}),
    ],
)
def test_a_retry_is_enqueued_for_the_time_the_provider_asked_for(
    app: Any,
    session: Any,
    announce: Callable[..., Notification],
    sendgrid: FakeSendGrid,
    immediate_huey: Any,
    now: datetime,
    status: int,
    headers: dict[str, str],
) -> None:
    """A 429 whose limit resets in 30 s is retried 30 s later, by a task enqueued for then: not
    at the next every-minute sweep. The other due batch waits with it (the provider is busy).
    (30 s, not 2: on a loaded machine an epoch reset 2 s ahead had passed before the request.)"""
    from statuspage.core.db import utcnow

    add_subscribers(session, 12, confirmed=now - timedelta(days=1))
    notification = announce()
    app.config.update(
        MAIL_TRANSPORT="sendgrid",
        SENDGRID_API_KEY=sendgrid.api_key,
        SENDGRID_API_HOST=sendgrid.url,
        SECRET_KEY=SECRET,
        DELIVERY_BATCH_SIZE=10,
    )
    # Taken before the reset time is computed: whole epoch seconds put the reset 29 to 30 s
    # after this moment, however slow the machine is until the request.
    before = utcnow()
    if "X-RateLimit-Reset" in headers:  # epoch seconds, as SendGrid sends it
        headers = headers | {"X-RateLimit-Reset": str(int(time.time()) + 30)}
    sendgrid.respond_with(status, {"errors": [{"message": "slow down"}]}, headers)
    huey = immediate_huey.huey
    assert huey.scheduled() == []

    with app.app_context():
        immediate_huey.deliver_notification_task(notification.id)
    after = utcnow()

    first, second = batches(session, notification.id)
    assert first.state == BatchState.PENDING and first.attempts == 1
    wait = (first.next_attempt_at - before).total_seconds()
    # The delivery measures the provider's wait from its own start (before the request), so
    # the time the request took may come off the lower end.
    took = (after - before).total_seconds()
    assert 29.0 - took <= wait <= 30.0 + took + 0.5
    # Not hammered: the second batch was not sent into the rate limit, and waits too.
    assert len(sendgrid.requests) == 1
    assert second.state == BatchState.PENDING and second.attempts == 0
    # One run of the sending task is enqueued for the batch's retry time.
    (scheduled,) = huey.scheduled()
    assert scheduled.name == "send_due_batches"
    eta = scheduled.eta.replace(tzinfo=UTC)  # Huey keeps UTC times naive
    assert abs((eta - first.next_attempt_at).total_seconds()) < 1.0

    # At that time, both batches go.
    deliver(session, transport_for(sendgrid), settings(), clock=fixed(first.next_attempt_at))
    assert [b.state for b in batches(session, notification.id)] == [BatchState.SENT] * 2
    assert sum(delivered_addresses(sendgrid).values()) == 12


def test_without_a_time_from_the_provider_the_retry_backs_off_with_jitter(
    app: Any,
    session: Any,
    announce: Callable[..., Notification],
    sendgrid: FakeSendGrid,
    immediate_huey: Any,
    now: datetime,
) -> None:
    add_subscribers(session, 3, confirmed=now - timedelta(days=1))
    notification = announce()
    app.config.update(
        MAIL_TRANSPORT="sendgrid",
        SENDGRID_API_KEY=sendgrid.api_key,
        SENDGRID_API_HOST=sendgrid.url,
        SECRET_KEY=SECRET,
    )
    sendgrid.respond_with(503)
    with app.app_context():
        immediate_huey.deliver_notification_task(notification.id)
    (batch,) = batches(session, notification.id)
    assert batch.state == BatchState.PENDING
    (scheduled,) = immediate_huey.huey.scheduled()
    eta = scheduled.eta.replace(tzinfo=UTC)
    # Backoff after the first attempt: uniform in [0, 20 s], at least the minimal delay ahead.
    assert abs((eta - batch.next_attempt_at).total_seconds()) < 1.5
    assert (batch.next_attempt_at - batch.created_at).total_seconds() <= 21


@pytest.mark.parametrize("status", [400, 401, 413])
def test_refusals_fail_the_batch_with_the_reason_and_are_not_retried(
    session: Any,
    announce: Callable[..., Notification],
    sendgrid: FakeSendGrid,
    now: datetime,
    status: int,
) -> None:
    add_subscribers(session, 12, confirmed=now - timedelta(days=1))
    notification = announce()
    sendgrid.respond_with(status, {"errors": [{"message": "refused for a reason", "field": None}]})

    report = deliver(session, transport_for(sendgrid), settings(), clock=fixed(now))
    assert report.batches_failed == 1 and report.batches_sent == 1
    first, second = batches(session, notification.id)
    assert first.state == BatchState.FAILED
    assert str(status) in first.last_error and "refused for a reason" in first.last_error
    assert second.state == BatchState.SENT
    session.refresh(notification)
    assert notification.state == NotificationState.DONE
    assert notification.last_error == "1 batch(es) failed"
    # Never retried, however late.
    deliver(session, transport_for(sendgrid), settings(), clock=fixed(now + timedelta(days=1)))
    assert len(sendgrid.requests) == 2


@pytest.mark.parametrize("kind", ["sendgrid", "file"])
def test_a_sender_email_cannot_carry_fails_the_batch_for_good(
    session: Any,
    announce: Callable[..., Notification],
    sendgrid: FakeSendGrid,
    now: datetime,
    tmp_path: Any,
    kind: str,
) -> None:
    """Start-up refuses such a MAIL_FROM; if one reaches sending anyway, it is a permanent
    failure with the reason, not a temporary one retried forever."""
    add_subscribers(session, 2, confirmed=now - timedelta(days=1))
    notification = announce()
    transport = (
        transport_for(sendgrid)
        if kind == "sendgrid"
        else transport_from_config(
            {"MAIL_TRANSPORT": "file", "MAIL_FILE_DIR": str(tmp_path)}, instance_path="/x"
        )
    )
    config = settings(sender="Störung <störung@exämple.com>")
    report = deliver(session, transport, config, clock=fixed(now))
    assert report.batches_failed == 1 and report.batches_retrying == 0
    (batch,) = batches(session, notification.id)
    assert batch.state == BatchState.FAILED and batch.attempts == 1
    assert batch.last_error.startswith("MAIL_FROM cannot be used as the sender")
    deliver(session, transport, config, clock=fixed(now + timedelta(days=1)))
    assert batches(session, notification.id)[0].attempts == 1
    assert sendgrid.requests == [] and list(tmp_path.iterdir()) == []


def test_retries_give_up_after_the_last_attempt(
    session: Any, announce: Callable[..., Notification], sendgrid: FakeSendGrid, now: datetime
) -> None:
    add_subscribers(session, 1, confirmed=now - timedelta(days=1))
    notification = announce()
    sendgrid.respond_with(503)
    sendgrid.respond_with(503)
    config = settings(max_attempts=2)
    deliver(session, transport_for(sendgrid), config, clock=fixed(now))
    deliver(session, transport_for(sendgrid), config, clock=fixed(now + timedelta(hours=1)))
    (batch,) = batches(session, notification.id)
    assert batch.state == BatchState.FAILED
    assert batch.last_error.startswith("gave up after 2 attempts: SendGrid answered 503")


def test_a_refused_connection_is_retried(
    session: Any, announce: Callable[..., Notification], now: datetime
) -> None:
    add_subscribers(session, 1, confirmed=now - timedelta(days=1))
    notification = announce()
    with FakeSendGrid() as gone:
        transport = transport_for(gone)
    deliver(session, transport, settings(), clock=fixed(now))
    (batch,) = batches(session, notification.id)
    assert batch.state == BatchState.PENDING and batch.attempts == 1
    assert "could not reach SendGrid" in batch.last_error


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap() -> None:
    rng = random.Random(3)
    samples = [backoff_seconds(1, rng=rng) for _ in range(200)]
    assert all(0 <= s <= 20 for s in samples) and max(samples) > 15
    assert all(0 <= backoff_seconds(30, rng=rng) <= 1800 for _ in range(200))
    assert max(backoff_seconds(30, rng=rng) for _ in range(200)) > 1500


# --- claims and leases ---


def test_a_batch_claimed_by_a_worker_that_died_is_sent_once_after_its_lease(
    session: Any, announce: Callable[..., Notification], sendgrid: FakeSendGrid, now: datetime
) -> None:
    add_subscribers(session, 3, confirmed=now - timedelta(days=1))
    notification = announce()
    expand_fully(session, notification.id, clock=fixed(now), batch_size=10)
    lease = timedelta(seconds=30)
    claims = claim_due_batches(session, now=now, limit=10, lease=lease)
    assert len(claims) == 1  # ...and this worker dies before sending

    # While the lease runs, nobody else takes it.
    assert claim_due_batches(session, now=now + timedelta(seconds=29), limit=10, lease=lease) == []
    deliver(session, transport_for(sendgrid), settings(lease=lease), clock=fixed(now))
    assert sendgrid.requests == []
    # After it, another worker does, once.
    after = now + timedelta(seconds=31)
    deliver(session, transport_for(sendgrid), settings(lease=lease), clock=fixed(after))
    deliver(session, transport_for(sendgrid), settings(lease=lease), clock=fixed(after))
    assert sum(delivered_addresses(sendgrid).values()) == 3
    (batch,) = batches(session, notification.id)
    assert batch.state == BatchState.SENT

    # The dead worker's late result cannot overwrite anything: its claim is gone.
    stale = delivery.send_batch(
        session, claims[0], transport_for(sendgrid), settings(), now=after, rng=random.Random()
    )
    assert stale.error == "claim lost"
    assert len(sendgrid.requests) == 1


def test_two_workers_never_claim_the_same_batch(
    session: Any, announce: Callable[..., Notification], now: datetime
) -> None:
    add_subscribers(session, 30, confirmed=now - timedelta(days=1))
    notification = announce()
    expand_fully(session, notification.id, clock=fixed(now), batch_size=10)
    other = Session(session.get_bind())
    try:
        mine = claim_due_batches(session, now=now, limit=2)
        theirs = claim_due_batches(other, now=now, limit=5)
    finally:
        other.close()
    assert len(mine) == 2 and len(theirs) == 1
    assert not {c.batch_id for c in mine} & {c.batch_id for c in theirs}


# --- partial failures (SMTP-like transports) ---


class FlakyTransport:
    """A transport of 4 recipients per request whose second request fails after 2 delivered."""

    max_batch = 4

    def __init__(self) -> None:
        self.calls = 0
        self.delivered: list[str] = []

    def send_batch(self, batch: OutgoingBatch) -> BatchResult:
        self.calls += 1
        addresses = [recipient.email for recipient in batch.recipients]
        assert all(
            recipient.manage_url.startswith("http://status.test/subscription/")
            for recipient in batch.recipients
        )
        if self.calls == 2:
            self.delivered.extend(addresses[:2])
            raise DeliveryError("421 try later", retryable=True, status=421, delivered=2)
        self.delivered.extend(addresses)
        return BatchResult(message_id=f"m{self.calls}", sent=len(addresses))


def test_a_partial_failure_retries_only_the_recipients_not_yet_delivered(
    session: Any, announce: Callable[..., Notification], now: datetime
) -> None:
    ids = add_subscribers(session, 10, confirmed=now - timedelta(days=1))
    notification = announce()
    transport = FlakyTransport()
    deliver(session, transport, settings(), clock=fixed(now), rng=random.Random(1))
    (batch,) = batches(session, notification.id)
    assert batch.state == BatchState.PENDING
    assert batch.sent_count == 6  # 4, then 2 before the error
    assert batch.subscriber_ids == ids[6:]
    deliver(session, transport, settings(), clock=fixed(now + timedelta(hours=1)))
    (batch,) = batches(session, notification.id)
    assert batch.state == BatchState.SENT and batch.sent_count == 10
    assert sorted(transport.delivered) == sorted(f"reader{i}@example.com" for i in range(10))
    assert len(set(transport.delivered)) == 10


def test_a_notification_whose_update_is_gone_fails_with_the_reason(
    session: Any, announce: Callable[..., Notification], sendgrid: FakeSendGrid, now: datetime
) -> None:
    add_subscribers(session, 12, confirmed=now - timedelta(days=1))
    notification = announce()
    session.get(IncidentUpdate, notification.incident_update_id).published_at = None
    session.commit()
    deliver(session, transport_for(sendgrid), settings(), clock=fixed(now))
    session.refresh(notification)
    assert notification.state == NotificationState.FAILED
    assert "the update is gone" in notification.last_error
    assert {b.state for b in batches(session, notification.id)} == {BatchState.FAILED}
    assert sendgrid.requests == []


def test_unexpected_transport_errors_are_retried_not_left_claimed(
    session: Any, announce: Callable[..., Notification], now: datetime
) -> None:
    add_subscribers(session, 1, confirmed=now - timedelta(days=1))
    notification = announce()

    class Broken:
        max_batch = 1000

        def send_batch(self, batch: OutgoingBatch) -> BatchResult:
            raise RuntimeError("boom")

    deliver(session, Broken(), settings(), clock=fixed(now))
    (batch,) = batches(session, notification.id)
    assert batch.state == BatchState.PENDING and batch.attempts == 1
    assert "RuntimeError: boom" in batch.last_error
    assert batch.claimed_until is None


def test_settings_come_from_the_config_with_safe_bounds() -> None:
    loaded = DeliverySettings.from_config(
        {
            "SITE_URL": "https://status.example.com/",
            "SECRET_KEY": "k",
            "DELIVERY_BATCH_SIZE": "5000",
            "DELIVERY_LEASE_SECONDS": "7",
            "MAIL_FROM": "Status <status@example.com>",
        }
    )
    assert loaded.batch_size == 1000  # SendGrid's limit per request
    assert loaded.lease == timedelta(seconds=7)
    assert loaded.site_url == "https://status.example.com"
    assert DeliverySettings.from_config({"DELIVERY_BATCH_SIZE": "x"}).batch_size == 1000
    assert "secret_key" not in repr(loaded)


# --- dispatch: enqueue after commit ---


def test_create_app_installs_the_dispatch_hooks(app: Any) -> None:
    from flask_sqlalchemy.session import Session as FlaskSession

    from statuspage.worker import hooks as dispatch

    assert sa.event.contains(FlaskSession, "after_commit", dispatch._enqueue_committed)
    assert sa.event.contains(FlaskSession, "after_flush", dispatch._note_new_notifications)


@pytest.fixture
def immediate_queue() -> Iterator[None]:
    from statuspage.worker.queue import huey

    huey.immediate = True
    try:
        yield
    finally:
        huey.immediate = False


def test_a_committed_notification_is_delivered_by_the_enqueued_task(
    app: Any,
    session: Any,
    make_component: Callable[..., Any],
    sendgrid: FakeSendGrid,
    immediate_queue: None,
    now: datetime,
) -> None:
    from statuspage.extensions import db
    from statuspage.incidents.models import PublicStatus
    from statuspage.incidents.operations import NewIncident, open_incident, post_update
    from statuspage.worker import hooks as dispatch

    add_subscribers(session, 3, confirmed=now - timedelta(days=1))
    component = make_component("API")
    session.commit()
    app.config.update(
        DELIVERY_ENQUEUE=True,
        MAIL_TRANSPORT="sendgrid",
        SENDGRID_API_KEY=sendgrid.api_key,
        SENDGRID_API_HOST=sendgrid.url,
        SECRET_KEY=SECRET,
    )
    dispatch.register(app)  # idempotent; create_app does it too
    with app.app_context():
        incident = open_incident(
            db.session,
            NewIncident(title="Queue", component_ids=[component.id]),
            actor_id=None,
            now=now,
        )
        post_update(
            db.session,
            incident,
            status=PublicStatus.INVESTIGATING,
            body="Looking.",
            component_statuses={component.id: "major_outage"},
            actor_id=None,
            now=now,
        )
        # Before the commit nothing is sent; a rolled-back notification is never sent.
        db.session.flush()
        assert sendgrid.requests == []
        db.session.commit()
        assert sum(delivered_addresses(sendgrid).values()) == 3

        post_update(
            db.session,
            incident,
            status=PublicStatus.IDENTIFIED,
            body="Found it.",
            component_statuses={},
            actor_id=None,
            now=now,
        )
        db.session.flush()
        db.session.rollback()
        db.session.commit()
        db.session.remove()
    assert len(sendgrid.requests) == 1
    session.expire_all()
    state = session.scalar(sa.select(Notification.state))
    assert state == NotificationState.DONE


@pytest.fixture
def held_queue() -> Iterator[Any]:
    """The real Huey with its queue in memory and nothing run: what a commit enqueued waits
    there to be looked at."""
    from statuspage.worker.queue import huey

    storage = huey.storage
    huey.immediate = True  # swaps in a memory storage
    huey._immediate = False  # ... but enqueues without running
    try:
        yield huey
    finally:
        huey.immediate = False
        huey.storage = storage


def test_a_publish_enqueues_one_email_task_and_one_channel_task_for_all_its_notifications(
    app: Any, session: Any, make_component: Callable[..., Any], held_queue: Any, now: datetime
) -> None:
    """Three components change: four notifications (the update's, and one component event
    each, written done for email). The commit enqueues the email task for the update only and
    one channel task for all four: each enqueue is a round trip before the publish answers."""
    from statuspage.extensions import db
    from statuspage.incidents.models import PublicStatus
    from statuspage.incidents.operations import NewIncident, open_incident, post_update

    components = [make_component(name) for name in ("API", "Web", "Mail")]
    session.commit()
    app.config.update(DELIVERY_ENQUEUE=True)
    with app.app_context():
        incident = open_incident(
            db.session,
            NewIncident(title="Queue", component_ids=[c.id for c in components]),
            actor_id=None,
            now=now,
        )
        db.session.commit()
        for _task in held_queue.pending():
            held_queue.dequeue()  # what opening the incident enqueued
        post_update(
            db.session,
            incident,
            status=PublicStatus.INVESTIGATING,
            body="Looking.",
            component_statuses={c.id: "major_outage" for c in components},
            actor_id=None,
            now=now,
        )
        db.session.commit()
        notifications = db.session.execute(
            sa.select(Notification.id, Notification.kind).order_by(Notification.id)
        ).all()
    pending = held_queue.pending()
    by_name = Counter(task.name for task in pending)
    assert by_name == {"deliver_notification": 1, "deliver_channels": 1}, by_name
    (email,) = [t for t in pending if t.name == "deliver_notification"]
    (channels,) = [t for t in pending if t.name == "deliver_channels"]
    update_ids = [n for n, kind in notifications if kind == "incident_update"]
    assert len(notifications) == 4 and email.args == (update_ids[-1],)
    assert sorted(channels.args) == sorted(n for n, _ in notifications)


def test_tests_do_not_enqueue_unless_asked() -> None:
    from statuspage.worker.hooks import should_enqueue

    assert should_enqueue({}) is True
    assert should_enqueue({"TESTING": True}) is False
    assert should_enqueue({"TESTING": True, "DELIVERY_ENQUEUE": True}) is True
    assert should_enqueue({"DELIVERY_ENQUEUE": "false"}) is False


def test_the_delivery_module_imports_no_flask() -> None:
    code = (
        "import sys, statuspage.notifications.delivery\n"
        "print(','.join(m for m in sys.modules if m == 'flask' or m.startswith('flask_')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
