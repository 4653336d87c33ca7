"""Webhook receivers that misbehave for a while, and a worker killed mid-delivery: every
receiver ends with every update exactly once by `webhook-id`.

Real processes and real sockets: the worker is `flask --app app worker` (two Huey threads,
each task with its thread pool), the receivers are loopback consumers that verify each
signature with the `standardwebhooks` library (tests/fakes/webhook_receiver.py). Delays are
short settings:

Each receiver misbehaves for its first several requests:

- "busy" answers 429 with `Retry-After: 1` for a while;
- "broken" answers 500;
- "slow" holds each request past `CHANNEL_TIMEOUT` (it did get it: a repeat must carry the
  same webhook-id so it can drop it);
- "flaky" resets the connection (TCP RST, no answer);
- "held" holds its first request until the worker is killed with SIGKILL. A new worker
  takes the dead one's claims once their lease (`CHANNEL_LEASE_SECONDS`, 2 s here) is over
  and sends them again, with the same webhook-id.

Three updates of one incident are published while this goes on. In the end every receiver
has processed each update under exactly one webhook-id (repeats of that id are allowed: a
consumer drops them), all signatures verify, and every delivery row is `delivered`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import PROJECT_ROOT
from statuspage.core.db import utcnow
from statuspage.core.outbox import Notification
from statuspage.incidents.models import PublicStatus
from statuspage.incidents.operations import NewIncident, open_incident, post_update
from statuspage.notifications.models import (
    ChannelDelivery,
    ChannelDeliveryState,
    ChannelKind,
    ChannelStatus,
    ChannelSubscription,
)
from statuspage.notifications.webhooks import new_secret
from tests.fakes.webhook_receiver import Action, WebhookReceiver
from tests.integration.test_worker import (  # noqa: F401 - `started` is a fixture
    STARTUP_SECONDS,
    Output,
    child_environment,
    started,
    wait_until,
)

TIMEOUT = 3.0
LEASE = 2
# What each receiver answers to its first requests (then 200).
BEHAVIOURS: dict[str, list[Action]] = {
    "busy": [Action(429, headers={"Retry-After": "1"}, body=b"slow down")] * 4,
    "broken": [Action(500, body=b"oops")] * 6,
    "slow": [Action("hang", seconds=TIMEOUT + 0.3)] * 2,
    "flaky": [Action("reset")] * 6,
    "held": [],
}


def enqueue(env: dict[str, str], call: str) -> None:
    subprocess.run(
        [sys.executable, "-c", f"from statuspage.worker.channels import *; {call}"],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        timeout=STARTUP_SECONDS,
    )


@pytest.fixture
def receivers() -> Iterator[dict[str, WebhookReceiver]]:
    with ExitStack() as stack:
        yield {name: stack.enter_context(WebhookReceiver()) for name in BEHAVIOURS}


def states(session: Any) -> dict[str, int]:
    session.expire_all()
    rows = session.execute(
        sa.select(ChannelDelivery.state, sa.func.count()).group_by(ChannelDelivery.state)
    ).all()
    session.rollback()
    return {state.value: count for state, count in rows}


def test_faults_and_a_killed_worker_lose_nothing_and_repeat_only_by_the_same_id(
    database_url: str,
    session: Any,
    tmp_path: Path,
    receivers: dict[str, WebhookReceiver],
    make_component: Callable[..., Any],
    started: Callable[..., subprocess.Popen[str]],  # noqa: F811
) -> None:
    now = utcnow()
    t0 = time.monotonic()
    api = make_component("API")
    for name, receiver in receivers.items():
        secret = new_secret()
        receiver.secrets["/hook"] = secret
        session.add(
            ChannelSubscription(
                kind=ChannelKind.WEBHOOK,
                target=receiver.url("/hook"),
                secret=secret,
                status=ChannelStatus.ACTIVE,
                manage_token_hash=name.ljust(64, "0"),
                created_at=now - timedelta(minutes=5),
                confirmed_at=now - timedelta(minutes=5),
            )
        )
    session.commit()
    for name, actions in BEHAVIOURS.items():
        receivers[name].script("/hook", *actions)
    # The first request "held" gets is answered only long after the worker is dead.
    receivers["held"].script("/hook", Action(200, seconds=20))

    env = child_environment(
        tmp_path,
        DATABASE_URL=database_url,
        NO_PROXY="127.0.0.1",
        STATUSPAGE_CHANNEL_ALLOW_HTTP="true",
        STATUSPAGE_CHANNEL_ALLOWED_TEST_NETWORKS="127.0.0.0/8",
        STATUSPAGE_CHANNEL_TIMEOUT=str(TIMEOUT),
        STATUSPAGE_CHANNEL_LEASE_SECONDS=str(LEASE),
        STATUSPAGE_CHANNEL_BACKOFF_BASE="0.2",
        STATUSPAGE_CHANNEL_BACKOFF_CAP="1",
        STATUSPAGE_CHANNEL_MAX_ATTEMPTS="100",
        STATUSPAGE_CHANNEL_DISABLE_AFTER_FAILURES="1000",
    )

    incident = open_incident(
        session,
        NewIncident(title="Payments failing", impact_started_at=now, component_ids=[api.id]),
        actor_id=None,
        now=utcnow(),
    )
    updates = [
        (PublicStatus.INVESTIGATING, "Looking into failed payments.", "major_outage"),
        (PublicStatus.IDENTIFIED, "A certificate expired.", "partial_outage"),
        (PublicStatus.RESOLVED, "Renewed; payments work.", "operational"),
    ]
    for status, body, component_status in updates:
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
    notification_ids = session.scalars(
        sa.select(Notification.id).where(Notification.incident_id == incident.id)
    ).all()
    session.rollback()
    assert len(notification_ids) == 3
    enqueue(env, "; ".join(f"deliver_channels_task({n})" for n in notification_ids))

    # The worker is killed (SIGKILL) the moment "held" has a request in flight.
    worker = [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "app",
        "worker",
        "--no-periodic",
        "--workers",
        "2",
    ]
    first = started(worker, env)
    output = Output(first)
    receivers["held"].on_first_request = lambda path: os.killpg(first.pid, signal.SIGKILL)
    assert wait_until(lambda: first.poll() is not None, STARTUP_SECONDS), output.text
    assert states(session).get("pending", 0) > 0

    second = started(worker, env)
    output = Output(second)
    time.sleep(LEASE)
    # The three notifications' task again, as one (the form a commit enqueues): it expands
    # what the killed worker had taken but not finished expanding (expansion is idempotent),
    # and sends what is due. (The minute's sweep would do the same, and also send the
    # component events this test leaves out.)
    enqueue(env, f"deliver_channels_task({', '.join(str(n) for n in notification_ids)})")
    assert wait_until(lambda: states(session) == {"delivered": 15}, 120), (
        states(session),
        output.text[-3000:],
    )
    print(f"delivered after {time.monotonic() - t0:.1f} s")  # noqa: T201
    second.send_signal(signal.SIGINT)
    second.wait(timeout=30)

    expected = {body for _, body, _ in updates}
    for name, receiver in receivers.items():
        received = receiver.received("/hook")
        # A request cut off by the kill (headers sent, the body not) reaches no consumer: it
        # is never processed, and a repeat of its message comes complete (counted below).
        truncated = [r for r in received if r.answered == "truncated"]
        accepted = receiver.accepted("/hook")
        assert not any(r in accepted for r in truncated), name
        assert {r.message_id for r in truncated} <= {r.message_id for r in accepted}, name
        # Every complete request verifies and is Statuspage-compatible, with no exception.
        requests = [r for r in received if r.answered != "truncated"]
        assert requests, name
        assert all(r.verified for r in requests), (name, [r.problems for r in requests])
        assert all(r.problems == [] for r in requests), (name, [r.problems for r in requests])
        # What the consumer processed, by the update each message announced.
        ids_per_update: dict[str, set[str]] = defaultdict(set)
        for request in accepted:
            newest = request.body["incident"]["incident_updates"][0]["body"]
            ids_per_update[newest].add(request.message_id)
        assert set(ids_per_update) == expected, name
        assert all(len(ids) == 1 for ids in ids_per_update.values()), (name, ids_per_update)
        processed = [r for r in requests if r.answered not in ("reset", 429)]
        processed = [r for r in processed if r.answered == "hang" or 200 <= int(r.answered) < 300]
        repeats = len(processed) - len({r.message_id for r in processed})
        if name == "held":
            assert repeats >= 1  # the request in flight when the worker died, sent again
    # Every fault was really met.
    assert any(r.answered == 429 for r in receivers["busy"].received("/hook"))
    assert any(r.answered == 500 for r in receivers["broken"].received("/hook"))
    assert any(r.answered == "reset" for r in receivers["flaky"].received("/hook"))
    assert sum(r.answered == "hang" for r in receivers["slow"].received("/hook")) >= 2
    # Retry-After was honoured: no two 429-era requests to "busy" less than a second apart.
    busy_times = [r.at for r in receivers["busy"].received("/hook") if r.answered == 429]
    per_message: dict[str, list[float]] = defaultdict(list)
    for request in receivers["busy"].received("/hook"):
        per_message[request.message_id].append(request.at)
    assert busy_times
    for times in per_message.values():
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert all(gap >= 0.9 for gap in gaps), gaps
    session.expire_all()
    assert all(
        s.status == ChannelStatus.ACTIVE for s in session.scalars(sa.select(ChannelSubscription))
    )
    assert ChannelDeliveryState.DELIVERED  # the states above: 5 receivers x 3 updates
