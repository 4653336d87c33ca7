"""What a public page costs to render (a cache miss), with a small and a huge history and
with 50 and 200 components.

For each scenario this makes a new database (a SQLite file, or with --database-url-base a
PostgreSQL database it creates and drops), migrates it and seeds it with `statuspage.seed.bench`
(50 components; more are added as copies of those, each with its copy's whole status history).
Then for each page:

- statements: every statement the app sends the database driver for one request, counted at
  the driver (psycopg's cursors and commits, SQLite's trace callback), so connections opened
  outside SQLAlchemy's events (the cache's fast path) count too; on a miss (right after a
  publish) and on a hit;
- size: response bytes, gzip bytes (level 6) and DOM nodes (elements and text);
- latency of renders over real HTTP: one gunicorn (sync workers) per scenario on 127.0.0.1, a
  sequential client with a connection per request, and before EVERY timed request a publish
  (the public version bumped and committed, as the domain does), so each timed request is the
  first after a publish: a cache miss that renders. Scenarios take turns request by request.
  Median and 95th percentile (nearest rank).

Run from the project root:

    .venv/bin/python benchmarks/page_latency.py \\
        --database-url-base postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python benchmarks/page_latency.py --incidents 100 100000 --components 50 200 \\
        --requests 100 --database-url-base postgresql://postgres@127.0.0.1:5432/postgres

Scenarios: every --incidents count with 50 components, and every other --components count
with the largest --incidents count. Seeding 100,000 incidents takes one to three minutes;
each page stops being measured after --page-seconds (all scenarios together).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
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
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import sqlalchemy as sa  # noqa: E402

from statuspage import create_app  # noqa: E402
from statuspage.components.models import Component, ComponentStatusChange  # noqa: E402
from statuspage.config import database_url_to_sqlalchemy, default_settings  # noqa: E402
from statuspage.core.db import utcnow  # noqa: E402
from statuspage.core.records import bump_public_version  # noqa: E402
from statuspage.seed.bench import COMPONENT_COUNT, seed_bench  # noqa: E402

PAGES = ("/", "/history", "/history?page=50")
SECTION_START = "<!-- page-latency:{backend}:start -->"
SECTION_END = "<!-- page-latency:{backend}:end -->"


@dataclass(frozen=True)
class Scenario:
    incidents: int
    components: int

    @property
    def label(self) -> str:
        return f"{self.incidents:,} incidents, {self.components} components"


@dataclass
class PageCount:
    miss_statements: int
    hit_statements: int
    response_bytes: int
    gzip_bytes: int
    dom_nodes: int


@dataclass
class PageResult:
    scenario: Scenario
    page: str
    count: PageCount
    requests: int
    median_ms: float
    p95_ms: float


@dataclass
class SizeResult:
    scenario: Scenario
    seed_seconds: float
    pages: list[PageResult]


# Databases


@contextlib.contextmanager
def sqlite_database(workdir: Path, scenario: Scenario) -> Iterator[str]:
    yield f"sqlite:///{workdir / f'bench-{scenario.incidents}-{scenario.components}.sqlite3'}"


@contextlib.contextmanager
def postgres_database(admin_url: str, scenario: Scenario) -> Iterator[str]:
    import psycopg

    name = f"statuspage_bench_{scenario.incidents}_{scenario.components}_{secrets.token_hex(3)}"
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


def prepare(url: str, scenario: Scenario) -> float:
    """Migrate and seed; returns the seconds seeding took."""
    incidents = scenario.incidents
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
        add_components(db.engine, scenario.components)
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


def add_components(engine: sa.Engine, total: int) -> None:
    """Components past the seed's 50: copies of those in turn, in the same groups, each with
    its original's whole status history, so every bar costs what a seeded one costs."""
    components, changes = Component.__table__, ComponentStatusChange.__table__
    copied = [c for c in components.columns if c.name != "id"]
    history = [c for c in changes.columns if c.name not in ("id", "component_id")]
    with engine.begin() as conn:
        originals = list(conn.scalars(sa.select(components.c.id).order_by(components.c.id)))
        for number in range(len(originals), total):
            source = originals[number % len(originals)]
            values = dict(
                conn.execute(sa.select(*copied).where(components.c.id == source)).one()._mapping
            )
            values["name"] = f"{values['name']} {number // len(originals) + 1}"
            new_id = conn.execute(components.insert().values(**values)).inserted_primary_key[0]
            conn.execute(
                changes.insert().from_select(
                    ["component_id", *(c.name for c in history)],
                    sa.select(sa.literal(new_id), *history).where(changes.c.component_id == source),
                )
            )


# Measuring


class DriverStatements:
    """Every statement sent through the database driver in this process, whoever opened the
    connection: psycopg cursors' execute/executemany and connections' commit/rollback, or
    SQLite's trace callback (which sees BEGIN and COMMIT too)."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.on = False

    def note(self, statement: str) -> None:
        if self.on:
            self.statements.append(statement)

    def install(self) -> None:
        import psycopg

        counter = self

        def wrap(cls: Any, name: str, text: Callable[..., str]) -> None:
            original = getattr(cls, name)

            def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
                counter.note(text(*args))
                return original(self, *args, **kwargs)

            setattr(cls, name, counted)

        wrap(psycopg.Cursor, "execute", lambda query, *_a: str(query))
        wrap(psycopg.Cursor, "executemany", lambda query, *_a: str(query))
        wrap(psycopg.Connection, "commit", lambda *_a: "COMMIT")
        wrap(psycopg.Connection, "rollback", lambda *_a: "ROLLBACK")

        import sqlite3.dbapi2  # what SQLAlchemy's pysqlite dialect connects through

        connect = sqlite3.dbapi2.connect

        def traced(*args: Any, **kwargs: Any) -> Any:
            connection = connect(*args, **kwargs)
            connection.set_trace_callback(counter.note)
            return connection

        sqlite3.connect = sqlite3.dbapi2.connect = traced  # type: ignore[assignment]

    @contextlib.contextmanager
    def counting(self) -> Iterator[list[str]]:
        self.statements = []
        self.on = True
        try:
            yield self.statements
        finally:
            self.on = False


DRIVER = DriverStatements()


class _DomNodes(HTMLParser):
    """Nodes as a browser's DOM has them: elements, text (whitespace too), comments, doctype
    (within a few of Chromium's count on the front page)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.count += 1

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        self.count += 1

    def handle_data(self, data: str) -> None:
        self.count += 1

    def handle_comment(self, data: str) -> None:
        self.count += 1

    def handle_decl(self, decl: str) -> None:
        self.count += 1


def publish(engine: sa.Engine) -> None:
    """What every publish does to the caches: a new public version, committed. A plain
    session, not the app's: no after-commit hooks (snapshot, mail) run in the benchmark."""
    with sa.orm.Session(engine) as session:
        bump_public_version(session, utcnow())
        session.commit()


def count_statements(url: str) -> dict[str, PageCount]:
    """Per page: statements of one request right after a publish (a miss) and of the next
    one (a hit), after a warm-up; and the size of the answer."""
    from statuspage.extensions import db

    app = create_app(app_config(url))
    client = app.test_client()
    with app.app_context():
        engine = db.engine
    counted: dict[str, PageCount] = {}
    for page in PAGES:
        check(client.get(page).status_code, page)
        publish(engine)
        with DRIVER.counting() as miss:
            response = client.get(page)
        check(response.status_code, page)
        with DRIVER.counting() as hit:
            check(client.get(page).status_code, page)
        nodes = _DomNodes()
        nodes.feed(response.get_data(as_text=True))
        nodes.close()
        counted[page] = PageCount(
            miss_statements=len(miss),
            hit_statements=len(hit),
            response_bytes=len(response.data),
            gzip_bytes=len(gzip.compress(response.data, 6)),
            dom_nodes=nodes.count,
        )
    engine.dispose()
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
    servers: dict[Scenario, tuple[int, sa.Engine]],
    page: str,
    *,
    warmup: int,
    requests: int,
    seconds: float,
) -> dict[Scenario, list[float]]:
    """Render latencies of `page` for every scenario, taking turns request by request, each
    request the first after a publish (so a miss that renders, on whichever worker answers).

    Taking turns means that whatever else the machine does during the run slows every
    scenario alike, so the ratios between them stay meaningful even when the absolute
    figures drift.
    """
    for port, engine in servers.values():
        for _ in range(warmup):
            publish(engine)
            check(get(port, page)[0], page)
    timings: dict[Scenario, list[float]] = {scenario: [] for scenario in servers}
    deadline = time.monotonic() + seconds
    for _ in range(requests):
        if time.monotonic() > deadline:
            break
        for scenario, (port, engine) in servers.items():
            publish(engine)
            status, elapsed = get(port, page)
            check(status, page)
            timings[scenario].append(elapsed)
    return timings


def run(
    make_database: Callable[[Scenario], contextlib.AbstractContextManager[str]],
    args: argparse.Namespace,
) -> list[SizeResult]:
    scenarios = [Scenario(n, COMPONENT_COUNT) for n in args.incidents]
    scenarios += [Scenario(max(args.incidents), c) for c in args.components if c != COMPONENT_COUNT]
    with contextlib.ExitStack() as stack:
        urls: dict[Scenario, str] = {}
        seeded: dict[Scenario, float] = {}
        counted: dict[Scenario, dict[str, PageCount]] = {}
        for scenario in scenarios:
            print(scenario.label, file=sys.stderr)
            urls[scenario] = stack.enter_context(make_database(scenario))
            seeded[scenario] = prepare(urls[scenario], scenario)
            counted[scenario] = count_statements(urls[scenario])
        servers: dict[Scenario, tuple[int, sa.Engine]] = {}
        for scenario, url in urls.items():
            engine = sa.create_engine(database_url_to_sqlalchemy(url))
            stack.callback(engine.dispose)
            servers[scenario] = (stack.enter_context(gunicorn(url, args.workers)), engine)
        results = {s: SizeResult(scenario=s, seed_seconds=seeded[s], pages=[]) for s in urls}
        for page in PAGES:
            timings = measure(
                servers,
                page,
                warmup=args.warmup,
                requests=args.requests,
                seconds=args.page_seconds,
            )
            for scenario, values in timings.items():
                count = counted[scenario][page]
                result = PageResult(
                    scenario=scenario,
                    page=page,
                    count=count,
                    requests=len(values),
                    median_ms=statistics.median(values) * 1000,
                    p95_ms=percentile(values, 0.95) * 1000,
                )
                results[scenario].pages.append(result)
                print(
                    f"  GET {page} ({scenario.label}): {result.median_ms:.1f} ms median, "
                    f"{result.p95_ms:.1f} ms p95, {count.miss_statements} statements on a "
                    f"miss, {len(values)} requests",
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
        "Every timed request is the first after a publish (a render); statements are every "
        "statement sent to the driver for one request, on a miss and on a hit.",
        "",
        "| page | incidents | components | statements (miss / hit) | bytes | gzip bytes "
        "| DOM nodes | requests | median ms | p95 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in results:
        for page in size.pages:
            c = page.count
            out.append(
                f"| `{page.page}` | {size.scenario.incidents:,} | {size.scenario.components} "
                f"| {c.miss_statements} / {c.hit_statements} | {c.response_bytes:,} "
                f"| {c.gzip_bytes:,} | {c.dom_nodes:,} | {page.requests} "
                f"| {page.median_ms:.1f} | {page.p95_ms:.1f} |"
            )
    by_scenario = {size.scenario: size for size in results}
    fifty = sorted(
        (s for s in by_scenario if s.components == COMPONENT_COUNT), key=lambda s: s.incidents
    )
    pairs = []
    if len(fifty) >= 2:
        pairs.append((by_scenario[fifty[0]], by_scenario[fifty[-1]]))
    more = sorted(
        (s for s in by_scenario if s.components != COMPONENT_COUNT), key=lambda s: s.components
    )
    if fifty and more:
        pairs.append((by_scenario[fifty[-1]], by_scenario[more[-1]]))
    for small, large in pairs:
        out += [
            "",
            f"{large.scenario.label} over {small.scenario.label}:",
            "",
            "| page | statements on a miss | median | p95 |",
            "|---|---:|---:|---:|",
        ]
        for before, after in zip(small.pages, large.pages, strict=True):
            out.append(
                f"| `{before.page}` | {before.count.miss_statements} → "
                f"{after.count.miss_statements} "
                f"| {after.median_ms / before.median_ms:.2f}× "
                f"| {after.p95_ms / before.p95_ms:.2f}× |"
            )
        extra = large.scenario.components - small.scenario.components
        if extra > 0:
            front = [(b, a) for b, a in zip(small.pages, large.pages, strict=True) if b.page == "/"]
            for before, after in front:
                per_ms = (after.median_ms - before.median_ms) / extra
                per_bytes = (after.count.response_bytes - before.count.response_bytes) / extra
                per_nodes = (after.count.dom_nodes - before.count.dom_nodes) / extra
                out.append(
                    f"\nPer component added (`/`): {per_ms:.2f} ms median, "
                    f"{per_bytes:,.0f} bytes, {per_nodes:.1f} DOM nodes."
                )
    per_page = default_settings(tempfile.gettempdir())["HISTORY_PAGE_SIZE"]
    for size in results:
        last_page = max(1, math.ceil(size.scenario.incidents / per_page))
        if any(p.page.endswith("page=50") for p in size.pages) and last_page < 50:
            out += [
                "",
                f"With {size.scenario.incidents:,} incidents the history has {last_page} pages of "
                f"{per_page}: page 50 is past the end, answers with an empty list and skips the "
                "queries that load the page's rows. It is not the same work as page 50 of a "
                "long history.",
            ]
    out += [
        "",
        "Seeding time: "
        + ", ".join(f"{size.scenario.label} {size.seed_seconds:.0f} s" for size in results)
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
    parser.add_argument(
        "--components",
        type=int,
        nargs="+",
        default=[COMPONENT_COUNT, 200],
        help=f"component counts (at least {COMPONENT_COUNT}), with the largest --incidents",
    )
    parser.add_argument("--requests", type=int, default=100, help="per page and scenario")
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
    DRIVER.install()

    if args.database_url_base:
        backend = "postgresql"

        def make_database(scenario: Scenario) -> contextlib.AbstractContextManager[str]:
            return postgres_database(args.database_url_base, scenario)

        results = run(make_database, args)
    else:
        backend = "sqlite"
        with tempfile.TemporaryDirectory(prefix="statuspage-bench-") as workdir:

            def make_database(scenario: Scenario) -> contextlib.AbstractContextManager[str]:
                return sqlite_database(Path(workdir), scenario)

            results = run(make_database, args)

    report = markdown(results, args, backend)
    print(report)
    if args.write:
        write_section(args.write, backend, report)
        print(f"Wrote the {backend} section of {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
