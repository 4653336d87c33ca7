"""Readers: who is reading the public site, and which audiences they may see.

A reader is anonymous (the public), signed in (an email link or OpenID Connect: kept in the
Flask session), a member by IP address (the request comes from an audience's network), or
staff (logged in to the admin: a member of every audience).

Pages a member sees are their own: `ReaderMarks`, a WSGI layer in front of the public cache,
marks such a request (`policy.PRIVATE_READER_KEY`) so the cache neither answers nor keeps it,
and `after_request` adds `Cache-Control: private, no-store`, `Vary: Cookie` and
`X-Robots-Tag: noindex`. The mark comes from the IP networks and from a signed hint cookie
set at sign-in; it only decides whether the shared cache is skipped. What a request may see
is always decided from the session itself (`current_reader`), and a request the cache
treats as public is always read as the public, so a stale or forged hint leaks nothing.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request, session
from flask_login import current_user
from itsdangerous import BadSignature, Signer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from werkzeug.http import parse_cookie

from statuspage import database
from statuspage.audiences import access, visibility
from statuspage.extensions import db
from statuspage.public.cache.policy import PRIVATE_READER_KEY
from statuspage.public.cache.session import is_public_request

if TYPE_CHECKING:
    from flask import Flask
    from flask.wrappers import Response

logger = logging.getLogger(__name__)
# A database that does not answer is said once a minute, not on every period of every process.
_networks_log = database.ThrottledLog(logger)

SESSION_KEY = "reader"
HINT_COOKIE = "statuspage_reader"
HINT_SALT = "statuspage.reader-hint"
NETWORKS_EXTENSION = "statuspage.reader_networks"
NETWORKS_ENGINE = "statuspage.reader_networks_engine"
IP_AUDIENCES_KEY = "statuspage.reader.ip_audiences"
NETWORKS_TTL_SECONDS = 10.0  # how long a process keeps the audiences' IP ranges
VIAS = frozenset({"email", "oidc"})
PRIVATE_BLUEPRINTS = frozenset({"public", "api_v2"})


@dataclass(frozen=True)
class Reader:
    """Who reads, and the audiences (beyond the public) they may see."""

    email: str | None = None
    audience_ids: frozenset[int] = field(default_factory=frozenset)
    via: str = "public"  # public, email, oidc, ip, staff
    staff: bool = False

    @property
    def signed_in(self) -> bool:
        return self.via in VIAS

    @property
    def member(self) -> bool:
        """Sees more than the public: their pages are their own, never the shared copy.
        (Staff on a site with no audience see what the public sees, from the cache.)"""
        return bool(self.audience_ids)


ANONYMOUS = Reader()


# --- the session -----------------------------------------------------------------------------


def sign_in_reader(*, email: str | None, audience_ids: list[int], via: str) -> None:
    """Keep this reader in the session, in a new session: whatever the old cookie held (a
    planted one included) is dropped, and the cookie's content changes (no fixation)."""
    if via not in VIAS:
        raise ValueError(f"unknown sign-in route {via!r}")
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = {
        "email": (email or "").strip().lower() or None,
        "audience_ids": sorted({int(i) for i in audience_ids}),
        "via": via,
        "at": int(time.time()),
        "nonce": secrets.token_urlsafe(16),
    }
    g.pop("reader", None)
    g.reader_hint = True
    logger.info("Reader signed in via %s (%d audience(s))", via, len(audience_ids))


def sign_out_reader() -> None:
    session.pop(SESSION_KEY, None)
    g.pop("reader", None)
    g.reader_hint = False


def current_reader() -> Reader:
    """The reader of this request (remembered for the request)."""
    if not has_request_context():
        return ANONYMOUS
    if is_public_request():
        return ANONYMOUS  # a shared copy is the public's, whoever asked for it
    found = g.get("reader")
    if found is None:
        try:
            found = _read_reader()
        except SQLAlchemyError:
            # The database does not answer (an error page is being drawn, most likely): the
            # reader is read as the public, which shows less, never more.
            db.session.rollback()
            found = ANONYMOUS
        g.reader = found
    return found


def _read_reader() -> Reader:
    ip_ids = set(request.environ.get(IP_AUDIENCES_KEY) or ())
    if getattr(current_user, "is_authenticated", False):
        return Reader(
            email=None,
            audience_ids=frozenset(access.all_audience_ids(db.session)),
            via="staff",
            staff=True,
        )
    stored = session.get(SESSION_KEY)
    if isinstance(stored, dict) and _still_valid(stored):
        email = stored.get("email")
        if stored.get("via") == "email":
            # Asked again each time: an address taken off the audience loses it at once.
            ids = set(access.audiences_for_email(db.session, email))
        else:
            known = set(access.all_audience_ids(db.session))
            ids = {int(i) for i in stored.get("audience_ids") or []} & known
        return Reader(email=email, audience_ids=frozenset(ids | ip_ids), via=stored["via"])
    if ip_ids:
        return Reader(audience_ids=frozenset(ip_ids), via="ip")
    return ANONYMOUS


def _still_valid(stored: dict[str, Any]) -> bool:
    hours = int(current_app.config.get("READER_SESSION_HOURS") or 12)
    at = stored.get("at")
    return stored.get("via") in VIAS and isinstance(at, int) and time.time() - at < hours * 3600


# --- marking requests in front of the cache -------------------------------------------------


def _signer(app: Flask) -> Signer:
    return Signer(app.secret_key or "", salt=HINT_SALT)


def hint_value(app: Flask) -> str:
    return _signer(app).sign(b"member").decode()


class ReaderMarks:
    """WSGI layer between the proxy fix and the cache: marks requests from an audience's IP
    ranges (with their audience ids) and requests with a valid hint cookie."""

    def __init__(self, app: Flask, wsgi_app: Any) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __getattr__(self, name: str) -> Any:
        # Transparent: the layer inside (the cache's fast path) is still reachable as before.
        return getattr(self.wsgi_app, name)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            known = networks(self.app)
            ids = access.match_networks(known, environ.get("REMOTE_ADDR")) if known else []
            if ids:
                environ[IP_AUDIENCES_KEY] = ids
                environ[PRIVATE_READER_KEY] = True
            elif HINT_COOKIE in environ.get("HTTP_COOKIE", ""):
                value = parse_cookie(environ).get(HINT_COOKIE) or ""
                try:
                    _signer(self.app).unsign(value)
                    environ[PRIVATE_READER_KEY] = True
                except BadSignature:
                    pass
        except Exception:  # never take the page down: the request is then read as public
            logger.exception("readers: could not mark the request")
        return self.wsgi_app(environ, start_response)


def networks(app: Flask) -> list[tuple[access.Network, int]]:
    """The audiences' IP ranges, read at most every `NETWORKS_TTL_SECONDS` per process.

    This layer runs before Flask (no app context, no request session), so it reads on an
    engine of its own without a pool: one short connection per process every few seconds,
    whatever the traffic, and none of the app's pooled connections.
    """
    cached = app.extensions.get(NETWORKS_EXTENSION)
    now = time.monotonic()
    if cached is not None and now - cached[0] < NETWORKS_TTL_SECONDS:
        return cached[1]
    try:
        engine = app.extensions.get(NETWORKS_ENGINE)
        if engine is None:
            with app.app_context():
                url = db.engine.url
                app_guard = database.guard_of(db.engine)
            # The app's connect and statement timeouts (no pool options: there is no pool),
            # so a hung database costs this layer at most the connect timeout per period.
            options = database.engine_options(app.config)
            options.pop("pool_timeout", None)
            engine = sa.create_engine(url, poolclass=NullPool, **options)
            guard = database.guard_engine(engine, app.config)
            if guard is not None and app_guard is not None:
                guard.outage = app_guard.outage  # one view per process of whether it answers
            app.extensions[NETWORKS_ENGINE] = engine
        # As a public page: during the app's retry pause this fails at once.
        with database.failing_fast(), Session(engine) as session:
            found = access.audience_networks(session)
    except Exception as error:
        _networks_log.log(
            logging.WARNING, "readers: could not read the audiences' IP ranges: %s", error
        )
        found = cached[1] if cached is not None else []
    app.extensions[NETWORKS_EXTENSION] = (now, found)
    return found


def forget_networks(app: Flask | None = None) -> None:
    """Read the IP ranges again on the next request (after staff changed them)."""
    (app or current_app).extensions.pop(NETWORKS_EXTENSION, None)


# --- response headers ------------------------------------------------------------------------


def after_request(response: Response) -> Response:
    if is_public_request():
        return response
    reader = current_reader() if _reader_matters() else ANONYMOUS
    wanted = g.pop("reader_hint", None)
    if wanted is None:
        wanted = reader.member if _reader_matters() else None
    has_hint = HINT_COOKIE in request.cookies
    if wanted and not has_hint:
        response.set_cookie(
            HINT_COOKIE,
            hint_value(current_app._get_current_object()),  # type: ignore[attr-defined]
            httponly=True,
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
            samesite="Lax",
        )
    elif wanted is False and has_hint:
        response.delete_cookie(HINT_COOKIE)
    if request.blueprint in PRIVATE_BLUEPRINTS and (
        reader.member or request.environ.get(PRIVATE_READER_KEY)
    ):
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["X-Robots-Tag"] = "noindex"
        response.vary.add("Cookie")
    return response


def _reader_matters() -> bool:
    """Pages of the public site and the sign-in pages; not static files or the APIs."""
    return request.blueprint in PRIVATE_BLUEPRINTS or request.blueprint in ("auth", "admin")


def template_context() -> dict[str, Any]:
    """The reader, and what of an incident they may see, for the public templates."""
    reader = current_reader()
    ids = reader.audience_ids

    def updates_of(incident: Any) -> list[Any]:
        return incident.updates_for(ids)

    def affected_of(incident: Any) -> list[Any]:
        return [
            link
            for link in incident.affected
            if visibility.component_visible_to(link.component, ids)
        ]

    return {"reader": reader, "updates_of": updates_of, "affected_of": affected_of}


def register(app: Flask) -> None:
    app.after_request(after_request)
    app.context_processor(template_context)
    app.wsgi_app = ReaderMarks(app, app.wsgi_app)  # type: ignore[method-assign]
