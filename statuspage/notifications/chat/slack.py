"""Slack: an incoming-webhook message in Block Kit, and its sender.

The blocks are built with `slack_sdk`'s Block Kit models, which check Slack's documented limits
when serialised (header text 150 characters, section text 3,000, 10 fields of 2,000, button
text 75), and the message keeps under Slack's 50 blocks. The layout:

    header    [Investigating] API errors
    section   fields: Status, Impact, Affected components (each "Name: Status", in words)
    section   the update as mrkdwn, split at paragraph or word boundaries into pieces of at
              most 3,000 characters (at most MAX_BODY_SECTIONS; beyond, a "read more" link)
    context   the page's name, the time in the page's zone (named), the manage link
    actions   a link button to the incident's page

`text` carries a plain one-line summary: Slack shows it in notifications and where blocks
cannot be shown. The sender POSTs the JSON through the channels' SSRF guard (`sending`).
Slack answers 200 `ok`, or a plain-text error code (400 invalid_blocks, 404 no_service,
410 channel_is_archived, 429 with Retry-After).
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from statuspage.notifications import netguard
from statuspage.notifications.channels import SendResult
from statuspage.notifications.chat.markup import to_plain, to_slack
from statuspage.notifications.chat.message import (
    AffectedComponent,
    ChannelMessage,
    components_text,
    shorten,
)
from statuspage.notifications.chat.sending import post_json, result_from_answer

MAX_BLOCKS = 50
HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
BUTTON_TEXT_MAX = 75
MAX_BODY_SECTIONS = 12  # 36,000 characters: past that a reader wants the page anyway
FALLBACK_MAX = 300
GONE_ERRORS = {"no_service", "channel_not_found", "channel_is_archived", "no_team"}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def split_text(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut between paragraphs, then lines,
    then words; a single word longer than `limit` (a long URL) is cut where it must be."""
    pieces: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        current = ""
        if len(paragraph) <= limit:
            current = paragraph
            continue
        for word in paragraph.replace("\n", "\n ").split(" "):
            joiner = "" if current.endswith("\n") or not current else " "
            if len(current) + len(joiner) + len(word) <= limit:
                current += joiner + word
                continue
            if current:
                pieces.append(current.rstrip())
            while len(word) > limit:
                pieces.append(word[:limit])
                word = word[limit:]
            current = word
    if current:
        pieces.append(current)
    return [piece for piece in pieces if piece.strip()]


def _body_sections(message: ChannelMessage, room: int) -> list[Block]:
    text = to_slack(message.body_markdown)
    if not text:
        return []
    pieces = split_text(text, SECTION_TEXT_MAX)
    limit = min(room, MAX_BODY_SECTIONS)
    if len(pieces) > limit:
        label = _escape(message.gettext("Read the full update"))
        more = f"\n\n… <{_escape(message.url)}|{label}>"
        pieces = pieces[:limit]
        pieces[-1] = shorten(pieces[-1], SECTION_TEXT_MAX - len(more)) + more
    return [SectionBlock(text=MarkdownTextObject(text=piece)) for piece in pieces]


def build_slack(message: ChannelMessage) -> dict[str, Any]:
    """The incoming-webhook payload (`text` + `blocks`) for one message."""
    header = HeaderBlock(
        text=PlainTextObject(text=shorten(message.heading, HEADER_MAX), emoji=False)
    )
    status = _escape(message.gettext("Status"))
    fields = [MarkdownTextObject(text=f"*{status}*\n{_escape(message.status_label)}")]
    if message.impact_label:
        impact = _escape(message.gettext("Impact"))
        fields.append(MarkdownTextObject(text=f"*{impact}*\n{_escape(message.impact_label)}"))
    if message.components:
        heading = "*" + _escape(message.gettext("Affected components")) + "*\n"
        escaped = tuple(
            AffectedComponent(_escape(c.name), _escape(c.status_label)) for c in message.components
        )
        listed = components_text(
            escaped, FIELD_TEXT_MAX - len(heading), more=lambda n: _escape(message.more_text(n))
        )
        fields.append(MarkdownTextObject(text=heading + listed))
    facts = SectionBlock(fields=fields)
    context_parts = [f"*{_escape(message.page_name)}*", _escape(message.time_text())]
    if message.manage_url:
        manage = _escape(message.gettext("Manage subscription"))
        context_parts.append(f"<{_escape(message.manage_url)}|{manage}>")
    context = ContextBlock(elements=[MarkdownTextObject(text=" · ".join(context_parts))])
    button_label = message.link_label
    actions = ActionsBlock(
        elements=[
            ButtonElement(
                text=PlainTextObject(text=button_label[:BUTTON_TEXT_MAX]),
                url=message.url,
                action_id="open_status_page",
            )
        ]
    )
    fixed: list[Block] = [header, facts, context, actions]
    body = _body_sections(message, MAX_BLOCKS - len(fixed))
    blocks = [header, facts, *body, context, actions]
    summary = " ".join(to_plain(message.body_markdown).split())
    fallback = f"{message.heading} ({message.page_name})"
    if summary:
        fallback = shorten(f"{fallback}: {summary}", FALLBACK_MAX)
    return {
        "text": f"{_escape(fallback)} {_escape(message.url)}",
        "blocks": [block.to_dict() for block in blocks],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def send_slack(url: str, message: ChannelMessage, policy: netguard.NetworkPolicy) -> SendResult:
    answer = post_json(url, build_slack(message), policy)
    if isinstance(answer, SendResult):
        return answer
    return slack_result(answer)


def slack_result(answer: netguard.Answer) -> SendResult:
    code = answer.body.decode("utf-8", errors="replace").strip()
    if answer.status == 200 and code == "ok":
        return result_from_answer(answer, ok=True)
    gone = answer.status in (404, 410) or code in GONE_ERRORS
    return result_from_answer(answer, ok=False, gone=gone, error=code[:200] or "refused")
