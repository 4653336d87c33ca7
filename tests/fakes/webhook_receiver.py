"""A loopback webhook consumer, as a reader would write one: it verifies every request's
Standard Webhooks signature with the `standardwebhooks` library, checks the body against
Statuspage's webhook format, answers the verification challenge, and drops repeats by
`webhook-id`.

    with WebhookReceiver() as receiver:
        url = receiver.url("/hooks/a")
        receiver.secrets["/hooks/a"] = "whsec_..."      # once the subscribe page showed it
        receiver.script("/hooks/a", Action(429, headers={"Retry-After": "1"}), Action(500))
        receiver.fail_until("/hooks/a", time.monotonic() + 5, Action("reset"))
        ...
        receiver.accepted("/hooks/a")  # bodies answered 2xx, first per webhook-id

Actions: an HTTP status (with headers and a body), "reset" (the connection is closed with
a TCP RST, no answer), "hang" (the answer comes after `seconds`: the sender times out
first, though the receiver did get the request, as a real slow consumer does).

A request whose body ends before its Content-Length (the sender died mid-request) is recorded
with `answered="truncated"` and a problem saying so, answered with nothing, and never counted
as accepted.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

STATUS_INDICATORS = {"none", "minor", "major", "critical", "maintenance"}
INCIDENT_STATUSES = {
    "investigating", "identified", "monitoring", "resolved", "postmortem",
    "scheduled", "in_progress", "verifying", "completed",
}  # fmt: skip
IMPACTS = {"none", "minor", "major", "critical", "maintenance"}


@dataclass(frozen=True)
class Action:
    kind: int | str = 200  # a status code, "reset" or "hang"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    seconds: float = 0.0  # for "hang", or a delay before any answer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any
    verified: bool
    problems: list[str]
    answered: int | str
    at: float

    @property
    def message_id(self) -> str:
        return self.headers.get("webhook-id", "")


def payload_problems(body: Any) -> list[str]:
    """What is not Statuspage-compatible in a webhook body ([] when it is)."""
    problems: list[str] = []
    if not isinstance(body, dict):
        return ["not a JSON object"]
    if body.get("type") == "verification":
        if not body.get("challenge"):
            problems.append("verification without challenge")
        return problems
    page = body.get("page") or {}
    if page.get("status_indicator") not in STATUS_INDICATORS:
        problems.append(f"page.status_indicator {page.get('status_indicator')!r}")
    if not isinstance(page.get("status_description"), str):
        problems.append("page.status_description missing")
    if "incident" in body:
        incident = body["incident"]
        for key in ("id", "name", "status", "impact", "shortlink", "incident_updates"):
            if key not in incident:
                problems.append(f"incident.{key} missing")
        if incident.get("status") not in INCIDENT_STATUSES:
            problems.append(f"incident.status {incident.get('status')!r}")
        if incident.get("impact") not in IMPACTS:
            problems.append(f"incident.impact {incident.get('impact')!r}")
        updates = incident.get("incident_updates") or []
        if not updates:
            problems.append("incident.incident_updates empty")
        for update in updates:
            if not {"id", "body", "status", "created_at"} <= set(update):
                problems.append("incident_update keys")
        stamps = [u.get("created_at") or "" for u in updates]
        if stamps != sorted(stamps, reverse=True):
            problems.append("incident_updates are not newest first")
    elif "stakeholder_summary" in body:
        # Ours, internal (docs/api.md, "Stakeholder summaries"): no Statuspage equivalent.
        summary = body["stakeholder_summary"] or {}
        for key in ("id", "event", "event_label", "detail", "lists", "created_at", "incident"):
            if key not in summary:
                problems.append(f"stakeholder_summary.{key} missing")
        incident = summary.get("incident") or {}
        for key in ("id", "number", "name", "priority", "status", "components", "staff_url"):
            if key not in incident:
                problems.append(f"stakeholder_summary.incident.{key} missing")
        if (body.get("meta") or {}).get("event_type") != "stakeholder.summary":
            problems.append("stakeholder_summary without event_type stakeholder.summary")
    elif "component" in body:
        if not {"old_status", "new_status"} <= set(body.get("component_update") or {}):
            problems.append("component_update old/new status missing")
    else:
        problems.append("neither incident nor component")
    return problems


class WebhookReceiver:
    def __init__(self, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.secrets: dict[str, str] = {}
        self.requests: list[Received] = []
        self.answer_challenge = True
        # Called (once) with the path when the first request arrives, before it is answered.
        self.on_first_request: Any = None
        self._scripts: dict[str, deque[Action]] = defaultdict(deque)
        self._failing: dict[str, tuple[float, list[Action]]] = {}
        self._default: dict[str, Action] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                receiver._handle(self)

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    # scripting

    def script(self, path: str, *actions: Action) -> None:
        with self._lock:
            self._scripts[path].extend(actions)

    def fail_until(self, path: str, deadline: float, *actions: Action) -> None:
        """Until `deadline` (time.monotonic), answer with `actions` in turn."""
        with self._lock:
            self._failing[path] = (deadline, list(actions))

    def fail_for(self, path: str, seconds: float, *actions: Action) -> None:
        """From the first request to `path` on, answer with `actions` for `seconds`."""
        with self._lock:
            self._failing[path] = (-seconds, list(actions))

    def default(self, path: str, action: Action) -> None:
        with self._lock:
            self._default[path] = action

    def _next(self, path: str) -> Action:
        with self._lock:
            if self._scripts[path]:
                return self._scripts[path].popleft()
            failing = self._failing.get(path)
            if failing and failing[0] < 0:  # fail_for: the clock starts now
                failing = self._failing[path] = (time.monotonic() - failing[0], failing[1])
            if failing and time.monotonic() < failing[0]:
                actions = failing[1]
                actions.append(actions.pop(0))
                return actions[-1]
            return self._default.get(path, Action(200))

    # results

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def accepted(self, path: str) -> list[Received]:
        """Requests this consumer processed, first per webhook-id (repeats dropped): those it
        answered 2xx, and those it got but answered too late ("hang"). Never a truncated one,
        which no consumer gets to process."""
        seen: set[str] = set()
        kept = []
        for request in self.received(path):
            if request.answered in ("reset", "truncated") or (
                isinstance(request.answered, int) and not 200 <= request.answered < 300
            ):
                continue
            if request.message_id in seen:
                continue
            seen.add(request.message_id)
            kept.append(request)
        return kept

    # handling

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        path = handler.path
        headers = {key.lower(): value for key, value in handler.headers.items()}
        try:
            raw = handler.rfile.read(length)
            lost = ""
        except OSError as error:  # reset by the sender while its body was on the way
            raw, lost = b"", f" ({type(error).__name__})"
        if len(raw) < length:
            # The sender stopped mid-request (a worker killed between sending the headers and
            # the body): a consumer's server sees a broken request, never hands it to the
            # consumer and answers nothing. Kept, so that a test can tell it from one that was
            # processed; it takes no scripted answer and is not a first request.
            problem = f"truncated: {len(raw)} of {length} bytes{lost}"
            record = Received(path, headers, raw, None, False, [problem], "truncated", time.time())
            with self._lock:
                self.requests.append(record)
            handler.close_connection = True
            return
        secret = self.secrets.get(path)
        verified = False
        problems: list[str] = []
        body: Any = None
        if secret:
            try:
                body = Webhook(secret).verify(raw, headers)
                verified = True
            except WebhookVerificationError as error:
                problems.append(f"signature: {error}")
        if body is None:
            try:
                body = json.loads(raw)
            except ValueError:
                problems.append("not JSON")
        problems += payload_problems(body)
        if body is not None and isinstance(body, dict):
            meta = body.get("meta") or {}
            if meta.get("message_id") != headers.get("webhook-id"):
                problems.append("meta.message_id differs from webhook-id")
        action = self._next(path)
        record = Received(path, headers, raw, body, verified, problems, action.kind, time.time())
        with self._lock:
            self.requests.append(record)
            hook, self.on_first_request = self.on_first_request, None
        if hook is not None:
            hook(path)
        if action.kind == "reset":
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.close_connection = True
            handler.connection.close()
            return
        if action.kind == "hang":
            self._stopping.wait(action.seconds)
            status = 200
        else:
            if action.seconds:
                self._stopping.wait(action.seconds)
            status = int(action.kind)
        try:
            handler.send_response(status)
            for key, value in action.headers.items():
                handler.send_header(key, value)
            challenge = headers.get("webhook-challenge")
            if challenge and secret and self.answer_challenge and 200 <= status < 300:
                handler.send_header(
                    "webhook-challenge-response",
                    Webhook(secret).endpoint_verification_response(challenge),
                )
            handler.send_header("Content-Length", str(len(action.body)))
            handler.end_headers()
            handler.wfile.write(action.body)
        except OSError:
            pass
