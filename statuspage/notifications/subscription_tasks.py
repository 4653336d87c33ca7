"""Sending the subscription emails (confirm, already subscribed), in the worker.

The subscribe view commits, then enqueues `send_subscription_email_task(subscriber_id, kind)`:
the request does the same work whether the address was new or known, and never waits for a
mail server. The task reads the subscriber again and skips the email when it no longer fits
(a confirmation for someone confirmed meanwhile, "already subscribed" for someone who left).

These emails go to one address each, through the single-message `Mailer` (`MAIL_TRANSPORT`).
The "already subscribed" email carries `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC
8058) like every email to a subscriber; a confirmation request does not, as nobody is
subscribed yet.
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from statuspage.notifications.subscriptions import (
    DEFAULT_CONFIRM_MAX_AGE,
    SubscriptionEmail,
    confirm_url,
    confirmation_token,
    manage_token,
    manage_url,
    unsubscribe_url,
)
from statuspage.tasks import app_context, huey

logger = logging.getLogger(__name__)


def compose_subscription_email(
    kind: SubscriptionEmail,
    *,
    site_name: str,
    choices: list[str] | None,
    confirm_link: str | None = None,
    manage_link: str | None = None,
    confirm_days: int = 7,
) -> tuple[str, str, str]:
    """(subject, text, html) for a confirmation or "already subscribed" email."""
    from statuspage.notifications.compose import environment

    context: dict[str, Any] = {
        "site_name": site_name,
        "choices": choices,  # None: all components
        "confirm_url": confirm_link,
        "manage_url": manage_link,
        "confirm_days": confirm_days,
    }
    name = "confirm_subscription" if kind == SubscriptionEmail.CONFIRM else "already_subscribed"
    env = environment()
    text = env.get_template(f"{name}.txt").render(context)
    html = env.get_template(f"{name}.html").render(context)
    if kind == SubscriptionEmail.CONFIRM:
        subject = f"Confirm your subscription to {site_name}"
    else:
        subject = f"You are already subscribed to {site_name}"
    return subject, text, html


def send_subscription_email(
    subscriber_id: int, kind: str, *, now: datetime | None = None
) -> EmailMessage | None:
    """Compose and send one subscription email; commit `confirmation_sent_at`. None if skipped.

    Transport errors propagate, so that the task is retried.
    """
    from statuspage.core.db import utcnow
    from statuspage.extensions import db
    from statuspage.notifications.mail import mailer_from_config
    from statuspage.notifications.models import Subscriber

    email_kind = SubscriptionEmail(kind)
    moment = now or utcnow()
    with app_context() as app:
        config = app.config
        subscriber = db.session.get(Subscriber, subscriber_id)
        if subscriber is None:
            logger.info("Subscriber %d is gone; no %s email", subscriber_id, email_kind)
            return None
        if email_kind == SubscriptionEmail.CONFIRM and subscriber.active:
            logger.info("Subscriber %d is confirmed already; no confirm email", subscriber_id)
            return None
        if email_kind == SubscriptionEmail.ALREADY and not subscriber.active:
            logger.info("Subscriber %d is not active; no already-subscribed email", subscriber_id)
            return None
        secret = config["SECRET_KEY"]
        site_url = str(config.get("SITE_URL") or "")
        site_name = str(config.get("SITE_NAME") or "")
        choices = (
            None
            if subscriber.all_components
            else sorted(
                [group.name for group in subscriber.groups]
                + [component.name for component in subscriber.components]
            )
        )
        mailer = mailer_from_config(config, instance_path=app.instance_path)
        max_age = int(config.get("SUBSCRIPTION_CONFIRM_MAX_AGE") or DEFAULT_CONFIRM_MAX_AGE)
        token = manage_token(secret, subscriber.id)
        if email_kind == SubscriptionEmail.CONFIRM:
            subject, text, html = compose_subscription_email(
                email_kind,
                site_name=site_name,
                choices=choices,
                confirm_link=confirm_url(site_url, confirmation_token(secret, subscriber.id)),
                confirm_days=max(1, max_age // 86400),
            )
        else:
            subject, text, html = compose_subscription_email(
                email_kind,
                site_name=site_name,
                choices=choices,
                manage_link=manage_url(site_url, token),
            )
        message = mailer.compose(
            to=[subscriber.email], subject=subject, text=text, html=html, now=moment, automatic=True
        )
        if email_kind == SubscriptionEmail.ALREADY:
            message["List-Unsubscribe"] = f"<{unsubscribe_url(site_url, token)}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        try:
            mailer.send(message)
            if email_kind == SubscriptionEmail.CONFIRM:
                subscriber.confirmation_sent_at = moment
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        logger.info("Subscriber %d: %s email sent", subscriber_id, email_kind)
        return message


# Retries: a mail server that is down for a moment should not cost anyone their confirmation.
@huey.task(retries=3, retry_delay=60, name="send_subscription_email")
def send_subscription_email_task(subscriber_id: int, kind: str) -> None:
    send_subscription_email(subscriber_id, kind)
