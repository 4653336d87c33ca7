"""Public pages under load while staff publish: zero errors, and how long a publish takes.

One bounded run on 127.0.0.1:

1. a new database (a SQLite file under --workdir, or with --database-url-base a PostgreSQL
   database created for the run and dropped after it), migrated and seeded with
   `statuspage.seed.bench` (--incidents past incidents), plus an unresolved public incident on
   a few components and an API token;
2. gunicorn as in production (`APP_ENV=production`, --workers 2, gthread, --threads 4);
3. wrk loads `/`, `/history`, the incident's page and `/api/v2/summary.json` in turn for
   --seconds, while a thread publishes an update every --publish-interval seconds through the
   write API (`POST /api/v1/incidents/<id>/updates`, token auth), each moving the components,
   and times each publish;
4. after the load, the incident page must show the last update (no stale page after a publish).

It fails (exit status 1) on any error: a publish not answered 201, a wrk response that is not
2xx/3xx, a socket error, or a stale page. It prints requests per second, latency, errors and
publish latency (p50, p95, max), and a Markdown section for docs/performance.md.

Run from the project root (needs `wrk`: apt-get install -y wrk):

    .venv/bin/python benchmarks/load_publish.py
    .venv/bin/python benchmarks/load_publish.py --database-url-base \\
        postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
PROJECT_ROOT = BENCHMARKS.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(BENCHMARKS))

from page_latency import (  # noqa: E402
    app_config,
    free_port,
    machine,
    percentile,
    postgres_database,
    prepare,
)

from statuspage import create_app  # noqa: E402

COMPONENTS = 3
STATUSES = ("major_outage", "partial_outage")
WRK_SCRIPT = """
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""


@dataclass
class Site:
    incident_id: int
    component_ids: list[int]
    token: str


@dataclass
class WrkRun:
    requests: int
    seconds: float
    requests_per_second: float
    latency_p50_ms: float
    latency_p99_ms: float
    non_2xx_3xx: int
    socket_errors: dict[str, int]
    raw: str

    @property
    def errors(self) -> int:
        return self.non_2xx_3xx + sum(self.socket_errors.values())


@dataclass
class Publishes:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    last_body: str = ""


def add_publish_target(url: str) -> Site:
    """An unresolved public incident on a few components, and an admin API token."""
    from statuspage.auth.models import Role
    from statuspage.auth.tokens import create_token
    from statuspage.auth.users import create_user
    from statuspage.components.status import add_component
    from statuspage.core.db import utcnow
    from statuspage.extensions import db
    from statuspage.incidents.models import PublicStatus
    from statuspage.incidents.operations import NewIncident, open_incident, post_update

    app = create_app(app_config(url))
    with app.app_context():
        session = db.session
        now = utcnow()
        components = [
            add_component(session, name=f"Load test {index}", group_id=None, now=now)
            for index in range(COMPONENTS)
        ]
        incident = open_incident(
            session,
            NewIncident(
                title="Load test incident",
                impact_started_at=now - timedelta(minutes=5),
                component_ids=[c.id for c in components],
            ),
            actor_id=None,
            now=now,
        )
        post_update(
            session,
            incident,
            status=PublicStatus.INVESTIGATING,
            body="We are investigating.",
            component_statuses={c.id: "degraded_performance" for c in components},
            actor_id=None,
            now=now,
        )
        user = create_user(
            session,
            email="load@example.com",
            password=secrets.token_urlsafe(24),
            role=Role.ADMIN,
        )
        _, token = create_token(session, user, "load test", actor_id=None, now=now)
        session.commit()
        site = Site(incident.id, [c.id for c in components], token)
        db.engine.dispose()
    return site


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@contextlib.contextmanager
def gunicorn(url: str, workdir: Path, *, workers: int, threads: int) -> Iterator[int]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "HUEY_SQLITE_PATH": str(workdir / "huey.sqlite3"),
    }
    command = [
        sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "gthread",
        "--threads", str(threads), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
        "app:app",
    ]  # fmt: skip
    log = (workdir / "gunicorn.log").open("w")
    server = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise SystemExit(f"gunicorn exited with {server.returncode}; see {log.name}")
            with contextlib.suppress(OSError):
                if get(port, "/api/v2/status.json")[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not answer within 60 s")
            time.sleep(0.2)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def publisher(
    port: int, site: Site, interval: float, stop: threading.Event, result: Publishes
) -> None:
    number = 0
    while not stop.wait(interval):
        number += 1
        body = f"Load test update {number}: we are working on it."
        payload = json.dumps(
            {
                "status": "identified",
                "body": body,
                "component_statuses": {str(c): STATUSES[number % 2] for c in site.component_ids},
            }
        )
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(
                "POST",
                f"/api/v1/incidents/{site.incident_id}/updates",
                body=payload,
                headers={
                    "Authorization": f"Bearer {site.token}",
                    "Content-Type": "application/json",
                },
            )
            response = conn.getresponse()
            answer = response.read()
            conn.close()
        except OSError as error:
            result.failures.append(f"publish {number}: {error!r}")
            continue
        elapsed = time.perf_counter() - started
        if response.status != 201:
            result.failures.append(f"publish {number}: {response.status} {answer[:200]!r}")
            continue
        result.latencies.append(elapsed)
        result.last_body = body


def parse_wrk(output: str) -> WrkRun:
    def number(pattern: str, default: str = "0") -> str:
        match = re.search(pattern, output)
        return match.group(1) if match else default

    def millis(text: str) -> float:
        value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    requests, seconds = re.search(r"(\d+) requests in ([\d.]+)(\w+),", output).groups()[:2]  # type: ignore[union-attr]
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkRun(
        requests=int(requests),
        seconds=float(seconds),
        requests_per_second=float(number(r"Requests/sec:\s+([\d.]+)")),
        latency_p50_ms=millis(number(r"\s50%\s+([\d.]+\w+)", "0ms")),
        latency_p99_ms=millis(number(r"\s99%\s+([\d.]+\w+)", "0ms")),
        non_2xx_3xx=int(number(r"Non-2xx or 3xx responses: (\d+)")),
        socket_errors=dict(
            zip(("connect", "read", "write", "timeout"), map(int, socket.groups()), strict=True)
        )
        if socket
        else {},
        raw=output,
    )


def run(args: argparse.Namespace, url: str, workdir: Path, backend: str) -> int:
    print(f"Seeding {args.incidents:,} past incidents ({backend})...", file=sys.stderr)
    prepare(url, args.incidents)
    site = add_publish_target(url)
    paths = ["/", "/history", f"/incidents/{site.incident_id}", "/api/v2/summary.json"]
    script = workdir / "paths.lua"
    script.write_text(WRK_SCRIPT % ", ".join(json.dumps(p) for p in paths))

    with gunicorn(url, workdir, workers=args.workers, threads=args.threads) as port:
        for path in paths:  # warm up, and check every page answers
            status, _ = get(port, path)
            if status != 200:
                raise SystemExit(f"GET {path} answered {status}")
        result = Publishes()
        stop = threading.Event()
        thread = threading.Thread(
            target=publisher, args=(port, site, args.publish_interval, stop, result), daemon=True
        )
        thread.start()
        command = [
            "wrk", "--latency", "-t", str(args.wrk_threads), "-c", str(args.connections),
            "-d", f"{args.seconds}s", "--timeout", "10s", "-s", str(script),
            f"http://127.0.0.1:{port}",
        ]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        stop.set()
        thread.join(timeout=60)
        wrk = parse_wrk(output)
        status, page = get(port, f"/incidents/{site.incident_id}")
        stale = status != 200 or result.last_body.encode() not in page

    print(wrk.raw, file=sys.stderr)
    publishes = sorted(result.latencies)
    p50 = statistics.median(publishes) * 1000 if publishes else float("nan")
    p95 = percentile(publishes, 0.95) * 1000 if publishes else float("nan")
    top = max(publishes) * 1000 if publishes else float("nan")
    errors = wrk.errors + len(result.failures) + (1 if stale else 0)
    verdict = "zero errors" if errors == 0 else f"**{errors} error(s)**"
    lines = [
        f"### Public pages under load while staff publish ({backend})",
        "",
        f"`benchmarks/load_publish.py`: gunicorn with {args.workers} workers (gthread, "
        f"{args.threads} threads each), `APP_ENV=production`, {args.incidents:,} past "
        "incidents. wrk "
        f"({args.wrk_threads} threads, {args.connections} connections, {args.seconds} s) asks "
        "in turn for `/`, `/history`, an unresolved incident's page and "
        "`/api/v2/summary.json`, while a client publishes an update to that incident every "
        f"{args.publish_interval:g} s through `POST /api/v1/incidents/<id>/updates`, each "
        f"moving {COMPONENTS} components (which invalidates every cached public page).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| requests served | {wrk.requests:,} in {wrk.seconds:.1f} s |",
        f"| requests per second | {wrk.requests_per_second:,.0f} |",
        f"| page latency p50 / p99 | {wrk.latency_p50_ms:.1f} ms / {wrk.latency_p99_ms:.1f} ms |",
        f"| responses not 2xx/3xx | {wrk.non_2xx_3xx} |",
        f"| socket errors (connect, read, write, timeout) | "
        f"{', '.join(str(v) for v in wrk.socket_errors.values()) or '0, 0, 0, 0'} |",
        f"| publishes (201) / failed | {len(publishes)} / {len(result.failures)} |",
        f"| publish latency p50 / p95 / max | {p50:.0f} ms / {p95:.0f} ms / {top:.0f} ms |",
        f"| incident page shows the last update afterwards | {'no' if stale else 'yes'} |",
        f"| verdict | {verdict} |",
        "",
        "Machine:",
        "",
        *machine(backend, args.database_url_base),
    ]
    for failure in result.failures[:10]:
        print(failure, file=sys.stderr)
    print("\n".join(lines))
    return 1 if errors else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url-base", help="PostgreSQL admin URL; default SQLite")
    parser.add_argument("--workdir", type=Path, help="kept when given; default a temp dir")
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--publish-interval", type=float, default=1.0)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="statuspage-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        if args.database_url_base:
            with postgres_database(args.database_url_base, args.incidents) as url:
                status = run(args, url, workdir, "postgresql")
        else:
            url = f"sqlite:///{workdir / 'load.sqlite3'}"
            status = run(args, url, workdir, "sqlite")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
