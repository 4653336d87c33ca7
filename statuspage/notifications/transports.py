"""Ways a composed message leaves the program: a file per message, or SMTP.

A transport has one method, `send(message)`, that delivers or raises. `transport_from_config`
picks one from `MAIL_TRANSPORT` (see `statuspage.notifications.mail` for every setting).
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger(__name__)

TRANSPORTS = ("file", "smtp", "sendgrid")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class MailConfigError(RuntimeError):
    """The mail settings cannot work; the message says what to change."""


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


@dataclass
class FileTransport:
    """Writes each message to `<directory>/<UTC time>-<random>.eml`: development and tests.

    The file is written under a temporary name and renamed, so a reader never sees half a
    message.
    """

    directory: Path

    def send(self, message: EmailMessage) -> None:
        self.write(message)

    def write(self, message: EmailMessage) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(message.as_bytes())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        logger.info("Mail written to %s", path)
        return path


@dataclass
class SmtpTransport:
    """One SMTP connection per message: STARTTLS first (unless turned off), then login.

    `ssl_context` defaults to the system's trust store with hostname checking; tests pass one
    that trusts their own certificate authority.
    """

    host: str
    port: int = 587
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = True
    timeout: float = 10.0
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.username and not self.starttls and self.host not in LOOPBACK_HOSTS:
            raise MailConfigError(
                "MAIL_SMTP_USERNAME is set but MAIL_SMTP_STARTTLS is off: the password would "
                "cross the network in clear text. Turn MAIL_SMTP_STARTTLS on."
            )

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password)
            refused = smtp.send_message(message)
        if refused:
            # Accepted for some recipients: not an error for the whole message, but worth a look.
            logger.warning(
                "SMTP server %s refused %d recipient(s) of %s",
                self.host,
                len(refused),
                message["Message-ID"],
            )


def _flag(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def default_transport_name(config: Mapping[str, Any]) -> str:
    """`file` while developing and testing; `smtp` in production, where a file is mail lost."""
    return "file" if config.get("APP_ENV") in ("development", "testing") else "smtp"


def transport_from_config(config: Mapping[str, Any], *, instance_path: str | Path) -> Transport:
    name = str(config.get("MAIL_TRANSPORT") or default_transport_name(config)).strip().lower()
    if name == "file":
        directory = config.get("MAIL_FILE_DIR") or Path(instance_path) / "mail"
        return FileTransport(Path(directory))
    if name == "smtp":
        try:
            port = int(config.get("MAIL_SMTP_PORT") or 587)
            timeout = float(config.get("MAIL_SMTP_TIMEOUT") or 10)
        except (TypeError, ValueError) as error:
            raise MailConfigError(
                "MAIL_SMTP_PORT and MAIL_SMTP_TIMEOUT must be numbers."
            ) from error
        return SmtpTransport(
            host=str(config.get("MAIL_SMTP_HOST") or "localhost"),
            port=port,
            username=str(config.get("MAIL_SMTP_USERNAME") or ""),
            password=str(config.get("MAIL_SMTP_PASSWORD") or ""),
            starttls=_flag(config.get("MAIL_SMTP_STARTTLS"), True),
            timeout=timeout,
        )
    if name == "sendgrid":
        # Imported here: the SendGrid client is only loaded by sites that use it.
        from statuspage.notifications.sending import (
            SendGridMessageTransport,
            sendgrid_batch_transport,
        )

        return SendGridMessageTransport(sendgrid_batch_transport(config))
    raise MailConfigError(f"MAIL_TRANSPORT must be one of {', '.join(TRANSPORTS)}, not {name!r}.")
