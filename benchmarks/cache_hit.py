"""What does the public cache save? Hits against misses, in-process (no HTTP server, no wrk).

Makes a SQLite file (or, with --database-url-base, a PostgreSQL database it creates and
drops), migrates it, seeds it with `statuspage.seed.bench` and then asks each page through the
Flask test client, one request at a time:

- miss: the stored copies are dropped before every request, so the view renders each time
  (the same work as without a cache, plus the version lookup);
- hit: the copy is served (one SQL statement, no view);
- 304: a hit whose If-None-Match matches (no body).

Median and 95th percentile in milliseconds, and SQL statements per request. The test client
skips the network and the WSGI server, so these are the app's own costs; `production.py`
measures over HTTP with wrk and nginx.

    .venv/bin/python benchmarks/cache_hit.py
    .venv/bin/python benchmarks/cache_hit.py --incidents 1000 --requests 300
    .venv/bin/python benchmarks/cache_hit.py \\
        --database-url-base postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import sqlalchemy as sa  # noqa: E402

from statuspage import create_app  # noqa: E402
from statuspage.config import database_url_to_sqlalchemy  # noqa: E402
from statuspage.core.db import utcnow  # noqa: E402
from statuspage.seed.bench import RECENT_INCIDENTS, seed_bench  # noqa: E402

PAGES = ("/", "/history", "/history.atom", "/api/v2/summary.json", "/badge.svg")


@contextlib.contextmanager
def database(base: str | None, workdir: Path) -> Iterator[str]:
    if base is None:
        yield f"sqlite:///{workdir / 'cache-bench.sqlite3'}"
        return
    import psycopg

    name = f"statuspage_cache_bench_{secrets.token_hex(3)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_app(url: str) -> Any:
    return create_app(
        {
            "APP_ENV": "testing",
            "SECRET_KEY": secrets.token_hex(16),
            "SQLALCHEMY_DATABASE_URI": database_url_to_sqlalchemy(url),
            "PUBLIC_CACHE_STORAGE": "memory",
        }
    )


def prepare(url: str, incidents: int) -> None:
    from flask_migrate import upgrade

    from statuspage.extensions import db

    app = make_app(url)
    with app.app_context():
        upgrade()
        seed_bench(db.session, incidents=incidents, now=utcnow())
        db.session.commit()
        db.engine.dispose()


def timed(action: Callable[[], Any], requests: int, before: Callable[[], None]) -> list[float]:
    times = []
    for _ in range(requests):
        before()
        started = time.perf_counter()
        response = action()
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code not in (200, 304):
            raise SystemExit(f"unexpected {response.status_code}")
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=max(RECENT_INCIDENTS, 200))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url-base", default=None)
    args = parser.parse_args()

    from statuspage.extensions import db
    from statuspage.public.cache import public_cache

    with (
        tempfile.TemporaryDirectory() as workdir,
        database(args.database_url_base, Path(workdir)) as url,
    ):
        print(f"seeding {args.incidents} incidents ...", file=sys.stderr)
        prepare(url, args.incidents)
        app = make_app(url)
        client = app.test_client()
        store = public_cache(app).store
        with app.app_context():
            engine = db.engine
        statements: list[str] = []
        sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

        def count(action: Callable[[], Any]) -> int:
            statements.clear()
            action()
            return len(statements)

        print("| page | miss ms (median / p95) | hit ms | 304 ms | statements miss / hit |")
        print("|---|---|---|---|---|")
        for page in PAGES:
            etag = client.get(page).headers["ETag"]
            miss = timed(lambda: client.get(page), args.requests, store.clear)  # noqa: B023
            miss_statements = count(lambda: (store.clear(), client.get(page)))  # noqa: B023
            client.get(page)
            hit = timed(lambda: client.get(page), args.requests, lambda: None)  # noqa: B023
            hit_statements = count(lambda: client.get(page))  # noqa: B023
            headers = {"If-None-Match": etag}
            not_modified = timed(
                lambda: client.get(page, headers=headers),  # noqa: B023
                args.requests,
                lambda: None,
            )
            print(
                f"| `{page}` | {statistics.median(miss):.2f} / {p95(miss):.2f} "
                f"| {statistics.median(hit):.2f} / {p95(hit):.2f} "
                f"| {statistics.median(not_modified):.2f} / {p95(not_modified):.2f} "
                f"| {miss_statements} / {hit_statements} |"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
