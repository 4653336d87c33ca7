"""Brute-force limits on the login form: per account and per client IP.

- **Every attempt counts**, right or wrong, and is counted before the password is checked. A
  limiter that only counted failures would have to check first and count after the (slow,
  argon2id) verification, and parallel guesses would all pass the check before any was
  counted; counting first is atomic. It also caps the hashing work one client can cause.
  Staff log in rarely (a login lasts until logout), so a person never comes near the limits.
- **Per account** (`LOGIN_ACCOUNT_LIMIT` attempts per `LOGIN_WINDOW` seconds, 10 per 15
  minutes): the key is an HMAC of the normalised email under the site's secret key, computed
  the same way whether or not the account exists. Unknown and known addresses are limited
  alike, so the limit says nothing about which accounts exist, and no address is stored in
  Redis.
- **Per IP** (`LOGIN_IP_LIMIT` per `LOGIN_WINDOW`, 30 per 15 minutes): one client trying many
  accounts. Behind a proxy, set `PROXY_FIX_X_FOR` so this is the client's address.
- **Shared across processes** when `REDIS_URL` is set (`statuspage.core.ratelimit`, over the
  `limits` library). If Redis does not answer, the limits fall back to this process's memory
  rather than to nothing (fail open would allow unlimited guessing) or to refusing every login
  (fail closed would lock staff out of the status page during the very outage they need to
  report). A warning is logged for each attempt that Redis could not count.

Over a limit the login form answers 429 with `Retry-After`; the password is not checked.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from flask import current_app, render_template, request
from flask_babel import gettext, ngettext
from werkzeug.wrappers import Response

from statuspage.core.ratelimit import MemoryRateLimiter, RateLimiter, limiter_from_config

logger = logging.getLogger(__name__)

DEFAULT_ACCOUNT_LIMIT = 10
DEFAULT_IP_LIMIT = 30
DEFAULT_WINDOW = 15 * 60
_EXTENSION = "statuspage.ratelimit.login"


class _SharedWithLocalFallback:
    """The shared limiter (Redis, failing open), then this process's memory.

    While Redis answers it decides (the per-process count never exceeds the shared one, so
    memory agrees); when Redis is down it lets everything through and memory alone decides.
    """

    def __init__(self, shared: RateLimiter, local: MemoryRateLimiter) -> None:
        self.shared = shared
        self.local = local

    def hit(self, key: str, limit: int, window_seconds: int) -> bool:
        return self.shared.hit(key, limit, window_seconds) and self.local.hit(
            key, limit, window_seconds
        )


def login_limiter() -> RateLimiter:
    """This app's limiter for logins, made once (memory, or Redis with a memory fallback)."""
    extensions = current_app.extensions
    if _EXTENSION not in extensions:
        configured = limiter_from_config(current_app.config)
        if isinstance(configured, MemoryRateLimiter):
            extensions[_EXTENSION] = configured
        else:
            extensions[_EXTENSION] = _SharedWithLocalFallback(configured, MemoryRateLimiter())
    return extensions[_EXTENSION]


def _setting(name: str, default: int) -> int:
    value: Any = current_app.config.get(name)
    return default if value in (None, "") else int(value)


def account_key(email: str) -> str:
    """The same opaque key for an address whether or not an account has it."""
    normalised = email.strip().lower().encode()
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"login-account:" + normalised, hashlib.sha256).hexdigest()[:32]


def refuse_if_limited(email: str) -> Response | None:
    """Count this login attempt; a 429 response when the account or the IP is over its
    limit, else None."""
    limiter = login_limiter()
    window = _setting("LOGIN_WINDOW", DEFAULT_WINDOW)
    # The IP first: a client already over its own limit does not use up the account's
    # allowance as well (its attempts are not counted anywhere).
    ip_allowed = limiter.hit(
        f"login:ip:{request.remote_addr}", _setting("LOGIN_IP_LIMIT", DEFAULT_IP_LIMIT), window
    )
    account_allowed = ip_allowed and limiter.hit(
        f"login:account:{account_key(email)}",
        _setting("LOGIN_ACCOUNT_LIMIT", DEFAULT_ACCOUNT_LIMIT),
        window,
    )
    if ip_allowed and account_allowed:
        return None
    logger.warning("login attempt refused: %s limit reached", "IP" if not ip_allowed else "account")
    minutes = max(1, round(window / 60))
    page = render_template(
        "errors/error.html",
        code=429,
        name=gettext("Too many login attempts"),
        description=ngettext(
            "Too many login attempts for this account or from your network. "
            "Wait %(num)d minute, then try again.",
            "Too many login attempts for this account or from your network. "
            "Wait %(num)d minutes, then try again.",
            minutes,
        ),
    )
    response = current_app.make_response((page, 429))
    response.headers["Retry-After"] = str(window)
    response.headers["Cache-Control"] = "no-store"
    return response
