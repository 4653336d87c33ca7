"""Discord: a webhook message with one embed, and its sender.

The embed: the page's name as author, the title ("[Investigating] API errors", at most 256
characters) linking to the incident's page, the update as Discord Markdown (at most 4,096),
fields for the status and impact in words and the affected components (each field value at
most 1,024), the manage link, the time in the page's zone as footer, and `timestamp` (ISO
8601) which Discord shows in each reader's own zone. The colour follows the status, but the
status is always written too. Discord counts at most 6,000 characters across an embed's
texts; the description gives way first.

`allowed_mentions` is empty: text from an update can never ping `@everyone` or a role.

Discord answers 204 when it took the message, 400 with a JSON `errors` tree for a bad form,
404 (code 10015, Unknown Webhook) once the webhook is deleted, and 429 with `retry_after`
(seconds, a float) in the JSON body and a Retry-After header.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from statuspage.notifications import netguard
from statuspage.notifications.channels import SendResult
from statuspage.notifications.chat.markup import escape_discord, to_discord
from statuspage.notifications.chat.message import (
    AffectedComponent,
    ChannelMessage,
    components_text,
    shorten,
)
from statuspage.notifications.chat.sending import post_json, result_from_answer

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
GONE_CODES = {10015, 50027}  # Unknown Webhook, Invalid Webhook Token

RED, ORANGE, YELLOW, BLUE, GREEN, GREY = 0xD83C3E, 0xE67E22, 0xF1C40F, 0x3498DB, 0x2ECC71, 0x95A5A6
STATUS_COLOURS = {
    "investigating": RED,
    "identified": ORANGE,
    "monitoring": BLUE,
    "resolved": GREEN,
    "scheduled": BLUE,
    "in_progress": BLUE,
    "verifying": BLUE,
    "completed": GREEN,
    "operational": GREEN,
    "degraded_performance": YELLOW,
    "partial_outage": ORANGE,
    "major_outage": RED,
    "under_maintenance": BLUE,
}


def _total(embed: dict[str, Any]) -> int:
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    total += len(embed.get("footer", {}).get("text", ""))
    total += len(embed.get("author", {}).get("name", ""))
    for field in embed.get("fields", []):
        total += len(field["name"]) + len(field["value"])
    return total


def build_discord(message: ChannelMessage) -> dict[str, Any]:
    """The execute-webhook payload for one message."""
    fields = [{"name": message.gettext("Status"), "value": message.status_label, "inline": True}]
    if message.impact_label:
        fields.append(
            {"name": message.gettext("Impact"), "value": message.impact_label, "inline": True}
        )
    if message.components:
        fields.append(
            {
                "name": message.gettext("Affected components"),
                "value": components_text(
                    tuple(
                        AffectedComponent(escape_discord(c.name), c.status_label)
                        for c in message.components
                    ),
                    FIELD_VALUE_MAX,
                    more=message.more_text,
                ),
                "inline": False,
            }
        )
    if message.manage_url:
        manage = escape_discord(message.gettext("Manage or unsubscribe"))
        fields.append(
            {
                "name": message.gettext("Subscription"),
                "value": f"[{manage}]({message.manage_url})",
                "inline": False,
            }
        )
    embed: dict[str, Any] = {
        "author": {"name": shorten(message.page_name, AUTHOR_MAX)},
        "title": shorten(message.heading, TITLE_MAX),
        "url": message.url,
        "color": STATUS_COLOURS.get(message.status, GREY),
        "fields": fields,
        "footer": {"text": shorten(message.time_text(), FOOTER_MAX)},
        "timestamp": message.occurred_at.astimezone(UTC).isoformat(timespec="seconds"),
    }
    description = to_discord(message.body_markdown)
    if description:
        label = escape_discord(message.gettext("Read the full update"))
        more = f"\n\n[{label}]({message.url})"
        room = min(DESCRIPTION_MAX, EMBED_TOTAL_MAX - _total(embed))
        if len(description) > room:
            description = shorten(description, room - len(more)) + more
        embed["description"] = description
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}


def send_discord(url: str, message: ChannelMessage, policy: netguard.NetworkPolicy) -> SendResult:
    answer = post_json(url, build_discord(message), policy)
    if isinstance(answer, SendResult):
        return answer
    if 200 <= answer.status < 300:
        return result_from_answer(answer, ok=True)
    try:
        body = json.loads(answer.body)
    except (UnicodeDecodeError, ValueError):
        body = None
    body = body if isinstance(body, dict) else {}
    retry_after = None
    if answer.status == 429 and isinstance(body.get("retry_after"), (int, float)):
        retry_after = max(float(body["retry_after"]), 0.0)
    gone = answer.status in (404, 410) or body.get("code") in GONE_CODES
    error = str(body.get("message") or f"HTTP {answer.status}")[:200]
    return result_from_answer(answer, ok=False, gone=gone, retry_after=retry_after, error=error)
