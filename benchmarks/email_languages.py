"""Email in six languages: one incident update to 100,000 confirmed subscribers spread over
the six shipped languages, against the loopback fake SendGrid.

What it measures: the provider requests (each batch holds one language, so the count is the
sum over languages of ceil(subscribers of that language / 1000), at most 6 more than with one
language), the delivery wall time (expand + compose per batch + send, in a fresh process as a
worker would), and that every subscriber was named exactly once, in a request of their own
language, with the translated text for the languages that have one.

Run from the project root:

    .venv/bin/python benchmarks/email_languages.py
    .venv/bin/python benchmarks/email_languages.py --subscribers 100000 --delay 0.05 \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
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

from benchmarks.fanout import SEED_CHUNK, _engine, create_database  # noqa: E402

LANGUAGES = ("en", "de", "fr", "es", "ja", "ar")
# A believable spread: most readers in the default language.
SHARES = {"en": 0.40, "de": 0.20, "fr": 0.15, "es": 0.12, "ja": 0.08, "ar": 0.05}
TRANSLATED = {"de": "Wir untersuchen Fehler.", "fr": "Nous enquêtons sur des erreurs."}


def language_of(index: int, total: int) -> str:
    """Languages interleaved over ids (the walk must group them, not the seeding)."""
    point = (index * 7919 % total) / total
    for code in LANGUAGES:
        point -= SHARES[code]
        if point < 0:
            return code
    return LANGUAGES[-1]


def seed(session: Session, total: int, confirmed: datetime) -> Counter[str]:
    from statuspage.notifications.models import Subscriber

    counts: Counter[str] = Counter()
    for low in range(0, total, SEED_CHUNK):
        rows = []
        for index in range(low, min(total, low + SEED_CHUNK)):
            language = language_of(index, total)
            counts[language] += 1
            rows.append(
                {
                    "email": f"reader{index}@example.com",
                    "all_components": True,
                    "created_at": confirmed,
                    "confirmed_at": confirmed,
                    "imported": False,
                    "suppressed_reason": "",
                    "language": language,
                }
            )
        session.execute(sa.insert(Subscriber), rows)
        session.commit()
    return counts


def run(args: argparse.Namespace) -> dict[str, Any]:
    from statuspage.components.status import add_component
    from statuspage.core.db import utcnow
    from statuspage.incidents.models import PublicStatus
    from statuspage.incidents.operations import NewIncident, open_incident, post_update
    from statuspage.incidents.translations import set_translation
    from tests.fakes.sendgrid_server import FakeSendGrid

    with tempfile.TemporaryDirectory(prefix="email-languages-") as tmp:
        url, cleanup = create_database(args.database_url, Path(tmp))
        try:
            engine = _engine(url)
            confirmed = datetime.now(UTC) - timedelta(days=1)
            with Session(engine) as session:
                component = add_component(session, name="API", group_id=None, now=confirmed)
                incident = open_incident(
                    session,
                    NewIncident(title="Languages benchmark", component_ids=[component.id]),
                    actor_id=None,
                    now=utcnow(),
                )
                session.commit()
                counts = seed(session, args.subscribers, confirmed)
                update = post_update(
                    session,
                    incident,
                    status=PublicStatus.INVESTIGATING,
                    body="We are investigating errors.",
                    component_statuses={component.id: "major_outage"},
                    actor_id=None,
                    now=utcnow(),
                )
                for code, body in TRANSLATED.items():
                    set_translation(
                        session,
                        "update",
                        update.id,
                        code,
                        {"body": body},
                        default_language="en",
                        actor_id=None,
                        now=utcnow(),
                    )
                session.commit()
            engine.dispose()

            with FakeSendGrid(delay=args.delay, keep_bodies=True) as sendgrid:
                child = subprocess.run(
                    [
                        sys.executable,
                        str(PROJECT_ROOT / "benchmarks" / "fanout.py"),
                        "--deliver",
                        url,
                        "--sendgrid-url",
                        sendgrid.url,
                        "--api-key",
                        sendgrid.api_key,
                        "--batch-size",
                        "1000",
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
        finally:
            cleanup()

    expected_language = {
        f"reader{index}@example.com": language_of(index, args.subscribers)
        for index in range(args.subscribers)
    }
    accepted: Counter[str] = Counter()
    mixed = wrong_text = 0
    for request in requests:
        if request.status != 202:
            continue
        accepted.update(request.recipients)
        languages = {expected_language[address] for address in request.recipients}
        mixed += len(languages) > 1
        (language,) = languages if len(languages) == 1 else (None,)
        text = next(c["value"] for c in request.body["content"] if c["type"] == "text/plain")
        wanted = TRANSLATED.get(language or "", "We are investigating errors.")
        wrong_text += wanted not in text
    return {
        "database": "PostgreSQL" if args.database_url else "SQLite",
        "subscribers": args.subscribers,
        "per_language": dict(counts),
        "delay_ms": args.delay * 1000,
        "requests": len(requests),
        "ideal_requests": sum(math.ceil(n / 1000) for n in counts.values()),
        "one_language_requests": -(-args.subscribers // 1000),
        "mixed_language_requests": mixed,
        "requests_with_wrong_text": wrong_text,
        "distinct_recipients": len(accepted),
        "duplicates": sum(count - 1 for count in accepted.values()),
        **figures,
    }


def report(result: dict[str, Any]) -> str:
    spread = ", ".join(f"{code} {n:,}" for code, n in sorted(result["per_language"].items()))
    ok = (
        result["requests"] == result["ideal_requests"]
        and not result["mixed_language_requests"]
        and not result["requests_with_wrong_text"]
        and result["distinct_recipients"] == result["subscribers"]
        and not result["duplicates"]
    )
    return "\n".join(
        [
            f"Email to {result['subscribers']:,} subscribers in six languages ({spread}) on "
            f"{result['database']}, fake SendGrid answering in {result['delay_ms']:.0f} ms "
            f"({platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} CPU):",
            "",
            "| measure | value |",
            "|---|---|",
            f"| requests to SendGrid | {result['requests']} (sum of ceil(n/1000) per language: "
            f"{result['ideal_requests']}; one language would be "
            f"{result['one_language_requests']}) {'✓' if ok else '✗'} |",
            f"| requests mixing languages / with the wrong text | "
            f"{result['mixed_language_requests']} / {result['requests_with_wrong_text']} |",
            f"| recipients accepted, distinct / duplicates | {result['distinct_recipients']:,} / "
            f"{result['duplicates']} |",
            f"| delivery wall time (expand + compose + send) | {result['wall_seconds']:.1f} s |",
            f"| peak RSS of the delivering process | {result['peak_rss_mib']:.0f} MiB |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--delay", type=float, default=0.05, help="fake SendGrid latency (s)")
    parser.add_argument("--database-url", help="a PostgreSQL server (admin URL) to use")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    args = parser.parse_args()
    started = time.perf_counter()
    result = run(args)
    result["total_seconds"] = time.perf_counter() - started
    print(json.dumps(result, indent=2) if args.json else report(result))
    failed = (
        result["duplicates"]
        or result["distinct_recipients"] != args.subscribers
        or result["mixed_language_requests"]
        or result["requests_with_wrong_text"]
        or result["requests"] != result["ideal_requests"]
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
