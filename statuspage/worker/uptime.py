"""The uptime days of the page's bars, stored ahead of the first render of a day.

- `uptime_days_task`, every 15 minutes (time zones' midnights fall on quarter hours): the
  closed days of every bar on the page, summed and stored where they are not yet
  (`components.uptime_days.store_closed_days`), then commit. A render that finds them missing
  stores them itself, so this only keeps that work off a reader's request.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from huey import crontab

from statuspage.branding.settings import effective_page
from statuspage.components.queries import shown_components
from statuspage.components.uptime_days import store_closed_days
from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.worker.queue import app_context, huey

logger = logging.getLogger(__name__)


def run_uptime_days(*, now: datetime | None = None) -> int:
    """Store the missing closed days of the front page's bars; returns how many bars."""
    with app_context() as app:
        try:
            zone = ZoneInfo(effective_page(db.session, app.config).time_zone)
            ids = [c.id for c in shown_components(db.session) if c.showcase]
            stored = store_closed_days(
                db.session, ids, now=now or utcnow(), days=app.config["UPTIME_DAYS"], zone=zone
            )
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return stored


@huey.periodic_task(crontab(minute="*/15"), expires=900, name="uptime_days")
def uptime_days_task() -> None:
    stored = run_uptime_days()
    if stored:
        logger.info("uptime days: stored the closed days of %d bar(s)", stored)
