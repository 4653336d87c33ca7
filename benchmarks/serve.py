"""How fast are the public pages served, next to what the same bytes cost without the app?

Four comparisons, each measured side by side in one run on 127.0.0.1 with wrk, the two sides
taking turns round after round so that whatever else the machine does hits both alike:

(a) `GET /` through gunicorn with the public cache, on data scaled to 50 components, 90 days
    and 100,000 past incidents, against a minimal Flask app under the same gunicorn settings
    that returns the same bytes from memory. Target: at least 0.8 of its requests per second.
(b) the static snapshot's `/` served by nginx (the `try_files` of `statuspage.snapshot`)
    against the same nginx serving a plain file of the same size. Target: at least 0.9.
(c) `/` and `/history` with 100 and with 100,000 incidents: with the cache under load (wrk,
    the same connections as above), and without the cache one request at a time (wrk -c1).
    Target: latency with 100,000 at most 1.5 times that with 100.
(d) publishing (`POST /api/v1/incidents/<id>/updates` with a token, every --publish-interval
    seconds) while wrk loads `/` of the same gunicorn. Target: publish p95 under 100 ms.

Run from the project root (needs `nginx` and `wrk`: apt-get install -y nginx wrk):

    .venv/bin/python benchmarks/serve.py
    .venv/bin/python benchmarks/serve.py --database-url-base \\
        postgresql://postgres@127.0.0.1:5432/postgres

The benchmark databases are kept and reused (a SQLite file under --workdir, or the PostgreSQL
databases statuspage_serve_100 and statuspage_serve_100000) while their data is at most
three days old; seeding 100,000 incidents takes one to two minutes. Publishing writes into a
copy that is deleted afterwards. Every server is started here, on free ports, and stopped on
exit, also after an error or Ctrl-C. With the defaults the measuring takes about five minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.client
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
PROJECT_ROOT = BENCHMARKS.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(BENCHMARKS))

import sqlalchemy as sa  # noqa: E402
from page_latency import app_config, free_port, machine, percentile, prepare  # noqa: E402

from statuspage import create_app  # noqa: E402

TARGET_APP_VS_MEMORY = 0.8
TARGET_SNAPSHOT_VS_PLAIN = 0.9
TARGET_HISTORY_RATIO = 1.5
TARGET_PUBLISH_P95_MS = 100.0
SEED_MAX_AGE = timedelta(days=3)
KEEP_DATABASE_PREFIX = "statuspage_serve_"

# Prints wrk's results as one JSON line; latencies in microseconds.
WRK_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"p50":%d,"p90":%d,"p99":%d,'
    .. '"max":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""

MINIMAL_APP = '''
"""The same bytes as the app's front page, from memory: what gunicorn + Flask cost alone."""
import os

from flask import Flask

BODY = open(os.environ["SERVE_BENCH_BODY"], "rb").read()
app = Flask(__name__)


@app.get("/")
def index():
    return app.response_class(BODY, mimetype="text/html")
'''


# Child processes


def _die_with_parent() -> None:
    """In the child: get SIGTERM if this script dies, even by SIGKILL (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def process(command: list[str], *, name: str, env: dict[str, str], cwd: Path, log: Path):
    """Start a server; stop it (TERM, then KILL) when the block ends, however it ends."""
    with open(log, "ab") as output:
        child = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                print(f"  {name} did not stop in 15 s; killing it", file=sys.stderr)
                child.kill()
                child.wait()


def wait_until_up(child: subprocess.Popen, port: int, path: str, *, name: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        if child.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise SystemExit(f"{name} exited with {child.returncode}:\n{tail}")
        try:
            status, _, _ = request(port, "GET", path)
            if status < 500:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{name} did not answer on port {port} within 60 s")
        time.sleep(0.2)


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        data = None if body is None else json.dumps(body).encode()
        all_headers = dict(headers or {})
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=all_headers)
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        conn.close()


@dataclass
class Servers:
    """What runs during the benchmark, for the child processes' environment and logs."""

    rundir: Path
    args: argparse.Namespace
    stack: contextlib.ExitStack
    logs: list[Path] = field(default_factory=list)

    def log(self, name: str) -> Path:
        path = self.rundir / f"{name}.log"
        self.logs.append(path)
        return path

    def gunicorn(
        self, name: str, target: str, *, cwd: Path, env: dict[str, str], probe: str = "/"
    ) -> int:
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--worker-class",
            "gthread",
            "--workers",
            str(self.args.workers),
            "--threads",
            str(self.args.gunicorn_threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            target,
        ]
        log = self.log(name)
        child = self.stack.enter_context(
            process(command, name=name, env={**os.environ, **env}, cwd=cwd, log=log)
        )
        wait_until_up(child, port, probe, name=name, log=log)
        return port

    def app(self, name: str, url: str, *, cache: str) -> int:
        env = {
            "DATABASE_URL": url,
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "STATUSPAGE_PUBLIC_CACHE_STORAGE": cache,
            # Publishing enqueues tasks: keep them out of the project's instance folder.
            "HUEY_SQLITE_PATH": str(self.rundir / f"huey-{name}.sqlite3"),
        }
        if cache != "redis":
            env["REDIS_URL"] = ""
        return self.gunicorn(name, "app:app", cwd=PROJECT_ROOT, env=env)

    def nginx(self, snapshot_root: Path, plain_root: Path) -> tuple[int, int]:
        snapshot_port, plain_port = free_port(), free_port()
        prefix = self.rundir / "nginx"
        prefix.mkdir(exist_ok=True)
        # Same settings for both servers; only where the file comes from differs.
        # open_file_cache saves try_files' stat calls; valid for 1 s, so a new snapshot (the
        # `current` symlink moved) is served at most a second later.
        common = (
            "access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000; "
            "open_file_cache max=10000 inactive=60s; open_file_cache_valid 1s;"
        )
        user = "user nobody nogroup;" if os.geteuid() == 0 else ""
        config = textwrap.dedent(
            f"""\
            {user}
            worker_processes {self.args.nginx_workers};
            pid {prefix}/nginx.pid;
            error_log {prefix}/error.log warn;
            daemon off;
            events {{ worker_connections 1024; }}
            http {{
                include /etc/nginx/mime.types;
                default_type application/octet-stream;
                client_body_temp_path {prefix}/body;
                proxy_temp_path {prefix}/proxy;
                fastcgi_temp_path {prefix}/fastcgi;
                uwsgi_temp_path {prefix}/uwsgi;
                scgi_temp_path {prefix}/scgi;
                server {{
                    listen 127.0.0.1:{snapshot_port};
                    root {snapshot_root};
                    {common}
                    location / {{ try_files $uri/index$is_args$args.html $uri =404; }}
                }}
                server {{
                    listen 127.0.0.1:{plain_port};
                    root {plain_root};
                    {common}
                }}
            }}
            """
        )
        conf = prefix / "nginx.conf"
        conf.write_text(config)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        command = [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
        log = self.log("nginx")
        child = self.stack.enter_context(
            process(command, name="nginx", env=dict(os.environ), cwd=prefix, log=log)
        )
        wait_until_up(child, snapshot_port, "/", name="nginx", log=log)
        return snapshot_port, plain_port


# Databases


def count_rows(url: str) -> tuple[int, int, datetime | None]:
    """Components, incidents and the newest incident's creation, or (0, 0, None)."""
    from statuspage.components.models import Component
    from statuspage.config import database_url_to_sqlalchemy
    from statuspage.incidents.models import Incident

    engine = sa.create_engine(database_url_to_sqlalchemy(url))
    try:
        with engine.connect() as conn:
            components = conn.scalar(sa.select(sa.func.count()).select_from(Component.__table__))
            incidents = conn.scalar(sa.select(sa.func.count()).select_from(Incident.__table__))
            newest = conn.scalar(sa.select(sa.func.max(Incident.__table__.c.created_at)))
    except sa.exc.DBAPIError:
        return 0, 0, None
    finally:
        engine.dispose()
    if isinstance(newest, str):  # SQLite without the ORM's type processing
        newest = datetime.fromisoformat(newest)
    if newest is not None and newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    return components or 0, incidents or 0, newest


def migrate(url: str) -> None:
    from flask_migrate import upgrade

    from statuspage.extensions import db

    app = create_app(app_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


class Databases:
    """Benchmark databases kept between runs: SQLite files, or PostgreSQL databases."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.admin_url: str | None = args.database_url_base
        self.workdir: Path = args.workdir
        self.copies: list[str] = []

    @property
    def backend(self) -> str:
        return "postgresql" if self.admin_url else "sqlite"

    def url(self, name: str) -> str:
        if self.admin_url:
            return self.admin_url.rsplit("/", 1)[0] + "/" + name
        return f"sqlite:///{self.workdir / (name + '.sqlite3')}"

    def _admin(self, statement: str) -> None:
        import psycopg

        assert self.admin_url is not None
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(statement)

    def _drop(self, name: str) -> None:
        if self.admin_url:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            (self.workdir / f"{name}.sqlite3").unlink(missing_ok=True)

    def _create(self, name: str, template: str | None = None) -> None:
        if self.admin_url:
            suffix = f' TEMPLATE "{template}"' if template else ""
            self._admin(f'CREATE DATABASE "{name}"{suffix}')
        elif template:
            shutil.copyfile(self.workdir / f"{template}.sqlite3", self.workdir / f"{name}.sqlite3")

    def seeded(self, incidents: int) -> tuple[str, str]:
        """The URL of a database with `incidents` benchmark incidents; how it was obtained."""
        name = f"{KEEP_DATABASE_PREFIX}{incidents}"
        url = self.url(name)
        components, found, newest = count_rows(url)
        fresh = newest is not None and datetime.now(UTC) - newest < SEED_MAX_AGE
        if components == 50 and found == incidents and fresh:
            migrate(url)  # a migration added since the database was seeded
            return url, f"reused (seeded {newest:%Y-%m-%d})"
        self._drop(name)
        self._create(name)
        seconds = prepare(url, incidents)
        return url, f"seeded in {seconds:.0f} s"

    def copy_of(self, incidents: int) -> str:
        """A throw-away copy, for writing into (dropped by `drop_copies`)."""
        name = f"{KEEP_DATABASE_PREFIX}{incidents}_copy_{secrets.token_hex(3)}"
        self._create(name, template=f"{KEEP_DATABASE_PREFIX}{incidents}")
        self.copies.append(name)
        return self.url(name)

    def drop_copies(self) -> None:
        for name in self.copies:
            with contextlib.suppress(Exception):
                self._drop(name)


# wrk


@dataclass
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def wrk(url: str, *, threads: int, connections: int, seconds: float, script: Path) -> Run:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("WRK-RESULT "):
            data = json.loads(line.removeprefix("WRK-RESULT "))
            errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
            return Run(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50"] / 1000,
                p99_ms=data["p99"] / 1000,
                errors=errors,
                non_2xx=data["status"],
            )
    raise SystemExit(f"wrk gave no result for {url}:\n{done.stdout}\n{done.stderr}")


@dataclass
class Series:
    """Several wrk runs against one target."""

    label: str
    runs: list[Run] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return statistics.median(run.rate for run in self.runs)

    @property
    def p50(self) -> float:
        return statistics.median(run.p50_ms for run in self.runs)

    @property
    def p99(self) -> float:
        return statistics.median(run.p99_ms for run in self.runs)

    @property
    def errors(self) -> str:
        errors = sum(run.errors for run in self.runs)
        non_2xx = sum(run.non_2xx for run in self.runs)
        total = sum(run.requests for run in self.runs)
        return f"{errors} / {non_2xx} of {total:,}"


def alternate(
    targets: dict[str, str],
    *,
    rounds: int,
    seconds: float,
    threads: int,
    connections: int,
    script: Path,
) -> dict[str, Series]:
    """Every target once per round, in turn; one short warm-up run each first."""
    series = {label: Series(label) for label in targets}
    for url in targets.values():
        wrk(url, threads=threads, connections=connections, seconds=2, script=script)
    for number in range(rounds):
        for label, url in targets.items():
            run = wrk(url, threads=threads, connections=connections, seconds=seconds, script=script)
            series[label].runs.append(run)
            print(
                f"  round {number + 1}: {label}: {run.rate:,.0f} req/s, p50 {run.p50_ms:.1f} ms, "
                f"p99 {run.p99_ms:.1f} ms, errors {run.errors}, non-2xx {run.non_2xx}",
                file=sys.stderr,
            )
    return series


def paired_ratio(numerator: Series, denominator: Series) -> tuple[float, str]:
    """The median of the per-round ratios of req/s, and the ratios themselves.

    Runs of the same round were measured seconds apart, so their ratio cancels most of the
    machine's changing background load; the median of those is steadier than a ratio of
    medians taken from different moments.
    """
    ratios = [a.rate / b.rate for a, b in zip(numerator.runs, denominator.runs, strict=True)]
    return statistics.median(ratios), ", ".join(f"{ratio:.2f}" for ratio in ratios)


# Publishing under load


@dataclass
class Publishes:
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.latencies_ms:
            return f"no publish succeeded; failures: {self.failures[:3]}"
        return (
            f"{len(self.latencies_ms)} publishes: p50 {statistics.median(self.latencies_ms):.1f} "
            f"ms, p95 {percentile(self.latencies_ms, 0.95):.1f} ms, "
            f"max {max(self.latencies_ms):.1f} ms, failed {len(self.failures)}"
        )


def make_token(url: str) -> tuple[str, list[int]]:
    """A manager's API token in the database at `url`, and two component ids."""
    from statuspage.auth.models import Role
    from statuspage.auth.tokens import create_token
    from statuspage.auth.users import create_user
    from statuspage.components.models import Component
    from statuspage.core.db import utcnow
    from statuspage.extensions import db

    app = create_app(app_config(url))
    with app.app_context():
        user = create_user(
            db.session,
            email=f"bench-{secrets.token_hex(4)}@example.com",
            password=secrets.token_urlsafe(24) + "-Aa1",
            role=Role.MANAGER,
            name="Benchmark publisher",
        )
        _, secret = create_token(db.session, user, "serve benchmark", actor_id=None, now=utcnow())
        component_ids = list(db.session.scalars(sa.select(Component.id).order_by(Component.id)))
        db.session.commit()
        db.engine.dispose()
    return secret, component_ids[:2]


def publisher(
    port: int,
    token: str,
    component_ids: list[int],
    *,
    interval: float,
    stop: threading.Event,
    results: Publishes,
    warmup: int,
) -> None:
    """Open one incident, then publish an update to it every `interval` seconds until `stop`.

    Each update changes a component's status too, as a real one often does, so every publish
    changes the front page and invalidates its cached copy.
    """
    headers = {"Authorization": f"Bearer {token}"}
    status, body, _ = request(
        port,
        "POST",
        "/api/v1/incidents",
        body={"title": "Benchmark: elevated errors", "component_ids": component_ids},
        headers=headers,
    )
    if status != 201:
        results.failures.append(f"open incident: {status} {body[:200]!r}")
        return
    incident_id = json.loads(body)["incident"]["id"]
    statuses = ("investigating", "identified", "monitoring")
    component_statuses = ("degraded_performance", "partial_outage", "major_outage")
    number = 0
    next_at = time.monotonic()
    while not stop.is_set():
        payload = {
            "status": statuses[number % 3],
            "body": f"Update {number}: we are looking into elevated error rates.",
            "component_statuses": {str(component_ids[0]): component_statuses[number % 3]},
        }
        started = time.perf_counter()
        try:
            status, body, _ = request(
                port,
                "POST",
                f"/api/v1/incidents/{incident_id}/updates",
                body=payload,
                headers=headers,
            )
        except OSError as error:
            results.failures.append(repr(error))
        else:
            elapsed = (time.perf_counter() - started) * 1000
            if status == 201:
                if number >= warmup:  # the first publishes of a worker load code and caches
                    results.latencies_ms.append(elapsed)
            else:
                results.failures.append(f"{status} {body[:200]!r}")
        number += 1
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))


def publish_for(
    port: int,
    token: str,
    component_ids: list[int],
    args: argparse.Namespace,
    *,
    seconds: float,
    warmup: int,
) -> Publishes:
    """Publish for `seconds`; the first `warmup` publishes are not timed."""
    results = Publishes()
    stop = threading.Event()
    thread = threading.Thread(
        target=publisher,
        args=(port, token, component_ids),
        kwargs={
            "interval": args.publish_interval,
            "stop": stop,
            "results": results,
            "warmup": warmup,
        },
        daemon=True,
    )
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join(timeout=60)
    return results


# Reporting


def cache_status(port: int, path: str, *, requests: int = 8) -> str:
    """The X-Public-Cache headers of a few requests in a row (each worker fills its own)."""
    seen: dict[str, int] = {}
    for _ in range(requests):
        _, _, headers = request(port, "GET", path)
        value = headers.get("X-Public-Cache", "absent")
        seen[value] = seen.get(value, 0) + 1
    return ", ".join(f"{value} x{count}" for value, count in seen.items())


def versions() -> list[str]:
    def first_line(command: list[str]) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(command, capture_output=True, text=True, timeout=10)
            text = (done.stdout + done.stderr).strip().splitlines()
            return text[0] if text else "unknown"
        return "unknown"

    from importlib.metadata import version

    return [
        f"- {first_line(['nginx', '-v'])}; {first_line(['wrk', '--version'])}",
        f"- Flask {version('flask')}, Werkzeug {version('werkzeug')}",
    ]


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


def series_rows(series: dict[str, Series]) -> list[str]:
    return [
        row(
            [
                label,
                f"{s.rate:,.0f}",
                f"{s.p50:.1f}",
                f"{s.p99:.1f}",
                s.errors,
            ]
        )
        for label, s in series.items()
    ]


SERIES_HEADER = [
    "| what | req/s (median of rounds) | p50 ms | p99 ms | errors / non-2xx of requests |",
    "|---|---:|---:|---:|---:|",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=100, help="incidents of the small history")
    parser.add_argument("--database-url-base", help="admin URL of a PostgreSQL server")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "statuspage-serve-bench",
        help="SQLite benchmark databases (kept), and each run's files (deleted)",
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per target, taking turns")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--gunicorn-threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--nginx-workers", type=int, default=2)
    parser.add_argument(
        "--cache",
        choices=("memory", "redis"),
        default="memory",
        help="PUBLIC_CACHE_STORAGE of the app (redis uses REDIS_URL)",
    )
    parser.add_argument("--publish-seconds", type=float, default=30)
    parser.add_argument("--publish-interval", type=float, default=0.5)
    parser.add_argument(
        "--only", default="abcd", help="which comparisons to run, e.g. --only ab (default abcd)"
    )
    args = parser.parse_args()
    if args.cache == "redis" and not os.environ.get("REDIS_URL"):
        raise SystemExit("--cache redis needs REDIS_URL in the environment")

    # SIGTERM ends the run like Ctrl-C: through the `finally` blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.workdir.mkdir(parents=True, exist_ok=True)
    # nginx's workers run as nobody when started by root: they must read the snapshot.
    os.chmod(args.workdir, 0o755)  # noqa: S103 - public test pages, nothing secret
    databases = Databases(args)
    started = time.monotonic()
    report: list[str] = []
    load_at_start = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    with contextlib.ExitStack() as stack:
        rundir = Path(tempfile.mkdtemp(prefix="run-", dir=args.workdir))
        os.chmod(rundir, 0o755)  # noqa: S103 - as above
        stack.callback(shutil.rmtree, rundir, ignore_errors=True)
        stack.callback(databases.drop_copies)
        servers = Servers(rundir, args, stack)
        script = rundir / "report.lua"
        script.write_text(WRK_REPORT)
        load = {"threads": args.threads, "connections": args.connections, "script": script}

        print(f"{args.incidents:,} incidents", file=sys.stderr)
        big_url, big_how = databases.seeded(args.incidents)
        small_url = small_how = None
        if "c" in args.only:
            small_url, small_how = databases.seeded(args.small)
        publish_url = databases.copy_of(args.incidents) if "d" in args.only else None

        app_port = servers.app("app", big_url, cache=args.cache)
        status, front_page, headers = request(app_port, "GET", "/")
        if status != 200:
            raise SystemExit(f"GET / answered {status}")
        cached = cache_status(app_port, "/")
        print(f"  GET / is {len(front_page):,} bytes; X-Public-Cache: {cached}", file=sys.stderr)
        report += [
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with "
            f"`{' '.join(['benchmarks/serve.py', *sys.argv[1:]])}`.",
            "",
            *[
                line
                for line in machine(databases.backend, args.database_url_base)
                if not line.startswith("- Load average")
            ],
            *versions(),
            f"- Load average at the start (1, 5, 15 min): {load_at_start}",
            f"- Data: {args.incidents:,} incidents ({big_how})"
            + (f", {args.small:,} incidents ({small_how})" if small_how else ""),
            f"- gunicorn: {args.workers} workers, gthread, {args.gunicorn_threads} threads each,"
            f" APP_ENV=production, PUBLIC_CACHE_STORAGE={args.cache}; nginx: "
            f"{args.nginx_workers} workers, sendfile, open_file_cache (1 s), access log off",
            f"- wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s, "
            f"{args.rounds} rounds taking turns, after a 2 s warm-up each; figures are medians "
            "over the rounds; latency as wrk reports it (time to the full response)",
            f"- `GET /` is {len(front_page):,} bytes; 8 requests in a row answered "
            f"`X-Public-Cache`: {cached}",
        ]

        if "a" in args.only:
            print("(a) the app against the same bytes from memory", file=sys.stderr)
            body_file = rundir / "front-page.html"
            body_file.write_bytes(front_page)
            (rundir / "minimal_app.py").write_text(MINIMAL_APP)
            memory_port = servers.gunicorn(
                "memory", "minimal_app:app", cwd=rundir, env={"SERVE_BENCH_BODY": str(body_file)}
            )
            series = alternate(
                {
                    "app `GET /` (cache)": f"http://127.0.0.1:{app_port}/",
                    "minimal Flask, same bytes": f"http://127.0.0.1:{memory_port}/",
                },
                rounds=args.rounds,
                seconds=args.duration,
                **load,
            )
            app_series, memory_series = series.values()
            ratio, rounds = paired_ratio(app_series, memory_series)
            report += [
                "",
                "**(a) the app's front page against the same bytes from memory**",
                "",
                *SERIES_HEADER,
                *series_rows(series),
                "",
                f"Ratio of req/s {ratio:.2f} (median of the rounds: {rounds}); "
                f"target at least {TARGET_APP_VS_MEMORY}: "
                f"{verdict(ratio >= TARGET_APP_VS_MEMORY)}.",
            ]

        if "b" in args.only:
            print("(b) the snapshot against a plain file, both through nginx", file=sys.stderr)
            report += ["", "**(b) the static snapshot against a plain file, both nginx**", ""]
            try:
                from statuspage.snapshot import export_snapshot
            except ImportError as error:
                report.append(f"Not measured: the snapshot cannot be imported ({error}).")
            else:
                snapshot_dir = rundir / "snapshot"
                app = create_app({**app_config(big_url), "STATIC_EXPORT_DIR": str(snapshot_dir)})
                began = time.perf_counter()
                result = export_snapshot(app, force=True)
                export_seconds = time.perf_counter() - began
                with app.app_context():
                    from statuspage.extensions import db

                    db.engine.dispose()
                snapshot_root = snapshot_dir / "current"
                index = (snapshot_root / "index.html").read_bytes()
                plain_root = rundir / "plain"
                plain_root.mkdir()
                (plain_root / "index.html").write_bytes(index)
                for path in (snapshot_dir, *snapshot_dir.rglob("*"), plain_root):
                    if path.is_dir() and not path.is_symlink():
                        os.chmod(path, 0o755)  # noqa: S103 - as above
                snapshot_port, plain_port = servers.nginx(snapshot_root, plain_root)
                _, served, _ = request(snapshot_port, "GET", "/")
                if served != index:
                    raise SystemExit("nginx did not serve the snapshot's index.html for /")
                series = alternate(
                    {
                        "nginx, snapshot `/` (try_files)": f"http://127.0.0.1:{snapshot_port}/",
                        "nginx, plain file": f"http://127.0.0.1:{plain_port}/index.html",
                    },
                    rounds=args.rounds,
                    seconds=args.duration,
                    **load,
                )
                snap, plain = series.values()
                ratio, rounds = paired_ratio(snap, plain)
                report += [
                    f"Export: {result.files:,} files in {export_seconds:.1f} s; `index.html` "
                    f"is {len(index):,} bytes (the app's `/`: {len(front_page):,}).",
                    "",
                    *SERIES_HEADER,
                    *series_rows(series),
                    "",
                    f"Ratio of req/s {ratio:.2f} (median of the rounds: {rounds}); target at "
                    f"least {TARGET_SNAPSHOT_VS_PLAIN}: "
                    f"{verdict(ratio >= TARGET_SNAPSHOT_VS_PLAIN)}.",
                ]

        if "c" in args.only and small_url is not None:
            print("(c) the front page and history, small and large history", file=sys.stderr)
            small_port = servers.app("app-small", small_url, cache=args.cache)
            report += [
                "",
                f"**(c) {args.small:,} against {args.incidents:,} incidents**",
                "",
                "| page | how | p50 ms small | p50 ms large | ratio | p99 ms small "
                "| p99 ms large | ratio | req/s small | req/s large | errors / non-2xx |",
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            worst = 0.0
            uncached_small = servers.app("app-small-nocache", small_url, cache="none")
            uncached_big = servers.app("app-nocache", big_url, cache="none")
            setups = (
                (f"cache, wrk -c{args.connections}", small_port, app_port, load),
                (
                    "no cache, wrk -c1",
                    uncached_small,
                    uncached_big,
                    {**load, "threads": 1, "connections": 1},
                ),
            )
            for how, port_small, port_big, options in setups:
                for page in ("/", "/history"):
                    series = alternate(
                        {
                            "small": f"http://127.0.0.1:{port_small}{page}",
                            "large": f"http://127.0.0.1:{port_big}{page}",
                        },
                        rounds=max(1, args.rounds - 1),
                        # One request at a time takes a few hundred ms: give it longer runs.
                        seconds=args.duration if options is not load else args.duration / 2,
                        **options,
                    )
                    small, large = series["small"], series["large"]
                    p50_ratio, p99_ratio = large.p50 / small.p50, large.p99 / small.p99
                    worst = max(worst, p50_ratio)
                    report.append(
                        row(
                            [
                                f"`{page}`",
                                how,
                                f"{small.p50:.1f}",
                                f"{large.p50:.1f}",
                                f"{p50_ratio:.2f}",
                                f"{small.p99:.1f}",
                                f"{large.p99:.1f}",
                                f"{p99_ratio:.2f}",
                                f"{small.rate:,.0f}",
                                f"{large.rate:,.0f}",
                                f"{small.errors}; {large.errors}",
                            ]
                        )
                    )
            report += [
                "",
                f"Largest median ratio {worst:.2f}; target at most {TARGET_HISTORY_RATIO}: "
                f"{verdict(worst <= TARGET_HISTORY_RATIO)}.",
            ]

        if "d" in args.only and publish_url is not None:
            print("(d) publishing while `/` is under load", file=sys.stderr)
            token, component_ids = make_token(publish_url)
            publish_port = servers.app("app-publish", publish_url, cache=args.cache)
            quiet = publish_for(
                publish_port,
                token,
                component_ids,
                args,
                seconds=min(15.0, args.publish_seconds),
                # A worker's first publish loads code (about 1 s): time neither worker's.
                warmup=6,
            )
            print(f"  without load: {quiet.summary()}", file=sys.stderr)
            loaded = Publishes()
            wrk_result: list[Run] = []

            def load_front_page() -> None:
                wrk_result.append(
                    wrk(
                        f"http://127.0.0.1:{publish_port}/",
                        seconds=args.publish_seconds + 2,
                        **load,
                    )
                )

            # Warm the cache, then load `/` and publish during the load (1 s in, 1 s before end).
            wrk(f"http://127.0.0.1:{publish_port}/", seconds=2, **load)
            loader = threading.Thread(target=load_front_page, daemon=True)
            loader.start()
            time.sleep(1)
            loaded = publish_for(
                publish_port, token, component_ids, args, seconds=args.publish_seconds, warmup=0
            )
            loader.join(timeout=args.publish_seconds + 90)
            print(f"  under load: {loaded.summary()}", file=sys.stderr)
            report += [
                "",
                f"**(d) publishing every {args.publish_interval:g} s while wrk loads `/`**",
                "",
                "| publishing | publishes | p50 ms | p95 ms | max ms | failed |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            for label, results in (("no load", quiet), ("under load", loaded)):
                values = results.latencies_ms or [float("nan")]
                report.append(
                    row(
                        [
                            label,
                            str(len(results.latencies_ms)),
                            f"{statistics.median(values):.1f}",
                            f"{percentile(values, 0.95):.1f}",
                            f"{max(values):.1f}",
                            str(len(results.failures)),
                        ]
                    )
                )
            if wrk_result:
                run = wrk_result[0]
                report += [
                    "",
                    f"`/` meanwhile: {run.rate:,.0f} req/s, p50 {run.p50_ms:.1f} ms, p99 "
                    f"{run.p99_ms:.1f} ms, errors {run.errors}, non-2xx {run.non_2xx} of "
                    f"{run.requests:,} (each publish changes the page, so each costs a render).",
                ]
            if loaded.failures:
                report.append(f"Failures: {'; '.join(loaded.failures[:3])}")
            p95 = percentile(loaded.latencies_ms, 0.95) if loaded.latencies_ms else float("inf")
            report += [
                "",
                f"Publish p95 under load {p95:.1f} ms; target under {TARGET_PUBLISH_P95_MS:g} ms: "
                f"{verdict(p95 < TARGET_PUBLISH_P95_MS and not loaded.failures)}.",
            ]

        load_at_end = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        report += [
            "",
            f"Load average at the end (1, 5, 15 min): {load_at_end}; the run took "
            f"{(time.monotonic() - started) / 60:.1f} min.",
        ]
    print("\n".join(report))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
