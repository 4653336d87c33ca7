"""A small base for loopback stand-ins of HTTP services: a real server in a thread that
records every request and answers with what the subclass decides, or with a scripted answer.

    class FakeThing(LoopbackFake):
        name = "thing"
        def answer(self, request) -> Answer: ...

    with FakeThing() as thing:
        thing.respond_with(429, "rate_limited", headers={"Retry-After": "2"})  # the next one
        ...
        thing.requests[0].json

A scripted answer replaces the next answer that would have been a success: the request is
still checked first, as the real service would, so a bad payload is never hidden by a script.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None  # dict/list (JSON), str, bytes or None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: Message
    raw: bytes
    status: int = 0  # what the fake answered
    problem: str = ""  # why it refused, when it did

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.raw)
        except (UnicodeDecodeError, ValueError):
            return None

    @property
    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.raw.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}


class LoopbackFake:
    name = "fake"
    max_body_bytes = 1024 * 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Received] = []
        self._scripted: deque[Answer] = deque()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- what subclasses write ---

    def answer(self, request: Received) -> Answer:
        raise NotImplementedError

    # --- control ---

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"the fake {self.name} server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    @property
    def accepted(self) -> list[Received]:
        return [request for request in self.requests if 200 <= request.status < 300]

    def respond_with(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        with self._lock:
            self._scripted.append(Answer(status, body, dict(headers or {}), delay))

    def next_scripted(self) -> Answer | None:
        with self._lock:
            return self._scripted.popleft() if self._scripted else None

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._scripted.clear()

    def start(self) -> LoopbackFake:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"fake-{self.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self):  # noqa: ANN204 - returns the subclass
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: LoopbackFake

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _handle(self) -> None:
        fake = self.fake
        try:
            size = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            size = 0
        raw = self.rfile.read(min(size, fake.max_body_bytes + 1)) if size else b""
        path, _, query = self.path.partition("?")
        request = Received(self.command, path, query, self.headers, raw)
        if len(raw) > fake.max_body_bytes:
            answer = Answer(413, "request entity too large")
            request.problem = "too large"
        else:
            answer = fake.answer(request)
        request.status = answer.status
        with fake._lock:
            fake._requests.append(request)
        if answer.delay > 0 and fake._stopping.wait(answer.delay):
            return
        payload, content_type = _encode(answer.body)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if payload and not any(k.lower() == "content-type" for k in answer.headers):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = _handle
    do_GET = _handle
    do_PUT = _handle
    do_DELETE = _handle


def _encode(body: Any) -> tuple[bytes, str]:
    if body is None:
        return b"", ""
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json"
