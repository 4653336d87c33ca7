"""The task that emails a reader their sign-in link (see `public.sign_in`).

The page queues this for every address it accepts; the task alone decides whether an audience
allows the address, so the page answers alike for all. The link's secret exists only in this
task and in the email: the database keeps its SHA-256.
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.message import EmailMessage

from statuspage.audiences import manage
from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.mail.mailer import mailer_from_config
from statuspage.mail.templates import render_email
from statuspage.worker.queue import app_context, branded_config, huey

logger = logging.getLogger(__name__)


def send_reader_link(email: str, *, now: datetime | None = None) -> EmailMessage | None:
    """Make and send a sign-in link when an audience allows `email`; None when none does."""
    with app_context() as app:
        config = branded_config(app)
        max_age = int(config.get("READER_LINK_MAX_AGE") or 900)
        try:
            secret = manage.issue_sign_in_token(
                db.session, email, now=now or utcnow(), max_age=max_age
            )
            if secret is None:
                db.session.rollback()
                logger.info("Reader sign-in: no audience allows the address; no email")
                return None
            mailer = mailer_from_config(config, instance_path=app.instance_path)
            composed = render_email(
                "reader_sign_in",
                f"Your sign-in link for {mailer.site_name}",
                {
                    "site_name": mailer.site_name,
                    "link": mailer.url(f"/sign-in/{secret}"),
                    "minutes": max(1, max_age // 60),
                },
            )
            message = mailer.message(composed, to=[email])
            db.session.commit()  # the link works only once it is stored
            mailer.send(message)
        except BaseException:
            db.session.rollback()
            raise
    return message


@huey.task(retries=2, retry_delay=30, name="send_reader_link")
def send_reader_link_task(email: str) -> None:
    send_reader_link(email)
