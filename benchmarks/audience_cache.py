"""Do signed-in audience members change the public cache? Its hit rate under load, with and
without members reading at the same time.

Members' pages carry what the public must not see, so their requests never read or fill the
shared cache: each one renders. This benchmark checks that the public's cached copy is not
disturbed by them: gunicorn as docs/operations.md says (`deploy/gunicorn.conf.py`), PostgreSQL
and Redis, a page with one audience and a private component, then rounds taking turns:

- A: wrk loads `/` as the public;
- B: the same wrk load as the public, and a second wrk loading `/` as a signed-in member.

During every round a probe asks `/` as the public one request after another and counts the
answers served from the shared copy (`X-Public-Cache: HIT`). It also checks, before the
rounds, that the public's `/` does not name the private component and the member's does.

Printed: the public's hit rate and its throughput in A and B, and the members' throughput.
Members' renders compete with the public's hits for the same CPU, so B's public throughput is
lower on a small machine; the hit rate is what the cache decides.

    .venv/bin/python benchmarks/audience_cache.py
    .venv/bin/python benchmarks/audience_cache.py --rounds 3 --seconds 10
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
PROJECT_ROOT = BENCHMARKS.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(BENCHMARKS))

import harness  # noqa: E402

PRIVATE_COMPONENT = "Dedicated cluster (bench)"


def prepare(url: str, secret_key: str) -> str:
    """An audience with a private component; returns a member's Cookie header."""
    from flask import session

    from statuspage import create_app
    from statuspage.audiences import manage
    from statuspage.components.manage import ComponentFields, create_component
    from statuspage.core.db import utcnow
    from statuspage.extensions import db
    from statuspage.public.readers import HINT_COOKIE, hint_value, sign_in_reader

    app = create_app({**harness.app_config(url), "SECRET_KEY": secret_key})
    with app.app_context():
        audience = manage.create_audience(
            db.session,
            manage.AudienceFields(name="Enterprise", allowed_domains=["enterprise.example"]),
            actor_id=None,
            now=utcnow(),
        )
        create_component(
            db.session,
            ComponentFields(name=PRIVATE_COMPONENT, is_public=False, audience_ids=[audience.id]),
            actor_id=None,
            now=utcnow(),
        )
        db.session.commit()
        with app.test_request_context("/"):
            sign_in_reader(
                email="reader@enterprise.example", audience_ids=[audience.id], via="email"
            )
            signed = app.session_interface.get_signing_serializer(app).dumps(dict(session))
            # The session, and the signed hint the cache's layer reads before Flask does.
            cookie = f"session={signed}; {HINT_COOKIE}={hint_value(app)}"
        db.engine.dispose()
    return cookie


def probe(port: int, stop: threading.Event, counts: dict[str, int]) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError):
            answer = harness.request(port, "GET", "/", timeout=30)
            key = answer.header("X-Public-Cache") or "none"
            counts[key] = counts.get(key, 0) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url-base", default="postgresql://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=20)
    args = parser.parse_args()

    import redis

    secret_key = secrets.token_hex(32)
    with (
        tempfile.TemporaryDirectory() as workdir,
        harness.postgres_database(args.database_url_base, "audcache") as url,
    ):
        work = Path(workdir)
        print(f"seeding {args.incidents:,} incidents ...", file=sys.stderr)
        harness.migrate_and_seed(url, args.incidents)
        cookie = prepare(url, secret_key)
        redis.Redis.from_url(args.redis_url).flushdb()
        port = harness.free_port()
        env = {
            **os.environ,
            "APP_ENV": "production",
            "SECRET_KEY": secret_key,
            "DATABASE_URL": url,
            "REDIS_URL": args.redis_url,
            "SITE_URL": f"http://127.0.0.1:{port}",
            "STATUSPAGE_MAIL_TRANSPORT": "file",
            "STATUSPAGE_MAIL_FILE_DIR": str(work / "mail"),
            "GUNICORN_LOG_LEVEL": "warning",
        }
        log = work / "gunicorn.log"
        with harness.process(
            harness.gunicorn_command("app:app", port), name="gunicorn", env=env,
            cwd=PROJECT_ROOT, log=log,
        ) as child:  # fmt: skip
            harness.wait_until_up(child, port, "/", name="gunicorn", log=log)
            public = harness.request(port, "GET", "/")
            member = harness.request(port, "GET", "/", headers={"Cookie": cookie})
            if PRIVATE_COMPONENT.encode() in public.body:
                raise SystemExit("the public's page names the private component")
            if PRIVATE_COMPONENT.encode() not in member.body:
                raise SystemExit("the member's page does not show the private component")
            print(
                f"member page: Cache-Control {member.header('Cache-Control')!r}, "
                f"X-Public-Cache {member.header('X-Public-Cache') or 'absent'!r}",
                file=sys.stderr,
            )
            public_script = harness.wrk_script(work / "public.lua", paths=["/"], headers={})
            member_script = harness.wrk_script(
                work / "member.lua", paths=["/"], headers={"Cookie": cookie}
            )
            url_root = f"http://127.0.0.1:{port}"
            results: dict[str, list[tuple[float, float, float]]] = {"A": [], "B": []}
            for round_number in range(args.rounds):
                for mode in ("A", "B"):
                    counts: dict[str, int] = {}
                    stop = threading.Event()
                    prober = threading.Thread(target=probe, args=(port, stop, counts))
                    with contextlib.ExitStack() as stack:
                        members = None
                        if mode == "B":
                            members = stack.enter_context(
                                harness.wrk_until_stopped(
                                    url_root, script=member_script, threads=1,
                                    connections=max(1, args.connections // 2),
                                )
                            )  # fmt: skip
                        prober.start()
                        run = harness.wrk(
                            url_root,
                            script=public_script,
                            seconds=args.seconds,
                            connections=args.connections,
                        )
                        stop.set()
                        prober.join()
                    total = sum(counts.values())
                    hit_rate = counts.get("HIT", 0) / total if total else 0.0
                    member_rate = members[0].rate if members else 0.0
                    results[mode].append((hit_rate, run.rate, member_rate))
                    print(
                        f"round {round_number + 1} {mode}: public {run.rate:.0f} req/s, "
                        f"probe {counts}, members {member_rate:.0f} req/s",
                        file=sys.stderr,
                    )
                    time.sleep(1)

    print("| round | public hit rate | public req/s | members req/s (signed in, uncached) |")
    print("|---|---|---|---|")
    for mode, label in (("A", "public only"), ("B", "public + members")):
        rows = results[mode]
        hit = harness.median([r[0] for r in rows])
        rate = harness.median([r[1] for r in rows])
        member_rate = harness.median([r[2] for r in rows])
        members = f"{member_rate:.0f}" if mode == "B" else "-"
        print(f"| {label} | {hit:.1%} | {rate:.0f} | {members} |")


if __name__ == "__main__":
    main()
