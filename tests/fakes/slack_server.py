"""A loopback stand-in for a Slack incoming webhook (`POST /services/T…/B…/secret`).

It checks what Slack documents for incoming webhooks and Block Kit, and answers as Slack does:
200 `ok`; 400 `invalid_payload` (not JSON), `no_text` (neither text nor blocks) or
`invalid_blocks` (a block breaking the Block Kit rules: at most 50 blocks, header plain_text of
at most 150 characters, section text at most 3,000, at most 10 fields of at most 2,000,
context at most 10 elements, buttons with plain_text of at most 75 and an http(s) URL of at
most 3,000, block_ids unique and at most 255); 404 `no_service` for an unknown webhook.
Scripted answers (`respond_with(429, "rate_limited", headers={"Retry-After": "1"})`, or
`respond_with(410, "channel_is_archived")`) replace the next success.

Stricter than Slack in one way, on purpose: mrkdwn text must have `&`, `<` and `>` escaped
except in `<url|text>` links (Slack renders the mistakes; here they are refused), so an
escaping bug fails a test instead of showing a broken message.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from tests.fakes.loopback import Answer, LoopbackFake, Received

MAX_BLOCKS = 50
HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
FIELDS_MAX = 10
FIELD_TEXT_MAX = 2000
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
BUTTON_TEXT_MAX = 75
URL_MAX = 3000
BLOCK_ID_MAX = 255
TEXT_MAX = 40000

_LINK = re.compile(r"<(https?://[^|>\s]+|mailto:[^|>\s]+)(\|[^<>]*)?>")
_ENTITY = re.compile(r"&(amp|lt|gt);")


def mrkdwn_problem(text: str) -> str | None:
    without_links = _LINK.sub("", text)
    if "<" in without_links:
        return "unescaped < in mrkdwn"
    for line in without_links.split("\n"):
        body = line.lstrip(">").lstrip() if line.startswith(">") else line
        if ">" in body:
            return "unescaped > in mrkdwn"
    if "&" in _ENTITY.sub("", without_links):
        return "unescaped & in mrkdwn"
    return None


def _text_problem(obj: Any, limit: int, *, plain_only: bool = False) -> str | None:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return "a text object needs type plain_text or mrkdwn"
    if plain_only and obj["type"] != "plain_text":
        return "must be plain_text"
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return "text must be a non-empty string"
    if len(text) > limit:
        return f"text longer than {limit}"
    if obj["type"] == "mrkdwn":
        return mrkdwn_problem(text)
    return None


def blocks_problem(blocks: Any) -> str | None:
    if not isinstance(blocks, list) or not blocks:
        return "blocks must be a non-empty list"
    if len(blocks) > MAX_BLOCKS:
        return f"more than {MAX_BLOCKS} blocks"
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"block {index}"
        if not isinstance(block, dict):
            return f"{where}: not an object"
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or len(block_id) > BLOCK_ID_MAX:
                return f"{where}: bad block_id"
            if block_id in block_ids:
                return f"{where}: repeated block_id"
            block_ids.add(block_id)
        kind = block.get("type")
        problem: str | None
        if kind == "header":
            problem = _text_problem(block.get("text"), HEADER_MAX, plain_only=True)
        elif kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and not fields:
                problem = "a section needs text or fields"
            elif text is not None and (problem := _text_problem(text, SECTION_TEXT_MAX)):
                pass
            elif fields is not None and (not isinstance(fields, list) or len(fields) > FIELDS_MAX):
                problem = f"at most {FIELDS_MAX} fields"
            else:
                problem = next(
                    (p for f in fields or [] if (p := _text_problem(f, FIELD_TEXT_MAX))), None
                )
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= CONTEXT_ELEMENTS_MAX:
                problem = f"context needs 1 to {CONTEXT_ELEMENTS_MAX} elements"
            else:
                problem = next(
                    (p for e in elements if (p := _text_problem(e, SECTION_TEXT_MAX))), None
                )
        elif kind == "actions":
            problem = _actions_problem(block.get("elements"))
        elif kind == "divider":
            problem = None
        else:
            problem = f"unknown block type {kind!r}"
        if problem:
            return f"{where} ({kind}): {problem}"
    return None


def _actions_problem(elements: Any) -> str | None:
    if not isinstance(elements, list) or not 1 <= len(elements) <= ACTIONS_ELEMENTS_MAX:
        return f"actions need 1 to {ACTIONS_ELEMENTS_MAX} elements"
    action_ids: set[str] = set()
    for element in elements:
        if not isinstance(element, dict) or element.get("type") != "button":
            return "only buttons are expected here"
        if problem := _text_problem(element.get("text"), BUTTON_TEXT_MAX, plain_only=True):
            return f"button {problem}"
        url = element.get("url")
        if url is not None and (
            not isinstance(url, str)
            or not url.startswith(("http://", "https://"))
            or len(url) > URL_MAX
        ):
            return "button url must be http(s), at most 3000 characters"
        action_id = element.get("action_id")
        if action_id in action_ids:
            return "repeated action_id"
        action_ids.add(action_id)
    return None


class FakeSlack(LoopbackFake):
    name = "slack"

    def __init__(self) -> None:
        super().__init__()
        self.webhook_path = (
            f"/services/T{secrets.token_hex(4).upper()}/B{secrets.token_hex(4).upper()}/"
            f"{secrets.token_urlsafe(18).replace('-', 'x').replace('_', 'y')}"
        )

    @property
    def webhook_url(self) -> str:
        return self.url + self.webhook_path

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [request.json for request in self.accepted]

    def answer(self, request: Received) -> Answer:
        if request.path != self.webhook_path:
            return Answer(404, "no_service")
        if request.method != "POST":
            return Answer(405, "invalid_method")
        content_type = request.headers.get("Content-Type", "")
        payload = request.json if content_type.startswith("application/json") else None
        if not isinstance(payload, dict):
            request.problem = "not a JSON object"
            return Answer(400, "invalid_payload")
        text, blocks = payload.get("text"), payload.get("blocks")
        if not text and not blocks:
            request.problem = "neither text nor blocks"
            return Answer(400, "no_text")
        if text is not None and (not isinstance(text, str) or len(text) > TEXT_MAX):
            request.problem = "text"
            return Answer(400, "invalid_payload")
        if isinstance(text, str) and (problem := mrkdwn_problem(text)):
            request.problem = f"text: {problem}"
            return Answer(400, "invalid_payload")
        if blocks is not None and (problem := blocks_problem(blocks)):
            request.problem = problem
            return Answer(400, "invalid_blocks")
        return self.next_scripted() or Answer(200, "ok", {"Content-Type": "text/html"})
