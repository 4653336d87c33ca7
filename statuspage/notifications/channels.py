"""What every non-email channel shares: the event a sender is given, the result it returns,
and the registry of senders by channel kind.

A sender is `callable(subscription, event) -> SendResult`, registered as
`SENDERS[ChannelKind.X] = sender`. It makes ONE attempt (one request) and reports what
happened; it never retries, sleeps or writes to the database. The delivery pipeline
(`channel_delivery`) decides what happens next from the result: delivered, retried at
`retry_after` or with backoff, failed for good, or the subscription disabled (`gone`).

Senders that call a URL use `netguard.post` (or its checks), so every channel gets the same
SSRF protection, timeout and response size limit: `event.network` carries those settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from statuspage.notifications.models import ChannelKind, ChannelSubscription
from statuspage.notifications.netguard import NetworkPolicy


@dataclass(frozen=True)
class AffectedComponent:
    name: str
    status: str  # operational, degraded_performance, partial_outage, major_outage, ...
    old_status: str | None = None


@dataclass(frozen=True)
class ChannelEvent:
    """One thing to tell one subscription, the same on every attempt of that delivery.

    `payload` is the webhook body (Statuspage compatible; see docs/api.md). The other fields
    say the same in plain values for the chat and SMS senders, which format their own message.
    """

    message_id: str  # the stable `webhook-id` ("msg_..."): identical on retries and replays
    event_type: str  # verification, incident.update, maintenance.update, component.update, ...
    occurred_at: datetime
    payload: Mapping[str, Any]
    page_name: str
    page_url: str
    title: str = ""  # the incident's or maintenance's name ("" for a verification)
    status: str = ""  # its public status: investigating, identified, monitoring, resolved, ...
    impact: str = ""  # none, minor, major, critical, maintenance
    body: str = ""  # the update's text, Markdown as staff wrote it
    url: str = ""  # the incident's or maintenance's page
    components: tuple[AffectedComponent, ...] = ()
    manage_url: str = ""  # where the subscriber changes or ends the subscription
    # What chat shows instead of the status in words ("P1 declared" for a stakeholder
    # summary); "" for the public events.
    label: str = ""
    language: str = ""  # the subscription's language ("" = the page's)
    network: NetworkPolicy = field(default_factory=NetworkPolicy)
    time_zone: str = "UTC"  # the page's zone, named in chat messages next to the time
    # The settings a sender needs beyond the network (SMS: TWILIO_*, SMS_MAX_SEGMENTS).
    sender_settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """What one attempt gave. `ok`: the receiver took it (2xx). Otherwise:
    `retry_after` seconds when the receiver named a time (Retry-After, rate-limit headers);
    `permanent`: do not retry this delivery (a 4xx that will not change); `gone`: the
    receiver is gone for good (410, Slack's channel_is_archived, an unknown number): the
    subscription is disabled at once."""

    ok: bool
    status_code: int | None = None
    latency_ms: int | None = None
    response_excerpt: str = ""
    error: str = ""
    retry_after: float | None = None
    permanent: bool = False
    gone: bool = False


Sender = Callable[[ChannelSubscription, ChannelEvent], SendResult]

# kind -> sender. `webhook` is registered by `notifications.webhooks`; the chat and SMS
# modules register theirs when imported (see `load_senders`).
SENDERS: dict[ChannelKind, Sender] = {}

# Modules that register a sender on import, loaded by `load_senders` (the worker calls it).
SENDER_MODULES: list[str] = [
    "statuspage.notifications.webhooks",
    "statuspage.notifications.chat.senders",
]


def register_sender(kind: ChannelKind, sender: Sender) -> Sender:
    SENDERS[ChannelKind(kind)] = sender
    return sender


def load_senders() -> dict[ChannelKind, Sender]:
    import importlib

    for module in SENDER_MODULES:
        importlib.import_module(module)
    return SENDERS
