"""Reading JSON from a URL someone typed: the precautions an untrusted address needs.

A staff member gives the address of a status page; the server then fetches it. Without care
that is a server-side request forgery: the address could point at the metadata service of the
cloud the site runs in, at a database port on localhost, or redirect there. So:

- only `http` and `https`, no user name or password in the address, the default ports or any
  port the address names;
- the host name is resolved once, every address it resolves to must be public (not private,
  loopback, link-local, multicast, reserved or unspecified) unless `allow_private` says
  otherwise (tests, and an operator importing from a page on their own network), and the
  connection goes to exactly the address that was checked, so a second DNS answer cannot
  swap in another;
- a connect and read timeout, and an overall deadline per document, so a slow drip of bytes
  cannot hold the request open;
- at most `max_bytes` per document;
- redirects are followed (at most three) only within the same host, and each is checked again.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from statuspage.core.errors import DomainError
from statuspage.core.translation import N_

DEFAULT_TIMEOUT = 10.0  # seconds, per connect and per read, and for a whole document
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 3
USER_AGENT = "statuspage-importer/1 (+moving in from Statuspage)"


TOO_LARGE = N_("The answer is larger than %(kib)s KiB.")
TOO_SLOW = N_("The source took longer than %(seconds)s seconds to answer.")


class FetchError(DomainError):
    """The source could not be read; the message says why, for the person who asked."""


@dataclass(frozen=True)
class FetchLimits:
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    allow_private: bool = False


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query, if any

    @property
    def origin(self) -> str:
        default = 443 if self.scheme == "https" else 80
        port = "" if self.port == default else f":{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{port}"


def parse_target(url: str) -> Target:
    """The parts of `url`, or FetchError when it is not a plain http(s) address."""
    text = (url or "").strip()
    if not text:
        raise FetchError("Give the address of the status page.", field="url")
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise FetchError(N_("That address does not parse."), field="url") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(N_("Only http:// and https:// addresses can be imported."), field="url")
    if parts.username is not None or parts.password is not None:
        raise FetchError(N_("Leave the user name and password out of the address."), field="url")
    host = (parts.hostname or "").strip()
    if not host:
        raise FetchError(N_("The address has no host name."), field="url")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host.lower(), port or (443 if scheme == "https" else 80), path)


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def resolve(target: Target, *, allow_private: bool) -> str:
    """The address to connect to: the first the host resolves to, all of them checked."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchError(
            N_("The host %(host)s is not known (DNS)."), host=target.host, field="url"
        ) from None
    addresses = []
    for info in infos:
        raw = info[4][0]
        try:
            addresses.append(ipaddress.ip_address(raw.split("%", 1)[0]))
        except ValueError:
            continue
    if not addresses:
        raise FetchError(N_("The host %(host)s has no address."), host=target.host, field="url")
    if not allow_private:
        for address in addresses:
            if not _is_public(address):
                raise FetchError(
                    N_(
                        "%(host)s is a private, local or reserved address (%(address)s); "
                        "importing from there is not allowed here."
                    ),
                    host=target.host,
                    address=str(address),
                    field="url",
                )
    return str(addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address, whatever the host name would resolve to now."""

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


def _read_body(response: http.client.HTTPResponse, limits: FetchLimits, deadline: float) -> bytes:
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > limits.max_bytes:
        raise FetchError(TOO_LARGE, kib=limits.max_bytes // 1024)
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise FetchError(TOO_SLOW, seconds=f"{limits.timeout:g}")
        chunk = response.read1(64 * 1024)
        if not chunk:
            break
        size += len(chunk)
        if size > limits.max_bytes:
            raise FetchError(TOO_LARGE, kib=limits.max_bytes // 1024)
        chunks.append(chunk)
    return b"".join(chunks)


def fetch_bytes(url: str, limits: FetchLimits | None = None) -> bytes:
    """GET `url` with every precaution above; the body of a 200 answer, or FetchError."""
    limits = limits or FetchLimits()
    target = parse_target(url)
    first_host = (target.host, target.port)
    deadline = time.monotonic() + limits.timeout
    for _ in range(MAX_REDIRECTS + 1):
        address = resolve(target, allow_private=limits.allow_private)
        connection_class = (
            _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
        )
        connection = connection_class(target.host, target.port, address, limits.timeout)
        try:
            connection.request(
                "GET",
                target.path,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            )
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location") or ""
                nxt = parse_target(urljoin(target.origin + target.path, location))
                if (nxt.host, nxt.port) != first_host and not (
                    nxt.host == target.host and nxt.scheme == "https"
                ):
                    raise FetchError(
                        N_(
                            "%(url)s redirects to another host (%(host)s); give that address "
                            "instead if it is the right one."
                        ),
                        url=target.origin + target.path,
                        host=nxt.host,
                    )
                target = nxt
                continue
            if response.status != 200:
                raise FetchError(
                    N_("%(url)s answered %(status)s %(reason)s; nothing was imported."),
                    url=target.origin + target.path,
                    status=response.status,
                    reason=response.reason,
                )
            return _read_body(response, limits, deadline)
        except TimeoutError:
            raise FetchError(
                N_("%(url)s did not answer within %(seconds)s seconds."),
                url=target.origin + target.path,
                seconds=f"{limits.timeout:g}",
            ) from None
        except ssl.SSLError as error:
            raise FetchError(
                N_("The TLS connection to %(host)s failed (%(error)s)."),
                host=target.host,
                error=str(error),
            ) from None
        except (OSError, http.client.HTTPException) as error:
            raise FetchError(
                N_("Could not read %(url)s (%(error)s)."),
                url=target.origin + target.path,
                error=str(error),
            ) from None
        finally:
            connection.close()
    raise FetchError(N_("Too many redirects from %(url)s."), url=url)


def fetch_json(url: str, limits: FetchLimits | None = None) -> Any:
    body = fetch_bytes(url, limits)
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise FetchError(N_("%(url)s did not answer with JSON."), url=url) from None
