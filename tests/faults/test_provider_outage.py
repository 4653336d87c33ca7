"""SendGrid fails for minutes, then recovers: every subscriber gets each email once, none lost.

The delivery task's own entry point (`worker.delivery.run_delivery`, what the every-minute sweep
runs) against the loopback fake SendGrid, with the clock injected: the test moves time on a
minute per sweep. First SendGrid answers every request with a server error (500, 502, 503,
504) for four minutes, while a second update is published; then its host refuses
connections for four more minutes. Each batch keeps being retried with backoff and none gives
up (the outage is well within `DELIVERY_MAX_ATTEMPTS`). Once SendGrid answers again every
batch is sent within the backoff cap. Single failures, refusals and the backoff formula are in
`tests/integration/test_delivery.py`; this is the long outage end to end.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from statuspage.core.outbox import Notification, NotificationKind, NotificationState
from statuspage.incidents.models import PublicStatus
from statuspage.incidents.operations import post_update
from statuspage.notifications.delivery import DEFAULT_BACKOFF_CAP
from statuspage.notifications.models import BatchState, DeliveryBatch
from statuspage.worker.delivery import run_delivery
from tests.conftest import make_app
from tests.fakes.sendgrid_server import FakeSendGrid, error_body
from tests.faults.test_database_down import closed_port
from tests.integration.test_delivery import add_subscribers

SUBSCRIBERS = 25
BATCH_SIZE = 10  # three batches per notification
MAX_ATTEMPTS = 10
SERVER_ERRORS = (500, 502, 503, 504)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as fake:
        yield fake


@pytest.fixture
def worker_app(database_url: str, sendgrid: FakeSendGrid) -> Iterator[Flask]:
    """The app the worker runs in, configured for SendGrid as in production."""
    application = make_app(
        database_url,
        SITE_URL="http://status.test",
        MAIL_FROM="status@example.com",
        MAIL_TRANSPORT="sendgrid",
        SENDGRID_API_KEY=sendgrid.api_key,
        SENDGRID_API_HOST=sendgrid.url,
        SENDGRID_TIMEOUT=5,
        DELIVERY_BATCH_SIZE=BATCH_SIZE,
        DELIVERY_MAX_ATTEMPTS=MAX_ATTEMPTS,
    )
    yield application
    from statuspage.extensions import db

    with application.app_context():
        db.engine.dispose()


def batch_rows(session: Any) -> list[DeliveryBatch]:
    session.expire_all()
    rows = list(session.scalars(sa.select(DeliveryBatch).order_by(DeliveryBatch.id)))
    session.rollback()
    return rows


def test_a_long_provider_outage_delays_delivery_but_loses_and_repeats_nothing(
    worker_app: Flask,
    sendgrid: FakeSendGrid,
    session: Any,
    make_component: Callable[..., Any],
    make_incident: Callable[..., Any],
    now: datetime,
) -> None:
    add_subscribers(session, SUBSCRIBERS, confirmed=now - timedelta(days=1))
    component = make_component("API")
    incident = make_incident("Checkout errors", components={component.id: "major_outage"})
    session.commit()
    clock = Clock(now)
    rng = random.Random(2024)

    def sweep(minutes: int, *, until: Callable[[], bool] | None = None) -> int:
        """Run the sweep once a minute; returns the minutes it took (stops early on `until`)."""
        for minute in range(1, minutes + 1):
            clock.now += timedelta(minutes=1)
            with worker_app.app_context():
                run_delivery(clock=clock, rng=rng)
            if until is not None and until():
                return minute
        return minutes

    # SendGrid answers every request with a server error...
    for index in range(200):
        status = SERVER_ERRORS[index % len(SERVER_ERRORS)]
        sendgrid.respond_with(status, error_body(f"upstream trouble {status}"))
    sweep(4)
    # ...while staff publish again: this notification waits its turn like the first.
    post_update(
        session,
        incident,
        status=PublicStatus.IDENTIFIED,
        body="We found the cause.",
        component_statuses={component.id: "partial_outage"},
        actor_id=None,
        now=clock.now,
    )
    session.commit()
    # Then the host does not even accept connections.
    worker_app.config["SENDGRID_API_HOST"] = f"http://127.0.0.1:{closed_port()}"
    sweep(4)

    during = batch_rows(session)
    assert len(during) == 2 * 3
    assert all(batch.state == BatchState.PENDING for batch in during), [b.state for b in during]
    assert all(2 <= batch.attempts < MAX_ATTEMPTS for batch in during), [b.attempts for b in during]
    assert any("could not reach SendGrid" in batch.last_error for batch in during)
    failed_requests = sendgrid.requests
    assert failed_requests and all(r.status in SERVER_ERRORS for r in failed_requests)

    # SendGrid is back.
    sendgrid.clear()
    worker_app.config["SENDGRID_API_HOST"] = sendgrid.url

    def all_done() -> bool:
        session.expire_all()
        states = session.scalars(sa.select(Notification.state)).all()
        session.rollback()
        return set(states) == {NotificationState.DONE}

    cap_minutes = int(DEFAULT_BACKOFF_CAP // 60) + 1
    took = sweep(cap_minutes, until=all_done)
    assert all_done(), f"not delivered {cap_minutes} minutes after SendGrid recovered"
    assert took <= cap_minutes

    after = batch_rows(session)
    assert all(batch.state == BatchState.SENT and batch.last_error == "" for batch in after)
    accepted: Counter[tuple[str, str]] = Counter()
    for request in sendgrid.requests:
        assert request.status == 202
        for address in request.recipients:
            accepted[(request.body["subject"], address)] += 1
    subjects = {subject for subject, _ in accepted}
    assert subjects == {"[Investigating] Checkout errors", "[Identified] Checkout errors"}
    assert len(accepted) == 2 * SUBSCRIBERS and set(accepted.values()) == {1}
    assert len(sendgrid.requests) == 6  # one accepted request per batch, nothing resent
    session.expire_all()
    emails = session.scalars(
        sa.select(Notification).where(Notification.kind != NotificationKind.COMPONENT_STATUS)
    ).all()
    assert len(emails) == 2
    for notification in emails:
        assert notification.recipient_count == SUBSCRIBERS and notification.last_error == ""
