"""The steps of a login, shared by the password page (`views`) and the code page
(`two_factor`): where to go afterwards, the login under way between password and code, and the
real login at the end.

- **Pending** (`begin_pending_login`): after a right password for an account with two-factor
  on, the session holds only a marker (user id and expiry, in Flask's signed session cookie).
  Nobody is logged in yet: `current_user` stays anonymous and no login row exists. After
  `TWO_FACTOR_PENDING_SECONDS` (300) the marker is void and the person starts again from the
  password.
- **Complete** (`complete_login`): a new session, a login row in the database (its token in
  the session, checked on every request by the user loader), and Flask-Login's user.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import current_app, redirect, request, session, url_for
from flask_login import login_user
from werkzeug.wrappers import Response

from statuspage.auth.models import User
from statuspage.auth.sessions import start_session
from statuspage.core.db import utcnow
from statuspage.extensions import db

SESSION_TOKEN_KEY = "sid"  # noqa: S105 - a session key name, not a secret
PENDING_LOGIN_KEY = "pending_login"
DEFAULT_PENDING_SECONDS = 300


def safe_next(target: str | None) -> str:
    """Only same-site paths: never an open redirect."""
    if not target:
        return url_for("admin.incidents")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("admin.incidents")
    if "\\" in target:
        return url_for("admin.incidents")
    # Browsers drop tabs and newlines inside a URL ("/\t/evil.example" becomes
    # "//evil.example"): refuse control characters and spaces altogether.
    if any(ord(character) <= 0x20 or ord(character) == 0x7F for character in target):
        return url_for("admin.incidents")
    return target


def complete_login(user: User, next_page: str | None = None) -> Response:
    """The real login, after the password (and the code, with two-factor on) or single
    sign-on. `next_page` defaults to the request's `next`."""
    target = next_page if next_page is not None else request.args.get("next")
    session.clear()  # a new session at login: nothing from before carries over
    token = start_session(db.session, user, now=utcnow())
    db.session.commit()
    session[SESSION_TOKEN_KEY] = token
    login_user(user)
    return redirect(safe_next(target))


def begin_pending_login(user: User, next_page: str | None = None) -> Response:
    """After a right password (or single sign-on): remember who is logging in, for a few
    minutes, and ask for the code. Nothing else survives from the session before."""
    target = next_page if next_page is not None else request.args.get("next")
    seconds = int(current_app.config.get("TWO_FACTOR_PENDING_SECONDS") or DEFAULT_PENDING_SECONDS)
    session.clear()
    session[PENDING_LOGIN_KEY] = {"user_id": user.id, "expires_at": int(time.time()) + seconds}
    return redirect(url_for("auth.login_code", next=target))


def pending_user_id() -> tuple[int | None, bool]:
    """The user id of the login under way, and whether one had expired."""
    pending = session.get(PENDING_LOGIN_KEY)
    if not isinstance(pending, dict):
        return None, False
    try:
        user_id, expires_at = int(pending["user_id"]), int(pending["expires_at"])
    except (KeyError, TypeError, ValueError):
        session.pop(PENDING_LOGIN_KEY, None)
        return None, False
    if time.time() >= expires_at:
        session.pop(PENDING_LOGIN_KEY, None)
        return None, True
    return user_id, False
