"""Fan-out of one incident update to 100,000 confirmed subscribers, against a fake SendGrid.

What it measures:

- publishing: the time `post_update` + commit takes with 10 subscribers and with all of them
  (it only writes the outbox row, so it should not grow with the audience);
- delivery: one process (a fresh Python, as a worker would be) expands the notification into
  batches and sends them with the real SendGrid transport to the loopback fake SendGrid, which
  answers every request after --delay seconds (50 ms, SendGrid-like). It reports the requests
  made (at most 100 for 100,000 recipients), the wall time, and the delivering process's peak
  resident memory (ru_maxrss).

It then checks that every subscriber was named in exactly one accepted request.

Run from the project root:

    .venv/bin/python benchmarks/fanout.py
    .venv/bin/python benchmarks/fanout.py --subscribers 100000 --delay 0.05 \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres

With --database-url, a new database is created on that server for the run and dropped at the
end; otherwise a temporary SQLite file is used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from statuspage.config import database_url_to_sqlalchemy  # noqa: E402

SEED_CHUNK = 10_000
PUBLISH_REPEATS = 10


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(database_url_to_sqlalchemy(url))


def create_database(server_url: str | None, workdir: Path) -> tuple[str, Any]:
    """(url, cleanup) of an empty database with every table."""
    import statuspage.models  # noqa: F401  (every table)
    from statuspage.core.db import Base

    if server_url is None:
        url = f"sqlite:///{workdir / 'fanout.sqlite3'}"

        def cleanup() -> None:
            pass

    else:
        import psycopg

        name = f"statuspage_fanout_{secrets.token_hex(4)}"
        admin = server_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = admin.rsplit("/", 1)[0] + "/" + name

        def cleanup() -> None:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    engine = _engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return url, cleanup


def seed_subscribers(session: Session, start: int, stop: int, confirmed: datetime) -> None:
    """Confirmed subscribers to everything, inserted in chunks (executemany)."""
    from statuspage.notifications.models import Subscriber

    for low in range(start, stop, SEED_CHUNK):
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
                for index in range(low, min(stop, low + SEED_CHUNK))
            ],
        )
        session.commit()


def publish_seconds(session: Session, incident_id: int, component_id: int) -> float:
    """Median time of publishing one update (which writes its notification) and committing."""
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


def deliver_in_this_process(url: str, sendgrid_url: str, api_key: str, batch_size: int) -> None:
    """The child: deliver every notification, print the figures as JSON."""
    from statuspage.core.db import utcnow
    from statuspage.mail.sendgrid import SendGridTransport
    from statuspage.notifications.delivery import DeliverySettings, deliver

    engine = _engine(url)
    transport = SendGridTransport(api_key, host=sendgrid_url, timeout=30)
    settings = DeliverySettings(
        site_name="Bench Status",
        site_url="https://status.example.com",
        secret_key=secrets.token_hex(16),
        sender="status@example.com",
        batch_size=batch_size,
    )
    started = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session:
        report = deliver(session, transport, settings, clock=utcnow, max_batches=1_000_000)
    wall = time.perf_counter() - started
    engine.dispose()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "wall_seconds": wall,
                "peak_rss_mib": peak_kib / 1024,
                "batches_written": report.batches_written,
                "batches_sent": report.batches_sent,
                "batches_failed": report.batches_failed,
                "recipients_sent": report.recipients_sent,
            }
        )
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    from statuspage.components.status import add_component
    from statuspage.core.db import utcnow
    from statuspage.core.outbox import Notification
    from statuspage.incidents.operations import NewIncident, open_incident
    from tests.fakes.sendgrid_server import FakeSendGrid

    with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
        url, cleanup = create_database(args.database_url, Path(tmp))
        try:
            engine = _engine(url)
            confirmed = datetime.now(UTC) - timedelta(days=1)
            with Session(engine) as session:
                component = add_component(session, name="API", group_id=None, now=confirmed)
                incident = open_incident(
                    session,
                    NewIncident(title="Fan-out benchmark", component_ids=[component.id]),
                    actor_id=None,
                    now=utcnow(),
                )
                session.commit()
                seed_subscribers(session, 0, 10, confirmed)
                publish_small = publish_seconds(session, incident.id, component.id)
                seed_started = time.perf_counter()
                seed_subscribers(session, 10, args.subscribers, confirmed)
                seed_time = time.perf_counter() - seed_started
                publish_large = publish_seconds(session, incident.id, component.id)
                # Deliver exactly one notification: the last update's.
                last = session.scalar(sa.select(sa.func.max(Notification.id)))
                session.execute(sa.delete(Notification).where(Notification.id != last))
                session.commit()
            engine.dispose()

            with FakeSendGrid(delay=args.delay, keep_bodies=False) as sendgrid:
                child = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--deliver",
                        url,
                        "--sendgrid-url",
                        sendgrid.url,
                        "--api-key",
                        sendgrid.api_key,
                        "--batch-size",
                        str(args.batch_size),
                    ],
                    cwd=PROJECT_ROOT,
                    env={**os.environ, "NO_PROXY": "127.0.0.1"},
                    capture_output=True,
                    text=True,
                    timeout=1800,
                    check=False,
                )
                if child.returncode != 0:
                    raise SystemExit(f"delivery failed:\n{child.stderr[-4000:]}")
                figures = json.loads(child.stdout.strip().splitlines()[-1])
                requests = sendgrid.requests
            accepted: Counter[str] = Counter()
            for request in requests:
                if request.status == 202:
                    accepted.update(request.recipients)
        finally:
            cleanup()
    return {
        "database": "PostgreSQL" if args.database_url else "SQLite",
        "subscribers": args.subscribers,
        "delay_ms": args.delay * 1000,
        "seed_seconds": seed_time,
        "publish_ms_small": publish_small * 1000,
        "publish_ms_large": publish_large * 1000,
        "requests": len(requests),
        "accepted_requests": sum(1 for r in requests if r.status == 202),
        "max_per_request": max((len(r.recipients) for r in requests), default=0),
        "distinct_recipients": len(accepted),
        "duplicates": sum(count - 1 for count in accepted.values()),
        **figures,
    }


def report(result: dict[str, Any]) -> str:
    ok_requests = result["requests"] <= -(-result["subscribers"] // 1000)
    ok_memory = result["peak_rss_mib"] < 200
    ok_all = result["distinct_recipients"] == result["subscribers"] and not result["duplicates"]
    return "\n".join(
        [
            f"Fan-out to {result['subscribers']:,} subscribers on {result['database']}, "
            f"fake SendGrid answering in {result['delay_ms']:.0f} ms "
            f"({platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} CPU):",
            "",
            "| measure | value |",
            "|---|---|",
            f"| publish one update, 10 subscribers (median of {PUBLISH_REPEATS}) | "
            f"{result['publish_ms_small']:.1f} ms |",
            f"| publish one update, {result['subscribers']:,} subscribers | "
            f"{result['publish_ms_large']:.1f} ms |",
            f"| requests to SendGrid | {result['requests']} "
            f"(largest {result['max_per_request']} recipients) "
            f"{'✓' if ok_requests else '✗'} |",
            f"| recipients accepted, distinct / duplicates | {result['distinct_recipients']:,} / "
            f"{result['duplicates']} {'✓' if ok_all else '✗'} |",
            f"| delivery wall time (expand + send) | {result['wall_seconds']:.1f} s |",
            f"| peak RSS of the delivering process | {result['peak_rss_mib']:.0f} MiB "
            f"{'✓' if ok_memory else '✗'} |",
            f"| seeding the subscribers (not part of delivery) | {result['seed_seconds']:.1f} s |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--delay", type=float, default=0.05, help="fake SendGrid latency (s)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--database-url", help="a PostgreSQL server (admin URL) to use")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    # The child's arguments.
    parser.add_argument("--deliver", help=argparse.SUPPRESS)
    parser.add_argument("--sendgrid-url", help=argparse.SUPPRESS)
    parser.add_argument("--api-key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.deliver:
        deliver_in_this_process(args.deliver, args.sendgrid_url, args.api_key, args.batch_size)
        return
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else report(result))
    failed = (
        result["duplicates"]
        or result["distinct_recipients"] != args.subscribers
        or result["batches_failed"]
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
