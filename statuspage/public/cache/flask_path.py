"""Flask's path: the request hooks that answer from the store, wait for another request's
render, serve a copy while the database is down, and store what a view rendered."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import current_app, g, request
from sqlalchemy.exc import DBAPIError
from werkzeug.http import http_date

from statuspage.database import FAIL_FAST, ThrottledLog
from statuspage.extensions import db
from statuspage.public.cache.encoding import choose, compress, etag_of
from statuspage.public.cache.policy import (
    CACHED_ENDPOINTS,
    CONDITIONAL_HEADERS,
    ENVIRON_KEY,
    EXTENSION,
    NOT_STORED,
    RENDER_LEASE_SECONDS,
    VERSION_KEY,
    WAIT_POLL_SECONDS,
    cache_control,
    environ_language,
    key_for,
    not_modified,
    setting,
    shared_cache_bypassed,
    vary,
    with_language,
)
from statuspage.public.cache.session import is_public_request
from statuspage.public.cache.store import Entry, Store
from statuspage.public.cache.version import read_version

if TYPE_CHECKING:
    from flask import Flask
    from flask.wrappers import Response

logger = logging.getLogger(__name__)
# One line a minute while the database is down, not one per request served from a copy.
_stale_log = ThrottledLog(logger)


class PublicCache:
    """The store, the clock and the settings; one per app, in `app.extensions`."""

    def __init__(self, store: Store | None, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self.version_watch: Any = None  # with Redis: `version.VersionWatch`

    def setting(self, name: str) -> int:
        return setting(current_app.config, name)


def public_cache(app: Flask | None = None) -> PublicCache:
    return (app or current_app).extensions[EXTENSION]


# --- the request ----------------------------------------------------------------------------


@dataclass
class _State:
    """What the cache knows about the current request (kept in `g`)."""

    key: str
    version: int
    changed_at: datetime
    conditions: dict[str, str]
    served: bool = False  # answered from the store: nothing to store afterwards


def request_key(endpoint: str) -> str:
    """The cache key of the current request."""
    host = None if current_app.config.get("SITE_URL") else request.host
    key = key_for(
        endpoint, request.view_args or {}, request.args, host=host, root=request.script_root
    )
    return with_language(
        key, environ_language(request.environ, current_app.config.get("DEFAULT_LANGUAGE"))
    )


def _finish(
    response: Response,
    *,
    etag: str,
    changed_at: datetime | None,
    conditions: dict[str, str],
    status: str,
) -> Response:
    """The cache headers, and a 304 instead of the body when the client has this one."""
    response.set_etag(etag)
    if changed_at is not None:
        response.headers["Last-Modified"] = http_date(changed_at)
    response.headers["Cache-Control"] = cache_control(current_app.config)
    response.headers["X-Public-Cache"] = status
    if not_modified(conditions, etag, changed_at):
        response.status_code = 304
        response.set_data(b"")
    return response


def _represent(response: Response, entry: Entry) -> str:
    """The body the request's Accept-Encoding prefers (`encoding`); returns its ETag."""
    encoding = choose(entry.variants, request.environ)
    if encoding:
        response.set_data(entry.variants[encoding])
        response.headers["Content-Encoding"] = encoding
    response.headers["Vary"] = vary(request.environ)
    return etag_of(entry.etag, encoding)


def _answer(entry: Entry, state: _State | None, status: str) -> Response:
    """A response from a stored copy (Content-Length from the body; HEAD sends no body)."""
    response = current_app.response_class(entry.body)
    del response.headers["Content-Type"]
    for name, value in entry.headers:
        response.headers.add(name, value)
    etag = _represent(response, entry)
    return _finish(
        response,
        etag=etag,
        changed_at=state.changed_at if state else None,
        conditions=state.conditions if state else _conditions(pop=False),
        status=status,
    )


def _conditions(*, pop: bool) -> dict[str, str]:
    environ = request.environ
    found = {name: environ[name] for name in CONDITIONAL_HEADERS if name in environ}
    if pop:
        for name in found:
            del environ[name]
    return found


def before_request() -> Response | None:
    endpoint = request.endpoint
    if request.method not in ("GET", "HEAD") or endpoint not in CACHED_ENDPOINTS:
        return None
    if shared_cache_bypassed(request.environ):
        return None  # a member's own page: not shared, the real session and headers
    request.environ[ENVIRON_KEY] = endpoint
    # While the database is found down, this request's queries fail at once (the stored
    # copy or a 503 then answers without waiting for a timeout; statuspage.database).
    g.public_cache_fail_fast = FAIL_FAST.set(True)
    cache = public_cache()
    key = request_key(endpoint)
    try:
        found = request.environ.pop(VERSION_KEY, None) or read_version(db.session)
    except DBAPIError:
        db.session.rollback()
        fallback = cache.store.get(key) if cache.store is not None else None
        limit = cache.setting("PUBLIC_CACHE_STALE_IF_ERROR")
        if fallback is None or cache.clock() - fallback.stored_at > limit:
            raise
        _stale_log.log(logging.WARNING, "database unavailable: serving stored copies")
        return _answer(fallback, None, "STALE-ERROR")
    if found is None:
        return None  # no site_state row: nothing can invalidate, so do not cache
    version, changed_at = found
    state = _State(key, version, changed_at, _conditions(pop=True))
    g.public_cache = state
    if cache.store is None:
        return None
    entry = cache.store.get(key)
    if entry is None or entry.version < version:
        waited = _one_render_per_version(cache, key, version)
        if waited is None:
            return None  # this request renders the new version
        state.served = True
        return _answer(waited, state, "WAIT")
    if entry.version != version:
        return None  # rendered after a commit this request did not see: render once more
    age = cache.clock() - entry.stored_at
    if age < cache.setting("PUBLIC_CACHE_SECONDS"):
        state.served = True
        return _answer(entry, state, "HIT")
    if not cache.store.claim(key, RENDER_LEASE_SECONDS):
        state.served = True  # someone else is refreshing this copy; this one is recent enough
        return _answer(entry, state, "STALE")
    return None


def _one_render_per_version(cache: PublicCache, key: str, version: int) -> Entry | None:
    """After a change, one request renders each page while the others wait for its copy.

    Without this, every request arriving between a publish and the first new copy renders
    the page itself: on a busy page that is dozens of renders competing for the CPU with the
    publish itself. The first request claims the render of (page, version); the others wait
    up to `PUBLIC_CACHE_WAIT_SECONDS` for the copy, and render themselves if it does not
    come (the renderer failed, or its page is a 404, which is not stored: it lets go of the
    claim and the next waiter takes it). Returns the copy, or None: this request renders.
    """
    assert cache.store is not None
    claim = f"render:{version}:{key}"
    if cache.store.claim(claim, RENDER_LEASE_SECONDS):
        g.public_cache_claim = claim
        return None
    deadline = time.monotonic() + cache.setting("PUBLIC_CACHE_WAIT_SECONDS")
    while time.monotonic() < deadline:
        time.sleep(WAIT_POLL_SECONDS)
        if cache.store.claimed(claim):
            continue
        entry = cache.store.get(key)
        if entry is not None and entry.version >= version:
            return entry
        if cache.store.claim(claim, RENDER_LEASE_SECONDS):
            g.public_cache_claim = claim
            return None
    return None


def release_claim(error: BaseException | None = None) -> None:
    """The render is over (stored or not): waiters for the same copy may go on."""
    token = g.pop("public_cache_fail_fast", None)
    if token is not None:
        FAIL_FAST.reset(token)
    claim = g.pop("public_cache_claim", None)
    cache = public_cache()
    if claim is not None and cache.store is not None:
        cache.store.release(claim)


def after_request(response: Response) -> Response:
    if not is_public_request():
        return response
    if response.status_code >= 500:
        response.headers["Cache-Control"] = "no-store"  # nobody keeps an error page around
        return response
    state: _State | None = g.get("public_cache")
    if state is None or state.served:
        return response
    if response.status_code != 200 or response.is_streamed or response.direct_passthrough:
        return response
    if "Set-Cookie" in response.headers:
        logger.error("public cache: %s set a cookie; not cached", request.endpoint)
        response.headers["Cache-Control"] = "private, no-store"
        return response
    body = response.get_data()
    headers = [(name, value) for name, value in response.headers if name.lower() not in NOT_STORED]
    etag = hashlib.sha256(body).hexdigest()[:40]
    cache = public_cache()
    if cache.store is not None:
        entry = Entry(state.version, cache.clock(), body, headers, etag, compress(body))
        keep = cache.setting("PUBLIC_CACHE_SECONDS") + cache.setting("PUBLIC_CACHE_STALE_IF_ERROR")
        cache.store.put(state.key, entry, keep_seconds=keep)
        etag = _represent(response, entry)
    return _finish(
        response,
        etag=etag,
        changed_at=state.changed_at,
        conditions=state.conditions,
        status="MISS",
    )
