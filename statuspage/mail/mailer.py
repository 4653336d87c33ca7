"""Single messages: the `Mailer` binds the sender, the site's address and the transport.

Staff emails (SLA escalations, next-update reminders) and subscription emails go through it;
the transport sends each message as a batch of one. Sending happens in the worker or a CLI
command, never inside a web request.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from statuspage.mail.message import build_message, sender_address
from statuspage.mail.templates import ComposedEmail
from statuspage.mail.transports import transport_from_config

logger = logging.getLogger(__name__)

DEFAULT_SENDER = "status@localhost"


class MessageTransport(Protocol):
    def send(self, message: EmailMessage) -> object: ...


class Mailer:
    """The sender, the site's name and base URL and the transport, bound together."""

    def __init__(
        self, transport: MessageTransport, *, sender: str, site_url: str, site_name: str = ""
    ) -> None:
        self.transport = transport
        self.sender = sender_address(sender)
        self.site_url = site_url.rstrip("/")
        self.site_name = site_name

    def url(self, path: str) -> str:
        """An absolute link into the site: email is read far from it."""
        return self.site_url + "/" + path.lstrip("/")

    def compose(
        self,
        *,
        to: Sequence[str],
        subject: str,
        text: str,
        html: str | None = None,
        now: datetime | None = None,
        automatic: bool = False,
    ) -> EmailMessage:
        return build_message(
            sender=self.sender,
            to=to,
            subject=subject,
            text=text,
            html=html,
            now=now,
            automatic=automatic,
        )

    def message(
        self, email: ComposedEmail, *, to: Sequence[str], now: datetime | None = None
    ) -> EmailMessage:
        """A message from a rendered email (`statuspage.mail.templates`), sent by the program."""
        return self.compose(
            to=to, subject=email.subject, text=email.text, html=email.html, now=now, automatic=True
        )

    def send(self, message: EmailMessage) -> None:
        """Hand the message to the transport; its errors propagate to the caller."""
        self.transport.send(message)
        logger.info(
            "Sent mail %s to %d recipient(s) via %s",
            message["Message-ID"],
            len(message["To"].addresses),
            type(self.transport).__name__,
        )


def mailer_from_config(config: Mapping[str, Any], *, instance_path: str | Path) -> Mailer:
    """The mailer the app's settings describe (see `statuspage.mail` for the table)."""
    return Mailer(
        transport_from_config(config, instance_path=instance_path),
        sender=config.get("MAIL_FROM") or DEFAULT_SENDER,
        site_url=config.get("SITE_URL") or "",
        site_name=str(config.get("SITE_NAME") or ""),
    )
