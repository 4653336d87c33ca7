"""Tasks that deliver outbox notifications (see `notifications.delivery` for the steps).

- `deliver_notification_task(notification_id)`: enqueued after the commit that wrote the
  notification (`worker.hooks`): expands it into batches, then sends what is due.
  When it wrote more than one batch it enqueues `send_due_batches_task` once, so that a second
  worker thread helps with the sending.
- `send_due_batches_task()`: claims and sends due batches until none is left.
- A run that left a batch to retry (429, 5xx, a timeout) enqueues `send_due_batches_task`
  with a delay until the earliest retry (`DeliveryReport.retry_at`: the time the provider
  asked for, else the backoff), so the retry does not wait for the sweep.
- `delivery_sweep_task`, every minute: expands notifications whose task was lost (a failed
  enqueue, a worker killed mid-way), sends due batches (retries whose time came, batches whose
  worker died and whose lease ran out) and finishes complete notifications. Nothing depends on
  an enqueue arriving.

Each task works in its own database session (never the request's `db.session`), so it can run
in immediate mode from inside a commit hook. Several workers may run all of these at once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from datetime import datetime

from huey import crontab
from sqlalchemy.orm import Session

from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.mail.transports import transport_from_config
from statuspage.notifications.delivery import (
    DeliveryReport,
    DeliverySettings,
    deliver,
    send_due_batches,
)
from statuspage.worker.queue import app_context, branded_config, huey

logger = logging.getLogger(__name__)

# One task run sends at most this many batches, so that the queue's other tasks get a turn;
# the sweeper (or the next task) carries on.
MAX_BATCHES_PER_RUN = 500
# A retry is enqueued at least this far ahead: a provider answering "retry now" again and again
# must not make a worker loop without a pause.
MIN_RETRY_DELAY_SECONDS = 1.0


def run_delivery(
    notification_ids: Iterable[int] | None = None,
    *,
    send_only: bool = False,
    clock: Callable[[], datetime] = utcnow,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Deliver in the task app's context with the configured transport."""
    with app_context() as app:
        # The page's name and sender as staff set them in the app (Admin > Settings).
        settings = DeliverySettings.from_config(branded_config(app))
        transport = transport_from_config(app.config, instance_path=app.instance_path)
        with Session(db.engine, expire_on_commit=False) as session:
            if send_only:
                return send_due_batches(
                    session,
                    transport,
                    settings,
                    clock=clock,
                    rng=rng or random.Random(),
                    report=DeliveryReport(),
                    max_batches=MAX_BATCHES_PER_RUN,
                )
            return deliver(
                session,
                transport,
                settings,
                clock=clock,
                rng=rng,
                notification_ids=notification_ids,
                max_batches=MAX_BATCHES_PER_RUN,
            )


def _log(report: DeliveryReport, what: str) -> None:
    if report:
        logger.info(
            "%s: %d batch(es) written, %d sent (%d recipient(s)), %d to retry, %d failed, "
            "%d notification(s) finished",
            what,
            report.batches_written,
            report.batches_sent,
            report.recipients_sent,
            report.batches_retrying,
            report.batches_failed,
            report.notifications_finished,
        )


def schedule_retry(report: DeliveryReport, *, now: datetime | None = None) -> float | None:
    """Enqueue `send_due_batches_task` for the earliest retry the run scheduled, if any.
    Returns the delay in seconds (None: nothing to retry)."""
    if report.retry_at is None:
        return None
    delay = max(MIN_RETRY_DELAY_SECONDS, (report.retry_at - (now or utcnow())).total_seconds())
    send_due_batches_task.schedule(delay=delay)
    logger.info("Retry of due batches enqueued in %.1f s", delay)
    return delay


@huey.task(name="deliver_notification")
def deliver_notification_task(notification_id: int) -> None:
    report = run_delivery([notification_id])
    _log(report, f"Notification {notification_id}")
    schedule_retry(report)
    if report.batches_written > 1:
        send_due_batches_task()


@huey.task(name="send_due_batches")
def send_due_batches_task() -> None:
    report = run_delivery(send_only=True)
    _log(report, "Due batches")
    schedule_retry(report)


# `expires`: a run that waited in the queue for a minute is dropped, as the next one is due.
@huey.periodic_task(crontab(minute="*"), expires=60, name="delivery_sweep")
def delivery_sweep_task() -> None:
    report = run_delivery()
    _log(report, "Delivery sweep")
    schedule_retry(report)
