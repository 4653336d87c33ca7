"""What a chat or SMS send returns, and the one HTTP POST the chat senders share.

Every sender answers with a `SendResult`, whatever the service said: the delivery code
decides from it whether to retry (and when: `retry_after`), to disable the subscription
(`gone`: the receiver says it no longer exists) or to record a failure. Senders never raise
for an answer or a network error.

The POST goes through httpx with redirects off and the response read up to `EXCERPT_BYTES`
(a receiver cannot make us read a large body). Callers that must vet addresses (the
delivery pipeline's SSRF guard) pass their own `httpx.Client`.
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

EXCERPT_BYTES = 2048
USER_AGENT = "statuspage-notifications/1"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status_code: int | None = None  # None: no HTTP answer (timeout, refused, reset)
    retry_after: float | None = None  # seconds the receiver asked us to wait
    gone: bool = False  # the receiver says it no longer exists (404, 410, opted out)
    latency_ms: int = 0
    response_excerpt: str = ""
    error: str = ""

    @property
    def retryable(self) -> bool:
        """Worth another try later: no answer, a rate limit, or a server error."""
        if self.ok or self.gone:
            return False
        return (
            self.status_code is None
            or self.status_code in (408, 425, 429)
            or (self.status_code >= 500)
        )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date; None when unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds < 0:  # NaN or in the past
        return 0.0
    return min(seconds, 24 * 3600.0)


def excerpt(raw: bytes) -> str:
    return raw[:EXCERPT_BYTES].decode("utf-8", errors="replace")


def json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None


@dataclass(frozen=True)
class HttpAnswer:
    status_code: int
    headers: httpx.Headers
    body: bytes  # at most EXCERPT_BYTES
    latency_ms: int


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    timeout: float,
    client: httpx.Client | None = None,
) -> HttpAnswer | SendResult:
    """POST `payload` as JSON: the answer, or a failed `SendResult` when there was none."""
    started = time.monotonic()
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    own_client = client is None
    http = client or httpx.Client(follow_redirects=False, trust_env=False)
    try:
        with http.stream("POST", url, content=body, headers=headers, timeout=timeout) as response:
            received = bytearray()
            for chunk in response.iter_bytes():
                received.extend(chunk)
                if len(received) >= EXCERPT_BYTES:
                    break
            return HttpAnswer(
                status_code=response.status_code,
                headers=response.headers,
                body=bytes(received[:EXCERPT_BYTES]),
                latency_ms=_elapsed_ms(started),
            )
    except httpx.TimeoutException:
        return SendResult(ok=False, latency_ms=_elapsed_ms(started), error="timed out")
    except httpx.HTTPError as error:
        # The class name only: messages can carry the URL, and webhook URLs are secrets.
        return SendResult(ok=False, latency_ms=_elapsed_ms(started), error=type(error).__name__)
    finally:
        if own_client:
            http.close()


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def result_from_answer(
    answer: HttpAnswer,
    *,
    ok: bool,
    gone: bool = False,
    retry_after: float | None = None,
    error: str = "",
) -> SendResult:
    if retry_after is None and (answer.status_code == 429 or answer.status_code >= 500):
        retry_after = parse_retry_after(answer.headers.get("Retry-After"))
    return SendResult(
        ok=ok,
        status_code=answer.status_code,
        retry_after=retry_after,
        gone=gone,
        latency_ms=answer.latency_ms,
        response_excerpt=excerpt(answer.body),
        error=error,
    )
