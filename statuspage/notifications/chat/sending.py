"""The one HTTP POST the chat senders share, over the channels' SSRF guard.

Every chat sender answers with the registry's `SendResult` (`notifications.channels`),
whatever the service said: the delivery pipeline decides from it whether to retry (and when:
`retry_after`), to stop (`permanent`) or to disable the subscription (`gone`). Senders never
raise for an answer or a network error.

The POST goes through `netguard.post`: the URL is checked again before every request (DNS can
change), redirects are never followed, the answer is read up to the policy's limit and the
request has the policy's timeout. A URL the guard refuses is a permanent failure.
"""

from __future__ import annotations

import json
from typing import Any

from statuspage.notifications import netguard
from statuspage.notifications.channels import SendResult
from statuspage.notifications.webhooks import excerpt, retry_after_seconds

RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def post_json(
    url: str, payload: dict[str, Any], policy: netguard.NetworkPolicy
) -> netguard.Answer | SendResult:
    """POST `payload` as JSON: the answer, or a failed `SendResult` when there was none."""
    headers = {"Content-Type": "application/json; charset=utf-8"}
    try:
        return netguard.post(url, encode(payload), headers, policy)
    except netguard.UnsafeTarget as refused:
        return SendResult(ok=False, error=f"refused: {refused}", permanent=True)
    except netguard.NetworkError as error:
        return SendResult(ok=False, error=str(error)[:1000])


def result_from_answer(
    answer: netguard.Answer,
    *,
    ok: bool,
    gone: bool = False,
    retry_after: float | None = None,
    error: str = "",
) -> SendResult:
    """A result for an answer the sender has read: a failure is retried when the status says
    so (408, 409, 425, 429, 5xx), at the receiver's time if it named one; otherwise it is
    permanent (a 3xx, never followed, or a 4xx that the same message would get again)."""
    status = answer.status
    retryable = not ok and not gone and (status in RETRYABLE_STATUSES or status >= 500)
    if retryable and retry_after is None:
        retry_after = retry_after_seconds(answer.headers)
    return SendResult(
        ok=ok,
        status_code=status,
        latency_ms=answer.latency_ms,
        response_excerpt=excerpt(answer.body),
        error="" if ok else (error or f"HTTP {status}"),
        retry_after=retry_after if retryable else None,
        permanent=not ok and not retryable,
        gone=gone,
    )
