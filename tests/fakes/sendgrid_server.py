"""A loopback HTTP server that answers `POST /v3/mail/send` the way SendGrid's v3 API documents.

    with FakeSendGrid() as sendgrid:
        transport = SendGridTransport(sendgrid.api_key, host=sendgrid.url)
        sendgrid.respond_with(429, headers={"X-RateLimit-Reset": "..."})   # the next request
        ...
        sendgrid.requests[0].body["personalizations"]

What it checks, in SendGrid's order: `Authorization: Bearer <key>` (401), the body size (413),
the JSON (400), then the request's shape: a sender, a subject, content with text/plain first,
and 1 to 1000 personalizations, each with at least one `to` (400, with the field named). A
request that passes gets the next scripted response, or 202 with a unique `X-Message-Id`.
Every request is recorded (thread-safe) with what was answered. `delay` (seconds) slows every
answer, e.g. 0.05 to imitate SendGrid's latency in a benchmark; a scripted response can carry
its own. Stopping the server wakes any answer still waiting out its delay.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_PERSONALIZATIONS = 1000
MAX_BODY_BYTES = 30 * 1024 * 1024
MAIL_SEND_PATH = "/v3/mail/send"


def error_body(message: str, field: str | None = None) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": field, "help": None}]}


UNAUTHORIZED = error_body("The provided authorization grant is invalid, expired, or revoked")


@dataclass(frozen=True)
class Response:
    status: int
    body: Any = None  # dict/list (sent as JSON), str or bytes, or None for no body
    headers: dict[str, str] = field(default_factory=dict)
    delay: float | None = None  # None: the server's default delay


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: Message  # case-insensitive lookups: request.headers["authorization"]
    body: Any  # the parsed JSON, or None when it was not JSON (or not kept)
    size: int  # bytes in the body
    recipients: tuple[str, ...]  # every `to` address, in order
    status: int  # what the server answered
    message_id: str | None  # the X-Message-Id it answered with, if any

    @property
    def personalizations(self) -> list[dict[str, Any]]:
        if isinstance(self.body, dict):
            return list(self.body.get("personalizations") or [])
        return []


class FakeSendGrid:
    def __init__(
        self,
        *,
        api_key: str | None = None,
        delay: float = 0.0,
        max_body_bytes: int = MAX_BODY_BYTES,
        keep_bodies: bool = True,
    ) -> None:
        self.api_key = api_key or "SG.fake-" + secrets.token_urlsafe(24)
        self.delay = delay
        self.max_body_bytes = max_body_bytes
        # A benchmark sending 100,000 recipients may keep only the addresses.
        self.keep_bodies = keep_bodies
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._scripted: deque[Response] = deque()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control ---

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake SendGrid server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def respond_with(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay: float | None = None,
    ) -> None:
        """Answer the next valid request (after any already queued) like this."""
        with self._lock:
            self._scripted.append(Response(status, body, dict(headers or {}), delay))

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._scripted.clear()

    def start(self) -> FakeSendGrid:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # how soon `stop` is noticed
            name="fake-sendgrid",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeSendGrid:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- behaviour ---

    def _answer(
        self, method: str, path: str, headers: Message, raw: bytes | None
    ) -> tuple[Response, Any, tuple[str, ...]]:
        """(response, parsed body, recipients) for one request; `raw` None: too large."""
        if path != MAIL_SEND_PATH:
            return Response(404, error_body("Not found")), None, ()
        if method != "POST":
            return Response(405, error_body("Method not allowed")), None, ()
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return Response(401, UNAUTHORIZED), None, ()
        if raw is None:
            return (
                Response(
                    413,
                    error_body("The JSON payload you have included in your request is too large."),
                ),
                None,
                (),
            )
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            return Response(400, error_body("Bad Request", None)), None, ()
        problem = _shape_problem(body)
        recipients = _recipients(body)
        if problem is not None:
            return Response(400, error_body(*problem)), body, recipients
        with self._lock:
            scripted = self._scripted.popleft() if self._scripted else None
        return scripted or Response(202), body, recipients


def _shape_problem(body: Any) -> tuple[str, str] | None:
    """(message, field) for the first thing SendGrid would refuse, or None."""
    if not isinstance(body, dict):
        return "Bad Request", ""
    sender = body.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        return "The from object must be provided for every email send.", "from"
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return (
            "The personalizations field is required and must have at least one personalization.",
            "personalizations",
        )
    if len(personalizations) > MAX_PERSONALIZATIONS:
        return (
            f"You may not have more than {MAX_PERSONALIZATIONS} personalizations per API request.",
            "personalizations",
        )
    total = 0
    for index, personalization in enumerate(personalizations):
        tos = personalization.get("to") if isinstance(personalization, dict) else None
        if not isinstance(tos, list) or not tos:
            return (
                "The to array is required for all personalization objects, and must have at "
                "least one email object with a valid email address.",
                f"personalizations.{index}.to",
            )
        if not all(isinstance(to, dict) and "@" in str(to.get("email", "")) for to in tos):
            return (
                "Does not contain a valid address.",
                f"personalizations.{index}.to",
            )
        total += len(tos)
    if total > MAX_PERSONALIZATIONS:
        return (
            f"The total number of recipients must be no more than {MAX_PERSONALIZATIONS}.",
            "personalizations",
        )
    has_subject = bool(body.get("subject")) or all(
        p.get("subject") for p in personalizations if isinstance(p, dict)
    )
    if not has_subject and not body.get("template_id"):
        return "The subject is required.", "subject"
    content = body.get("content")
    if not body.get("template_id"):
        if not isinstance(content, list) or not content:
            return "Unless a valid template_id is provided, the content parameter is required.", (
                "content"
            )
        for index, part in enumerate(content):
            if not isinstance(part, dict) or not part.get("type") or not part.get("value"):
                return "The content value must be a string at least one character in length.", (
                    f"content.{index}.value"
                )
        types = [part["type"] for part in content]
        if "text/plain" in types and types[0] != "text/plain":
            return "If present, text/plain content must be first.", "content"
    return None


def _recipients(body: Any) -> tuple[str, ...]:
    if not isinstance(body, dict) or not isinstance(body.get("personalizations"), list):
        return ()
    found: list[str] = []
    for personalization in body["personalizations"]:
        if isinstance(personalization, dict) and isinstance(personalization.get("to"), list):
            found.extend(
                str(to.get("email")) for to in personalization["to"] if isinstance(to, dict)
            )
    return tuple(found)


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout) leaves a broken pipe behind: not worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSendGrid
    server_version = "FakeSendGrid/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass  # quiet: tests read `.requests` instead

    def _handle(self) -> None:
        fake = self.fake
        try:
            size = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            size = 0
        if size > fake.max_body_bytes:
            _drain(self.rfile, size)  # read it all, so the client sees the answer, not a reset
            raw = None
        else:
            raw = self.rfile.read(size) if size else b""
        path = self.path.split("?", 1)[0]
        response, body, recipients = fake._answer(self.command, path, self.headers, raw)
        message_id = None
        headers = dict(response.headers)
        if 200 <= response.status < 300 and not any(k.lower() == "x-message-id" for k in headers):
            message_id = secrets.token_urlsafe(16)[:22]
            headers["X-Message-Id"] = message_id
        with fake._lock:
            fake._requests.append(
                ReceivedRequest(
                    method=self.command,
                    path=path,
                    headers=self.headers,
                    body=body if fake.keep_bodies else None,
                    size=size,
                    recipients=recipients,
                    status=response.status,
                    message_id=message_id or headers.get("X-Message-Id"),
                )
            )
        delay = fake.delay if response.delay is None else response.delay
        if delay > 0 and fake._stopping.wait(delay):
            return  # shutting down: drop the connection unanswered
        payload, content_type = _encode(response.body)
        self.send_response(response.status)
        for name, value in headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = _handle
    do_GET = _handle
    do_PUT = _handle
    do_DELETE = _handle
    do_PATCH = _handle


def _drain(stream: Any, size: int) -> None:
    while size > 0:
        chunk = stream.read(min(size, 1 << 20))
        if not chunk:
            return
        size -= len(chunk)


def _encode(body: Any) -> tuple[bytes, str]:
    if body is None:
        return b"", ""
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json"
