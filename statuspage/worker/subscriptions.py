"""The task that sends subscription emails (see `notifications.subscription_emails`).

The subscribe view and the subscriber import commit, then enqueue
`send_subscription_email_task(subscriber_id, kind)`; the page never waits for a mail server.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage

from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.mail.mailer import mailer_from_config
from statuspage.notifications import subscription_emails
from statuspage.notifications.subscriptions import DEFAULT_CONFIRM_MAX_AGE
from statuspage.worker.queue import app_context, branded_config, huey


def send_subscription_email(
    subscriber_id: int, kind: str, *, now: datetime | None = None
) -> EmailMessage | None:
    """Send one subscription email in the task app's context and commit; None if skipped.

    Transport errors propagate, so that the task is retried.
    """
    with app_context() as app:
        config = branded_config(app)
        try:
            message = subscription_emails.send_subscription_email(
                db.session,
                subscriber_id,
                kind,
                mailer=mailer_from_config(config, instance_path=app.instance_path),
                secret=config["SECRET_KEY"],
                confirm_max_age=int(
                    config.get("SUBSCRIPTION_CONFIRM_MAX_AGE") or DEFAULT_CONFIRM_MAX_AGE
                ),
                now=now or utcnow(),
            )
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return message


# Retries: a mail server that is down for a moment should not cost anyone their confirmation.
@huey.task(retries=3, retry_delay=60, name="send_subscription_email")
def send_subscription_email_task(subscriber_id: int, kind: str) -> None:
    send_subscription_email(subscriber_id, kind)
