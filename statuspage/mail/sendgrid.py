"""The SendGrid transport: one v3 Mail Send request per batch, through the official client.

At most 1000 personalizations a request, one per address, each with its own substitution (the
manage link) and headers (one-click unsubscribe). The client has no timeout of its own, so one
is set (`SENDGRID_TIMEOUT`). SendGrid's click, open and subscription tracking are turned off:
they would rewrite our links and add an unsubscribe header of their own.

429, 5xx, timeouts and refused connections are retryable; 400, 401, 403 and 413 are not, and
carry SendGrid's own error message. A 429 or 5xx says when to come back in `retry_after`
(seconds): from `Retry-After` (seconds or an HTTP date), else from `X-RateLimit-Reset` (a Unix
time), never more than 15 minutes; when neither header is there (or readable) it is None and
delivery backs off on its own. SendGrid accepts a request as
a whole or not at all, so `delivered` is always 0. A timeout is retryable although SendGrid may
have accepted the request: one duplicate is better than a batch lost. The HTTP client logs the
Authorization header (and every address) at DEBUG, so its logger is held at INFO or above; the
key never appears in a reason.

Settings: `SENDGRID_API_KEY` (required), `SENDGRID_API_HOST` (https, or http on loopback for
tests), `SENDGRID_TIMEOUT` (10 seconds).
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any
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

from statuspage.mail.message import header_text, sender_address, usable_address
from statuspage.mail.transports import (
    LOOPBACK_HOSTS,
    MANAGE_URL_TOKEN,
    MAX_REASON_LENGTH,
    BatchResult,
    DeliveryError,
    MailConfigError,
    OutgoingBatch,
    Transport,
    check_size,
    nothing_sent,
)

logger = logging.getLogger(__name__)

SENDGRID_API_HOST = "https://api.sendgrid.com"
SENDGRID_MAX_BATCH = 1000
SENDGRID_DEFAULT_TIMEOUT = 10.0
# The longest wait we believe: a reset an hour away is a clock or proxy problem, and the worker
# should look again sooner.
RATE_LIMIT_MAX_WAIT_SECONDS = 900.0
# The client's logger: it writes the request headers (Authorization among them) at DEBUG.
_HTTP_CLIENT_LOGGER = "python_http_client.client"


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


class SendGridTransport(Transport):
    """One SendGrid v3 Mail Send request per batch, one personalization per address."""

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
            raise MailConfigError("SENDGRID_API_KEY is empty.")
        if not timeout > 0:
            raise MailConfigError("SENDGRID_TIMEOUT must be a positive number of seconds.")
        host = host.rstrip("/")
        parts = urlsplit(host)
        if parts.scheme != "https" and not (
            parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        ):
            raise MailConfigError(
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
        return f"SendGridTransport(host={self.host!r}, timeout={self.timeout})"

    def request_body(self, batch: OutgoingBatch) -> tuple[dict[str, Any], int]:
        """The v3 Mail Send JSON for `batch`, and how many addresses it names."""
        sender_name, sender = parseaddr(sender_address(batch.sender))
        mail = Mail(
            from_email=From(sender, sender_name or None),
            subject=header_text(batch.subject),
            plain_text_content=batch.text,
            html_content=batch.html,
        )
        tracking = TrackingSettings()
        tracking.click_tracking = ClickTracking(False, False)
        tracking.open_tracking = OpenTracking(False)
        tracking.subscription_tracking = SubscriptionTracking(False)
        mail.tracking_settings = tracking
        # One personalization per address, written as the documented JSON: the helper
        # classes parse every address again and would triple the time a batch takes to build.
        extra = {name: header_text(value) for name, value in batch.headers.items()}
        personalizations = []
        for recipient in batch.recipients:
            headers = recipient.headers() | extra
            for email in recipient.addresses:
                address = usable_address(email)
                if address is None:
                    continue
                personalization: dict[str, Any] = {
                    "to": [{"email": parseaddr(address)[1] if "<" in address else address}]
                }
                if recipient.manage_url:
                    personalization["substitutions"] = {MANAGE_URL_TOKEN: recipient.manage_url}
                if headers:
                    personalization["headers"] = headers
                personalizations.append(personalization)
        body = mail.get()
        body["personalizations"] = personalizations
        return body, len(personalizations)

    def send_batch(self, batch: OutgoingBatch) -> BatchResult:
        check_size(batch, self.max_batch)
        body, named = self.request_body(batch)
        skipped = sum(len(recipient.addresses) for recipient in batch.recipients) - named
        if not named:
            raise nothing_sent(len(batch.recipients), skipped)
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
        retry_after = self._retry_after(headers) if retryable else None
        return DeliveryError(
            reason[:MAX_REASON_LENGTH], retryable=retryable, retry_after=retry_after, status=status
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
        return self._redacted(header_text(text))[:MAX_REASON_LENGTH]

    def _retry_after(self, headers: Any) -> float | None:
        """Seconds SendGrid asked us to wait, within [0, the cap], or None when it did not say.

        `Retry-After` (delay-seconds or an HTTP date, RFC 9110) first, then `X-RateLimit-Reset`
        (the Unix time the rate limit resets)."""
        if headers is None:
            return None
        wait = _seconds_until(headers.get("Retry-After"), self._clock(), epoch=False)
        if wait is None:
            wait = _seconds_until(headers.get("X-RateLimit-Reset"), self._clock(), epoch=True)
        if wait is None:
            return None
        return min(max(wait, 0.0), RATE_LIMIT_MAX_WAIT_SECONDS)

    def _redacted(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]")


def _seconds_until(value: Any, now: float, *, epoch: bool) -> float | None:
    """Seconds from `now` named by a header: a Unix time (`epoch`), else delay-seconds or an
    HTTP date. None when the header is missing or unreadable."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number):
            return None
        return number - now if epoch else number
    if epoch:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000" or an obsolete zone: HTTP dates are in GMT
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - now


def sendgrid_transport(config: Mapping[str, Any]) -> SendGridTransport:
    """The SendGrid transport from `SENDGRID_API_KEY`, `SENDGRID_API_HOST`, `SENDGRID_TIMEOUT`."""
    api_key = str(config.get("SENDGRID_API_KEY") or "").strip()
    if not api_key:
        raise MailConfigError(
            "MAIL_TRANSPORT is sendgrid but SENDGRID_API_KEY is not set: put the API key "
            "in the environment."
        )
    try:
        timeout = float(config.get("SENDGRID_TIMEOUT") or SENDGRID_DEFAULT_TIMEOUT)
    except (TypeError, ValueError) as error:
        raise MailConfigError("SENDGRID_TIMEOUT must be a number of seconds.") from error
    return SendGridTransport(
        api_key,
        host=str(config.get("SENDGRID_API_HOST") or SENDGRID_API_HOST),
        timeout=timeout,
    )
