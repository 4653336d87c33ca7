"""Public responses served from a cache keyed by the public version (issue 7).

A status page gets its biggest traffic exactly when things are broken, so the public pages,
feeds, badges, the calendar and the /api/v2 JSON are rendered once and then served from a
cache, with the HTTP headers that let nginx or a CDN absorb the spike too.

How a request for a cached endpoint (`CACHED_ENDPOINTS`, GET or HEAD) is answered (a fresh
copy of the current version by `CacheHits`, a WSGI middleware in front of Flask; everything
else by the hooks below, inside Flask):

1. One statement reads `site_state` (public_version, public_changed_at). Every domain function
   that changes something customers see bumps that version in its own transaction
   (`records.bump_public_version`), so a request that starts after the commit reads the new
   version: **never stale after a publish**.
2. The stored copy for the request (endpoint, its URL arguments, the query parameters the view
   reads, and nothing else, so `?utm=...` cannot bust the cache) is used when it was rendered
   at this version and is younger than `PUBLIC_CACHE_SECONDS`. Pages also depend on the clock
   (ongoing durations, today's uptime), hence the age limit when nothing changed.
   A hit runs no view and no other query: one statement per request.
3. Otherwise the view renders it (the conditional request headers are held back, so it renders
   a full 200) and a 200 is stored; 404s and errors are not (random ids would evict real
   pages), 5xx are marked `no-store`.
4. When the stored copy is only too old (same version), one request re-renders it (a claim with
   a short lease) while the others keep getting the copy: no stampede every 30 seconds. A new
   version is never answered with an older copy: after a change, one request renders each
   page while the others wait for its copy (`_one_render_per_version`).
5. When the database does not answer, a stored copy up to `PUBLIC_CACHE_STALE_IF_ERROR`
   seconds old is served instead of an error page: the status page stays up in an outage.

Each copy is stored with the version it was rendered at (one copy per request key; a newer
version replaces it). That is the same as keying on (version, request), without leaving old
versions to crowd the store, and it keeps the last copy for the database-down case. A copy is
rendered after its version was read, so it is never older than the version it is stored
under (at worst newer: the next request then renders once more). In Redis a slow render of
an older version may overwrite a newer copy; that costs one extra render, never a stale page.

Where: Redis when `REDIS_URL` is set (shared by every process, so a publish costs one render
per page for the whole site; a Redis error falls back to rendering and Redis is left alone
for a few seconds), else this process's memory, an LRU bounded by entries and bytes
(`PUBLIC_CACHE_STORAGE`: memory, redis or none to choose). The version itself is always read
from the database: a Redis-held copy would need updating after every commit, by every writer
(web, worker, CLI), and a missed update would serve stale pages; one primary-key read is
cheap, and it keeps the guarantee simple.

HTTP: a strong ETag from the body (sha256, so a re-render that changed nothing keeps it),
Last-Modified = public_changed_at, 304 for If-None-Match (or If-Modified-Since when no
If-None-Match was sent), and `Cache-Control: public, max-age, stale-while-revalidate,
stale-if-error` (`PUBLIC_CACHE_MAX_AGE`, `PUBLIC_CACHE_STALE_WHILE_REVALIDATE`,
`PUBLIC_CACHE_STALE_IF_ERROR`).

Cookies: Flask-Login's after-request hook reads the session on every response, which made
Flask add `Vary: Cookie` to every page, and a CDN caches nothing that varies by cookie. For
the cached endpoints the session is never saved (`PublicAwareSessionInterface`): no
`Set-Cookie`, no `Vary: Cookie`, and the visitor's cookie stays as it was. Their templates
see no flashed message and no logged-in user (`public_template_context`), so nothing of one
visitor can end up in a copy everyone gets; a flashed message waits for the visitor's next
page of their own. The flag is set in `before_request`, so the admin area, the login, the
subscription pages (personal, with CSRF forms) and the test client's `session_transaction`
keep the real session.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import queue
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import sqlalchemy as sa
from flask import current_app, g, request
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date, parse_date, parse_etags, quote_etag, remove_entity_headers

from statuspage.core.models import SiteState
from statuspage.extensions import db
from statuspage.security import security_headers

if TYPE_CHECKING:
    from flask import Flask
    from flask.wrappers import Response

logger = logging.getLogger(__name__)

EXTENSION = "statuspage.public_cache"
ENVIRON_KEY = "statuspage.public_cache.endpoint"
VERSION_KEY = "statuspage.public_cache.version"  # read by the fast path, for Flask's path

# Every public GET endpoint is either here or in `NEVER_CACHED` (a test checks that).
# The value: the query parameters the view reads, the only ones that are part of the key.
CACHED_ENDPOINTS: dict[str, tuple[str, ...]] = {
    "public.index": (),
    "public.incident": (),
    "public.maintenance": (),
    "public.history": ("page", "component"),
    "public.history_rss": (),
    "public.history_atom": (),
    "public.component_history_rss": (),
    "public.component_history_atom": (),
    "public.badge": (),
    "public.component_badge": (),
    "public.maintenance_calendar": (),
    "api_v2.summary": (),
    "api_v2.status": (),
    "api_v2.components": (),
    "api_v2.incidents": (),
    "api_v2.unresolved_incidents": (),
    "api_v2.scheduled_maintenances": (),
    "api_v2.upcoming_maintenances": (),
    "api_v2.active_maintenances": (),
}
# Personal pages and forms with CSRF tokens: never shared, and they keep the real session.
NEVER_CACHED = frozenset(
    {
        "public.subscribe",
        "public.confirm_subscription",
        "public.manage_subscription",
        "public.unsubscribe_page",
    }
)

DEFAULTS: dict[str, Any] = {
    "PUBLIC_CACHE_STORAGE": "",  # "" = redis when REDIS_URL is set, else memory; or "none"
    "PUBLIC_CACHE_SECONDS": 30,
    "PUBLIC_CACHE_MAX_AGE": 15,
    "PUBLIC_CACHE_STALE_WHILE_REVALIDATE": 60,
    "PUBLIC_CACHE_STALE_IF_ERROR": 86400,
    "PUBLIC_CACHE_WAIT_SECONDS": 5,
    "PUBLIC_CACHE_FAST_PATH": 1,
    "PUBLIC_CACHE_MAX_ENTRIES": 2000,
    "PUBLIC_CACHE_MAX_BYTES": 64 * 1024 * 1024,
    "PUBLIC_CACHE_PREFIX": "statuspage:public-cache:",
}
RENDER_LEASE_SECONDS = 10  # how long one request may take to refresh a copy for the others
WAIT_POLL_SECONDS = 0.01  # how often a request waiting for another's render looks again
# Headers that belong to one response, not to the stored copy.
_NOT_STORED = frozenset(
    {
        "cache-control",
        "content-length",
        "date",
        "etag",
        "last-modified",
        "set-cookie",
        "vary",
        "x-public-cache",
    }
)
_CONDITIONAL = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_IF_RANGE")


@dataclass(frozen=True)
class Entry:
    """One stored response: the body, its own headers, and the version it was rendered at."""

    version: int
    stored_at: float
    body: bytes
    headers: list[tuple[str, str]]
    etag: str
    size: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", len(self.body) + 200)

    def dumps(self) -> bytes:
        meta = {"v": self.version, "t": self.stored_at, "h": self.headers, "e": self.etag}
        return json.dumps(meta, separators=(",", ":")).encode() + b"\n" + self.body

    @classmethod
    def loads(cls, raw: bytes) -> Entry:
        # JSON and raw bytes, never pickle: whoever can write to Redis must not run code here.
        meta_line, body = raw.split(b"\n", 1)
        meta = json.loads(meta_line)
        headers = [(str(name), str(value)) for name, value in meta["h"]]
        return cls(int(meta["v"]), float(meta["t"]), body, headers, str(meta["e"]))


class Store(Protocol):
    def get(self, key: str) -> Entry | None: ...

    def put(self, key: str, entry: Entry, *, keep_seconds: int) -> None: ...

    def claim(self, key: str, seconds: int) -> bool: ...

    def claimed(self, key: str) -> bool: ...

    def release(self, key: str) -> None: ...

    def clear(self) -> None: ...


class MemoryStore:
    """This process's copies: least recently used first out, bounded by entries and bytes."""

    def __init__(self, *, max_entries: int, max_bytes: int, clock: Callable[[], float]) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.clock = clock
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._claims: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: Entry, *, keep_seconds: int) -> None:
        if entry.size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.get(key)
            if old is not None and old.version > entry.version:
                return  # a slower render of an older version must not replace a newer one
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = entry
            self._entries.move_to_end(key)
            self._bytes += entry.size
            self._claims.pop(key, None)
            while self._entries and (
                len(self._entries) > self.max_entries or self._bytes > self.max_bytes
            ):
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.size

    def claim(self, key: str, seconds: int) -> bool:
        now = self.clock()
        with self._lock:
            if self._claims.get(key, 0.0) > now:
                return False
            if len(self._claims) > self.max_entries:
                self._claims = {k: until for k, until in self._claims.items() if until > now}
            self._claims[key] = now + seconds
            return True

    def claimed(self, key: str) -> bool:
        with self._lock:
            return self._claims.get(key, 0.0) > self.clock()

    def release(self, key: str) -> None:
        with self._lock:
            self._claims.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._claims.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


class RedisStore:
    """Copies in Redis, shared by every process. A Redis error counts as a miss (the page is
    rendered) and Redis is then left alone for `PAUSE_SECONDS`, so an outage of the cache does
    not add a timeout to every request."""

    PAUSE_SECONDS = 5.0

    def __init__(self, client: Any, *, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._paused_until = 0.0

    @classmethod
    def from_url(cls, url: str, *, prefix: str) -> RedisStore:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return cls(client, prefix=prefix)

    def _call(self, action: Callable[[], Any], fallback: Any) -> Any:
        import redis

        if time.monotonic() < self._paused_until:
            return fallback
        try:
            return action()
        except redis.RedisError as error:
            logger.warning("public cache: Redis unavailable (%s)", error.__class__.__name__)
            self._paused_until = time.monotonic() + self.PAUSE_SECONDS
            return fallback

    def get(self, key: str) -> Entry | None:
        raw = self._call(lambda: self.client.get(self.prefix + key), None)
        if raw is None:
            return None
        try:
            return Entry.loads(raw)
        except (ValueError, KeyError, TypeError):
            logger.warning("public cache: unreadable entry dropped")
            return None

    def put(self, key: str, entry: Entry, *, keep_seconds: int) -> None:
        self._call(
            lambda: self.client.set(self.prefix + key, entry.dumps(), ex=max(keep_seconds, 1)),
            None,
        )

    def claim(self, key: str, seconds: int) -> bool:
        # When Redis fails, claim: rendering is the safe answer.
        return bool(
            self._call(
                lambda: self.client.set(self.prefix + "claim:" + key, b"1", nx=True, ex=seconds),
                True,
            )
        )

    def claimed(self, key: str) -> bool:
        # When Redis fails, nobody holds a claim: the waiter renders.
        return bool(self._call(lambda: self.client.exists(self.prefix + "claim:" + key), False))

    def release(self, key: str) -> None:
        self._call(lambda: self.client.delete(self.prefix + "claim:" + key), None)

    def clear(self) -> None:
        def delete_all() -> None:
            keys = list(self.client.scan_iter(match=self.prefix + "*"))
            if keys:
                self.client.delete(*keys)

        self._call(delete_all, None)


class PublicAwareSessionInterface(SessionInterface):
    """The app's session interface, except that a cached public request's session is never
    saved: no `Set-Cookie`, no `Vary: Cookie`, and the visitor's cookie stays as it was."""

    def __init__(self, inner: SessionInterface) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def make_null_session(self, app: Flask) -> Any:
        return self.inner.make_null_session(app)

    def is_null_session(self, obj: object) -> bool:
        return self.inner.is_null_session(obj)

    def open_session(self, app: Flask, request: Any) -> SessionMixin | None:
        return self.inner.open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if is_public_request():
            if session.modified:
                logger.error(
                    "public cache: %s wrote to the session; the change is dropped",
                    request.endpoint,
                )
            return None
        return self.inner.save_session(app, session, response)


def is_public_request() -> bool:
    """Whether this request is for a cached public endpoint (set by `before_request`, which
    only a real dispatch runs: the test client's `session_transaction` is left alone)."""
    return bool(request) and ENVIRON_KEY in request.environ


def public_template_context() -> dict[str, Any]:
    """Templates of a cached public response see no visitor: no flashed message, no user.

    They are shared by everyone, so a message flashed for one visitor, or anything shown
    to a logged-in user, must not end up in them (the message waits for a page of its own).
    """
    if not is_public_request():
        return {}
    from flask_login import AnonymousUserMixin

    return {
        "get_flashed_messages": lambda *args, **kwargs: [],
        "current_user": AnonymousUserMixin(),
        "can": lambda permission: False,
    }


class PublicCache:
    """The store, the clock and the settings; one per app, in `app.extensions`."""

    def __init__(self, store: Store | None, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def setting(self, name: str) -> int:
        return int(current_app.config.get(name, DEFAULTS[name]))


def _make_store(app: Flask, cache: PublicCache) -> Store | None:
    config = app.config
    storage = str(config.get("PUBLIC_CACHE_STORAGE") or "").strip().lower()
    redis_url = str(config.get("REDIS_URL") or "").strip()
    prefix = str(config.get("PUBLIC_CACHE_PREFIX") or DEFAULTS["PUBLIC_CACHE_PREFIX"])
    if storage == "none":
        return None
    if storage == "redis" or (not storage and redis_url):
        if not redis_url:
            raise RuntimeError("PUBLIC_CACHE_STORAGE=redis needs REDIS_URL.")
        return RedisStore.from_url(redis_url, prefix=prefix)
    if storage not in ("", "memory"):
        raise RuntimeError(f"PUBLIC_CACHE_STORAGE must be memory, redis or none, not {storage!r}")
    return MemoryStore(
        max_entries=int(
            config.get("PUBLIC_CACHE_MAX_ENTRIES", 0) or DEFAULTS["PUBLIC_CACHE_MAX_ENTRIES"]
        ),
        max_bytes=int(
            config.get("PUBLIC_CACHE_MAX_BYTES", 0) or DEFAULTS["PUBLIC_CACHE_MAX_BYTES"]
        ),
        clock=lambda: cache.clock(),
    )


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


def key_for(endpoint: str, view_args: dict[str, Any], args: Any, *, host: str | None = None) -> str:
    """Endpoint, URL arguments and the query parameters the view reads, in a fixed order;
    `host` when absolute links come from the request's host (no SITE_URL)."""
    parts = [endpoint]
    parts += [f"{name}={value}" for name, value in sorted(view_args.items())]
    for name in CACHED_ENDPOINTS[endpoint]:
        value = (args.get(name) or "").strip()  # what the view reads: the first value
        if value.isdigit():
            value = str(int(value))  # page=02 is page=2
        if value:
            parts.append(f"?{name}={value}")
    if host is not None:
        parts.append("@" + host)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def request_key(endpoint: str) -> str:
    """The cache key of the current request."""
    host = None if current_app.config.get("SITE_URL") else request.host
    return key_for(endpoint, request.view_args or {}, request.args, host=host)


def _setting(config: Any, name: str) -> int:
    return int(config.get(name, DEFAULTS[name]))


def _cache_control(config: Any = None) -> str:
    config = current_app.config if config is None else config
    return (
        f"public, max-age={_setting(config, 'PUBLIC_CACHE_MAX_AGE')}, "
        f"stale-while-revalidate={_setting(config, 'PUBLIC_CACHE_STALE_WHILE_REVALIDATE')}, "
        f"stale-if-error={_setting(config, 'PUBLIC_CACHE_STALE_IF_ERROR')}"
    )


def _not_modified(conditions: dict[str, str], etag: str, changed_at: datetime | None) -> bool:
    """RFC 9110: If-None-Match decides when sent; If-Modified-Since only without it."""
    if_none_match = conditions.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        return parse_etags(if_none_match).contains_weak(etag)
    since = parse_date(conditions.get("HTTP_IF_MODIFIED_SINCE"))
    if since is None or changed_at is None:
        return False
    return changed_at.replace(microsecond=0) <= since


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
    response.headers["Cache-Control"] = _cache_control()
    response.headers["X-Public-Cache"] = status
    if _not_modified(conditions, etag, changed_at):
        response.status_code = 304
        response.set_data(b"")
    return response


def _answer(entry: Entry, state: _State | None, status: str) -> Response:
    """A response from a stored copy (Content-Length from the body; HEAD sends no body)."""
    response = current_app.response_class(entry.body)
    del response.headers["Content-Type"]
    for name, value in entry.headers:
        response.headers.add(name, value)
    return _finish(
        response,
        etag=entry.etag,
        changed_at=state.changed_at if state else None,
        conditions=state.conditions if state else _conditions(pop=False),
        status=status,
    )


def _conditions(*, pop: bool) -> dict[str, str]:
    environ = request.environ
    found = {name: environ[name] for name in _CONDITIONAL if name in environ}
    if pop:
        for name in found:
            del environ[name]
    return found


def _read_version() -> tuple[int, datetime] | None:
    row = db.session.execute(VERSION_QUERY).one_or_none()
    return None if row is None else (int(row[0]), row[1])


def before_request() -> Response | None:
    endpoint = request.endpoint
    if request.method not in ("GET", "HEAD") or endpoint not in CACHED_ENDPOINTS:
        return None
    request.environ[ENVIRON_KEY] = endpoint
    cache = public_cache()
    key = request_key(endpoint)
    try:
        found = request.environ.pop(VERSION_KEY, None) or _read_version()
    except DBAPIError:
        db.session.rollback()
        fallback = cache.store.get(key) if cache.store is not None else None
        limit = cache.setting("PUBLIC_CACHE_STALE_IF_ERROR")
        if fallback is None or cache.clock() - fallback.stored_at > limit:
            raise
        logger.warning("database unavailable: serving the stored copy of %s", endpoint)
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
    headers = [(name, value) for name, value in response.headers if name.lower() not in _NOT_STORED]
    etag = hashlib.sha256(body).hexdigest()[:40]
    cache = public_cache()
    entry = Entry(state.version, cache.clock(), body, headers, etag)
    if cache.store is not None:
        keep = cache.setting("PUBLIC_CACHE_SECONDS") + cache.setting("PUBLIC_CACHE_STALE_IF_ERROR")
        cache.store.put(state.key, entry, keep_seconds=keep)
    return _finish(
        response,
        etag=etag,
        changed_at=state.changed_at,
        conditions=state.conditions,
        status="MISS",
    )


class CacheHits:
    """WSGI middleware in front of Flask that answers a request the cache can answer.

    A hit through Flask still pays for the request context, the session and login hooks,
    a pooled connection (a ping, BEGIN and ROLLBACK around the one statement) and every
    after-request hook: several times what sending the stored bytes costs. Here a GET or HEAD
    for a cached endpoint is matched against the URL map, the copy looked up, the version read
    in one statement on a connection of this middleware's own (autocommit, kept between
    requests, see `VersionReader`), and a fresh copy of this version sent with the headers
    the Flask path would send, security headers included (a test compares the two).
    Anything else, a stale or missing copy, a database or store error, goes on to Flask,
    which renders, waits for another request's render or serves a copy while the database is
    down. `PUBLIC_CACHE_FAST_PATH=0` turns it off.

    Only with `SITE_URL` set (always in production): without it the key needs the request's
    host as Flask sees it.
    """

    def __init__(self, app: Flask, wsgi_app: Any) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self._reader: VersionReader | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            try:
                answer = self.hit(environ)
            except Exception:  # a bug here must not take the page down: Flask answers
                logger.exception("public cache: fast path failed")
                answer = None
            if answer is not None:
                status, headers, body = answer
                start_response(status, headers)
                return [body]
        return self.wsgi_app(environ, start_response)

    def reader(self) -> VersionReader:
        if self._reader is None:
            with self.app.app_context():
                self._reader = VersionReader(db.engine)
        return self._reader

    def hit(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes] | None:
        config = self.app.config
        cache: PublicCache = self.app.extensions[EXTENSION]
        if cache.store is None or not config.get("SITE_URL"):
            return None
        if not _setting(config, "PUBLIC_CACHE_FAST_PATH"):
            return None
        try:
            adapter = self.app.url_map.bind_to_environ(
                environ, server_name=config.get("SERVER_NAME")
            )
            endpoint, view_args = adapter.match()
        except HTTPException:  # not found, a redirect, another method: Flask answers
            return None
        if endpoint not in CACHED_ENDPOINTS:
            return None
        args = self.app.request_class(environ).args if CACHED_ENDPOINTS[endpoint] else {}
        key = key_for(str(endpoint), view_args, args)
        entry = cache.store.get(key)
        if entry is None or cache.clock() - entry.stored_at >= _setting(
            config, "PUBLIC_CACHE_SECONDS"
        ):
            return None
        found = self.reader().read()
        if found is None:
            return None  # Flask's path serves the copy while the database is down
        if found[0] != entry.version:
            environ[VERSION_KEY] = found  # Flask need not read it again
            return None
        return self.respond(environ, entry, changed_at=found[1])

    def respond(
        self, environ: dict[str, Any], entry: Entry, *, changed_at: datetime
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        """Status, headers and body as Flask and Werkzeug would send them for this copy."""
        config = self.app.config
        headers = list(entry.headers)
        headers.append(("Content-Length", str(len(entry.body))))
        headers.append(("ETag", quote_etag(entry.etag)))
        headers.append(("Last-Modified", http_date(changed_at)))
        headers.append(("Cache-Control", _cache_control(config)))
        headers.append(("X-Public-Cache", "HIT"))
        present = {name.lower() for name, _ in headers}
        secure = environ.get("wsgi.url_scheme") == "https"
        for name, value in security_headers(config, secure=secure).items():
            if name.lower() not in present:  # a view's own choice stays (badges)
                headers.append((name, value))
        if _not_modified(environ, entry.etag, changed_at):
            # What Werkzeug sends with a 304: no entity headers, no body.
            remove_entity_headers(headers)
            return "304 NOT MODIFIED", headers, b""
        body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else entry.body
        return "200 OK", headers, body


class VersionReader:
    """Reads (public_version, public_changed_at) on connections kept for this purpose.

    Plain driver connections in autocommit, outside the app's pool: no checkout, ping, BEGIN
    or ROLLBACK, one statement per read. Idle ones wait in a queue, so there are never more
    than requests reading at once; one that fails is closed and not reused. They are all
    closed when the app's engine is disposed.
    """

    # Called with (engine, statement) before each read, as SQLAlchemy's before_cursor_execute
    # is for the app's own statements (the tests count statements with both).
    statement_listeners: ClassVar[list[Callable[[sa.Engine, str], None]]] = []

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        # The same statement as Flask's path reads (VERSION_QUERY), as plain SQL.
        self.sql = str(
            VERSION_QUERY.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True})
        )
        column = SiteState.__table__.c.public_changed_at
        self.convert = column.type.dialect_impl(self.dialect).result_processor(self.dialect, None)
        self.idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.open: set[Any] = set()
        sa.event.listen(engine, "engine_disposed", lambda *_: self.close_all())
        # An app dropped without disposing its engine (a test's) closes them too.
        weakref.finalize(self, _close_each, self.open)

    def _connect(self) -> Any:
        cargs, cparams = self.dialect.create_connect_args(self.engine.url)
        connection = self.dialect.connect(*cargs, **cparams)
        self.dialect.set_isolation_level(connection, "AUTOCOMMIT")
        with self.lock:
            self.open.add(connection)
        return connection

    def _discard(self, connection: Any) -> None:
        with self.lock:
            self.open.discard(connection)
        with contextlib.suppress(Exception):
            connection.close()

    def read(self) -> tuple[int, datetime] | None:
        """The version, or None when there is none or the database did not answer (the
        caller then leaves the request to Flask, which knows what to do in an outage)."""
        error_class = self.dialect.loaded_dbapi.Error
        try:
            connection = self.idle.get_nowait()
        except queue.Empty:
            try:
                connection = self._connect()
            except error_class:
                return None
        for listener in self.statement_listeners:
            listener(self.engine, self.sql)
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self.sql)
                row = cursor.fetchone()
            finally:
                cursor.close()
        except error_class:
            self._discard(connection)
            return None
        self.idle.put(connection)
        if row is None:
            return None
        changed_at = self.convert(row[1]) if self.convert else row[1]
        return int(row[0]), changed_at

    def close_all(self) -> None:
        with self.lock:
            connections = set(self.open)
            self.open.clear()
        while True:
            try:
                self.idle.get_nowait()
            except queue.Empty:
                break
        _close_each(connections)


def _close_each(connections: set[Any]) -> None:
    for connection in list(connections):
        with contextlib.suppress(Exception):
            connection.close()
    connections.clear()


VERSION_QUERY = sa.select(SiteState.public_version, SiteState.public_changed_at).where(
    SiteState.id == 1
)


def register(app: Flask) -> None:
    """Install the cache hooks on the app, and the fast path in front of it."""
    cache = PublicCache(None)
    cache.store = _make_store(app, cache)
    app.extensions[EXTENSION] = cache
    app.session_interface = PublicAwareSessionInterface(app.session_interface)
    app.before_request(before_request)
    app.after_request(after_request)
    app.teardown_request(release_claim)
    app.context_processor(public_template_context)
    app.wsgi_app = CacheHits(app, app.wsgi_app)  # type: ignore[method-assign]
