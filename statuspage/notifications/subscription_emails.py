"""The subscription emails (confirm, already subscribed): who gets which, and sending one.

The subscribe view commits, then has the worker send the email (`worker.subscriptions`): the
request does the same work whether the address was new or known, and never waits for a mail
server. `send_subscription_email` reads the subscriber again and skips the email when it no
longer fits (a confirmation for someone confirmed meanwhile, "already subscribed" for someone
who left).

These emails go to one address each, through the single-message `Mailer`. The "already
subscribed" email carries `List-Unsubscribe` and `List-Unsubscribe-Post` (RFC 8058) like every
email to a subscriber; a confirmation request does not, as nobody is subscribed yet.
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy.orm import Session

from statuspage.mail.mailer import Mailer
from statuspage.notifications.compose import compose_subscription_email
from statuspage.notifications.models import Subscriber
from statuspage.notifications.subscriptions import (
    SubscriptionEmail,
    confirm_url,
    confirmation_token,
    manage_token,
    manage_url,
    unsubscribe_url,
)

logger = logging.getLogger(__name__)


def send_subscription_email(
    session: Session,
    subscriber_id: int,
    kind: str,
    *,
    mailer: Mailer,
    secret: str,
    confirm_max_age: int,
    now: datetime,
) -> EmailMessage | None:
    """Compose and send one subscription email; None when it no longer fits.

    Stamps `confirmation_sent_at` after sending a confirmation (flushes, never commits).
    Transport errors propagate, so that the task is retried.
    """
    email_kind = SubscriptionEmail(kind)
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        logger.info("Subscriber %d is gone; no %s email", subscriber_id, email_kind)
        return None
    if email_kind == SubscriptionEmail.CONFIRM and subscriber.active:
        logger.info("Subscriber %d is confirmed already; no confirm email", subscriber_id)
        return None
    if email_kind == SubscriptionEmail.ALREADY and not subscriber.active:
        logger.info("Subscriber %d is not active; no already-subscribed email", subscriber_id)
        return None
    choices = (
        None
        if subscriber.all_components
        else sorted(
            [group.name for group in subscriber.groups]
            + [component.name for component in subscriber.components]
        )
    )
    token = manage_token(secret, subscriber.id)
    if email_kind == SubscriptionEmail.CONFIRM:
        email = compose_subscription_email(
            email_kind,
            site_name=mailer.site_name,
            choices=choices,
            confirm_link=confirm_url(mailer.site_url, confirmation_token(secret, subscriber.id)),
            confirm_days=max(1, confirm_max_age // 86400),
            language=subscriber.language,
        )
    else:
        email = compose_subscription_email(
            email_kind,
            site_name=mailer.site_name,
            choices=choices,
            manage_link=manage_url(mailer.site_url, token),
            language=subscriber.language,
        )
    message = mailer.message(email, to=[subscriber.email], now=now)
    message["Content-Language"] = email.language
    if email_kind == SubscriptionEmail.ALREADY:
        message["List-Unsubscribe"] = f"<{unsubscribe_url(mailer.site_url, token)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mailer.send(message)
    if email_kind == SubscriptionEmail.CONFIRM:
        subscriber.confirmation_sent_at = now
        session.flush()
    logger.info("Subscriber %d: %s email sent", subscriber_id, email_kind)
    return message
