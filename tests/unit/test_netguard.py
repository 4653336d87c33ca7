"""SSRF rules for webhook and chat URLs (`notifications.netguard`), one table of addresses that
must be refused and a few that must pass; then the checks at delivery time: DNS that changes
after the subscription was accepted, redirects, response size, against real loopback servers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from statuspage.notifications import netguard
from statuspage.notifications.channels import ChannelEvent
from statuspage.notifications.models import ChannelKind, ChannelSubscription
from statuspage.notifications.netguard import NetworkPolicy, UnsafeTarget
from statuspage.notifications.webhooks import new_secret, send_webhook

STRICT = NetworkPolicy()

REFUSED = [
    # scheme and form
    ("http://example.com/hook", "plain http in production"),
    ("ftp://example.com/hook", "not http(s)"),
    ("file:///etc/passwd", "a file"),
    ("https://user:secret@example.com/hook", "credentials in the URL"),
    ("https:///hook", "no host"),
    ("https://exa mple.com/", "a space"),
    ("https://nonexistent.invalid/hook", "a name that does not resolve"),
    # loopback, in every spelling
    ("https://127.0.0.1/hook", "loopback"),
    ("https://127.8.9.10/hook", "loopback /8"),
    ("https://localhost/hook", "a name resolving to loopback"),
    ("https://localhost./hook", "the same with a trailing dot"),
    ("https://[::1]/hook", "IPv6 loopback"),
    ("https://2130706433/hook", "decimal 127.0.0.1"),
    ("https://017700000001/hook", "octal 127.0.0.1 in one number"),
    ("https://0177.0.0.1/hook", "octal dotted"),
    ("https://0x7f000001/hook", "hex 127.0.0.1"),
    ("https://0x7f.1/hook", "hex dotted, short form"),
    ("https://127.1/hook", "short form"),
    # private, shared, link-local, metadata
    ("https://10.1.2.3/hook", "private 10/8"),
    ("https://172.16.5.4/hook", "private 172.16/12"),
    ("https://192.168.1.1/hook", "private 192.168/16"),
    ("https://100.64.0.1/hook", "carrier-grade NAT"),
    ("https://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("https://2852039166/latest/meta-data/", "cloud metadata, decimal"),
    ("https://[fd00:ec2::254]/latest/meta-data/", "AWS IPv6 metadata"),
    ("https://[fe80::1]/hook", "IPv6 link-local"),
    ("https://[fc00::1]/hook", "IPv6 unique local"),
    # multicast, reserved, unspecified, documentation
    ("https://224.0.0.1/hook", "multicast"),
    ("https://[ff02::1]/hook", "IPv6 multicast"),
    ("https://0.0.0.0/hook", "unspecified"),
    ("https://[::]/hook", "IPv6 unspecified"),
    ("https://240.0.0.1/hook", "reserved"),
    ("https://255.255.255.255/hook", "broadcast"),
    ("https://192.0.2.1/hook", "documentation"),
    ("https://198.18.0.1/hook", "benchmarking"),
    ("https://[2001:db8::1]/hook", "IPv6 documentation"),
    # IPv4 inside IPv6
    ("https://[::ffff:127.0.0.1]/hook", "IPv4-mapped loopback"),
    ("https://[::ffff:7f00:1]/hook", "IPv4-mapped loopback, hex"),
    ("https://[::ffff:169.254.169.254]/hook", "IPv4-mapped metadata"),
    ("https://[::ffff:10.0.0.1]/hook", "IPv4-mapped private"),
    ("https://[::127.0.0.1]/hook", "IPv4-compatible loopback"),
    ("https://[64:ff9b::7f00:1]/hook", "NAT64 loopback"),
    ("https://[64:ff9b::a9fe:a9fe]/hook", "NAT64 metadata"),
    ("https://[64:ff9b:1::a00:1]/hook", "local-use NAT64 private"),
    ("https://[2002:7f00:1::]/hook", "6to4 loopback"),
    ("https://[2002:a9fe:a9fe::1]/hook", "6to4 metadata"),
    ("https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook", "Teredo"),
]

ALLOWED = [
    "https://93.184.215.14/hook",
    "https://8.8.8.8:8443/x?y=1",
    "https://[2606:4700:4700::1111]/hook",
    "https://[64:ff9b::808:808]/hook",  # NAT64 of a public address
]


@pytest.mark.parametrize(("url", "why"), REFUSED, ids=[why for _, why in REFUSED])
def test_refused(url: str, why: str) -> None:
    with pytest.raises(UnsafeTarget) as refused:
        netguard.check_url(url, STRICT)
    assert refused.value.field == "url"


@pytest.mark.parametrize("url", ALLOWED)
def test_public_addresses_pass(url: str) -> None:
    target = netguard.check_url(url, STRICT)
    assert target.scheme == "https"


def test_test_networks_let_only_themselves_through() -> None:
    loose = NetworkPolicy(
        allow_http=True, allowed_networks=(netguard.ipaddress.ip_network("127.0.0.0/8"),)
    )
    assert netguard.check_url("http://127.0.0.1:8080/hook", loose).port == 8080
    for url in ("http://169.254.169.254/", "http://10.0.0.1/", "http://[::1]/"):
        with pytest.raises(UnsafeTarget):
            netguard.check_url(url, loose)


def test_production_ignores_the_test_settings() -> None:
    config = {
        "APP_ENV": "production",
        "CHANNEL_ALLOW_HTTP": True,
        "CHANNEL_ALLOWED_TEST_NETWORKS": ["127.0.0.0/8"],
    }
    policy = NetworkPolicy.from_config(config)
    assert policy.allow_http is False and policy.allowed_networks == ()
    testing = NetworkPolicy.from_config({**config, "APP_ENV": "testing"})
    assert testing.allow_http is True and len(testing.allowed_networks) == 1


# --- at delivery time, against real loopback servers ---


class _Server:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.hits.append(self.path)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[_Server]:
    status, headers, body = getattr(request, "param", (200, {}, b"ok"))
    running = _Server(status, headers, body)
    yield running
    running.close()


LOOPBACK_OK = NetworkPolicy(
    allow_http=True, allowed_networks=(netguard.ipaddress.ip_network("127.0.0.0/8"),), timeout=2
)


def _subscription(url: str) -> ChannelSubscription:
    return ChannelSubscription(kind=ChannelKind.WEBHOOK, target=url, secret=new_secret())


def _event(policy: NetworkPolicy) -> ChannelEvent:
    return ChannelEvent(
        message_id="msg_test",
        event_type="incident.update",
        occurred_at=datetime.now(UTC),
        payload={"meta": {"message_id": "msg_test"}},
        page_name="Test",
        page_url="https://status.example.test",
        network=policy,
    )


def test_dns_that_changes_after_subscribing_is_checked_again(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name resolved to a public address when the reader subscribed; at delivery it
    resolves to 127.0.0.1 (DNS rebinding): refused, and no connection is made."""
    real = socket.getaddrinfo
    answer = {"address": "93.184.215.14"}

    def fake_dns(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer["address"], args[0]))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    url = f"http://hooks.example.test:{server.port}/hook"
    policy = NetworkPolicy(allow_http=True, timeout=2)
    netguard.check_url(url, policy)  # accepted at subscribe time
    answer["address"] = "127.0.0.1"
    result = send_webhook(_subscription(url), _event(policy))
    assert not result.ok and result.permanent and "127.0.0.1" in result.error
    assert server.hits == []


@pytest.mark.parametrize(
    "server", [(302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")], indirect=True
)
def test_redirects_are_never_followed(server: _Server) -> None:
    url = f"http://127.0.0.1:{server.port}/hook"
    result = send_webhook(_subscription(url), _event(LOOPBACK_OK))
    assert not result.ok and result.permanent and result.status_code == 302
    assert "redirect" in result.error
    assert server.hits == ["/hook"]  # one request, to the URL given


@pytest.mark.parametrize("server", [(200, {}, b"x" * 1_000_000)], indirect=True)
def test_only_a_small_part_of_the_answer_is_read(server: _Server) -> None:
    answer = netguard.post(f"http://127.0.0.1:{server.port}/hook", b"{}", {}, LOOPBACK_OK)
    assert answer.status == 200
    assert len(answer.body) == LOOPBACK_OK.max_response_bytes


def test_a_silent_receiver_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        policy = NetworkPolicy(
            allow_http=True,
            allowed_networks=LOOPBACK_OK.allowed_networks,
            timeout=0.3,
        )
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
        result = send_webhook(_subscription(url), _event(policy))
        assert not result.ok and not result.permanent
        assert "no answer within 0.3 s" in result.error
    finally:
        listener.close()
