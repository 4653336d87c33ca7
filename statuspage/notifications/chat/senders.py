"""The chat and SMS senders in the channels' registry, and the message they send.

`message_from_event` turns the pipeline's `ChannelEvent` into the neutral `ChannelMessage`
(status and component words in the event's language, the page's zone); each sender builds
its service's payload from it and makes one attempt (`notifications.channels` says what a
sender may do). Imported by `load_senders` (listed in `channels.SENDER_MODULES`).
"""

from __future__ import annotations

from datetime import UTC

from statuspage.core import translation, vocabulary
from statuspage.core.languages import SOURCE_LANGUAGE, normalize
from statuspage.core.translation import N_
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

EVENT_LABELS = {
    "incident.closure_report": N_("Closure report"),
    "incident.postmortem": N_("Post-incident review"),
    "maintenance.reminder": N_("Maintenance reminder"),
}
# Every status word an event can carry: incidents', maintenance's and components'.
STATUS_WORDS = {
    **vocabulary.COMPONENT_STATUS,
    **vocabulary.MAINTENANCE_STATUS,
    **vocabulary.PUBLIC_STATUS,
}


def _words(value: str, language: str) -> str:
    if not value:
        return ""
    known = STATUS_WORDS.get(value)
    if known is None:
        return value.replace("_", " ").capitalize()
    return translation.gettext(known, language)


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
    language = normalize(event.language) or SOURCE_LANGUAGE
    event_label = EVENT_LABELS.get(event.event_type)
    return ChannelMessage(
        kind=kind,
        page_name=event.page_name,
        title=event.title,
        status=event.status,
        status_label=(
            event.label
            or (translation.gettext(event_label, language) if event_label else "")
            or _words(event.status, language)
        ),
        url=event.url or event.page_url,
        occurred_at=occurred_at,
        time_zone=event.time_zone,
        impact=impact,
        body_markdown=event.body,
        components=tuple(
            AffectedComponent(component.name, _words(component.status, language))
            for component in event.components
        ),
        manage_url=event.manage_url,
        language=language,
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
