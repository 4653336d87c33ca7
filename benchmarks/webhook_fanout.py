"""One update to 10,000 webhook subscribers, 100 of them slow (2 s per request): publishing
and email delivery must not wait for them.

What it does:

1. a database (temporary SQLite, or a new PostgreSQL database with --database-url) with one
   component, --emails confirmed email subscribers and --webhooks active webhook
   subscriptions: --slow of them point at receivers that answer after --slow-seconds, the
   rest at --fast-hosts quick receivers (each its own loopback port, so the per-host limit
   applies as it would to distinct hosts);
2. publishing: the median of 10 `post_update` + commit, measured with no channel
   subscription and with all of them (publishing only writes the outbox row);
3. a real worker (`flask --app app worker`, 2 Huey threads) with SendGrid pointed at the
   loopback fake SendGrid (50 ms per request); the update's two tasks are enqueued as the
   commit hook would. It reports when the email batches were all accepted and when every
   webhook delivery was, from the moment the tasks were enqueued;
4. the same without any webhook subscription (the email baseline), unless --no-baseline.

Every webhook request is verified with `standardwebhooks`; the run fails on a bad signature,
a webhook-id received twice with a 2xx, a missing delivery or an email sent twice.

    .venv/bin/python benchmarks/webhook_fanout.py
    .venv/bin/python benchmarks/webhook_fanout.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from benchmarks.fanout import create_database, seed_subscribers  # noqa: E402
from statuspage.config import database_url_to_sqlalchemy  # noqa: E402

PUBLISH_REPEATS = 10


class Receivers:
    """Loopback webhook consumers: `count` servers, answering 204 after `delay` seconds,
    verifying every signature."""

    def __init__(self, count: int, delay: float) -> None:
        from standardwebhooks import Webhook

        self.secrets: dict[str, str] = {}
        self.delivered: dict[str, int] = {}  # webhook-id -> 2xx answers
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self.servers: list[ThreadingHTTPServer] = []
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    Webhook(receivers.secrets[self.path]).verify(raw, headers, json_parse=False)
                    ok = True
                except Exception:
                    ok = False
                if delay:
                    time.sleep(delay)
                with receivers.lock:
                    if ok:
                        message_id = headers["webhook-id"]
                        receivers.delivered[message_id] = receivers.delivered.get(message_id, 0) + 1
                    else:
                        receivers.bad_signatures += 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        for _ in range(count):
            server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            server.daemon_threads = True
            server.request_queue_size = 128
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)

    def url(self, index: int, path: str) -> str:
        port = self.servers[index % len(self.servers)].server_address[1]
        return f"http://127.0.0.1:{port}{path}"

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def publish_seconds(session: Session, incident_id: int, component_id: int) -> float:
    from statuspage.core.db import utcnow
    from statuspage.incidents.models import Incident, PublicStatus
    from statuspage.incidents.operations import post_update

    times = []
    for index in range(PUBLISH_REPEATS):
        incident = session.get(Incident, incident_id)
        started = time.perf_counter()
        post_update(
            session,
            incident,
            status=PublicStatus.INVESTIGATING,
            body=f"Still looking ({index}).",
            component_statuses={component_id: "major_outage"},
            actor_id=None,
            now=utcnow(),
        )
        session.commit()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def seed_webhooks(
    session: Session, args: argparse.Namespace, fast: Receivers, slow: Receivers, at: datetime
) -> dict[str, str]:
    from statuspage.notifications.models import ChannelSubscription
    from statuspage.notifications.webhooks import new_secret

    secrets_by_path: dict[str, str] = {}
    rows = []
    for index in range(args.webhooks):
        path = f"/s/{index}"
        secret = new_secret()
        secrets_by_path[path] = secret
        url = slow.url(index, path) if index < args.slow else fast.url(index, path)
        rows.append(
            {
                "kind": "webhook",
                "target": url,
                "secret": secret,
                "status": "active",
                "manage_token_hash": secrets.token_hex(32),
                "all_components": True,
                "owner_email": "",
                "language": "",
                "optin_code_hash": "",
                "consecutive_failures": 0,
                "disabled_reason": "",
                "created_at": at,
                "confirmed_at": at,
            }
        )
    for low in range(0, len(rows), 2000):
        session.execute(sa.insert(ChannelSubscription), rows[low : low + 2000])
        session.commit()
    return secrets_by_path


def one_run(args: argparse.Namespace, *, webhooks: int) -> dict[str, Any]:
    from statuspage.components.status import add_component
    from statuspage.core.db import utcnow
    from statuspage.core.outbox import Notification
    from statuspage.incidents.operations import NewIncident, open_incident
    from statuspage.notifications.models import BatchState, ChannelDelivery, DeliveryBatch
    from tests.fakes.sendgrid_server import FakeSendGrid

    run_args = argparse.Namespace(**{**vars(args), "webhooks": webhooks})
    slow = Receivers(min(args.slow, webhooks), args.slow_seconds)
    fast = Receivers(args.fast_hosts, 0.0)
    with tempfile.TemporaryDirectory(prefix="webhook-fanout-") as tmp:
        url, cleanup = create_database(args.database_url, Path(tmp))
        engine = sa.create_engine(database_url_to_sqlalchemy(url))
        try:
            confirmed = datetime.now(UTC) - timedelta(days=1)
            with Session(engine) as session:
                component = add_component(session, name="API", group_id=None, now=confirmed)
                incident = open_incident(
                    session,
                    NewIncident(title="Webhook fan-out", component_ids=[component.id]),
                    actor_id=None,
                    now=utcnow(),
                )
                session.commit()
                seed_subscribers(session, 0, args.emails, confirmed)
                publish_without = publish_seconds(session, incident.id, component.id)
                secrets_by_path = seed_webhooks(session, run_args, fast, slow, confirmed)
                fast.secrets = slow.secrets = secrets_by_path
                publish_with = publish_seconds(session, incident.id, component.id)
                last = session.scalar(sa.select(sa.func.max(Notification.id)))
                session.execute(sa.delete(Notification).where(Notification.id != last))
                session.commit()

            with FakeSendGrid(delay=0.05, keep_bodies=False) as sendgrid:
                env = {
                    **os.environ,
                    "NO_PROXY": "127.0.0.1",
                    "APP_ENV": "testing",
                    "DATABASE_URL": url,
                    "HUEY_SQLITE_PATH": os.environ["HUEY_SQLITE_PATH"],
                    "STATUSPAGE_MAIL_TRANSPORT": "sendgrid",
                    "STATUSPAGE_SENDGRID_API_KEY": sendgrid.api_key,
                    "STATUSPAGE_SENDGRID_API_HOST": sendgrid.url,
                    "STATUSPAGE_CHANNEL_ALLOW_HTTP": "true",
                    "STATUSPAGE_CHANNEL_ALLOWED_TEST_NETWORKS": "127.0.0.0/8",
                    "STATUSPAGE_CHANNEL_TIMEOUT": str(args.slow_seconds + 3),
                    "PYTHONUNBUFFERED": "1",
                }
                env.pop("REDIS_URL", None)
                worker = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "flask",
                        "--app",
                        "app",
                        "worker",
                        "--no-periodic",
                        "--workers",
                        "2",
                    ],  # fmt: skip
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    start_new_session=True,
                )
                started = threading.Event()

                def read(stream: Any) -> None:
                    for line in stream:
                        if "Huey consumer started" in line:
                            started.set()

                threading.Thread(target=read, args=(worker.stdout,), daemon=True).start()
                try:
                    if not started.wait(120):
                        raise SystemExit("the worker did not start")
                    from statuspage.worker.tasks import (
                        deliver_channels_task,
                        deliver_notification_task,
                    )

                    # What the commit hook enqueues after a publish: both tasks.
                    enqueued = time.perf_counter()
                    deliver_notification_task(last)
                    deliver_channels_task(last)
                    email_done = channels_done = None
                    deadline = time.perf_counter() + args.timeout
                    while time.perf_counter() < deadline and (
                        email_done is None or channels_done is None
                    ):
                        with Session(engine) as session:
                            open_batches = session.scalar(
                                sa.select(sa.func.count(DeliveryBatch.id)).where(
                                    DeliveryBatch.state != BatchState.SENT
                                )
                            )
                            batches = session.scalar(sa.select(sa.func.count(DeliveryBatch.id)))
                            delivered = session.scalar(
                                sa.select(sa.func.count(ChannelDelivery.id)).where(
                                    ChannelDelivery.state == "delivered"
                                )
                            )
                        now = time.perf_counter() - enqueued
                        if email_done is None and batches and not open_batches:
                            email_done = now
                        if channels_done is None and delivered >= webhooks:
                            channels_done = now
                        time.sleep(0.2)
                finally:
                    os.killpg(worker.pid, signal.SIGTERM)
                    worker.wait(timeout=30)
                emails = [r for r in sendgrid.requests if r.status == 202]
                recipients = [a for r in emails for a in r.recipients]
        finally:
            engine.dispose()
            cleanup()
            slow.close()
            fast.close()
    delivered = {**fast.delivered, **slow.delivered}
    return {
        "webhooks": webhooks,
        "publish_ms_without_webhooks": publish_without * 1000,
        "publish_ms_with_webhooks": publish_with * 1000,
        "email_all_accepted_s": email_done,
        "webhooks_all_delivered_s": channels_done,
        "email_recipients": len(recipients),
        "email_duplicates": len(recipients) - len(set(recipients)),
        "webhook_ids_received": len(delivered),
        "webhook_repeats": sum(count - 1 for count in delivered.values()),
        "bad_signatures": fast.bad_signatures + slow.bad_signatures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--webhooks", type=int, default=10_000)
    parser.add_argument("--slow", type=int, default=100)
    parser.add_argument("--slow-seconds", type=float, default=2.0)
    parser.add_argument("--fast-hosts", type=int, default=50)
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--database-url", help="a PostgreSQL server (admin URL) to use")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    # The queue file the worker and this process share (read when the worker is imported).
    os.environ["HUEY_SQLITE_PATH"] = str(Path(tempfile.mkdtemp(prefix="huey-")) / "q.sqlite3")
    os.environ.pop("REDIS_URL", None)
    os.environ.pop("STATUSPAGE_REDIS_URL", None)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    results = {"machine": f"{machine}, Python {platform.python_version()}"}
    results["database"] = "PostgreSQL" if args.database_url else "SQLite"
    results["with_webhooks"] = with_hooks = one_run(args, webhooks=args.webhooks)
    if not args.no_baseline:
        results["baseline"] = one_run(args, webhooks=0)
    print(json.dumps(results, indent=2))
    problems = []
    if with_hooks["bad_signatures"]:
        problems.append("bad signatures")
    if with_hooks["webhook_ids_received"] != args.webhooks:
        problems.append("webhook deliveries missing")
    if with_hooks["webhook_repeats"]:
        problems.append("a webhook-id delivered twice")
    if with_hooks["email_duplicates"] or with_hooks["email_recipients"] != args.emails:
        problems.append("emails missing or repeated")
    if problems:
        raise SystemExit("FAILED: " + ", ".join(problems))


if __name__ == "__main__":
    main()
