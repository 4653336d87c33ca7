"""Sending one notification to many subscribers: the batch transports.

The worker hands a transport an `OutgoingBatch`: one subject, one plain-text and one HTML body,
and up to `max_batch` recipients. Every recipient gets a message of their own (two subscribers
never share a To), with `MANAGE_URL_TOKEN` in both bodies replaced by their manage link, and the
RFC 8058 one-click headers `List-Unsubscribe: <unsubscribe_url>` and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`.

`send_batch` returns a `BatchResult` or raises `DeliveryError`, which says whether trying again
later can help (`retryable`, with `retry_after` seconds when the provider said when) and how
many leading recipients are finished already (`delivered`), so a retry never sends them twice.

Transports, chosen by `MAIL_TRANSPORT` in `batch_transport_from_config`:

- `sendgrid`: one v3 Mail Send request per batch (at most 1000 personalizations, one per
  recipient, each with its own substitution and headers) through the official `sendgrid`
  client, with an explicit timeout (`SENDGRID_TIMEOUT`, the client has none of its own).
  SendGrid's click, open and subscription tracking are turned off: they would rewrite our
  links and add an unsubscribe header of their own. 429 (wait for `X-RateLimit-Reset`), 5xx,
  timeouts and refused connections are retryable; 400, 401, 403 and 413 are not, and carry
  SendGrid's own error message. SendGrid accepts a request as a whole or not at all, so
  `delivered` is always 0. A timeout is retryable although SendGrid may have accepted the
  request: one duplicate is better than a batch lost. The HTTP client logs the Authorization
  header (and every address) at DEBUG, so its logger is held at INFO or above; the key never
  appears in a reason.
- `smtp`: for self-hosters. One connection per batch (STARTTLS and login as in
  `transports.SmtpTransport`), one message per recipient. The rule for errors: a 5xx answer to
  one recipient (at RCPT or DATA) refuses that recipient for good; they are skipped, counted as
  finished, and the batch goes on. A 5xx to the sender (MAIL FROM) or to the login, an
  untrusted certificate or a server without STARTTLS stops the batch, not retryable. Any 4xx
  answer, timeout or dropped connection stops the batch, retryable. Either way `delivered` is
  the number of leading recipients finished (handed over or refused for good). A message whose
  DATA was cut off by a dropped connection is not counted, so it may arrive twice after a
  retry, never not at all.
- `file`: the development default. One `.eml` file per recipient under `MAIL_FILE_DIR`
  (default `instance/mail`), each path logged at INFO.

Recipients whose address cannot go in a header are skipped with a warning (the address is not
logged); `BatchResult.sent` counts the messages handed over. A batch in which every recipient
was skipped or refused fails, not retryable.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    ClickTracking,
    From,
    Mail,
    OpenTracking,
    SubscriptionTracking,
    TrackingSettings,
)

from statuspage.notifications.mail import (
    InvalidAddress,
    build_message,
    format_address,
    header_text,
)
from statuspage.notifications.transports import (
    LOOPBACK_HOSTS,
    FileTransport,
    MailConfigError,
    SmtpTransport,
    default_transport_name,
    transport_from_config,
)

logger = logging.getLogger(__name__)

MANAGE_URL_TOKEN = "-manage_url-"  # noqa: S105 - a placeholder, not a secret
ONE_CLICK = "List-Unsubscribe=One-Click"
BATCH_TRANSPORTS = ("sendgrid", "smtp", "file")

SENDGRID_API_HOST = "https://api.sendgrid.com"
SENDGRID_MAX_BATCH = 1000
SENDGRID_DEFAULT_TIMEOUT = 10.0
# When a 429 names no reset time, and the longest we believe one: a reset an hour away is a
# clock or proxy problem, and the worker should look again sooner.
RATE_LIMIT_FALLBACK_SECONDS = 60.0
RATE_LIMIT_MAX_WAIT_SECONDS = 900.0
SMTP_MAX_BATCH = 100
FILE_MAX_BATCH = 1000
_MAX_REASON_LENGTH = 1000
# The client's logger: it writes the request headers (Authorization among them) at DEBUG.
_HTTP_CLIENT_LOGGER = "python_http_client.client"
# A bare address `format_address` returns unchanged (see `_usable_address`).
_BARE_ADDRESS = re.compile(
    r"[^\s@<>(),;:\"\[\]\\\x00-\x1f\x7f]+@[^\s@<>(),;:\"\[\]\\\x00-\x1f\x7f]+"
)
# A link we put in a header between angle brackets and in HTML unescaped: nothing that could
# end the bracket, the attribute or the line.
_PLAIN_URL = re.compile(r"https?://[^\s<>\"'&\\\x00-\x1f\x7f]+")


class SendingConfigError(MailConfigError, ValueError):
    """The batch-sending settings cannot work; the message says what to change."""


@dataclass(frozen=True)
class Recipient:
    """One subscriber's address and their own links (the manage page, the one-click POST)."""

    email: str
    manage_url: str
    unsubscribe_url: str

    def __post_init__(self) -> None:
        for name in ("manage_url", "unsubscribe_url"):
            if not _PLAIN_URL.fullmatch(getattr(self, name)):
                raise ValueError(f"{name} must be a plain http(s) URL")


@dataclass(frozen=True)
class OutgoingBatch:
    sender: str
    subject: str
    text: str
    html: str
    recipients: Sequence[Recipient]


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
    max_batch: int

    def send_batch(self, batch: OutgoingBatch) -> BatchResult: ...


def _check_size(batch: OutgoingBatch, max_batch: int) -> None:
    if not batch.recipients:
        raise ValueError("a batch needs at least one recipient")
    if len(batch.recipients) > max_batch:
        raise ValueError(f"{len(batch.recipients)} recipients; this transport takes {max_batch}")


def _usable_address(email: str) -> str | None:
    """`email` ready for a header, or None. Subscribers' addresses are bare, and the quick
    check below accepts exactly the bare addresses `format_address` would; anything else
    (a display name, say) takes the full parser, which costs 100 times more."""
    if _BARE_ADDRESS.fullmatch(email):
        return email
    try:
        return format_address(email)
    except InvalidAddress:
        return None


def _masked(address: str) -> str:
    """`a***@example.com`: enough to find the subscriber, not a list of addresses in the log."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def _nothing_sent(total: int, skipped: int, refused: int = 0) -> DeliveryError:
    return DeliveryError(
        f"none of the {total} recipient(s) could be sent to: {skipped} unusable address(es), "
        f"{refused} refused by the server",
        retryable=False,
        delivered=total,
    )


# --- SendGrid ----------------------------------------------------------------------------------


def _drop_debug_records(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.INFO


def _quiet_http_client_logger() -> None:
    """Hold the HTTP client's logger at INFO or above, whatever the root logger's level.

    The level is enough today; the filter keeps DEBUG records out even if a logging
    configuration loaded later lowers the level again.
    """
    http_logger = logging.getLogger(_HTTP_CLIENT_LOGGER)
    if http_logger.level < logging.INFO:  # NOTSET (0) inherits, which could be DEBUG
        http_logger.setLevel(logging.INFO)
    if _drop_debug_records not in http_logger.filters:
        http_logger.addFilter(_drop_debug_records)


class SendGridBatchTransport:
    """One SendGrid v3 Mail Send request per batch, one personalization per recipient."""

    max_batch = SENDGRID_MAX_BATCH

    def __init__(
        self,
        api_key: str,
        *,
        host: str = SENDGRID_API_HOST,
        timeout: float = SENDGRID_DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not api_key:
            raise SendingConfigError("SENDGRID_API_KEY is empty.")
        if not timeout > 0:
            raise SendingConfigError("SENDGRID_TIMEOUT must be a positive number of seconds.")
        host = host.rstrip("/")
        parts = urlsplit(host)
        if parts.scheme != "https" and not (
            parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        ):
            raise SendingConfigError(
                "SENDGRID_API_HOST must be an https:// URL: the API key travels in every request."
            )
        _quiet_http_client_logger()
        self._api_key = api_key
        self._clock = clock
        self.host = host
        self.timeout = float(timeout)
        self._client = SendGridAPIClient(api_key, host=host)
        self._client.client.timeout = self.timeout

    def __repr__(self) -> str:
        return f"SendGridBatchTransport(host={self.host!r}, timeout={self.timeout})"

    def request_body(self, batch: OutgoingBatch) -> tuple[dict[str, Any], int]:
        """The v3 Mail Send JSON for `batch`, and how many recipients it names."""
        sender_name, sender_address = parseaddr(format_address(batch.sender))
        mail = Mail(
            from_email=From(sender_address, sender_name or None),
            subject=header_text(batch.subject),
            plain_text_content=batch.text,
            html_content=batch.html,
        )
        tracking = TrackingSettings()
        tracking.click_tracking = ClickTracking(False, False)
        tracking.open_tracking = OpenTracking(False)
        tracking.subscription_tracking = SubscriptionTracking(False)
        mail.tracking_settings = tracking
        # One personalization per recipient, written as the documented JSON: the helper
        # classes parse every address again and would triple the time a batch takes to build.
        personalizations = []
        for recipient in batch.recipients:
            address = _usable_address(recipient.email)
            if address is None:
                continue
            personalizations.append(
                {
                    "to": [{"email": parseaddr(address)[1] if "<" in address else address}],
                    "substitutions": {MANAGE_URL_TOKEN: recipient.manage_url},
                    "headers": {
                        "List-Unsubscribe": f"<{recipient.unsubscribe_url}>",
                        "List-Unsubscribe-Post": ONE_CLICK,
                    },
                }
            )
        body = mail.get()
        body["personalizations"] = personalizations
        return body, len(personalizations)

    def send_batch(self, batch: OutgoingBatch) -> BatchResult:
        _check_size(batch, self.max_batch)
        body, named = self.request_body(batch)
        skipped = len(batch.recipients) - named
        if not named:
            raise _nothing_sent(len(batch.recipients), skipped)
        try:
            response = self._client.send(body)
        except HTTPError as error:
            raise self._refused(error.status_code, error.body, error.headers) from None
        except (OSError, http.client.HTTPException) as error:
            # URLError (refused, DNS, connect timeout) and TimeoutError (read timeout) are
            # OSErrors; a connection cut mid-answer is an HTTPException.
            raise DeliveryError(self._network_reason(error), retryable=True) from error
        if not 200 <= response.status_code < 300:
            raise self._refused(response.status_code, response.body, response.headers)
        message_id = response.headers.get("X-Message-Id") or ""
        if skipped:
            logger.warning("Skipped %d recipient(s) with unusable addresses", skipped)
        logger.info("SendGrid accepted %d message(s) as %s", named, message_id)
        return BatchResult(message_id=message_id, sent=named)

    def _network_reason(self, error: BaseException) -> str:
        cause = getattr(error, "reason", error)
        if isinstance(error, TimeoutError) or isinstance(cause, TimeoutError):
            return f"SendGrid did not answer within {self.timeout:g} s"
        return self._redacted(f"could not reach SendGrid: {cause}")

    def _refused(self, status: int, body: bytes | None, headers: Any) -> DeliveryError:
        try:
            phrase = http.client.responses.get(int(status), "")
        except (TypeError, ValueError):
            phrase = ""
        reason = self._redacted(f"SendGrid answered {status} {phrase}".rstrip())
        details = self._error_details(body)
        if details:
            reason = f"{reason}: {details}"
        retryable = status == 429 or status >= 500
        retry_after = self._retry_after(headers) if status == 429 else None
        return DeliveryError(
            reason[:_MAX_REASON_LENGTH], retryable=retryable, retry_after=retry_after, status=status
        )

    def _error_details(self, body: bytes | None) -> str:
        """SendGrid's `{"errors": [{"message": ..., "field": ...}]}`, as one line."""
        if not body:
            return ""
        text = body.decode("utf-8", "replace")
        try:
            errors = json.loads(text).get("errors")
        except (ValueError, AttributeError):
            errors = None
        if isinstance(errors, list) and errors:
            parts = []
            for error in errors:
                if not isinstance(error, dict):
                    continue
                message = str(error.get("message") or "no message")
                if error.get("field"):
                    message += f" (field: {error['field']})"
                parts.append(message)
            text = "; ".join(parts)
        return self._redacted(header_text(text))[:_MAX_REASON_LENGTH]

    def _retry_after(self, headers: Any) -> float:
        """Seconds until `X-RateLimit-Reset` (a Unix time), within [0, the cap]."""
        value = headers.get("X-RateLimit-Reset") if headers is not None else None
        try:
            wait = float(value) - self._clock()
        except (TypeError, ValueError):
            return RATE_LIMIT_FALLBACK_SECONDS
        if wait != wait:  # NaN
            return RATE_LIMIT_FALLBACK_SECONDS
        return min(max(wait, 0.0), RATE_LIMIT_MAX_WAIT_SECONDS)

    def _redacted(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]")


# --- One message per recipient: SMTP and files -------------------------------------------------


def personal_message(
    batch: OutgoingBatch, recipient: Recipient, *, address: str, message_id: str, now: datetime
) -> EmailMessage:
    """The message `recipient` gets: their address alone in To, their links, the headers."""
    # The URLs hold nothing that needs escaping in HTML (see Recipient), so one replacement
    # serves both parts, as SendGrid's substitution does.
    message = build_message(
        sender=batch.sender,
        to=[address],
        subject=batch.subject,
        text=batch.text.replace(MANAGE_URL_TOKEN, recipient.manage_url),
        html=batch.html.replace(MANAGE_URL_TOKEN, recipient.manage_url),
        now=now,
        automatic=True,
    )
    message.replace_header("Message-ID", message_id)
    message["List-Unsubscribe"] = f"<{recipient.unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = ONE_CLICK
    return message


def _message_id(batch_id: str, index: int, sender: str) -> str:
    domain = parseaddr(format_address(sender))[1].rpartition("@")[2]
    return f"<{batch_id}.{index}@{domain}>"


@dataclass
class SmtpBatchTransport:
    """One SMTP connection per batch, one message per recipient (rules in the module doc)."""

    host: str
    port: int = 587
    username: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = True
    timeout: float = 10.0
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    max_batch: int = SMTP_MAX_BATCH

    def __post_init__(self) -> None:
        # The same settings check as the single-message transport (no password in clear).
        SmtpTransport(
            host=self.host, username=self.username, starttls=self.starttls, port=self.port
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
        _check_size(batch, self.max_batch)
        batch_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        finished = sent = skipped = refused = 0
        smtp: smtplib.SMTP | None = None
        try:
            smtp = self._connect()
            for index, recipient in enumerate(batch.recipients):
                address = _usable_address(recipient.email)
                if address is None:
                    skipped += 1
                else:
                    message = personal_message(
                        batch,
                        recipient,
                        address=address,
                        message_id=_message_id(batch_id, index, batch.sender),
                        now=now,
                    )
                    refusal = _hand_over(smtp, message)
                    if refusal is None:
                        sent += 1
                    else:
                        refused += 1
                        logger.warning(
                            "SMTP server refused %s for good: %s", _masked(address), refusal
                        )
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
            raise _nothing_sent(len(batch.recipients), skipped, refused)
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
        smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        code, answer = next(iter(error.recipients.values()))
        if code < 500:
            raise smtplib.SMTPResponseException(code, answer) from error
        return f"{code} {_answer_text(answer)}"
    except smtplib.SMTPDataError as error:
        if error.smtp_code < 500:
            raise
        return f"{error.smtp_code} {_answer_text(error.smtp_error)}"
    return None


def _answer_text(answer: bytes | str) -> str:
    if isinstance(answer, bytes):
        answer = answer.decode("utf-8", "replace")
    return header_text(answer)[:_MAX_REASON_LENGTH]


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
class FileBatchTransport:
    """One `.eml` file per recipient: development, and looking at what would be sent."""

    directory: Path
    max_batch: int = FILE_MAX_BATCH

    def send_batch(self, batch: OutgoingBatch) -> BatchResult:
        _check_size(batch, self.max_batch)
        writer = FileTransport(Path(self.directory))  # logs each path at INFO
        batch_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        sent = 0
        for index, recipient in enumerate(batch.recipients):
            address = _usable_address(recipient.email)
            if address is None:
                continue
            message_id = _message_id(batch_id, index, batch.sender)
            try:
                writer.write(
                    personal_message(
                        batch, recipient, address=address, message_id=message_id, now=now
                    )
                )
            except OSError as error:
                raise DeliveryError(
                    f"could not write mail to {self.directory}: {error}",
                    retryable=True,
                    delivered=index,
                ) from error
            sent += 1
        if not sent:
            raise _nothing_sent(len(batch.recipients), len(batch.recipients))
        return BatchResult(message_id=batch_id, sent=sent)


class SendGridMessageTransport:
    """Single messages (subscription confirmations, staff escalations) through SendGrid.

    The `Transport` interface of `transports.py`, so the `Mailer` works unchanged when
    `MAIL_TRANSPORT` is `sendgrid`. Each To address gets its own personalization; the
    unsubscribe and `Auto-Submitted` headers are carried over.
    """

    CARRIED_HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post", "Auto-Submitted")

    def __init__(self, batch: SendGridBatchTransport) -> None:
        self.batch = batch

    def request_body(self, message: EmailMessage) -> dict[str, Any]:
        sender_name, sender_address = parseaddr(str(message["From"]))
        headers = {
            name: header_text(str(message[name]))
            for name in self.CARRIED_HEADERS
            if message[name] is not None
        }
        recipients = [address.addr_spec for address in message["To"].addresses]
        text_part = message.get_body(preferencelist=("plain",))
        html_part = message.get_body(preferencelist=("html",))
        content = [{"type": "text/plain", "value": text_part.get_content() if text_part else ""}]
        if html_part is not None:
            content.append({"type": "text/html", "value": html_part.get_content()})
        sender: dict[str, str] = {"email": sender_address}
        if sender_name:
            sender["name"] = sender_name
        return {
            "from": sender,
            "subject": header_text(str(message["Subject"] or "")),
            "personalizations": [
                {"to": [{"email": address}], **({"headers": headers} if headers else {})}
                for address in recipients
            ],
            "content": content,
            "tracking_settings": {
                "click_tracking": {"enable": False, "enable_text": False},
                "open_tracking": {"enable": False},
                "subscription_tracking": {"enable": False},
            },
        }

    def send(self, message: EmailMessage) -> None:
        body = self.request_body(message)
        if not body["personalizations"]:
            raise DeliveryError("the message has no recipient", retryable=False)
        client = self.batch._client
        try:
            response = client.send(body)
        except HTTPError as error:
            raise self.batch._refused(error.status_code, error.body, error.headers) from None
        except (OSError, http.client.HTTPException) as error:
            raise DeliveryError(self.batch._network_reason(error), retryable=True) from error
        if not 200 <= response.status_code < 300:
            raise self.batch._refused(response.status_code, response.body, response.headers)


def batch_transport_from_config(
    config: Mapping[str, Any], *, instance_path: str | Path
) -> BatchTransport:
    """The transport `MAIL_TRANSPORT` names (`file` in development and testing by default)."""
    name = str(config.get("MAIL_TRANSPORT") or default_transport_name(config)).strip().lower()
    if name == "sendgrid":
        return sendgrid_batch_transport(config)
    if name in ("smtp", "file"):
        try:
            single = transport_from_config(
                {**config, "MAIL_TRANSPORT": name}, instance_path=instance_path
            )
        except MailConfigError as error:
            raise SendingConfigError(str(error)) from error
        if isinstance(single, FileTransport):
            return FileBatchTransport(single.directory)
        assert isinstance(single, SmtpTransport)
        return SmtpBatchTransport(
            host=single.host,
            port=single.port,
            username=single.username,
            password=single.password,
            starttls=single.starttls,
            timeout=single.timeout,
        )
    raise SendingConfigError(
        f"MAIL_TRANSPORT must be one of {', '.join(BATCH_TRANSPORTS)}, not {name!r}."
    )


def sendgrid_batch_transport(config: Mapping[str, Any]) -> SendGridBatchTransport:
    """The SendGrid transport from `SENDGRID_API_KEY`, `SENDGRID_API_HOST`, `SENDGRID_TIMEOUT`."""
    api_key = str(config.get("SENDGRID_API_KEY") or "").strip()
    if not api_key:
        raise SendingConfigError(
            "MAIL_TRANSPORT is sendgrid but SENDGRID_API_KEY is not set: put the API key "
            "in the environment."
        )
    try:
        timeout = float(config.get("SENDGRID_TIMEOUT") or SENDGRID_DEFAULT_TIMEOUT)
    except (TypeError, ValueError) as error:
        raise SendingConfigError("SENDGRID_TIMEOUT must be a number of seconds.") from error
    return SendGridBatchTransport(
        api_key,
        host=str(config.get("SENDGRID_API_HOST") or SENDGRID_API_HOST),
        timeout=timeout,
    )
