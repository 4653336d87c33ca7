"""A real OpenID Connect provider on loopback, for the single sign-on tests.

The provider is the PyPI package `oidc-provider-mock` (built on Authlib's server parts: the
authorization code grant, OpenID Connect ID tokens signed RS256 with a key it publishes at
`/jwks`, discovery at `/.well-known/openid-configuration`). It is served by werkzeug on
127.0.0.1 in a thread, with client registration required, so the redirect URI and the client
secret are checked as a production provider checks them.

    with OidcProvider() as provider:
        client_id, secret = provider.register_client(["http://localhost/login/oidc/callback"])
        provider.set_user("ana", email="ana@example.com", email_verified=True, groups=["sre"])
        callback = provider.consent(authorize_url, "ana")  # the person says yes

A thin WSGI layer in front records every request (`requests`) and can misbehave on purpose
(`tamper`), as a hostile or broken provider would:

- "issuer": the token endpoint answers as if reached under another host name, so the ID
  token is signed with the provider's real key but names another issuer;
- "claims": the ID token's payload is rewritten (groups replaced by `forged_groups`) after
  signing, so its signature no longer matches;
- "discovery-issuer": the discovery document names another issuer than the one asked.
"""

from __future__ import annotations

import base64
import json
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import requests
from werkzeug.serving import make_server

FORGED_GROUPS = ["sre-admins"]


def _provider_app(registration_required: bool) -> Any:
    # Importing the package (and Authlib's server parts) emits AuthlibDeprecationWarnings
    # that are about the package's use of Authlib, not ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import oidc_provider_mock

        return oidc_provider_mock.app(
            require_client_registration=registration_required, require_nonce=True
        )


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]


def _b64_json(segment: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _b64_encode(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class OidcProvider:
    def __init__(self, *, registration_required: bool = True) -> None:
        # Without registration any client id and secret are taken (the browser test, whose
        # site's address is only known once it runs); the redirect URI is then not checked.
        self.app = _provider_app(registration_required)
        self.requests: list[Recorded] = []
        self.tamper: str | None = None
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # The server.

    def __enter__(self) -> OidcProvider:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        body = b""
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            import io

            environ["wsgi.input"] = io.BytesIO(body)
        form = parse_qs(body.decode()) if "form" in environ.get("CONTENT_TYPE", "") else {}
        with self._lock:
            self.requests.append(
                Recorded(method, path, parse_qs(environ.get("QUERY_STRING", "")), form)
            )
        tamper = self.tamper
        if tamper == "issuer" and path == "/oauth2/token":
            # The same server under another name: its ID token names that issuer.
            environ["HTTP_HOST"] = f"localhost:{self._server.server_port}"
        if tamper in ("claims", "discovery-issuer") and path in (
            "/oauth2/token",
            "/.well-known/openid-configuration",
        ):
            return self._rewrite(environ, start_response, path, tamper)
        return self.app(environ, start_response)

    def _rewrite(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        path: str,
        tamper: str,
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = self.app(environ, capture)
        try:
            raw = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        data = json.loads(raw)
        if tamper == "claims" and path == "/oauth2/token" and "id_token" in data:
            header, payload, signature = data["id_token"].split(".")
            claims = _b64_json(payload)
            claims["groups"] = FORGED_GROUPS
            data["id_token"] = ".".join((header, _b64_encode(claims), signature))
        if tamper == "discovery-issuer" and path == "/.well-known/openid-configuration":
            data["issuer"] = "http://issuer.invalid"
        body = json.dumps(data).encode()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(captured["status"], headers)
        return [body]

    # What a test does with it.

    def register_client(self, redirect_uris: list[str]) -> tuple[str, str]:
        """Register a confidential client (RFC 7591); its id and secret."""
        answer = requests.post(
            f"{self.url}/oauth2/clients",
            json={
                "redirect_uris": redirect_uris,
                "token_endpoint_auth_method": "client_secret_basic",
            },
            timeout=5,
        )
        answer.raise_for_status()
        registered = answer.json()
        return registered["client_id"], registered["client_secret"]

    def set_user(self, sub: str, **claims: Any) -> None:
        requests.put(f"{self.url}/users/{sub}", json=claims, timeout=5).raise_for_status()

    def consent(self, authorize_url: str, sub: str) -> str:
        """The person at the provider, signed in as `sub`, agrees: the URL the provider sends
        the browser back to (our callback, with the code and state)."""
        assert authorize_url.startswith(self.url + "/oauth2/authorize?"), authorize_url
        page = requests.get(authorize_url, timeout=5)
        assert page.status_code == 200, page.text[:500]
        answer = requests.post(authorize_url, data={"sub": sub}, allow_redirects=False, timeout=5)
        assert answer.status_code == 302, answer.text[:500]
        return answer.headers["Location"]

    def deny(self, authorize_url: str) -> str:
        answer = requests.post(
            authorize_url, data={"action": "deny"}, allow_redirects=False, timeout=5
        )
        assert answer.status_code == 302, answer.text[:500]
        return answer.headers["Location"]

    def calls(self, path: str) -> list[Recorded]:
        with self._lock:
            return [request for request in self.requests if request.path == path]


def serve() -> Iterator[OidcProvider]:
    with OidcProvider() as provider:
        yield provider
