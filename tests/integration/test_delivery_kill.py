"""A worker killed in the middle of a fan-out, and a new one that delivers the rest.

A real worker process (`flask --app app worker`) sends to the fake SendGrid server. The second
request is held open (and answered 503, so it is not an accepted send) while the worker is
killed with SIGKILL: its batch stays claimed. A new worker, started by the sweep the
every-minute scheduler would enqueue, re-claims that batch once its lease (3 s here) is over
and sends every remaining batch. Every subscriber gets exactly one accepted email.

The bound on repeats: when SendGrid ACCEPTED the request whose answer the killed worker never
read, that batch is sent again (SendGrid has no idempotency key) and its recipients get the
email twice; but only that one batch, since a worker holds one claim at a time, and nobody is
left out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import PROJECT_ROOT
from statuspage.core.db import utcnow
from statuspage.core.outbox import Notification, NotificationState
from statuspage.notifications.models import BatchState, DeliveryBatch, Subscriber
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.integration.test_worker import (  # noqa: F401 - `started` is a fixture
    STARTUP_SECONDS,
    Output,
    child_environment,
    started,
    wait_until,
)

SUBSCRIBERS = 2500
BATCH_SIZE = 500  # five requests
LEASE_SECONDS = 3


def enqueue(env: dict[str, str], call: str) -> None:
    """Enqueue a task from another process, as the web app (or the scheduler) would."""
    subprocess.run(
        [sys.executable, "-c", f"from statuspage.worker.delivery import *; {call}"],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        timeout=STARTUP_SECONDS,
    )


def batch_states(session: Any, notification_id: int) -> list[BatchState]:
    session.expire_all()
    states = session.scalars(
        sa.select(DeliveryBatch.state)
        .where(DeliveryBatch.notification_id == notification_id)
        .order_by(DeliveryBatch.seq)
    ).all()
    session.rollback()
    return list(states)


@pytest.mark.parametrize("in_flight", [503, 202], ids=["refused", "accepted"])
def test_a_killed_worker_loses_nothing_and_repeats_at_most_its_one_batch(
    in_flight: int,
    database_url: str,
    session: Any,
    make_component: Callable[..., Any],
    make_incident: Callable[..., Any],
    tmp_path: Path,
    now: datetime,
    started: Callable[..., subprocess.Popen[str]],  # noqa: F811
) -> None:
    confirmed = now - timedelta(days=1)
    session.execute(
        sa.insert(Subscriber),
        [
            {
                "email": f"reader{index}@example.com",
                "all_components": True,
                "created_at": confirmed,
                "confirmed_at": confirmed,
                "imported": False,
                "suppressed_reason": "",
            }
            for index in range(SUBSCRIBERS)
        ],
    )
    component = make_component("API")
    incident = make_incident("Kill test", components={component.id: "major_outage"})
    session.commit()
    notification_id = session.scalar(
        sa.select(Notification.id).where(Notification.incident_id == incident.id)
    )
    session.rollback()

    with FakeSendGrid(delay=0.05) as sendgrid:
        sendgrid.respond_with(202)
        # The second request hangs; the worker is killed while it waits for the answer.
        sendgrid.respond_with(in_flight, {"errors": [{"message": "never seen"}]}, delay=30)
        env = child_environment(
            tmp_path,
            DATABASE_URL=database_url,
            NO_PROXY="127.0.0.1",
            STATUSPAGE_MAIL_TRANSPORT="sendgrid",
            STATUSPAGE_SENDGRID_API_KEY=sendgrid.api_key,
            STATUSPAGE_SENDGRID_API_HOST=sendgrid.url,
            STATUSPAGE_SENDGRID_TIMEOUT="25",
            STATUSPAGE_DELIVERY_BATCH_SIZE=str(BATCH_SIZE),
            STATUSPAGE_DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS),
        )
        enqueue(env, f"deliver_notification_task({notification_id})")
        worker_command = [
            sys.executable, "-m", "flask", "--app", "app", "worker", "--no-periodic",
            "--workers", "1",
        ]  # fmt: skip
        first = started(worker_command, env)
        output = Output(first)
        assert wait_until(lambda: len(sendgrid.requests) >= 2, STARTUP_SECONDS), output.text
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)

        # Only the batch in flight is claimed: the crash leaves no other one to repeat.
        states = batch_states(session, notification_id)
        assert states == [BatchState.SENT, BatchState.SENDING] + [BatchState.PENDING] * 3
        assert [r.status for r in sendgrid.requests] == [202, in_flight]
        in_flight_recipients = set(sendgrid.requests[1].recipients)
        assert len(in_flight_recipients) == BATCH_SIZE

        # What the every-minute sweep does, once the dead worker's lease is over.
        session.expire_all()
        leased_until = session.scalar(
            sa.select(sa.func.max(DeliveryBatch.claimed_until)).where(
                DeliveryBatch.notification_id == notification_id
            )
        )
        session.rollback()
        time.sleep(max(0.0, (leased_until - utcnow()).total_seconds() + 0.2))
        enqueue(env, "delivery_sweep_task()")
        second = started(worker_command, env)
        output = Output(second)
        assert wait_until(
            lambda: batch_states(session, notification_id) == [BatchState.SENT] * 5,
            STARTUP_SECONDS,
        ), output.text
        second.send_signal(signal.SIGINT)
        assert second.wait(timeout=30) == 0, output.text

        accepted: Counter[str] = Counter()
        for request in sendgrid.requests:
            if request.status == 202:
                accepted.update(request.recipients)
    assert len(accepted) == SUBSCRIBERS  # nobody left out
    twice = {address for address, count in accepted.items() if count > 1}
    if in_flight == 202:
        # The accepted request is repeated: its batch, and only its batch, got it twice.
        assert twice == in_flight_recipients
        assert set(accepted.values()) == {1, 2}
        assert [r.status for r in sendgrid.requests].count(202) == 6
    else:
        assert twice == set()
        assert [r.status for r in sendgrid.requests].count(202) == 5
    session.expire_all()
    notification = session.get(Notification, notification_id)
    assert notification.state == NotificationState.DONE
    assert notification.recipient_count == SUBSCRIBERS
