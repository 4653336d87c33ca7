"""A loopback stand-in for a Discord webhook (`POST /api/webhooks/{id}/{token}`).

It checks what Discord documents for executing a webhook and for embeds (content at most
2,000 characters, at most 10 embeds; per embed a title of at most 256, a description of at
most 4,096, at most 25 fields with a non-empty name of at most 256 and value of at most 1,024,
a footer of at most 2,048, an author name of at most 256, 6,000 characters in all; a colour
from 0 to 0xFFFFFF, an ISO 8601 timestamp, http(s) URLs; `allowed_mentions.parse` from
users/roles/everyone) and answers as Discord does: 204 (200 with the message under
`?wait=true`), 400 `{"code": 50035, "message": "Invalid Form Body", "errors": {...}}` or
50006 for an empty message, 404 `{"code": 10015, "message": "Unknown Webhook"}`.
`rate_limit(seconds)` scripts the next answer as Discord's 429 (JSON `retry_after`, a float,
and a Retry-After header).
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime
from typing import Any

from tests.fakes.loopback import Answer, LoopbackFake, Received

CONTENT_MAX = 2000
EMBEDS_MAX = 10
LIMITS = {"title": 256, "description": 4096, "footer": 2048, "author": 256}
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
TOTAL_MAX = 6000


def _form_error(path: list[str], code: str, message: str) -> dict[str, Any]:
    errors: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        errors = {key: errors}
    return {"code": 50035, "errors": errors, "message": "Invalid Form Body"}


def embed_problem(index: int, embed: Any) -> dict[str, Any] | None:
    base = ["embeds", str(index)]
    if not isinstance(embed, dict):
        return _form_error(base, "MODEL_TYPE_CONVERT", "Only dictionaries may be used.")
    total = 0
    for key in ("title", "description"):
        value = embed.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > LIMITS[key]:
            return _form_error(
                [*base, key], "BASE_TYPE_MAX_LENGTH", f"Must be {LIMITS[key]} or fewer in length."
            )
        total += len(value)
    for key, inner in (("footer", "text"), ("author", "name")):
        part = embed.get(key)
        if part is None:
            continue
        value = part.get(inner) if isinstance(part, dict) else None
        if not isinstance(value, str) or not value or len(value) > LIMITS[key]:
            return _form_error(
                [*base, key, inner],
                "BASE_TYPE_MAX_LENGTH",
                f"Must be between 1 and {LIMITS[key]} in length.",
            )
        total += len(value)
    fields = embed.get("fields") or []
    if not isinstance(fields, list) or len(fields) > FIELDS_MAX:
        return _form_error(
            [*base, "fields"], "BASE_TYPE_MAX_LENGTH", f"Must be {FIELDS_MAX} or fewer in length."
        )
    for position, field in enumerate(fields):
        for key, limit in (("name", FIELD_NAME_MAX), ("value", FIELD_VALUE_MAX)):
            value = field.get(key) if isinstance(field, dict) else None
            if not isinstance(value, str) or not value or len(value) > limit:
                return _form_error(
                    [*base, "fields", str(position), key],
                    "BASE_TYPE_BAD_LENGTH",
                    f"Must be between 1 and {limit} in length.",
                )
            total += len(value)
    if total > TOTAL_MAX:
        return _form_error(
            base, "BASE_TYPE_MAX_LENGTH", f"Embed size exceeds maximum size of {TOTAL_MAX}"
        )
    colour = embed.get("color")
    if colour is not None and (not isinstance(colour, int) or not 0 <= colour <= 0xFFFFFF):
        return _form_error([*base, "color"], "NUMBER_TYPE_MAX", "int value should be <= 16777215.")
    timestamp = embed.get("timestamp")
    if timestamp is not None:
        try:
            datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
        except ValueError:
            return _form_error(
                [*base, "timestamp"], "DATE_TIME_TYPE_PARSE", "Could not parse timestamp."
            )
    url = embed.get("url")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        return _form_error([*base, "url"], "URL_TYPE_INVALID_URL", "Not a well formed URL.")
    return None


class FakeDiscord(LoopbackFake):
    name = "discord"

    def __init__(self) -> None:
        super().__init__()
        self.webhook_id = str(10**17 + secrets.randbelow(10**17))
        self.webhook_token = secrets.token_urlsafe(48)
        self.webhook_path = f"/api/webhooks/{self.webhook_id}/{self.webhook_token}"

    @property
    def webhook_url(self) -> str:
        return self.url + self.webhook_path

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [request.json for request in self.accepted]

    def rate_limit(self, retry_after: float) -> None:
        self.respond_with(
            429,
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
            headers={
                "Retry-After": str(math.ceil(retry_after)),
                "X-RateLimit-Scope": "user",
                "X-RateLimit-Reset-After": str(retry_after),
            },
        )

    def answer(self, request: Received) -> Answer:
        if request.path != self.webhook_path:
            return Answer(404, {"message": "Unknown Webhook", "code": 10015})
        if request.method != "POST":
            return Answer(405, {"message": "405: Method Not Allowed", "code": 0})
        payload = (
            request.json
            if request.headers.get("Content-Type", "").startswith("application/json")
            else None
        )
        if not isinstance(payload, dict):
            request.problem = "not JSON"
            return Answer(400, {"message": "Cannot send an empty message", "code": 50006})
        content, embeds = payload.get("content"), payload.get("embeds")
        if not content and not embeds:
            request.problem = "empty"
            return Answer(400, {"message": "Cannot send an empty message", "code": 50006})
        problem: dict[str, Any] | None = None
        if content is not None and (not isinstance(content, str) or len(content) > CONTENT_MAX):
            problem = _form_error(
                ["content"], "BASE_TYPE_MAX_LENGTH", f"Must be {CONTENT_MAX} or fewer in length."
            )
        elif embeds is not None and (not isinstance(embeds, list) or len(embeds) > EMBEDS_MAX):
            problem = _form_error(
                ["embeds"], "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_MAX} or fewer in length."
            )
        else:
            for index, embed in enumerate(embeds or []):
                if problem := embed_problem(index, embed):
                    break
        mentions = payload.get("allowed_mentions")
        if problem is None and mentions is not None:
            parse = mentions.get("parse") if isinstance(mentions, dict) else None
            if not isinstance(parse, list) or not set(parse) <= {"users", "roles", "everyone"}:
                problem = _form_error(
                    ["allowed_mentions", "parse"], "ENUM_TYPE_COERCE", "Not a valid value."
                )
        if problem is not None:
            request.problem = str(problem["errors"])
            return Answer(400, problem)
        scripted = self.next_scripted()
        if scripted is not None:
            return scripted
        if "wait=true" in request.query:
            message_id = str(secrets.randbelow(10**18))
            return Answer(200, {"id": message_id, "webhook_id": self.webhook_id})
        return Answer(204)
