"""The documented nginx configuration (deploy/nginx.conf), run for real on loopback in front of
two stand-in app pools (small HTTP servers that count what reaches them): the one-second
micro-cache, what it never stores, the snapshot when the app errs or hangs, and the staff
pool (issue 18). Skipped when nginx is not installed."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from statuspage import PROJECT_ROOT

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # nginx hanging up on the hung stand-in is the point of that test


class StandIn:
    """An app pool: answers by path, counts the requests that reach it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: Counter[str] = Counter()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
                path = self.path
                stand_in.seen[path] += 1
                status, headers, body = 200, {"Cache-Control": "public, max-age=15"}, b""
                if path.startswith("/history"):
                    headers = {"Cache-Control": "private, max-age=0"}
                elif path == "/badge.svg":
                    headers["Set-Cookie"] = "session=abc; HttpOnly"
                elif path == "/incidents/1":
                    status = 503
                    headers = {"Cache-Control": "no-store"}
                elif path == "/incidents/2":
                    time.sleep(6)  # a hung worker
                body = f"{stand_in.name} {path} {stand_in.seen[path]}".encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    public, staff = StandIn("public"), StandIn("staff")
    snapshot = tmp_path / "snapshot" / "current"
    for number in (1, 2):
        page = snapshot / "incidents" / str(number) / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text(f"snapshot of incident {number}")
    port = free_port()
    config = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text()
    for old, new in (
        ("/var/cache/nginx/statuspage", str(tmp_path / "cache")),
        ("/srv/statuspage/snapshot/current", str(snapshot)),
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{public.port};"),
        ("server 127.0.0.1:8001;", f"server 127.0.0.1:{staff.port};"),
    ):
        assert old in config, old
        config = config.replace(old, new)
    (tmp_path / "site.conf").write_text(config)
    temp = " ".join(
        f"{kind}_temp_path {tmp_path / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;" if os.geteuid() == 0 else ""  # workers must read the tmp files
    (tmp_path / "nginx.conf").write_text(
        f"""{user}
worker_processes 1;
daemon off;
pid {tmp_path / "nginx.pid"};
error_log {tmp_path / "error.log"};
events {{ worker_connections 128; }}
http {{
    access_log off;
    {temp}
    include {tmp_path / "site.conf"};
}}
"""
    )
    assert NGINX is not None
    command = [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield {"port": port, "public": public, "staff": staff}
    finally:
        server.terminate()
        server.wait(10)
        public.close()
        staff.close()


def get(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request("GET", path, headers={"Host": "status.example.com", **headers})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


def test_public_pages_are_held_one_second_and_shared(site: dict[str, Any]) -> None:
    port, public = site["port"], site["public"]
    first = get(port, "/")
    second = get(port, "/")
    assert first[0] == second[0] == 200
    assert second[2] == first[2] == "public / 1"  # one request reached the app
    assert second[1]["X-Micro-Cache"] == "HIT"
    assert public.seen["/"] == 1
    # Past the micro-cache's second (nginx counts whole seconds: at most two), the app is
    # asked again.
    time.sleep(2.1)
    get(port, "/")
    deadline = time.monotonic() + 5
    while public.seen["/"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert public.seen["/"] == 2
    assert get(port, "/")[2] == "public / 2"


def test_signed_in_readers_and_tokens_bypass_the_micro_cache(site: dict[str, Any]) -> None:
    port = site["port"]
    get(port, "/")
    for headers in (
        {"Cookie": "theme=dark; session=signed"},
        {"Cookie": "remember_token=1"},
        {"Authorization": "Bearer sp_x"},
    ):
        status, answer_headers, body = get(port, "/", **headers)
        assert status == 200 and answer_headers["X-Micro-Cache"] == "BYPASS", headers
        if "Cookie" in headers:
            # Signed in (a member or staff): rendered by the second pool, never the public's.
            assert body.startswith("staff /"), headers
        else:
            assert body.startswith("public /"), headers
    # A cookie of another name is not a session: the shared copy.
    assert get(port, "/", Cookie="xsession=1")[1]["X-Micro-Cache"] == "HIT"


def test_private_answers_and_cookies_are_never_stored(site: dict[str, Any]) -> None:
    port, public = site["port"], site["public"]
    for path in ("/history", "/badge.svg"):
        assert get(port, path)[2] == f"public {path} 1"
        assert get(port, path)[2] == f"public {path} 2", path  # not served from the cache
        assert public.seen[path] == 2


def test_the_snapshot_answers_when_the_app_errs_or_hangs(site: dict[str, Any]) -> None:
    port = site["port"]
    status, headers, body = get(port, "/incidents/1")  # the app's 503
    assert status == 200 and body == "snapshot of incident 1"
    assert headers["X-Status-Snapshot"] == "1"
    started = time.monotonic()
    status, headers, body = get(port, "/incidents/2")  # the app does not answer
    elapsed = time.monotonic() - started
    assert status == 200 and body == "snapshot of incident 2"
    assert elapsed < 4, elapsed  # proxy_read_timeout, not the app's six seconds


def test_staff_and_machines_have_a_pool_of_their_own(site: dict[str, Any]) -> None:
    port, public, staff = site["port"], site["public"], site["staff"]
    for path in ("/admin/", "/api/v1/incidents", "/login", "/webhooks/sendgrid/events"):
        assert get(port, path)[2] == f"staff {path} 1", path
        assert get(port, path)[2] == f"staff {path} 2", path  # never cached
    assert get(port, "/subscribe")[2] == "public /subscribe 1"
    assert get(port, "/administrator")[2].startswith("public ")
    assert not staff.seen["/"] and not public.seen["/admin/"]


def test_the_micro_cache_keeps_a_copy_per_language(site: dict[str, Any]) -> None:
    """A German reader never gets the English copy (nor the other way round): the key holds
    the language the app will choose, from `?lang=`, the cookie or Accept-Language."""
    port, public = site["port"], site["public"]
    english = get(port, "/", **{"Accept-Language": "en-GB,en;q=0.9"})
    german = get(port, "/", **{"Accept-Language": "de-DE,de;q=0.9,en;q=0.8"})
    assert english[2] == "public / 1" and german[2] == "public / 2"  # each reached the app
    # The same language in other spellings shares its copy (normalized to the code).
    assert get(port, "/", **{"Accept-Language": "de"})[2] == "public / 2"
    assert get(port, "/", **{"Accept-Language": "en-US"})[2] == "public / 1"
    # A header whose first entry does not decide for sure is keyed as sent: its own copy.
    tricky = get(port, "/", **{"Accept-Language": "en;q=0.1, de"})
    assert tricky[2] == "public / 3"
    # The cookie decides before Accept-Language: a French cookie is not the German copy.
    french = get(port, "/", Cookie="statuspage_lang=fr", **{"Accept-Language": "de"})
    assert french[2] == "public / 4"
    assert get(port, "/", Cookie="statuspage_lang=fr")[2] == "public / 4"
    # A valid ?lang= decides alone: one copy per URL whatever the cookie and header say.
    by_url = get(port, "/?lang=ja", Cookie="statuspage_lang=fr", **{"Accept-Language": "de"})
    assert by_url[2] == "public /?lang=ja 1"
    again = get(port, "/?lang=ja", **{"Accept-Language": "ar"})
    assert again[2] == "public /?lang=ja 1" and again[1]["X-Micro-Cache"] == "HIT"
    # The language cookie is not a session: the public pool and the shared cache serve it.
    assert get(port, "/", Cookie="statuspage_lang=fr")[1]["X-Micro-Cache"] == "HIT"
    assert public.seen["/"] == 4
