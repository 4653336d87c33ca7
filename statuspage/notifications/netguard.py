"""Calling a URL a stranger gave us (webhook and chat channels) without being used to reach
what only the server can reach: server-side request forgery (SSRF) protection.

A public reader types the URL, and the worker then POSTs to it from inside our network. So:

- the scheme must be `https` (`http` only when `NetworkPolicy.allow_http`, a development and
  test setting), with no user name or password in the URL;
- the host may be a name or an IP literal; legacy IPv4 spellings that resolvers accept
  (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`) are read as the address they mean;
- every address the name resolves to must be public: loopback, private, link-local (with
  cloud metadata at 169.254.169.254 and fd00:ec2::254), multicast, reserved, unspecified,
  carrier-grade NAT (100.64.0.0/10), documentation and benchmarking ranges are refused, and
  an IPv6 address that carries an IPv4 one (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible,
  NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002::/16`, Teredo) is judged by the IPv4
  address inside as well;
- the check runs when the URL is given AND again before every request (DNS can change), and
  the connection goes to exactly the address that was checked (no second lookup);
- no redirect is ever followed (a 3xx is a failed delivery), each request has a timeout, and
  at most `max_response_bytes` of the answer are read.

`NetworkPolicy.allowed_networks` lets listed networks through (tests run their receivers on
127.0.0.1): the setting `CHANNEL_ALLOWED_TEST_NETWORKS`, empty by default, is for tests
only. Flask-free.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from statuspage.core.errors import DomainError
from statuspage.core.translation import N_

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_RESPONSE_BYTES = 4096
MAX_URL_LENGTH = 2048
USER_AGENT = "statuspage-webhooks/1"

# Refused whatever `ipaddress` thinks of them (its flags differ between Python versions).
BLOCKED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "::/128",
        "::1/128",
        "::/96",  # IPv4-compatible (deprecated)
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments (Teredo 2001::/32 inside)
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local, AWS metadata fd00:ec2::254
        "fe80::/10",  # link-local
        "fec0::/10",  # old site-local
        "ff00::/8",  # multicast
    )
)
NAT64_NETWORKS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class UnsafeTarget(DomainError):
    """The URL may not be called; the message says why (shown to the person who gave it)."""


class NetworkError(Exception):
    """The request could not be made or answered (refused, reset, timed out, TLS...)."""


@dataclass(frozen=True)
class NetworkPolicy:
    allow_http: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> NetworkPolicy:
        """`CHANNEL_ALLOW_HTTP`, `CHANNEL_ALLOWED_TEST_NETWORKS` (a list of CIDRs),
        `CHANNEL_TIMEOUT`, `CHANNEL_MAX_RESPONSE_BYTES`."""
        raw = config.get("CHANNEL_ALLOWED_TEST_NETWORKS") or []
        if isinstance(raw, str):
            raw = [part for part in raw.split(",") if part.strip()]
        networks: list[IPNetwork] = []
        for item in raw:  # type: ignore[union-attr]
            try:
                networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
            except ValueError:
                logger.warning("CHANNEL_ALLOWED_TEST_NETWORKS: %r is not a network", item)
        allow_http = bool(config.get("CHANNEL_ALLOW_HTTP"))
        if config.get("APP_ENV") == "production" and (allow_http or networks):
            # Test settings never loosen production: https only, public addresses only.
            logger.warning(
                "CHANNEL_ALLOW_HTTP and CHANNEL_ALLOWED_TEST_NETWORKS are ignored in production"
            )
            allow_http, networks = False, []
        return cls(
            allow_http=allow_http,
            allowed_networks=tuple(networks),
            timeout=float(config.get("CHANNEL_TIMEOUT") or DEFAULT_TIMEOUT),  # type: ignore[arg-type]
            max_response_bytes=int(
                config.get("CHANNEL_MAX_RESPONSE_BYTES") or DEFAULT_MAX_RESPONSE_BYTES  # type: ignore[call-overload]
            ),
        )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # a name, or the IP address in its usual spelling
    port: int
    path: str  # with the query

    @property
    def origin(self) -> tuple[str, int]:
        """What the per-host concurrency limit counts by."""
        return (self.host, self.port)


def _literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP means, in any spelling a resolver accepts."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    packed = int(address)
    if any(address in net for net in NAT64_NETWORKS) or (packed >> 32) == 0:
        found.append(ipaddress.IPv4Address(packed & 0xFFFFFFFF))
    return found


# Why an address may not be called, as the person is told (with `host` and `address`).
BLOCKED_ADDRESS = N_(
    "%(host)s may not be called: %(address)s is a private, local, reserved or metadata address."
)
NOT_PUBLIC = N_("%(host)s may not be called: %(address)s is not a public address.")
CARRIES = N_("%(host)s may not be called: %(address)s carries %(inner)s, which may not be called.")


def refusal(address: IPAddress, policy: NetworkPolicy) -> tuple[str, str] | None:
    """Why `address` may not be called: one of the messages above and, for CARRIES, the
    embedded address refused; None when it may be called."""
    if any(address in net for net in policy.allowed_networks if net.version == address.version):
        return None
    for inner in embedded_ipv4(address):
        if refusal(inner, policy):
            return CARRIES, str(inner)
    if any(address in net for net in NAT64_NETWORKS):
        return None  # a translator's address for the public IPv4 address inside it
    if any(address in net for net in BLOCKED_NETWORKS if net.version == address.version):
        return BLOCKED_ADDRESS, ""
    if (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    ):
        return NOT_PUBLIC, ""
    return None


def parse_url(url: str, policy: NetworkPolicy) -> Target:
    """The parts of a URL we may call, or UnsafeTarget (no DNS here)."""
    text = (url or "").strip()
    if not text:
        raise UnsafeTarget(N_("Give the URL to send to."), field="url")
    if len(text) > MAX_URL_LENGTH or any(ord(c) < 33 or ord(c) == 127 for c in text):
        raise UnsafeTarget(
            N_("That URL is too long or has spaces or control characters."), field="url"
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise UnsafeTarget(N_("That URL does not parse."), field="url") from None
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if scheme not in allowed:
        raise UnsafeTarget(N_("The URL must start with https://."), field="url")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget(N_("Leave the user name and password out of the URL."), field="url")
    host = (parts.hostname or "").strip().rstrip(".").lower()
    if not host:
        raise UnsafeTarget(N_("The URL has no host name."), field="url")
    literal = _literal_address(host)
    if literal is not None:
        host = str(literal)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port or (443 if scheme == "https" else 80), path)


def resolve(target: Target, policy: NetworkPolicy) -> str:
    """The address to connect to: every address the host has is checked, the first used."""
    literal = _literal_address(target.host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise UnsafeTarget(
                N_("The host %(host)s is not known (DNS)."), host=target.host, field="url"
            ) from None
        addresses = []
        for info in infos:
            try:
                addresses.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
            except ValueError:
                continue
        if not addresses:
            raise UnsafeTarget(
                N_("The host %(host)s has no address."), host=target.host, field="url"
            )
    for address in addresses:
        refused = refusal(address, policy)
        if refused:
            message, inner = refused
            raise UnsafeTarget(
                message, host=target.host, address=str(address), inner=inner, field="url"
            )
    return str(addresses[0])


def check_url(url: str, policy: NetworkPolicy) -> Target:
    """Parse and resolve: what a subscribe form calls (the worker checks again each time)."""
    target = parse_url(url, policy)
    resolve(target, policy)
    return target


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""  # at most max_response_bytes
    latency_ms: int = 0


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, body: bytes, headers: Mapping[str, str], policy: NetworkPolicy) -> Answer:
    """POST `body` to `url` after the checks above; the answer whatever its status (a 3xx is
    returned as is, never followed). UnsafeTarget when refused, NetworkError when the
    request failed."""
    target = parse_url(url, policy)
    address = resolve(target, policy)
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = cls(target.host, target.port, address, policy.timeout)
    started = time.monotonic()
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={"User-Agent": USER_AGENT, "Content-Type": "application/json", **headers},
        )
        response = connection.getresponse()
        data = response.read(policy.max_response_bytes)
        latency = int((time.monotonic() - started) * 1000)
        return Answer(
            status=response.status,
            headers={key.lower(): value for key, value in response.getheaders()},
            body=data,
            latency_ms=latency,
        )
    except TimeoutError:
        raise NetworkError(f"no answer within {policy.timeout:g} s") from None
    except ssl.SSLError as error:
        raise NetworkError(f"TLS failed: {error.reason or error}") from None
    except (OSError, http.client.HTTPException) as error:
        raise NetworkError(f"{type(error).__name__}: {error}") from None
    finally:
        connection.close()
