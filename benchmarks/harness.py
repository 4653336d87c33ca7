"""Pieces shared by `production.py` and `load_publish.py`: servers, wrk, HTTP, the machine.

Everything here starts processes on 127.0.0.1 only and stops them when its block ends, also on
an error or Ctrl-C (and, on Linux, when the benchmark itself is killed).
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import math
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = PROJECT_ROOT / "deploy" / "gunicorn.conf.py"
KERNEL_SETTINGS = PROJECT_ROOT / "deploy" / "sysctl.d" / "60-statuspage.conf"
PROC_SYS = Path("/proc/sys")

# What a browser sends; the app may answer with a precompressed body.
BROWSER_ENCODINGS = "gzip, deflate, br"

# wrk: every request carries `headers`; `done` prints one JSON line (latencies in microseconds).
WRK_SCRIPT = """
local headers = %(headers)s
local paths = %(paths)s
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i], headers)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests":%%d,"duration_us":%%d,"bytes":%%d,"p50":%%d,"p95":%%d,"p99":%%d,'
    .. '"max":%%d,"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (so the p95 of 20 values is the 19th, not the maximum)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


# Processes


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the benchmark dies, even by SIGKILL (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def process(
    command: Sequence[str],
    *,
    name: str,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    stop_signal: int = signal.SIGTERM,
) -> Iterator[subprocess.Popen]:
    """Start a server; stop it (stop_signal, then KILL) when the block ends, however it ends."""
    with open(log, "ab") as output:
        child = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads started yet in the child
        )
    try:
        yield child
    finally:
        if child.poll() is None:
            child.send_signal(stop_signal)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                print(f"  {name} did not stop in 20 s; killing it", file=sys.stderr)
                child.kill()
                child.wait()


def gunicorn_command(target: str, port: int) -> list[str]:
    """gunicorn as docs/operations.md says: the settings file, only the address changed."""
    return [
        sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF),
        "--bind", f"127.0.0.1:{port}", target,
    ]  # fmt: skip


def kernel_settings(path: Path = KERNEL_SETTINGS) -> dict[str, str]:
    """The `key = value` lines of the documented sysctl file (docs/operations.md)."""
    settings = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip()
    return settings


def apply_kernel_settings(
    stack: contextlib.ExitStack, settings: Mapping[str, str], *, proc_sys: Path = PROC_SYS
) -> list[str]:
    """Give this machine the documented kernel settings for the run, putting each old value
    back when `stack` closes; returns one line per setting for the report. Without the right
    to write one (not root), the line says the run is not in the documented setup."""
    lines = []
    for key, value in settings.items():
        path = proc_sys / key.replace(".", "/")
        try:
            before = path.read_text().strip()
        except OSError as error:
            lines.append(f"{key}: not on this kernel ({error.strerror})")
            continue
        if before == value:
            lines.append(f"{key} = {value}")
            continue
        try:
            path.write_text(value)
        except OSError:
            lines.append(f"**{key} = {before}, not the documented {value}** (needs root)")
            continue
        stack.callback(path.write_text, before)
        lines.append(f"{key} = {value} (was {before}; put back after the run)")
    return lines


def wait_until_up(
    child: subprocess.Popen, port: int, path: str, *, name: str, log: Path, seconds: float = 90
) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if child.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"{name} exited with {child.returncode}:\n{tail}")
        with contextlib.suppress(OSError):
            if request(port, "GET", path, timeout=10).status < 500:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"{name} did not answer on port {port} within {seconds:g} s")
        time.sleep(0.2)


# HTTP


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float

    def header(self, name: str) -> str:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return ""


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> Answer:
    """One request on a new connection; `seconds` from connecting to the last byte."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        all_headers = dict(headers or {})
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=all_headers)
        response = conn.getresponse()
        content = response.read()
        return Answer(
            response.status,
            content,
            dict(response.getheaders()),
            time.perf_counter() - started,
        )
    finally:
        conn.close()


# wrk


@dataclass
class WrkRun:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    non_2xx_3xx: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non_2xx_3xx


def wrk_script(path: Path, *, paths: Sequence[str], headers: Mapping[str, str]) -> Path:
    def lua_string(text: str) -> str:
        return json.dumps(text)  # a JSON string is a valid Lua string for these characters

    lua_headers = (
        "{" + ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()) + "}"
    )
    lua_paths = "{" + ", ".join(lua_string(p) for p in paths) + "}"
    path.write_text(WRK_SCRIPT % {"headers": lua_headers, "paths": lua_paths})
    return path


def wrk_command(
    url: str, *, script: Path, seconds: float, threads: int, connections: int, timeout: float
) -> list[str]:
    return [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s",
        "--timeout", f"{timeout:g}s", "-s", str(script), url,
    ]  # fmt: skip


def parse_wrk(output: str) -> WrkRun:
    for line in output.splitlines():
        if line.startswith("WRK-RESULT "):
            data = json.loads(line.removeprefix("WRK-RESULT "))
            return WrkRun(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50"] / 1000,
                p95_ms=data["p95"] / 1000,
                p99_ms=data["p99"] / 1000,
                max_ms=data["max"] / 1000,
                socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
                non_2xx_3xx=data["status"],
            )
    raise RuntimeError(f"wrk printed no result:\n{output[-2000:]}")


def wrk(
    url: str,
    *,
    script: Path,
    seconds: float,
    threads: int = 2,
    connections: int = 50,
    timeout: float = 10,
) -> WrkRun:
    command = wrk_command(
        url,
        script=script,
        seconds=seconds,
        threads=threads,
        connections=connections,
        timeout=timeout,
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    return parse_wrk(done.stdout + "\n" + done.stderr)


@contextlib.contextmanager
def wrk_until_stopped(
    url: str, *, script: Path, threads: int = 2, connections: int = 50, timeout: float = 10
) -> Iterator[list[WrkRun]]:
    """Load `url` for as long as the block runs; wrk stops on SIGINT and reports."""
    command = wrk_command(
        url,
        script=script,
        seconds=3600,
        threads=threads,
        connections=connections,
        timeout=timeout,
    )
    result: list[WrkRun] = []
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.5)  # let it connect
        yield result
    finally:
        child.send_signal(signal.SIGINT)
        try:
            output, _ = child.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            output, _ = child.communicate()
        with contextlib.suppress(RuntimeError):
            result.append(parse_wrk(output or ""))


# The site


def app_config(url: str) -> dict[str, Any]:
    """For preparing data in-process (migrations, publish targets), not for serving."""
    from statuspage.config import database_url_to_sqlalchemy

    return {
        "APP_ENV": "testing",
        "SECRET_KEY": secrets.token_hex(16),
        "SQLALCHEMY_DATABASE_URI": database_url_to_sqlalchemy(url),
    }


@dataclass
class PublishTarget:
    incident_id: int
    component_ids: list[int]
    token: str


def add_publish_target(url: str, *, components: int = 3) -> PublishTarget:
    """An unresolved public incident on a few new components, and an admin API token."""
    from statuspage import create_app
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
        added = [
            add_component(session, name=f"Load test {index}", group_id=None, now=now)
            for index in range(components)
        ]
        incident = open_incident(
            session,
            NewIncident(
                title="Load test incident",
                impact_started_at=now - timedelta(minutes=5),
                component_ids=[c.id for c in added],
            ),
            actor_id=None,
            now=now,
        )
        post_update(
            session,
            incident,
            status=PublicStatus.INVESTIGATING,
            body="We are investigating.",
            component_statuses={c.id: "degraded_performance" for c in added},
            actor_id=None,
            now=now,
        )
        user = create_user(
            session,
            email=f"load-{secrets.token_hex(3)}@example.com",
            password=secrets.token_urlsafe(24),
            role=Role.ADMIN,
        )
        _, token = create_token(session, user, "load test", actor_id=None, now=now)
        session.commit()
        target = PublishTarget(incident.id, [c.id for c in added], token)
        db.engine.dispose()
    return target


@dataclass
class Publishes:
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)


PUBLISH_STATUSES = ("major_outage", "partial_outage")


def publish(port: int, target: PublishTarget, number: int, result: Publishes, *, tag: str) -> str:
    """One update through the write API, moving the target's components; returns its text."""
    body = f"Benchmark update {tag}-{number}: we are working on it."
    payload = {
        "status": "identified",
        "body": body,
        "component_statuses": {str(c): PUBLISH_STATUSES[number % 2] for c in target.component_ids},
    }
    try:
        answer = request(
            port,
            "POST",
            f"/api/v1/incidents/{target.incident_id}/updates",
            body=payload,
            headers={"Authorization": f"Bearer {target.token}"},
            timeout=60,
        )
    except OSError as error:
        result.failures.append(f"publish {number}: {error!r}")
        return body
    if answer.status != 201:
        result.failures.append(f"publish {number}: {answer.status} {answer.body[:200]!r}")
        return body
    result.latencies_ms.append(answer.seconds * 1000)
    result.bodies.append(body)
    return body


def machine_lines() -> list[str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    import gunicorn
    import sqlalchemy

    return [
        f"- CPU: {cpu}, {os.cpu_count()} logical CPUs; memory {memory}; {platform.platform()}",
        f"- Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"gunicorn {gunicorn.__version__}",
    ]


def migrate_and_seed(url: str, incidents: int) -> float:
    """Migrate an empty database and fill it as `flask seed-bench` does; returns seconds."""
    from flask_migrate import upgrade

    from statuspage import create_app
    from statuspage.core.db import utcnow
    from statuspage.extensions import db
    from statuspage.seed.bench import seed_bench

    app = create_app(app_config(url))
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        seed_bench(db.session, incidents=incidents, now=utcnow())
        db.session.commit()
        seconds = time.perf_counter() - started
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        db.engine.dispose()
    return seconds


@contextlib.contextmanager
def postgres_database(admin_url: str, label: str) -> Iterator[str]:
    """A new PostgreSQL database for one run, dropped afterwards."""
    import psycopg

    name = f"statuspage_{label}_{secrets.token_hex(3)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
