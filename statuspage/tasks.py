"""Background work: the Huey task queue and its tasks.

Where the queue lives:

- `REDIS_URL` (unset): when set, the queue is in Redis (`RedisHuey`), for several machines or
  workers.
- `HUEY_SQLITE_PATH` (`instance/huey.sqlite3`): otherwise the queue is this SQLite file, the
  embedded default that needs no server.
- `HUEY_IMMEDIATE` (off): run each task at once in the caller, in memory (for tests).

Each may also be given as `STATUSPAGE_<NAME>`. They are read from the environment (and `.env`)
when this module is imported, because `huey_consumer statuspage.tasks.huey` imports it before
any Flask app exists. The app itself is created lazily, by the first task that needs it, or
bound by `flask --app app worker`, which runs the consumer in the foreground.

Tasks:

- `sla_check_task`, every minute: `incidents.escalation.check_sla` in an app context, then
  commit.
- `public_automation_task`, every minute: scheduled maintenance that starts or completes by
  itself, and its reminders to subscribers (`incidents.automation`); then the staff reminders
  for "next update by" times that passed without an update (`incidents.updates`). Each part
  commits on its own, so one failing does not hold back the other.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dotenv import load_dotenv
from huey import Huey, RedisHuey, SqliteHuey, crontab

from statuspage import PROJECT_ROOT

if TYPE_CHECKING:
    from flask import Flask

    from statuspage.incidents.automation import MaintenanceAutomationReport
    from statuspage.incidents.escalation import SlaCheckReport

logger = logging.getLogger(__name__)

QUEUE_NAME = "statuspage"
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "instance" / "huey.sqlite3"


def _setting(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name) or environ.get(f"STATUSPAGE_{name}") or "").strip()


def build_huey(environ: Mapping[str, str]) -> Huey:
    """The queue the environment describes: Redis when `REDIS_URL` is set, else SQLite."""
    immediate = _setting(environ, "HUEY_IMMEDIATE").lower() in ("1", "true", "yes", "on")
    redis_url = _setting(environ, "REDIS_URL")
    if redis_url:
        return RedisHuey(QUEUE_NAME, url=redis_url, immediate=immediate)
    path = Path(_setting(environ, "HUEY_SQLITE_PATH") or DEFAULT_SQLITE_PATH)
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(QUEUE_NAME, filename=str(path), immediate=immediate)


load_dotenv(PROJECT_ROOT / ".env", override=False)
huey = build_huey(os.environ)


_app: Flask | None = None
_app_lock = threading.Lock()


def bind_app(app: Flask) -> None:
    """Use this app for tasks run outside an app context (the worker's threads)."""
    global _app
    _app = app


def get_app() -> Flask:
    """The bound app, or one made with `create_app()` the first time a task needs it."""
    global _app
    with _app_lock:
        if _app is None:
            from statuspage import create_app

            _app = create_app()
        return _app


@contextmanager
def app_context() -> Iterator[Flask]:
    """The current app context if there is one (CLI, tests), else the task app's own."""
    from flask import current_app, has_app_context

    if has_app_context():
        yield current_app._get_current_object()  # type: ignore[attr-defined]
        return
    app = get_app()
    with app.app_context():
        yield app


def run_sla_check(*, now: datetime | None = None) -> SlaCheckReport:
    """Check the SLA clocks, escalate breaches and commit, once."""
    from statuspage.core.db import utcnow
    from statuspage.extensions import db
    from statuspage.incidents.escalation import check_sla
    from statuspage.notifications.mail import mailer_from_config

    with app_context() as app:
        mailer = mailer_from_config(app.config, instance_path=app.instance_path)
        try:
            report = check_sla(db.session, now=now or utcnow(), mailer=mailer)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return report


# `expires`: a run that waited in the queue for a minute is dropped, as the next one is due.
@huey.periodic_task(crontab(minute="*"), expires=60, name="sla_check")
def sla_check_task() -> None:
    report = run_sla_check()
    if report.findings or report.failures or report.state_changes:
        logger.info(
            "SLA check: %d incident(s), %d at risk, %d breached, %d email(s) sent, %d failed",
            report.checked,
            report.at_risk,
            report.breached,
            report.emails_sent,
            report.failures,
        )
    # Returns nothing, so Huey stores no result that nobody would read.


def run_public_automation(
    *, now: datetime | None = None
) -> tuple[MaintenanceAutomationReport, int]:
    """Run maintenance automation, then the next-update reminders; commit after each."""
    from statuspage.core.db import utcnow
    from statuspage.extensions import db
    from statuspage.incidents.automation import run_maintenance_automation
    from statuspage.incidents.updates import check_next_updates
    from statuspage.notifications.mail import mailer_from_config

    moment = now or utcnow()
    with app_context() as app:
        try:
            maintenance = run_maintenance_automation(db.session, now=moment)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        mailer = mailer_from_config(app.config, instance_path=app.instance_path)
        try:
            reminded = check_next_updates(db.session, now=moment, mailer=mailer)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return maintenance, reminded


@huey.periodic_task(crontab(minute="*"), expires=60, name="public_automation")
def public_automation_task() -> None:
    maintenance, reminded = run_public_automation()
    if maintenance.total or maintenance.failed or reminded:
        logger.info(
            "Maintenance: %d reminder(s), %d started, %d completed, %d refused; "
            "%d next-update reminder(s)",
            maintenance.reminded,
            maintenance.started,
            maintenance.completed,
            maintenance.failed,
            reminded,
        )


from statuspage.notifications import subscription_tasks  # noqa: E402,F401,I001
from statuspage.notifications import delivery_tasks  # noqa: E402,F401,I001
from statuspage import snapshot_tasks  # noqa: E402,F401,I001
