"""A web process killed (SIGKILL) in the middle of a publish: all of it or none of it, then done.

A real gunicorn serves the write API. Two clients publish updates to an incident with 30
components as fast as they are answered, each update moving every component, so a publish
writes about a hundred rows. The test watches the database for a write transaction in flight (on
PostgreSQL a backend of this database inside a transaction, in pg_stat_activity; on SQLite
the rollback journal, which exists only while a write transaction is open) and kills the
whole server (master and worker, SIGKILL) at that moment.

Afterwards, checked with SQL: every published update has all its component changes, its
status-history rows, its timeline event, audit row and outbox row, the public version counts
exactly the updates, the components show what the last update said, and every publish the
API acknowledged (201) is there. A restarted server publishes again, and the delivery sweep
sends every notification to every subscriber exactly once. (A worker killed in a fan-out is
`tests/integration/test_delivery_kill.py`.)
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage.auth.tokens import create_token
from statuspage.core.outbox import Notification, NotificationKind, NotificationState
from statuspage.worker.delivery import run_delivery
from tests.conftest import POSTGRES_ADMIN_URL, make_app
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.integration.test_delivery import add_subscribers
from tests.integration.test_worker import (  # noqa: F401 - `started` is a fixture
    STARTUP_SECONDS,
    Output,
    child_environment,
    free_port,
    started,
    wait_until,
)

COMPONENTS = 30
SUBSCRIBERS = 5
STATUSES = ("major_outage", "partial_outage")


def request(port: int, method: str, path: str, body: Any = None, token: str = "") -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def serve(
    start: Callable[..., subprocess.Popen[str]], env: dict[str, str], port: int
) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning", "app:app",
    ]  # fmt: skip
    server = start(command, env)
    output = Output(server)

    def up() -> bool:
        try:
            return request(port, "GET", "/api/v2/status.json") == 200
        except OSError:
            return False

    assert wait_until(up, STARTUP_SECONDS), output.text
    return server


class Publishers:
    """Client threads publishing in a loop; they note what the server acknowledged."""

    def __init__(self, port: int, token: str, incident_id: int, component_ids: list[int]):
        self.port, self.token, self.incident_id = port, token, incident_id
        self.component_ids = component_ids
        self.acknowledged: list[str] = []  # bodies of publishes answered 201
        self.unanswered = 0
        self.stop = threading.Event()
        self._counter = iter(range(1_000_000))
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def start(self) -> Publishers:
        for thread in self.threads:
            thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.is_set():
            with self._lock:
                number = next(self._counter)
            body = f"Update number {number}."
            payload = {
                "status": "identified",
                "body": body,
                "component_statuses": {
                    str(cid): STATUSES[number % 2] for cid in self.component_ids
                },
            }
            try:
                status = request(
                    self.port,
                    "POST",
                    f"/api/v1/incidents/{self.incident_id}/updates",
                    payload,
                    self.token,
                )
            except OSError:
                with self._lock:
                    self.unanswered += 1  # killed while this one was in flight
                time.sleep(0.05)
                continue
            if status == 201:
                with self._lock:
                    self.acknowledged.append(body)

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)


def in_write_transaction(database_url: str, database_name: str) -> Callable[[], bool]:
    """A probe: is a write transaction of the server open right now?"""
    if database_url.startswith("sqlite"):
        journal = Path(database_url.removeprefix("sqlite:///") + "-journal")
        return journal.exists
    import psycopg

    admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True)

    def probe() -> bool:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
            " AND backend_xid IS NOT NULL",  # has written in its open transaction
            [database_name],
        ).fetchone()
        return bool(row and row[0])

    probe.close = admin.close  # type: ignore[attr-defined]
    return probe


def kill_mid_transaction(server: subprocess.Popen[str], probe: Callable[[], bool]) -> bool:
    """SIGKILL the server's process group the moment a write transaction is seen open."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if probe():
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
            return True
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=10)
    return False


def check_consistency(session: Any, incident_id: int, baseline: dict[str, int]) -> list[int]:
    """Every invariant of a publish, in SQL; returns the published update ids."""
    session.rollback()
    q = lambda sql, **params: session.execute(sa.text(sql), params).all()  # noqa: E731
    updates = [
        row[0]
        for row in q(
            "SELECT id FROM incident_update WHERE incident_id = :i AND id > :after"
            " AND published_at IS NOT NULL ORDER BY id",
            i=incident_id,
            after=baseline["last_update_id"],
        )
    ]
    assert updates, "no update was published"
    per_update = dict(
        q(
            "SELECT update_id, count(*) FROM incident_update_component"
            " WHERE update_id > :after GROUP BY update_id",
            after=baseline["last_update_id"],
        )
    )
    assert per_update == {update_id: COMPONENTS for update_id in updates}
    audits = {
        row[0]
        for row in q(
            "SELECT entity_id FROM audit_entry WHERE entity_type = 'incident_update'"
            " AND action = 'publish' AND entity_id > :after",
            after=baseline["last_update_id"],
        )
    }
    assert audits == set(updates)
    outbox = [
        row[0]
        for row in q(
            "SELECT incident_update_id FROM notification WHERE incident_update_id > :after",
            after=baseline["last_update_id"],
        )
    ]
    assert sorted(outbox) == updates  # one outbox row per update, none without its update
    (events,) = q(
        "SELECT count(*) FROM timeline_event WHERE incident_id = :i AND kind = 'public_update'",
        i=incident_id,
    )[0]
    assert events == baseline["events"] + len(updates)
    # Status history: one row for each component the update really moved (two publishes
    # racing may both ask for the status already set), stamped with its publish time.
    moved = dict(
        q(
            "SELECT update_id, count(*) FROM incident_update_component"
            " WHERE update_id > :after AND old_status <> new_status GROUP BY update_id",
            after=baseline["last_update_id"],
        )
    )
    history = dict(
        q(
            "SELECT u.id, count(*) FROM incident_update u JOIN component_status_change c"
            " ON c.incident_id = u.incident_id AND c.changed_at = u.published_at"
            " WHERE u.id > :after GROUP BY u.id",
            after=baseline["last_update_id"],
        )
    )
    assert history == moved and sum(moved.values()) >= COMPONENTS
    (changes,) = q(
        "SELECT count(*) FROM component_status_change WHERE incident_id = :i", i=incident_id
    )[0]
    assert changes == baseline["changes"] + sum(moved.values())
    (version,) = q("SELECT public_version FROM site_state WHERE id = 1")[0]
    assert version == baseline["version"] + len(updates)
    # The components say what the last published update said.
    last = q(
        "SELECT c.status, u.new_status FROM component c JOIN incident_update_component u"
        " ON u.component_id = c.id WHERE u.update_id = :u",
        u=updates[-1],
    )
    assert len(last) == COMPONENTS and all(now == said for now, said in last)
    session.rollback()
    return updates


@pytest.fixture
def site(
    session: Any,
    make_user: Callable[..., Any],
    make_component: Callable[..., Any],
    make_incident: Callable[..., Any],
    now: datetime,
) -> dict[str, Any]:
    components = [make_component(f"Service {index:02d}") for index in range(COMPONENTS)]
    incident = make_incident(
        "Everything is slow", components={c.id: "degraded_performance" for c in components}
    )
    _, token = create_token(session, make_user("admin"), "kill test", actor_id=None, now=now)
    session.commit()
    add_subscribers(session, SUBSCRIBERS, confirmed=now - timedelta(days=1))
    q = lambda sql: session.execute(sa.text(sql), {"i": incident.id}).scalar()  # noqa: E731
    baseline = {
        "last_update_id": q("SELECT max(id) FROM incident_update"),
        "events": q(
            "SELECT count(*) FROM timeline_event WHERE incident_id = :i AND kind = 'public_update'"
        ),
        "changes": q("SELECT count(*) FROM component_status_change WHERE incident_id = :i"),
        "version": q("SELECT public_version FROM site_state WHERE id = 1"),
    }
    session.rollback()
    return {
        "incident_id": incident.id,
        "component_ids": [c.id for c in components],
        "token": token,
        "baseline": baseline,
    }


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as fake:
        yield fake


def test_a_server_killed_mid_publish_leaves_whole_publishes_and_delivery_completes(
    database_url: str,
    session: Any,
    site: dict[str, Any],
    sendgrid: FakeSendGrid,
    tmp_path: Path,
    started: Callable[..., subprocess.Popen[str]],  # noqa: F811
) -> None:
    env = child_environment(tmp_path, DATABASE_URL=database_url, SECRET_KEY="kill-test-key")
    port = free_port()
    server = serve(started, env, port)
    probe = in_write_transaction(database_url, sa.make_url(database_url).database or "")
    publishers = Publishers(port, site["token"], site["incident_id"], site["component_ids"])
    publishers.start()
    try:
        # A few whole publishes first, then the kill at a random moment of a later one.
        assert wait_until(lambda: len(publishers.acknowledged) >= 3, 30), "nothing published"
        time.sleep(random.uniform(0, 0.3))
        caught = kill_mid_transaction(server, probe)
    finally:
        publishers.join()
        if hasattr(probe, "close"):
            probe.close()
    assert caught, "no write transaction was seen open in 20 s"

    updates = check_consistency(session, site["incident_id"], site["baseline"])
    session.rollback()
    stored = set(
        session.scalars(
            sa.text("SELECT body FROM incident_update WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": updates},
        )
    )
    session.rollback()
    assert set(publishers.acknowledged) <= stored  # what was acknowledged was committed
    # Committed but not acknowledged: only publishes whose answer the kill cut off.
    assert len(stored) - len(publishers.acknowledged) <= publishers.unanswered

    # A new server takes over where the old one died.
    server = serve(started, env, port)
    body = {
        "status": "monitoring",
        "body": "A fix is in place.",
        "component_statuses": {str(cid): "operational" for cid in site["component_ids"]},
    }
    assert (
        request(
            port, "POST", f"/api/v1/incidents/{site['incident_id']}/updates", body, site["token"]
        )
        == 201
    )
    assert len(check_consistency(session, site["incident_id"], site["baseline"])) == (
        len(updates) + 1
    )

    # The sweep sends what every committed publish announced, to everyone, once.
    worker = make_app(
        database_url,
        SITE_URL="http://status.test",
        MAIL_TRANSPORT="sendgrid",
        SENDGRID_API_KEY=sendgrid.api_key,
        SENDGRID_API_HOST=sendgrid.url,
    )
    with worker.app_context():
        run_delivery()
        from statuspage.extensions import db

        db.engine.dispose()
    session.expire_all()
    # Every outbox row is done (the component events too: no email for them); each update's
    # notification reached every subscriber once.
    states = Counter(session.scalars(sa.select(Notification.state)))
    notifications = session.scalar(
        sa.select(sa.func.count(Notification.id)).where(
            Notification.kind == NotificationKind.INCIDENT_UPDATE
        )
    )
    session.rollback()
    assert states[NotificationState.DONE] == sum(states.values())
    assert notifications >= 5  # first, 3+ killed run, restart
    received: Counter[tuple[str, str]] = Counter()
    for sent in sendgrid.requests:
        assert sent.status == 202
        for address in sent.recipients:
            received[(sent.body["content"][0]["value"], address)] += 1
    assert len(received) == notifications * SUBSCRIBERS and set(received.values()) == {1}
