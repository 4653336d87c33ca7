"""Security headers on every response, and the cookie settings they go with (issue 8).

Every response (pages, JSON, feeds, static files, error pages) gets:

- `Content-Security-Policy`: scripts, styles, fonts and connections from this site only; no
  inline script or style at all (the templates have none: the one script is a static file,
  and charts are sized in site.css rather than style attributes), so no nonce is needed and
  the header is the same for every response, which keeps cached pages valid. Images may also
  be `data:` URLs (harmless as images). `object-src 'none'`, `base-uri 'none'`,
  `form-action 'self'` and `frame-ancestors` from `FRAME_ANCESTORS` (default `'none'`: no
  site may frame ours; set e.g. `'self' https://intranet.example` to allow embedding).
- `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin` (nothing of our URLs,
  some of which hold tokens, is sent to other sites), `X-Frame-Options: DENY` while no
  framing is allowed (for browsers without `frame-ancestors`), `Cross-Origin-Opener-Policy`
  and a `Permissions-Policy` that turns off powerful features the site never uses.
- `Strict-Transport-Security` when the request came over HTTPS (`request.is_secure`; behind
  a proxy that terminates TLS set `PROXY_FIX_X_FOR` so `X-Forwarded-Proto` counts), or always
  with `HSTS_ALWAYS` (browsers ignore the header on plain HTTP, so this is safe when the proxy
  alone speaks HTTPS). `HSTS_MAX_AGE` seconds (default one year; 0 turns it off),
  `HSTS_INCLUDE_SUBDOMAINS` off by default: it binds every other site of the domain too.

A view that sets one of these headers itself keeps its own value: evidence downloads
(`default-src 'none'; sandbox`), badges (`default-src 'none'`), the private pages that send
`Referrer-Policy: no-referrer`.

Cross-Origin-Resource-Policy is deliberately not set: badges and the status widget's script
are meant to be loaded by other sites.

Cookies: in production `config.check_settings` makes the session and remember cookies
`Secure`; `HttpOnly` and `SameSite=Lax` are the defaults in every environment. `register`
checks this again so that a production app can never start with weaker cookie settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import abort, request

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.wrappers import Response

DEFAULT_HSTS_MAX_AGE = 365 * 24 * 60 * 60
DEFAULT_FRAME_ANCESTORS = "'none'"
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=()"
)


def content_security_policy(frame_ancestors: str = DEFAULT_FRAME_ANCESTORS) -> str:
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": frame_ancestors,
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def security_headers(config: Any, *, secure: bool) -> dict[str, str]:
    """The headers for one response; `secure` is whether the request came over HTTPS."""
    frame_ancestors = str(config.get("FRAME_ANCESTORS") or DEFAULT_FRAME_ANCESTORS).strip()
    headers = {
        "Content-Security-Policy": content_security_policy(frame_ancestors),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": PERMISSIONS_POLICY,
    }
    if frame_ancestors == "'none'":
        headers["X-Frame-Options"] = "DENY"
    max_age_setting = config.get("HSTS_MAX_AGE")
    max_age = DEFAULT_HSTS_MAX_AGE if max_age_setting in (None, "") else int(max_age_setting)
    if max_age > 0 and (secure or _flag(config.get("HSTS_ALWAYS"))):
        value = f"max-age={max_age}"
        if _flag(config.get("HSTS_INCLUDE_SUBDOMAINS")):
            value += "; includeSubDomains"
        headers["Strict-Transport-Security"] = value
    return headers


def _check_cookie_settings(app: Flask) -> None:
    """Production cookies travel over HTTPS only, out of reach of scripts, not cross-site."""
    if app.config.get("APP_ENV") != "production":
        return
    app.config["SESSION_COOKIE_SECURE"] = True
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SECURE"] = True
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    # Lax, or the stricter Strict if an operator chose it; never None (cross-site sends).
    if app.config.get("SESSION_COOKIE_SAMESITE") not in ("Lax", "Strict"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if app.config.get("REMEMBER_COOKIE_SAMESITE") not in ("Lax", "Strict"):
        app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"


def register(app: Flask) -> None:
    """Install the security hooks on the app."""
    _check_cookie_settings(app)

    @app.before_request
    def refuse_nul_in_forms() -> None:
        # No text we store has a NUL in it, and PostgreSQL refuses one in a string: a form
        # value with NUL is bad input, answered 400 before any view sees it.
        if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            for values in request.form.listvalues():
                if any("\x00" in value for value in values):
                    abort(400, "A form value contains a NUL character.")

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in security_headers(app.config, secure=request.is_secure).items():
            # A view that chose its own (evidence downloads, badges) keeps it.
            response.headers.setdefault(name, value)
        return response
