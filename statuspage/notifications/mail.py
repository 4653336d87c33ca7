"""Composing email and handing it to the configured transport.

`build_message` makes a standard-library `EmailMessage` (plain text, optionally an HTML
alternative). Every header value goes through `header_text` or `format_address`, which remove
CR, LF and other line breaks: text typed by users (an incident title in a subject) can never
start a new header. `Mailer` holds the sender, the site's address for absolute links and the
transport; `mailer_from_config` builds one from the app's settings:

| setting | default | meaning |
|---|---|---|
| `MAIL_FROM` | `status@localhost` | From; `Name <address>` allowed |
| `MAIL_TRANSPORT` | `file` in development and testing, `smtp` in production | `file` or `smtp` |
| `MAIL_FILE_DIR` | `instance/mail` | where the file transport writes `.eml` files |
| `MAIL_SMTP_HOST`, `MAIL_SMTP_PORT` | `localhost`, `587` | the SMTP server |
| `MAIL_SMTP_USERNAME`, `MAIL_SMTP_PASSWORD` | empty | log in when a username is set |
| `MAIL_SMTP_STARTTLS` | `true` | upgrade the connection with STARTTLS before anything else |
| `MAIL_SMTP_TIMEOUT` | `10` | seconds for connecting and for each SMTP command |
| `SITE_URL` | | the base of links in emails |

Sending happens in the worker or a CLI command, never inside a web request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from statuspage.notifications.transports import Transport, transport_from_config

logger = logging.getLogger(__name__)

DEFAULT_SENDER = "status@localhost"

# Everything that could end a header line or confuse a parser: ASCII controls (CR and LF among
# them), DEL, and the Unicode line and paragraph separators that str.splitlines() honours.
_UNSAFE_IN_HEADER = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
# An address part we accept: no whitespace, quoting, comments, brackets or list separators.
_ADDRESS = re.compile(r"[^\s@<>(),;:\"\[\]\\]+@[^\s@<>(),;:\"\[\]\\]+")


class InvalidAddress(ValueError):
    """Not an email address we are willing to put in a header."""


def header_text(value: str) -> str:
    """`value` made safe for one header line: no CR, LF or other control characters.

    A literal `=?` is broken with a zero-width space: otherwise the text could be read as an
    RFC 2047 encoded word, and one that decodes to CR or LF can inject a header on Pythons
    without the fix for CVE-2024-6923."""
    cleaned = " ".join(_UNSAFE_IN_HEADER.sub(" ", value).split())
    return cleaned.replace("=?", "=\u200b?")


def format_address(value: str) -> str:
    """`addr@example.com` or `Name <addr@example.com>`, cleaned, or `InvalidAddress`."""
    found = getaddresses([header_text(value)])
    if len(found) != 1 or not _ADDRESS.fullmatch(found[0][1]):
        raise InvalidAddress("not exactly one usable email address")
    name, address = found[0]
    if not name:
        return address
    try:
        return formataddr((header_text(name), address))
    except UnicodeEncodeError:  # a non-ASCII address part formataddr cannot encode
        raise InvalidAddress("the address has characters email cannot carry") from None


def build_message(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    now: datetime | None = None,
    automatic: bool = False,
) -> EmailMessage:
    """A multipart/alternative message (or plain text alone when there is no HTML).

    `automatic` marks mail a program sent on its own (RFC 3834 `Auto-Submitted`), so that
    vacation responders do not answer it.
    """
    recipients = [format_address(address) for address in to]
    if not recipients:
        raise InvalidAddress("a message needs at least one recipient")
    sender = format_address(sender)
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = header_text(subject)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    if now is not None:
        message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2])
    if automatic:
        message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


class Mailer:
    """The sender, the site's base URL and the transport, bound together from settings."""

    def __init__(self, transport: Transport, *, sender: str, site_url: str) -> None:
        self.transport = transport
        self.sender = format_address(sender)
        self.site_url = site_url.rstrip("/")

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
    """The mailer the app's settings describe (see the table in this module's docstring)."""
    return Mailer(
        transport_from_config(config, instance_path=instance_path),
        sender=config.get("MAIL_FROM") or DEFAULT_SENDER,
        site_url=config.get("SITE_URL") or "",
    )
