"""Tasks that deliver outbox notifications to channel subscriptions (webhook, Slack, Teams,
Discord, SMS); the steps are in `notifications.channel_delivery`.

- `deliver_channels_task(notification_id)`: enqueued after the commit that wrote the
  notification (`worker.hooks`), beside the email task and independent of it: a slow
  receiver never holds up an email.
- `send_due_channels_task()`: claims and sends due deliveries (a verification after a
  subscribe, a staff replay, a retry whose time came).
- `channel_sweep_task`, every minute: expands recent notifications whose task was lost and
  sends what is due (including deliveries a killed worker held, once their lease is over).
- `send_channel_disabled_email_task(subscription_id)`: tells the owner their subscription was
  disabled.

A run that left a delivery to retry enqueues `send_due_channels_task` for that moment.
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
from statuspage.mail.mailer import mailer_from_config
from statuspage.notifications.channel_delivery import (
    ChannelReport,
    ChannelSettings,
    expand_and_deliver,
)
from statuspage.notifications.channel_emails import disabled_email
from statuspage.notifications.channels import load_senders
from statuspage.notifications.models import ChannelSubscription
from statuspage.worker.queue import app_context, branded_config, huey

logger = logging.getLogger(__name__)

MAX_DELIVERIES_PER_RUN = 20_000
MIN_RETRY_DELAY_SECONDS = 0.2


def run_channels(
    notification_ids: Iterable[int] | None = None,
    *,
    send_only: bool = False,
    clock: Callable[[], datetime] = utcnow,
    rng: random.Random | None = None,
) -> ChannelReport:
    """Expand (unless `send_only`) and deliver in the task app's context."""
    with app_context() as app:
        settings = ChannelSettings.from_config(branded_config(app))
        engine = db.engine
        report = expand_and_deliver(
            lambda: Session(engine, expire_on_commit=False),
            settings,
            load_senders(),
            clock=clock,
            notification_ids=[] if send_only else notification_ids,
            rng=rng,
            max_deliveries=MAX_DELIVERIES_PER_RUN,
        )
    for subscription_id in report.disabled:
        try:
            send_channel_disabled_email_task(subscription_id)
        except Exception:
            logger.exception("Could not enqueue the disabled email for %d", subscription_id)
    return report


def _after(report: ChannelReport, what: str) -> None:
    logger.info(
        "%s: %d delivered, %d to retry, %d failed, %d gave up, %d disabled",
        what,
        report.delivered,
        report.retrying,
        report.failed,
        report.gave_up,
        len(report.disabled),
    )
    if report.retry_at is not None:
        delay = max(MIN_RETRY_DELAY_SECONDS, (report.retry_at - utcnow()).total_seconds())
        send_due_channels_task.schedule(delay=delay)


@huey.task(name="deliver_channels")
def deliver_channels_task(notification_id: int, *more_ids: int) -> None:
    """The channel deliveries of one commit's notifications (one task, however many)."""
    ids = [notification_id, *more_ids]
    _after(run_channels(ids), "Channels of notification " + ", ".join(str(n) for n in ids))


@huey.task(name="send_due_channels")
def send_due_channels_task() -> None:
    _after(run_channels(send_only=True), "Due channel deliveries")


@huey.periodic_task(crontab(minute="*"), expires=60, name="channel_sweep")
def channel_sweep_task() -> None:
    _after(run_channels(), "Channel sweep")


def send_channel_disabled_email(subscription_id: int) -> bool:
    """Tell the owner (if one was given) that the subscription was disabled."""
    with app_context() as app:
        config = branded_config(app)
        with Session(db.engine) as session:
            subscription = session.get(ChannelSubscription, subscription_id)
            if subscription is None or not subscription.owner_email:
                return False
            email = disabled_email(subscription, site_name=str(config.get("SITE_NAME") or ""))
            mailer = mailer_from_config(config, instance_path=app.instance_path)
            mailer.send(mailer.message(email, to=[subscription.owner_email]))
    return True


@huey.task(retries=3, retry_delay=60, name="send_channel_disabled_email")
def send_channel_disabled_email_task(subscription_id: int) -> None:
    send_channel_disabled_email(subscription_id)
