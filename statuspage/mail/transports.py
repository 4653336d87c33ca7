"""How composed email leaves the program: SendGrid, SMTP or files, chosen by `MAIL_TRANSPORT`.

Every transport sends *batches* (`send_batch`): one subject, one plain-text and one HTML body,
and up to `max_batch` recipients, each of whom gets a message of their own. A single message
(a subscription confirmation, a staff email) is a batch of one (`send`), so there is one way
to talk to each provider and one set of error rules.

A recipient is one message's addressee: usually one address, or several in the same To for a
staff email to a list (`Recipient.also_to`). A subscriber's recipient carries their own links:
`MANAGE_URL_TOKEN` in both bodies is replaced by their manage link, and the RFC 8058 one-click
headers `List-Unsubscribe: <unsubscribe_url>` and `List-Unsubscribe-Post:
List-Unsubscribe=One-Click` are added.

`send_batch` returns a `BatchResult` or raises `DeliveryError`, which says whether trying again
later can help (`retryable`, with `retry_after` seconds when the provider said when) and how
many leading recipients are finished already (`delivered`), so a retry never sends them twice.

- `sendgrid` (`statuspage.mail.sendgrid`): one v3 Mail Send request per batch; the rules are
  in that module.
- `smtp`: for self-hosters. One connection per batch (STARTTLS first unless turned off, then
  login), one message per recipient. A 5xx answer to one recipient (at RCPT or DATA) refuses
  that recipient for good; they are skipped, counted as finished, and the batch goes on. A 5xx
  to the sender (MAIL FROM) or to the login, an untrusted certificate or a server without
  STARTTLS stops the batch, not retryable. Any 4xx answer, timeout or dropped connection stops
  the batch, retryable. Either way `delivered` is the number of leading recipients finished
  (handed over or refused for good). A message whose DATA was cut off by a dropped connection
  is not counted, so it may arrive twice after a retry, never not at all.
- `file`: the development default. One `.eml` file per message under `MAIL_FILE_DIR` (default
  `instance/mail`), each path logged at INFO, written under a temporary name and renamed so a
  reader never sees half a message.

Recipients whose address cannot go in a header are skipped with a warning (the address is not
logged); `BatchResult.sent` counts the messages handed over. A batch in which every recipient
was skipped or refused fails, not retryable.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from statuspage.mail.message import (
    InvalidAddress,
    build_message,
    header_text,
    masked,
    sender_address,
    sender_domain,
    usable_address,
)

logger = logging.getLogger(__name__)

TRANSPORTS = ("file", "smtp", "sendgrid")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MANAGE_URL_TOKEN = "-manage_url-"  # noqa: S105 - a placeholder, not a secret
ONE_CLICK = "List-Unsubscribe=One-Click"
# Headers of a single message that its batch of one carries over to the provider.
CARRIED_HEADERS = (
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Auto-Submitted",
    "Content-Language",
)
SMTP_MAX_BATCH = 100
FILE_MAX_BATCH = 1000
MAX_REASON_LENGTH = 1000
# A link we put in a header between angle brackets and in HTML unescaped: nothing that could
# end the bracket, the attribute or the line.
_PLAIN_URL = re.compile(r"https?://[^\s<>\"'&\\\x00-\x1f\x7f]+")


class MailConfigError(ValueError):
    """The mail settings cannot work; the message says what to change."""


@dataclass(frozen=True)
class Recipient:
    """One message's addressee and, for a subscriber, their own links (manage, one-click)."""

    email: str
    manage_url: str = ""
    unsubscribe_url: str = ""
    # Further addresses in the same To: a staff email to several people is one message.
    also_to: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("manage_url", "unsubscribe_url"):
            value = getattr(self, name)
            if value and not _PLAIN_URL.fullmatch(value):
                raise ValueError(f"{name} must be a plain http(s) URL")

    @property
    def addresses(self) -> tuple[str, ...]:
        return (self.email, *self.also_to)

    def headers(self) -> dict[str, str]:
        """The one-click unsubscribe headers, for a subscriber."""
        if not self.unsubscribe_url:
            return {}
        return {"List-Unsubscribe": f"<{self.unsubscribe_url}>", "List-Unsubscribe-Post": ONE_CLICK}

    def personal(self, body: str) -> str:
        # The URL holds nothing that needs escaping in HTML (see above), so one replacement
        # serves both parts, as SendGrid's substitution does.
        return body.replace(MANAGE_URL_TOKEN, self.manage_url) if self.manage_url else body


@dataclass(frozen=True)
class OutgoingBatch:
    """One email for up to `max_batch` recipients, each of whom gets a message of their own.

    `headers` go into every message as they are; `message_id` and `date`, when given, are
    those of a single message sent as a batch of one.
    """

    sender: str
    subject: str
    text: str
    html: str | None
    recipients: Sequence[Recipient]
    automatic: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    message_id: str | None = None
    date: datetime | None = None

    @classmethod
    def of_message(cls, message: EmailMessage) -> OutgoingBatch:
        """A composed message as a batch of one: its To addresses together, its headers kept."""
        to = [str(address) for address in message["To"].addresses] if message["To"] else []
        text_part = message.get_body(preferencelist=("plain",))
        html_part = message.get_body(preferencelist=("html",))
        date = message["Date"]
        return cls(
            sender=str(message["From"]),
            subject=str(message["Subject"] or ""),
            text=text_part.get_content() if text_part is not None else "",
            html=html_part.get_content() if html_part is not None else None,
            recipients=[Recipient(email=to[0], also_to=tuple(to[1:]))] if to else [],
            automatic=message["Auto-Submitted"] is not None,
            headers={
                name: header_text(str(message[name]))
                for name in CARRIED_HEADERS
                if message[name] is not None
            },
            message_id=str(message["Message-ID"]) if message["Message-ID"] else None,
            date=getattr(date, "datetime", None),
        )


@dataclass(frozen=True)
class BatchResult:
    message_id: str
    sent: int


class DeliveryError(Exception):
    """A batch not (fully) delivered.

    `retryable`: whether sending the rest later can succeed; `retry_after`: seconds the
    provider asked us to wait, if it said; `status`: the HTTP or SMTP code, if any;
    `delivered`: how many leading recipients are finished and must not be sent again.
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
        delivered: int = 0,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.delivered = delivered

    def __repr__(self) -> str:
        return (
            f"DeliveryError({self.reason!r}, retryable={self.retryable}, "
            f"retry_after={self.retry_after}, status={self.status}, delivered={self.delivered})"
        )


class BatchTransport(Protocol):
    """What delivery needs: batches of at most `max_batch` recipients."""

    max_batch: int

    def send_batch(self, batch: OutgoingBatch) -> BatchResult: ...


class Transport:
    """A transport sends batches; a single message is sent as a batch of one."""

    max_batch: int

    def send_batch(self, batch: OutgoingBatch) -> BatchResult:
        raise NotImplementedError

    def send(self, message: EmailMessage) -> BatchResult:
        """Send one composed message; `DeliveryError` when it was not handed over."""
        return self.send_batch(OutgoingBatch.of_message(message))


def check_size(batch: OutgoingBatch, max_batch: int) -> None:
    """What every transport checks first: the batch's size, and a sender email can carry (a
    sender it cannot is a configuration error, never retried: sending later cannot help)."""
    if not batch.recipients:
        raise ValueError("a batch needs at least one recipient")
    if len(batch.recipients) > max_batch:
        raise ValueError(f"{len(batch.recipients)} recipients; this transport takes {max_batch}")
    try:
        sender_address(batch.sender)
    except InvalidAddress as error:
        raise DeliveryError(
            f"MAIL_FROM cannot be used as the sender: {error}", retryable=False
        ) from None


def nothing_sent(total: int, skipped: int, refused: int = 0) -> DeliveryError:
    return DeliveryError(
        f"none of the {total} recipient(s) could be sent to: {skipped} unusable address(es), "
        f"{refused} refused by the server",
        retryable=False,
        delivered=total,
    )


# --- One message per recipient: SMTP and files -------------------------------------------------


def personal_message(
    batch: OutgoingBatch,
    recipient: Recipient,
    *,
    address: str | Sequence[str],
    message_id: str,
    now: datetime,
) -> EmailMessage:
    """The message `recipient` gets: their address(es) alone in To, their links, the headers."""
    message = build_message(
        sender=batch.sender,
        to=[address] if isinstance(address, str) else list(address),
        subject=batch.subject,
        text=recipient.personal(batch.text),
        html=recipient.personal(batch.html) if batch.html is not None else None,
        now=batch.date or now,
        automatic=batch.automatic,
    )
    message.replace_header("Message-ID", message_id)
    for name, value in (recipient.headers() | dict(batch.headers)).items():
        if message[name] is None:
            message[name] = value
    return message


def _messages(
    batch: OutgoingBatch, batch_id: str
) -> Iterator[tuple[int, EmailMessage | None, str]]:
    """(index, the recipient's message or None when no address is usable, a masked address)."""
    now = datetime.now(UTC)
    domain = sender_domain(batch.sender)
    for index, recipient in enumerate(batch.recipients):
        addresses = [usable_address(address) for address in recipient.addresses]
        usable = [address for address in addresses if address is not None]
        if not usable:
            yield index, None, ""
            continue
        if len(usable) < len(addresses):
            logger.warning("Skipped %d unusable address(es)", len(addresses) - len(usable))
        message_id = (
            batch.message_id
            if batch.message_id and len(batch.recipients) == 1
            else f"<{batch_id}.{index}@{domain}>"
        )
        message = personal_message(batch, recipient, address=usable, message_id=message_id, now=now)
        yield index, message, masked(usable[0])


@dataclass
class SmtpTransport(Transport):
    """One SMTP connection per batch, one message per recipient (rules in the module doc).

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
    max_batch: int = SMTP_MAX_BATCH

    def __post_init__(self) -> None:
        if self.username and not self.starttls and self.host not in LOOPBACK_HOSTS:
            raise MailConfigError(
                "MAIL_SMTP_USERNAME is set but MAIL_SMTP_STARTTLS is off: the password would "
                "cross the network in clear text. Turn MAIL_SMTP_STARTTLS on."
            )

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send_batch(self, batch: OutgoingBatch) -> BatchResult:
        check_size(batch, self.max_batch)
        batch_id = uuid.uuid4().hex
        finished = sent = skipped = refused = 0
        smtp: smtplib.SMTP | None = None
        try:
            smtp = self._connect()
            for index, message, who in _messages(batch, batch_id):
                if message is None:
                    skipped += 1
                else:
                    refusal = _hand_over(smtp, message)
                    if refusal is None:
                        sent += 1
                    else:
                        refused += 1
                        logger.warning("SMTP server refused %s for good: %s", who, refusal)
                finished = index + 1
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(
                f"SMTP login refused: {error.smtp_code} {_answer_text(error.smtp_error)}",
                retryable=error.smtp_code < 500,
                status=error.smtp_code,
                delivered=finished,
            ) from error
        except smtplib.SMTPNotSupportedError as error:
            raise DeliveryError(
                f"SMTP server cannot do what the settings ask: {error}",
                retryable=False,
                delivered=finished,
            ) from error
        except ssl.SSLCertVerificationError as error:
            raise DeliveryError(
                f"the SMTP server's certificate is not trusted: {error}",
                retryable=False,
                delivered=finished,
            ) from error
        except smtplib.SMTPResponseException as error:
            raise _smtp_error(error.smtp_code, error.smtp_error, finished) from error
        except (OSError, smtplib.SMTPException) as error:
            # Connection refused or dropped, timeouts, TLS failures: the server may be back soon.
            raise DeliveryError(
                f"SMTP delivery interrupted after {finished} of {len(batch.recipients)}: "
                f"{type(error).__name__}: {error}",
                retryable=True,
                delivered=finished,
            ) from error
        finally:
            if smtp is not None:
                _close_quietly(smtp)
        if not sent:
            raise nothing_sent(len(batch.recipients), skipped, refused)
        if skipped or refused:
            logger.warning(
                "Batch %s: %d unusable address(es), %d refused by the server",
                batch_id,
                skipped,
                refused,
            )
        logger.info("SMTP server %s accepted %d message(s) of batch %s", self.host, sent, batch_id)
        return BatchResult(message_id=batch_id, sent=sent)


def _hand_over(smtp: smtplib.SMTP, message: EmailMessage) -> str | None:
    """None when the server took the message; its answer when it refused it for good (5xx).

    A temporary refusal (4xx) is raised as an `SMTPResponseException`: the batch stops there.
    """
    try:
        refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        code, answer = next(iter(error.recipients.values()))
        if code < 500:
            raise smtplib.SMTPResponseException(code, answer) from error
        return f"{code} {_answer_text(answer)}"
    except smtplib.SMTPDataError as error:
        if error.smtp_code < 500:
            raise
        return f"{error.smtp_code} {_answer_text(error.smtp_error)}"
    if refused:
        # Accepted for some of the message's addresses (a staff email to several people).
        logger.warning(
            "SMTP server refused %d of the addresses of %s", len(refused), message["Message-ID"]
        )
    return None


def _answer_text(answer: bytes | str) -> str:
    if isinstance(answer, bytes):
        answer = answer.decode("utf-8", "replace")
    return header_text(answer)[:MAX_REASON_LENGTH]


def _smtp_error(code: int, answer: bytes | str, finished: int) -> DeliveryError:
    return DeliveryError(
        f"SMTP server answered {code} {_answer_text(answer)}",
        retryable=code < 500,
        status=code,
        delivered=finished,
    )


def _close_quietly(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


@dataclass
class FileTransport(Transport):
    """One `.eml` file per message: development, and looking at what would be sent."""

    directory: Path
    max_batch: int = FILE_MAX_BATCH

    def write(self, message: EmailMessage) -> Path:
        """`<directory>/<UTC time>-<random>.eml`, written under a temporary name and renamed."""
        directory = Path(self.directory)
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = directory / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
        descriptor, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(message.as_bytes())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        logger.info("Mail written to %s", path)
        return path

    def send_batch(self, batch: OutgoingBatch) -> BatchResult:
        check_size(batch, self.max_batch)
        batch_id = uuid.uuid4().hex
        sent = 0
        for index, message, _who in _messages(batch, batch_id):
            if message is None:
                continue
            try:
                self.write(message)
            except OSError as error:
                raise DeliveryError(
                    f"could not write mail to {self.directory}: {error}",
                    retryable=True,
                    delivered=index,
                ) from error
            sent += 1
        if not sent:
            raise nothing_sent(len(batch.recipients), len(batch.recipients))
        return BatchResult(message_id=batch_id, sent=sent)


# --- Settings ----------------------------------------------------------------------------------


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
    """The transport `MAIL_TRANSPORT` names (see `statuspage.mail` for every setting)."""
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
        from statuspage.mail.sendgrid import sendgrid_transport

        return sendgrid_transport(config)
    raise MailConfigError(f"MAIL_TRANSPORT must be one of {', '.join(TRANSPORTS)}, not {name!r}.")
