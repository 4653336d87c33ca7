"""The signed webhook channel: what a webhook carries and how it is signed and sent.

The body is Statuspage compatible (see docs/api.md): an incident event carries `page` (with
`status_indicator` and `status_description`) and `incident` (with `name`, `status`,
`impact`, `shortlink` and `incident_updates` newest first), with the same ids and time format
as our `/api/v2` (`i<id>`, `iu<id>`, `c<id>`); maintenance events carry the maintenance in
`incident` too, as Statuspage does. We add `meta.event_type` and `meta.message_id`.

Every request is signed by the Standard Webhooks scheme with the `standardwebhooks` library:
`webhook-id` (the delivery's stable `message_id`, the same on every retry and replay),
`webhook-timestamp` and `webhook-signature`, keyed by the subscription's `whsec_` secret.

The first delivery of a new subscription is a `verification` event: its body holds a
`challenge`, also sent as the `webhook-challenge` header. The subscription becomes active
when the endpoint answers 2xx; if it also answers a `webhook-challenge-response` header (the
Standard Webhooks endpoint verification), that must be right.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from statuspage.notifications import netguard
from statuspage.notifications.channels import (
    ChannelEvent,
    SendResult,
    register_sender,
)
from statuspage.notifications.models import ChannelKind, ChannelSubscription

VERIFICATION = "verification"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
EXCERPT_MAX = 500
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})
GONE_STATUSES = frozenset({410})


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(16)


def challenge_for(secret: str, message_id: str) -> str:
    """The verification challenge: the same on every attempt of one verification delivery."""
    digest = hmac.new(secret.encode(), f"challenge.{message_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def verification_payload(secret: str, message_id: str, page_id: str) -> dict[str, object]:
    return {
        "meta": {"event_type": VERIFICATION, "message_id": message_id},
        "type": VERIFICATION,
        "page": {"id": page_id},
        "challenge": challenge_for(secret, message_id),
    }


def encode(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signed_headers(
    secret: str, message_id: str, body: bytes, *, now: datetime | None = None
) -> dict[str, str]:
    moment = now or datetime.now(UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, moment, body),
    }


def retry_after_seconds(
    headers: dict[str, str] | object, *, now: datetime | None = None
) -> float | None:
    """The wait a receiver asked for: `Retry-After` (seconds or an HTTP date), else the
    `RateLimit-Reset` / `X-RateLimit-Reset` headers (seconds to wait, or an epoch time)."""
    from email.utils import parsedate_to_datetime

    get = getattr(headers, "get", None)
    if get is None:
        return None
    moment = now or datetime.now(UTC)
    value = (get("retry-after") or "").strip()
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                return max(0.0, (when - moment).total_seconds())
    for name in ("ratelimit-reset", "x-ratelimit-reset"):
        value = (get(name) or "").strip()
        try:
            number = float(value)
        except ValueError:
            continue
        if number > 1_000_000_000:  # an epoch time, not a number of seconds
            return max(0.0, number - moment.timestamp())
        return max(0.0, number)
    return None


def excerpt(body: bytes) -> str:
    text = body[:EXCERPT_MAX].decode("utf-8", errors="replace")
    return "".join(c if c.isprintable() or c in "\n\t" else "?" for c in text)


def result_from_answer(answer: netguard.Answer) -> SendResult:
    """What an HTTP answer means for a delivery: 2xx delivered; 410 gone (the subscription is
    disabled); 408/409/425/429 and 5xx retried (at the time the receiver asked, if it did);
    a 3xx (never followed) or another 4xx failed for good."""
    status = answer.status
    common = {
        "status_code": status,
        "latency_ms": answer.latency_ms,
        "response_excerpt": excerpt(answer.body),
    }
    if 200 <= status < 300:
        return SendResult(ok=True, **common)  # type: ignore[arg-type]
    if status in GONE_STATUSES:
        return SendResult(ok=False, error="410 Gone", gone=True, permanent=True, **common)  # type: ignore[arg-type]
    if status in RETRYABLE_STATUSES or status >= 500:
        return SendResult(
            ok=False,
            error=f"HTTP {status}",
            retry_after=retry_after_seconds(answer.headers),
            **common,  # type: ignore[arg-type]
        )
    if 300 <= status < 400:
        return SendResult(
            ok=False, error=f"HTTP {status}: redirects are not followed", permanent=True, **common
        )  # type: ignore[arg-type]
    return SendResult(ok=False, error=f"HTTP {status}", permanent=True, **common)  # type: ignore[arg-type]


def send_webhook(subscription: ChannelSubscription, event: ChannelEvent) -> SendResult:
    body = encode(event.payload)
    headers = signed_headers(subscription.secret, event.message_id, body)
    challenge = ""
    if event.event_type == VERIFICATION:
        challenge = challenge_for(subscription.secret, event.message_id)
        headers["webhook-challenge"] = challenge
    try:
        answer = netguard.post(subscription.target, body, headers, event.network)
    except netguard.UnsafeTarget as refused:
        return SendResult(ok=False, error=f"refused: {refused}", permanent=True)
    except netguard.NetworkError as error:
        return SendResult(ok=False, error=str(error)[:1000])
    result = result_from_answer(answer)
    response = answer.headers.get("webhook-challenge-response")
    if challenge and result.ok and response:
        try:
            Webhook(subscription.secret).verify_endpoint_verification_response(challenge, response)
        except WebhookVerificationError:
            return SendResult(
                ok=False,
                status_code=result.status_code,
                latency_ms=result.latency_ms,
                response_excerpt=result.response_excerpt,
                error="wrong webhook-challenge-response",
                permanent=True,
            )
    return result


register_sender(ChannelKind.WEBHOOK, send_webhook)
