"""Public pages under load while staff publish: zero errors, and pages and publishes timed apart.

One bounded run on 127.0.0.1:

1. a new database (a SQLite file under --workdir, or with --database-url-base a PostgreSQL
   database created for the run and dropped after it), migrated and seeded as `flask
   seed-bench` does (--incidents past incidents), plus an unresolved public incident on a few
   components and an API token;
2. gunicorn as in production: `gunicorn -c deploy/gunicorn.conf.py app:app` (the settings
   README and docs/operations.md name), `APP_ENV=production`;
3. wrk loads `/`, `/history`, the incident's page and `/api/v2/summary.json` in turn, while one
   client publishes --publishes updates (at least 200 by default), one every
   --publish-interval seconds, through the write API (`POST /api/v1/incidents/<id>/updates`),
   each moving the components; wrk stops when the last publish is answered;
4. afterwards the incident page must show the last update (no stale page after a publish).

It fails (exit status 1) on any error: a publish not answered 201, a wrk response that is not
2xx/3xx, a socket error, or a stale page. It prints the pages (wrk: p50, p95, max) and the
publishes (p50, p95, max) separately, as a Markdown section.

Run from the project root (needs `wrk`: apt-get install -y wrk):

    .venv/bin/python benchmarks/load_publish.py
    .venv/bin/python benchmarks/load_publish.py --database-url-base \\
        postgresql://postgres@127.0.0.1:5432/postgres

This is a correctness-under-load check on a small database; the production figures (nginx,
Redis, the worker, 100,000 incidents) come from `benchmarks/production.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS.parent))
sys.path.insert(0, str(BENCHMARKS))

from harness import (  # noqa: E402
    PROJECT_ROOT,
    Publishes,
    add_publish_target,
    free_port,
    gunicorn_command,
    machine_lines,
    median,
    migrate_and_seed,
    percentile,
    postgres_database,
    process,
    publish,
    request,
    wait_until_up,
    wrk_script,
    wrk_until_stopped,
)

MINIMUM_PUBLISHES = 200


def run(args: argparse.Namespace, url: str, workdir: Path, backend: str) -> int:
    print(f"Seeding {args.incidents:,} past incidents ({backend})...", file=sys.stderr)
    migrate_and_seed(url, args.incidents)
    target = add_publish_target(url)
    paths = ["/", "/history", f"/incidents/{target.incident_id}", "/api/v2/summary.json"]
    script = wrk_script(workdir / "paths.lua", paths=paths, headers={})
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "HUEY_SQLITE_PATH": str(workdir / "huey.sqlite3"),
        "STATUSPAGE_MAIL_TRANSPORT": "file",
        "STATUSPAGE_MAIL_FILE_DIR": str(workdir / "mail"),
        "GUNICORN_LOG_LEVEL": "warning",
    }
    port = free_port()
    log = workdir / "gunicorn.log"
    result = Publishes()
    command = gunicorn_command("app:app", port)
    stop = signal.SIGQUIT  # gunicorn's quick shutdown: the run is over
    with process(
        command, name="gunicorn", env=env, cwd=PROJECT_ROOT, log=log, stop_signal=stop
    ) as child:
        wait_until_up(child, port, "/api/v2/status.json", name="gunicorn", log=log)
        for path in paths:  # warm up, and check every page answers
            status = request(port, "GET", path).status
            if status != 200:
                raise SystemExit(f"GET {path} answered {status}")
        began = time.monotonic()
        interrupted = False
        with wrk_until_stopped(
            f"http://127.0.0.1:{port}",
            script=script,
            threads=args.wrk_threads,
            connections=args.connections,
        ) as runs:
            last_body = ""
            try:
                for number in range(1, args.publishes + 1):
                    started = time.monotonic()
                    last_body = publish(port, target, number, result, tag="load")
                    if number % 50 == 0:
                        print(f"  {number} publishes", file=sys.stderr)
                    time.sleep(max(0.0, args.publish_interval - (time.monotonic() - started)))
            except KeyboardInterrupt:  # Ctrl-C: stop publishing, still report what was measured
                interrupted = True
        seconds = time.monotonic() - began
        stale = False
        if not interrupted:  # after Ctrl-C the terminal stopped gunicorn too
            page = request(port, "GET", f"/incidents/{target.incident_id}")
            stale = page.status != 200 or last_body.encode() not in page.body
    if not runs:
        raise SystemExit("wrk printed no result")
    pages = runs[0]
    publishes = result.latencies_ms
    errors = pages.errors + len(result.failures) + (1 if stale else 0) + (1 if interrupted else 0)
    verdict = "zero errors" if errors == 0 else f"**{errors} error(s)**"
    workers = 2 * (os.cpu_count() or 1) + 1
    lines = [
        f"### Public pages under load while staff publish ({backend})",
        "",
        f"`benchmarks/load_publish.py {' '.join(sys.argv[1:])}`: gunicorn with "
        f"`deploy/gunicorn.conf.py` ({workers} sync workers), `APP_ENV=production`, "
        f"{args.incidents:,} past incidents. wrk ({args.wrk_threads} threads, "
        f"{args.connections} connections) asks in turn for `/`, `/history`, an unresolved "
        "incident's page and `/api/v2/summary.json` while one client publishes "
        f"{args.publishes} updates to that incident, one every {args.publish_interval:g} s, "
        "each moving its components (which invalidates every cached public page).",
        "",
        "| | count | p50 | p95 | max | errors |",
        "|---|---:|---:|---:|---:|---:|",
        f"| pages (wrk) | {pages.requests:,} in {pages.seconds:.1f} s ({pages.rate:,.0f}/s) | "
        f"{pages.p50_ms:.1f} ms | {pages.p95_ms:.1f} ms | {pages.max_ms:.1f} ms | "
        f"{pages.non_2xx_3xx} not 2xx/3xx, {pages.socket_errors} socket |",
        f"| publishes | {len(publishes)} in {seconds:.1f} s | {median(publishes):.1f} ms | "
        f"{percentile(publishes, 0.95):.1f} ms | {max(publishes, default=float('nan')):.1f} ms | "
        f"{len(result.failures)} failed |",
        "",
        f"The incident page shows the last update afterwards: "
        f"{'not checked' if interrupted else 'no' if stale else 'yes'}. "
        f"Verdict: {verdict}."
        + (f" Stopped by Ctrl-C after {len(publishes)} publishes." if interrupted else ""),
        "",
        *machine_lines(),
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
    parser.add_argument("--publishes", type=int, default=MINIMUM_PUBLISHES)
    parser.add_argument("--publish-interval", type=float, default=0.1)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    if args.publishes < MINIMUM_PUBLISHES:
        print(
            f"note: {args.publishes} publishes; with fewer than {MINIMUM_PUBLISHES} the p95 is "
            "close to the maximum",
            file=sys.stderr,
        )

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="statuspage-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        if args.database_url_base:
            with postgres_database(args.database_url_base, "load") as url:
                status = run(args, url, workdir, "postgresql")
        else:
            url = f"sqlite:///{workdir / 'load.sqlite3'}"
            status = run(args, url, workdir, "sqlite")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
