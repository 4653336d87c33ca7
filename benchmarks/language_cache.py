"""Do readers of other languages change the public cache's hit rate for one language?

The public cache keeps a copy per language (issue 17): a German reader never gets the English
copy. This benchmark checks that the English readers' hit rate is unchanged when readers of
the five other languages arrive at the same time: gunicorn as docs/operations.md says
(`deploy/gunicorn.conf.py`), PostgreSQL and Redis, then rounds taking turns:

- A: wrk loads `/` as English readers (Accept-Language: en);
- B: the same English load, plus a second wrk cycling `/?lang=de|fr|es|ja|ar` and a third
  loading `/` with `Accept-Language: de-DE,de;q=0.9` (the language from the header).

During every round a probe asks `/` as an English reader one request after another and counts
the answers served from the shared copy (`X-Public-Cache: HIT`). Before the rounds it checks
that the German and English answers are each in their own language.

Printed: the English readers' hit rate and throughput in A and B, and the other languages'
throughput. The other languages' requests compete for the same CPU, so B's English throughput
is lower on a small machine; the hit rate is what the cache decides.

    .venv/bin/python benchmarks/language_cache.py
    .venv/bin/python benchmarks/language_cache.py --rounds 3 --seconds 10
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

OTHER_LANGUAGES = ("de", "fr", "es", "ja", "ar")
ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}
GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}


def probe(port: int, stop: threading.Event, counts: dict[str, int]) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError):
            answer = harness.request(port, "GET", "/", headers=ENGLISH, timeout=30)
            key = answer.header("X-Public-Cache") or "none"
            if b'<html lang="en"' not in answer.body:
                key = "WRONG LANGUAGE"
            counts[key] = counts.get(key, 0) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url-base", default="postgresql://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=20)
    args = parser.parse_args()

    import redis

    secret_key = secrets.token_hex(32)
    with (
        tempfile.TemporaryDirectory() as workdir,
        harness.postgres_database(args.database_url_base, "langcache") as url,
    ):
        work = Path(workdir)
        print(f"seeding {args.incidents:,} incidents ...", file=sys.stderr)
        harness.migrate_and_seed(url, args.incidents)
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
            english = harness.request(port, "GET", "/", headers=ENGLISH)
            german = harness.request(port, "GET", "/", headers=GERMAN)
            if b'<html lang="en"' not in english.body:
                raise SystemExit("the English reader's page is not in English")
            if b'<html lang="de"' not in german.body:
                raise SystemExit("the German reader's page is not in German")
            english_script = harness.wrk_script(work / "en.lua", paths=["/"], headers=ENGLISH)
            by_url = harness.wrk_script(
                work / "lang.lua", paths=[f"/?lang={code}" for code in OTHER_LANGUAGES], headers={}
            )
            by_header = harness.wrk_script(work / "de.lua", paths=["/"], headers=GERMAN)
            url_root = f"http://127.0.0.1:{port}"
            results: dict[str, list[tuple[float, float, float]]] = {"A": [], "B": []}
            wrong = 0
            for round_number in range(args.rounds):
                for mode in ("A", "B"):
                    counts: dict[str, int] = {}
                    stop = threading.Event()
                    prober = threading.Thread(target=probe, args=(port, stop, counts))
                    with contextlib.ExitStack() as stack:
                        others: list[list[harness.WrkRun]] = []
                        if mode == "B":
                            for script in (by_url, by_header):
                                others.append(
                                    stack.enter_context(
                                        harness.wrk_until_stopped(
                                            url_root, script=script, threads=1,
                                            connections=max(1, args.connections // 4),
                                        )
                                    )
                                )  # fmt: skip
                        prober.start()
                        run = harness.wrk(
                            url_root,
                            script=english_script,
                            seconds=args.seconds,
                            connections=args.connections,
                        )
                        stop.set()
                        prober.join()
                    total = sum(counts.values())
                    wrong += counts.get("WRONG LANGUAGE", 0)
                    hit_rate = counts.get("HIT", 0) / total if total else 0.0
                    other_rate = sum(result[0].rate for result in others if result)
                    results[mode].append((hit_rate, run.rate, other_rate))
                    print(
                        f"round {round_number + 1} {mode}: English {run.rate:.0f} req/s, "
                        f"probe {counts}, other languages {other_rate:.0f} req/s",
                        file=sys.stderr,
                    )
                    time.sleep(1)

    print("| round | English hit rate | English req/s | other languages req/s |")
    print("|---|---|---|---|")
    for mode, label in (("A", "English only"), ("B", "English + 5 languages")):
        rows = results[mode]
        hit = harness.median([r[0] for r in rows])
        rate = harness.median([r[1] for r in rows])
        other = harness.median([r[2] for r in rows])
        shown = f"{other:.0f}" if mode == "B" else "-"
        print(f"| {label} | {hit:.1%} | {rate:.0f} | {shown} |")
    print(f"English probe answers in another language: {wrong}")
    if wrong:
        raise SystemExit("an English reader got another language's copy")


if __name__ == "__main__":
    main()
