"""Microsoft Teams: an Adaptive Card posted to a Workflows webhook, and its sender.

A Teams Workflows webhook ("Post to a channel when a webhook request is received") takes a
message envelope whose `attachments` hold the card:

    {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
     "contentUrl": null, "content": {"type": "AdaptiveCard", "version": "1.4", ...}}]}

The card: the page's name (subtle), the title (large, bold), a FactSet (Status, Impact, each
affected component with its status in words), the update in the TextBlock Markdown subset,
the time in the page's zone (named), and two Action.OpenUrl buttons (the page, managing the
subscription). Version 1.4 is what Teams renders on every client, mobile included.

Teams refuses messages over about 28 KB, so the body is shortened to keep the JSON under
`MAX_PAYLOAD_BYTES`. The Workflows trigger answers 202 Accepted when it takes the message.
"""

from __future__ import annotations

import json
from typing import Any

from statuspage.notifications import netguard
from statuspage.notifications.channels import SendResult
from statuspage.notifications.chat.markup import to_teams
from statuspage.notifications.chat.message import ChannelMessage, shorten
from statuspage.notifications.chat.sending import post_json, result_from_answer

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
MAX_PAYLOAD_BYTES = 24 * 1024  # Teams' limit is about 28 KB; keep a margin
MAX_FACTS = 20
TITLE_MAX = 200


def _text_block(text: str, **options: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **options}


def _facts(message: ChannelMessage) -> list[dict[str, str]]:
    facts = [{"title": message.gettext("Status"), "value": message.status_label}]
    if message.impact_label:
        facts.append({"title": message.gettext("Impact"), "value": message.impact_label})
    room = MAX_FACTS - len(facts)
    components = list(message.components)
    shown = components if len(components) <= room else components[: room - 1]
    facts.extend({"title": c.name, "value": c.status_label} for c in shown)
    if len(shown) < len(components):
        facts.append({"title": "…", "value": message.more_text(len(components) - len(shown))})
    return facts


def _card(message: ChannelMessage, body_text: str) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        _text_block(message.page_name, size="Small", isSubtle=True, spacing="None"),
        _text_block(
            shorten(message.heading, TITLE_MAX), size="Large", weight="Bolder", style="heading"
        ),
        {"type": "FactSet", "facts": _facts(message)},
    ]
    if body_text:
        body.append(_text_block(body_text, spacing="Medium"))
    body.append(_text_block(message.time_text(), size="Small", isSubtle=True, spacing="Small"))
    label = message.link_label
    actions = [{"type": "Action.OpenUrl", "title": label, "url": message.url}]
    if message.manage_url:
        actions.append(
            {
                "type": "Action.OpenUrl",
                "title": message.gettext("Manage subscription"),
                "url": message.manage_url,
            }
        )
    return {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "actions": actions,
        "msteams": {"width": "Full"},
    }


def _envelope(card: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}],
    }


def build_teams(message: ChannelMessage) -> dict[str, Any]:
    """The Workflows webhook payload for one message, under MAX_PAYLOAD_BYTES."""
    body_text = to_teams(message.body_markdown)
    payload = _envelope(_card(message, body_text))
    size = len(json.dumps(payload, ensure_ascii=False).encode())
    if size > MAX_PAYLOAD_BYTES:
        # Shorten the body by what is over (in bytes, so by at least as many characters),
        # plus room for the link that says where the rest is.
        label = message.gettext("Read the full update")
        more = f"\n\n[{label}]({message.url})"
        over = size - MAX_PAYLOAD_BYTES
        keep = max(len(body_text) - over - len(more) - 64, 0)
        while True:
            shortened = shorten(body_text, keep) + more
            payload = _envelope(_card(message, shortened))
            if len(json.dumps(payload, ensure_ascii=False).encode()) <= MAX_PAYLOAD_BYTES:
                break
            keep = int(keep * 0.9)
    return payload


def send_teams(url: str, message: ChannelMessage, policy: netguard.NetworkPolicy) -> SendResult:
    answer = post_json(url, build_teams(message), policy)
    if isinstance(answer, SendResult):
        return answer
    if 200 <= answer.status < 300:
        return result_from_answer(answer, ok=True)
    # 404: the flow was deleted (or its URL regenerated); 410: gone for good.
    gone = answer.status in (404, 410)
    return result_from_answer(answer, ok=False, gone=gone, error=f"HTTP {answer.status}")
