"""A loopback stand-in for a Microsoft Teams Workflows webhook
(`POST /workflows/{id}/triggers/manual/paths/invoke?api-version=…&sp=…&sv=1.0&sig=…`).

It checks the message envelope the "post to a channel when a webhook request is received"
flow reads (`type` "message", `attachments` with contentType
`application/vnd.microsoft.card.adaptive` and the card in `content`) and the card (type
AdaptiveCard, a version Teams renders, 1.0 to 1.5; a body of known elements: TextBlock with
text, FactSet with string titles and values, Container, ColumnSet, Image; Action.OpenUrl
actions with a title and an http(s) URL), and the size Teams posts (about 28 KB). It answers
202 Accepted with no body as the trigger does, 400 with a JSON `error` for a payload the flow
would fail on, 401 for a wrong `sig`, 404 for an unknown workflow.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.loopback import Answer, LoopbackFake, Received

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
VERSIONS = {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"}
MAX_BYTES = 28 * 1024
ELEMENTS = {"TextBlock", "FactSet", "Container", "ColumnSet", "Image", "RichTextBlock"}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _elements_problem(elements: Any, where: str) -> str | None:
    if not isinstance(elements, list):
        return f"{where} must be a list"
    for index, element in enumerate(elements):
        here = f"{where}[{index}]"
        kind = element.get("type") if isinstance(element, dict) else None
        if kind not in ELEMENTS:
            return f"{here}: unknown element {kind!r}"
        text = element.get("text")
        if kind == "TextBlock" and (not isinstance(text, str) or not text):
            return f"{here}: a TextBlock needs text"
        if kind == "FactSet":
            facts = element.get("facts")
            if not isinstance(facts, list) or not facts:
                return f"{here}: a FactSet needs facts"
            for fact in facts:
                if not (
                    isinstance(fact, dict)
                    and isinstance(fact.get("title"), str)
                    and isinstance(fact.get("value"), str)
                ):
                    return f"{here}: a fact needs a string title and value"
        if kind == "Container" and (problem := _elements_problem(element.get("items"), here)):
            return problem
    return None


def card_problem(card: Any) -> str | None:
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        return "content.type must be AdaptiveCard"
    if card.get("version") not in VERSIONS:
        return f"unsupported card version {card.get('version')!r}"
    if problem := _elements_problem(card.get("body", []), "body"):
        return problem
    for index, action in enumerate(card.get("actions") or []):
        if not isinstance(action, dict) or action.get("type") != "Action.OpenUrl":
            return f"actions[{index}]: only Action.OpenUrl is expected"
        url = action.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return f"actions[{index}]: url must be http(s)"
        if not action.get("title"):
            return f"actions[{index}]: a title is needed"
    return None


class FakeTeams(LoopbackFake):
    name = "teams"

    def __init__(self) -> None:
        super().__init__()
        self.workflow_id = secrets.token_hex(16)
        self.signature = secrets.token_urlsafe(32)
        self.webhook_path = f"/workflows/{self.workflow_id}/triggers/manual/paths/invoke"

    @property
    def webhook_url(self) -> str:
        query = f"api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.signature}"
        return f"{self.url}{self.webhook_path}?{query}"

    @property
    def cards(self) -> list[dict[str, Any]]:
        return [request.json["attachments"][0]["content"] for request in self.accepted]

    def answer(self, request: Received) -> Answer:
        if request.path != self.webhook_path:
            return Answer(404, _error("WorkflowNotFound", "The workflow could not be found."))
        if parse_qs(request.query).get("sig") != [self.signature]:
            return Answer(
                401, _error("DirectApiAuthorizationRequired", "The request must be authenticated.")
            )
        if request.method != "POST":
            return Answer(405, _error("MethodNotAllowed", "POST only."))
        if len(request.raw) > MAX_BYTES:
            request.problem = "too large"
            return Answer(400, _error("MessageSizeTooBig", "The message is too large to post."))
        try:
            payload = json.loads(request.raw)
        except (UnicodeDecodeError, ValueError):
            request.problem = "not JSON"
            return Answer(400, _error("InvalidRequestContent", "The request body is not JSON."))
        problem = None
        if not isinstance(payload, dict) or payload.get("type") != "message":
            problem = "type must be message"
        else:
            attachments = payload.get("attachments")
            if not isinstance(attachments, list) or not attachments:
                problem = "attachments must be a non-empty list"
            else:
                for attachment in attachments:
                    if not isinstance(attachment, dict):
                        problem = "an attachment must be an object"
                    elif attachment.get("contentType") != CARD_CONTENT_TYPE:
                        problem = f"contentType must be {CARD_CONTENT_TYPE}"
                    else:
                        problem = card_problem(attachment.get("content"))
                    if problem:
                        break
        if problem:
            request.problem = problem
            return Answer(400, _error("InvalidTemplate", problem))
        return self.next_scripted() or Answer(202)
