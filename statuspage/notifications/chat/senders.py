"""The chat and SMS senders in the channels' registry, and the message they send.

`message_from_event` turns the pipeline's `ChannelEvent` into the neutral `ChannelMessage`
(status and component words, the page's zone); each sender builds its service's payload from
it and makes one attempt (`notifications.channels` says what a sender may do). Imported by
`load_senders` (listed in `channels.SENDER_MODULES`).
"""

from __future__ import annotations

from datetime import UTC

from statuspage.notifications.channels import (
    ChannelEvent,
    SendResult,
    register_sender,
)
from statuspage.notifications.chat.discord import send_discord
from statuspage.notifications.chat.message import AffectedComponent, ChannelMessage, EventKind
from statuspage.notifications.chat.slack import send_slack
from statuspage.notifications.chat.sms import send_sms, twilio_settings
from statuspage.notifications.chat.teams import send_teams
from statuspage.notifications.models import ChannelKind, ChannelSubscription
from statuspage.templating import status_label

EVENT_LABELS = {
    "incident.closure_report": "Closure report",
    "incident.postmortem": "Post-incident review",
    "maintenance.reminder": "Maintenance reminder",
}


def _words(value: str) -> str:
    return value.replace("_", " ").capitalize() if value else ""


def message_from_event(event: ChannelEvent) -> ChannelMessage:
    kind_word = event.event_type.split(".", 1)[0]
    kind = {
        "incident": EventKind.INCIDENT,
        "maintenance": EventKind.MAINTENANCE,
        "component": EventKind.COMPONENT,
        "stakeholder": EventKind.STAKEHOLDER,
    }.get(kind_word, EventKind.INCIDENT)
    occurred_at = event.occurred_at
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    impact = "" if event.impact in ("", "none") else event.impact
    return ChannelMessage(
        kind=kind,
        page_name=event.page_name,
        title=event.title,
        status=event.status,
        status_label=event.label or EVENT_LABELS.get(event.event_type) or _words(event.status),
        url=event.url or event.page_url,
        occurred_at=occurred_at,
        time_zone=event.time_zone,
        impact=impact,
        body_markdown=event.body,
        components=tuple(
            AffectedComponent(component.name, status_label(component.status))
            for component in event.components
        ),
        manage_url=event.manage_url,
    )


def deliver_slack(subscription: ChannelSubscription, event: ChannelEvent) -> SendResult:
    return send_slack(subscription.target, message_from_event(event), event.network)


def deliver_teams(subscription: ChannelSubscription, event: ChannelEvent) -> SendResult:
    return send_teams(subscription.target, message_from_event(event), event.network)


def deliver_discord(subscription: ChannelSubscription, event: ChannelEvent) -> SendResult:
    return send_discord(subscription.target, message_from_event(event), event.network)


def deliver_sms(subscription: ChannelSubscription, event: ChannelEvent) -> SendResult:
    settings = twilio_settings(event.sender_settings)
    if settings is None:
        return SendResult(ok=False, error="SMS is not configured (TWILIO_*)", permanent=True)
    options = event.sender_settings
    return send_sms(
        settings,
        subscription.target,
        message_from_event(event),
        timeout=float(options.get("TWILIO_TIMEOUT") or 10.0),
        max_segments=int(options.get("SMS_MAX_SEGMENTS") or 1),
    )


register_sender(ChannelKind.SLACK, deliver_slack)
register_sender(ChannelKind.TEAMS, deliver_teams)
register_sender(ChannelKind.DISCORD, deliver_discord)
register_sender(ChannelKind.SMS, deliver_sms)
