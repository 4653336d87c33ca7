"""Do the public pages cost the same with 100 incidents and with 100,000?

For each history size this makes a new database (a SQLite file, or with --database-url-base a
PostgreSQL database it creates and drops), migrates it and seeds it with `statuspage.seed.bench`.
Then it measures three pages two ways:

- SQL statements per request, counted in-process through the Flask test client;
- latency over real HTTP: one gunicorn (2 sync workers) per size on 127.0.0.1, and a sequential
  client that opens a connection per request. After a warm-up it asks each size in turn for the
  same page, so background load on the machine hits every size alike. Median and 95th
  percentile (nearest rank).

Run from the project root:

    .venv/bin/python benchmarks/page_latency.py
    .venv/bin/python benchmarks/page_latency.py --incidents 100 100000 --requests 200 \\
        --write docs/performance.md
    .venv/bin/python benchmarks/page_latency.py \\
        --database-url-base postgresql://postgres@127.0.0.1:5432/postgres \\
        --write docs/performance.md

Bounded in time: seeding 100,000 incidents takes one to two minutes, and each page stops being
measured after --page-seconds (all sizes together) even if fewer than --requests requests were
sent; the table says how many were.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import math
import os
import platform
import re
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import sqlalchemy as sa  # noqa: E402

from statuspage import create_app  # noqa: E402
from statuspage.config import database_url_to_sqlalchemy, default_settings  # noqa: E402
from statuspage.core.db import utcnow  # noqa: E402
from statuspage.seed.bench import seed_bench  # noqa: E402

PAGES = ("/", "/history", "/history?page=50")
SECTION_START = "<!-- page-latency:{backend}:start -->"
SECTION_END = "<!-- page-latency:{backend}:end -->"


@dataclass
class PageResult:
    incidents: int
    page: str
    statements: int
    response_bytes: int
    requests: int
    median_ms: float
    p95_ms: float


@dataclass
class SizeResult:
    incidents: int
    seed_seconds: float
    pages: list[PageResult]


# Databases


@contextlib.contextmanager
def sqlite_database(workdir: Path, incidents: int) -> Iterator[str]:
    yield f"sqlite:///{workdir / f'bench-{incidents}.sqlite3'}"


@contextlib.contextmanager
def postgres_database(admin_url: str, incidents: int) -> Iterator[str]:
    import psycopg

    name = f"statuspage_bench_{incidents}_{secrets.token_hex(3)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def app_config(url: str) -> dict[str, Any]:
    return {
        "APP_ENV": "testing",
        "SECRET_KEY": secrets.token_hex(16),
        "SQLALCHEMY_DATABASE_URI": database_url_to_sqlalchemy(url),
    }


def prepare(url: str, incidents: int) -> float:
    """Migrate and seed; returns the seconds seeding took."""
    from flask_migrate import upgrade

    from statuspage.extensions import db

    app = create_app(app_config(url))
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        done = 0
        step = max(1, incidents // 10)

        def progress(count: int) -> None:
            nonlocal done
            before, done = done, done + count
            if sys.stderr.isatty():
                print(f"\r  seeding {done:,}/{incidents:,} incidents", end="", file=sys.stderr)
            elif done // step != before // step or done == incidents:
                print(f"  seeding {done:,}/{incidents:,} incidents", file=sys.stderr)

        seed_bench(db.session, incidents=incidents, now=utcnow(), progress=progress)
        db.session.commit()
        seconds = time.perf_counter() - started
        end_of_bar = "\n" if sys.stderr.isatty() else ""
        print(f"{end_of_bar}  seeded in {seconds:.0f} s", file=sys.stderr)
        if db.engine.dialect.name == "postgresql":
            # Autovacuum would gather statistics soon after a load this size; do it now so the
            # planner does not guess on empty statistics during the measurement.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("ANALYZE"))
        db.engine.dispose()
    return seconds


# Measuring


def count_statements(url: str) -> dict[str, tuple[int, int]]:
    """Per page: SQL statements sent by one request (after one warm-up) and response bytes."""
    from statuspage.extensions import db

    app = create_app(app_config(url))
    client = app.test_client()
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    counted: dict[str, tuple[int, int]] = {}
    for page in PAGES:
        check(client.get(page).status_code, page)
        statements.clear()
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            response = client.get(page)
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        check(response.status_code, page)
        counted[page] = (len(statements), len(response.data))
    with app.app_context():
        db.engine.dispose()
    return counted


def check(status: int, page: str) -> None:
    if status != 200:
        raise SystemExit(f"GET {page} answered {status}; the benchmark needs 200.")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def gunicorn(url: str, workers: int) -> Iterator[int]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "app:app",
    ]
    server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                raise SystemExit(f"gunicorn exited with {server.returncode}")
            try:
                get(port, "/healthz-probe")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not answer within 30 s") from None
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def get(port: int, path: str) -> tuple[int, float]:
    """One request on a new connection (gunicorn's sync workers close it anyway)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    return response.status, time.perf_counter() - started


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def measure(
    ports: dict[int, int], page: str, *, warmup: int, requests: int, seconds: float
) -> dict[int, list[float]]:
    """Latencies of `page` for every size, taking turns request by request.

    Taking turns means that whatever else the machine does during the run slows every size
    alike, so the ratio between sizes stays meaningful even when the absolute figures drift.
    """
    for port in ports.values():
        for _ in range(warmup):
            check(get(port, page)[0], page)
    timings: dict[int, list[float]] = {incidents: [] for incidents in ports}
    deadline = time.monotonic() + seconds
    for _ in range(requests):
        if time.monotonic() > deadline:
            break
        for incidents, port in ports.items():
            status, elapsed = get(port, page)
            check(status, page)
            timings[incidents].append(elapsed)
    return timings


def run(
    make_database: Callable[[int], contextlib.AbstractContextManager[str]],
    args: argparse.Namespace,
) -> list[SizeResult]:
    with contextlib.ExitStack() as stack:
        urls: dict[int, str] = {}
        seeded: dict[int, float] = {}
        counted: dict[int, dict[str, tuple[int, int]]] = {}
        for incidents in args.incidents:
            print(f"{incidents:,} incidents", file=sys.stderr)
            urls[incidents] = stack.enter_context(make_database(incidents))
            seeded[incidents] = prepare(urls[incidents], incidents)
            counted[incidents] = count_statements(urls[incidents])
        ports = {n: stack.enter_context(gunicorn(url, args.workers)) for n, url in urls.items()}
        results = {n: SizeResult(incidents=n, seed_seconds=seeded[n], pages=[]) for n in urls}
        for page in PAGES:
            timings = measure(
                ports,
                page,
                warmup=args.warmup,
                requests=args.requests,
                seconds=args.page_seconds,
            )
            for incidents, values in timings.items():
                statements, size = counted[incidents][page]
                result = PageResult(
                    incidents=incidents,
                    page=page,
                    statements=statements,
                    response_bytes=size,
                    requests=len(values),
                    median_ms=statistics.median(values) * 1000,
                    p95_ms=percentile(values, 0.95) * 1000,
                )
                results[incidents].pages.append(result)
                print(
                    f"  GET {page} with {incidents:,} incidents: {result.median_ms:.1f} ms "
                    f"median, {result.p95_ms:.1f} ms p95, {statements} statements, "
                    f"{len(values)} requests",
                    file=sys.stderr,
                )
    return list(results.values())


# Reporting


def machine(backend: str, admin_url: str | None) -> list[str]:
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
    import gunicorn as gunicorn_package

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    lines = [
        f"- CPU: {cpu}, {os.cpu_count()} logical CPUs (`nproc`)",
        f"- Memory: {memory}",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()}, SQLAlchemy {sa.__version__}, "
        f"gunicorn {gunicorn_package.__version__}",
        f"- Load average when the run ended (1, 5, 15 min): {load}",
    ]
    if backend == "sqlite":
        lines.append(f"- SQLite {sqlite3.sqlite_version}, database file in {tempfile.gettempdir()}")
    elif admin_url is not None:
        import psycopg

        with psycopg.connect(admin_url) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        version = row[0] if row else "unknown"
        lines.append(f"- PostgreSQL {version} on the same machine, reached over TCP on 127.0.0.1")
    return lines


def markdown(results: list[SizeResult], args: argparse.Namespace, backend: str) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        f"Measured {when} with `{' '.join(['benchmarks/page_latency.py', *sys.argv[1:]])}`.",
        "",
        *machine(backend, args.database_url_base),
        "",
        "| page | incidents | SQL statements | response bytes | requests | median ms | p95 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size in results:
        for page in size.pages:
            out.append(
                f"| `{page.page}` | {page.incidents:,} | {page.statements} "
                f"| {page.response_bytes:,} | {page.requests} "
                f"| {page.median_ms:.1f} | {page.p95_ms:.1f} |"
            )
    if len(results) >= 2:
        small, large = results[0], results[-1]
        out += [
            "",
            f"Largest over smallest ({large.incidents:,} / {small.incidents:,} incidents):",
            "",
            "| page | SQL statements | median | p95 |",
            "|---|---:|---:|---:|",
        ]
        for before, after in zip(small.pages, large.pages, strict=True):
            out.append(
                f"| `{before.page}` | {before.statements} → {after.statements} "
                f"| {after.median_ms / before.median_ms:.1f}× "
                f"| {after.p95_ms / before.p95_ms:.1f}× |"
            )
    per_page = default_settings(tempfile.gettempdir())["HISTORY_PAGE_SIZE"]
    for size in results:
        last_page = max(1, math.ceil(size.incidents / per_page))
        if any(p.page.endswith("page=50") for p in size.pages) and last_page < 50:
            out += [
                "",
                f"With {size.incidents:,} incidents the history has {last_page} pages of "
                f"{per_page}: page 50 is past the end, answers with an empty list and skips the "
                "queries that load the page's rows. It is not the same work as page 50 of a "
                "long history.",
            ]
    out += [
        "",
        "Seeding time: "
        + ", ".join(f"{size.incidents:,} incidents {size.seed_seconds:.0f} s" for size in results)
        + ".",
    ]
    return "\n".join(out)


def write_section(path: Path, backend: str, body: str) -> None:
    start = SECTION_START.format(backend=backend)
    end = SECTION_END.format(backend=backend)
    block = f"{start}\n{body}\n{end}"
    text = path.read_text() if path.exists() else "# Performance\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _match: block, text)
    else:
        text = text.rstrip("\n") + f"\n\n## Page latency ({backend})\n\n{block}\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, nargs="+", default=[100, 100_000])
    parser.add_argument("--requests", type=int, default=200, help="per page and size")
    parser.add_argument("--warmup", type=int, default=5, help="requests per page, not timed")
    parser.add_argument(
        "--page-seconds",
        type=float,
        default=45.0,
        help="stop measuring a page after this long (all sizes together), whatever --requests says",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--database-url-base",
        "--database-url",
        help="admin URL of a PostgreSQL server (e.g. postgresql://postgres@127.0.0.1:5432/"
        "postgres); one database per size is created there and dropped. Default: SQLite files.",
    )
    parser.add_argument("--write", type=Path, help="replace this benchmark's section in a file")
    args = parser.parse_args()

    if args.database_url_base:
        backend = "postgresql"

        def make_database(incidents: int) -> contextlib.AbstractContextManager[str]:
            return postgres_database(args.database_url_base, incidents)

        results = run(make_database, args)
    else:
        backend = "sqlite"
        with tempfile.TemporaryDirectory(prefix="statuspage-bench-") as workdir:

            def make_database(incidents: int) -> contextlib.AbstractContextManager[str]:
                return sqlite_database(Path(workdir), incidents)

            results = run(make_database, args)

    report = markdown(results, args, backend)
    print(report)
    if args.write:
        write_section(args.write, backend, report)
        print(f"Wrote the {backend} section of {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
