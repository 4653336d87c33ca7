"""The fast path: a WSGI middleware in front of Flask that answers what the cache can answer."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date, quote_etag, remove_entity_headers

from statuspage.database import failing_fast
from statuspage.extensions import db
from statuspage.public.cache.encoding import choose, etag_of
from statuspage.public.cache.policy import (
    CACHED_ENDPOINTS,
    EXTENSION,
    VERSION_KEY,
    cache_control,
    environ_language,
    key_for,
    not_modified,
    setting,
    setting_float,
    shared_cache_bypassed,
    vary,
    with_language,
)
from statuspage.public.cache.store import Entry, MemoryStore, RedisStore
from statuspage.public.cache.version import VersionReader
from statuspage.security import security_headers

if TYPE_CHECKING:
    from flask import Flask

    from statuspage.public.cache.flask_path import PublicCache

logger = logging.getLogger(__name__)
MEMO_SIZE = 4096


class CacheHits:
    """WSGI middleware in front of Flask that answers a request the cache can answer.

    A hit through Flask still pays for the request context, the session and login hooks,
    a pooled connection (a ping, BEGIN and ROLLBACK around the one statement) and every
    after-request hook: several times what sending the stored bytes costs. Here a GET or HEAD
    for a cached endpoint is matched against the URL map (once per request line), the copy
    looked up (this process's own first, with Redis), the version taken from what this process
    was told (`VersionWatch`, with Redis), else read from Redis, else in one statement on a
    connection of this middleware's own (autocommit, kept between requests, see
    `VersionReader`), and a fresh copy of this version sent in the encoding the request
    prefers, with the headers the Flask path would send, security headers included (a test
    compares the two; the headers of a copy are built once).
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
        self._local: MemoryStore | None = None
        # Answers that do not change between requests: the key of a request line, and the
        # headers of a copy (cleared when full).
        self._keys: dict[tuple[Any, ...], str | None] = {}
        self._headers: dict[tuple[Any, ...], list[tuple[str, str]]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            try:
                with failing_fast():
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

    def local(self, cache: PublicCache) -> MemoryStore | None:
        """This process's copies of what Redis holds (None when the store is in memory)."""
        if not isinstance(cache.store, RedisStore):
            return None
        if self._local is None:
            config = self.app.config
            self._local = MemoryStore(
                max_entries=setting(config, "PUBLIC_CACHE_MAX_ENTRIES"),
                max_bytes=setting(config, "PUBLIC_CACHE_MAX_BYTES"),
                clock=cache.clock,
            )
        return self._local

    def version(self, cache: PublicCache, environ: dict[str, Any]) -> tuple[int, datetime] | None:
        """The public version: as published in Redis, else read from the database (and then
        offered to Redis for the other processes)."""
        store = cache.store
        watch = cache.version_watch
        if watch is not None:
            found = watch.cached()
            if found is not None:
                return found  # announced or read a moment ago: no round trip at all
        if isinstance(store, RedisStore):
            found = store.read_version()
            if found is not None:
                if watch is not None:
                    watch.learn(found)
                return found
        found = self.reader().read()
        if found is None:
            return None
        environ[VERSION_KEY] = found  # read from the database: Flask need not read it again
        if isinstance(store, RedisStore):
            keep = setting_float(self.app.config, "PUBLIC_CACHE_VERSION_SECONDS")
            store.offer_version(found[0], found[1], keep_seconds=keep)
            if watch is not None:
                watch.learn(found)
        return found

    def hit(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes] | None:
        config = self.app.config
        cache: PublicCache = self.app.extensions[EXTENSION]
        if cache.store is None or not config.get("SITE_URL"):
            return None
        if not setting(config, "PUBLIC_CACHE_FAST_PATH") or shared_cache_bypassed(environ):
            return None
        key = self.key(environ)
        if key is None:
            return None
        key = with_language(key, environ_language(environ, config.get("DEFAULT_LANGUAGE")))
        fresh_for = setting(config, "PUBLIC_CACHE_SECONDS")
        now = cache.clock()

        def fresh(entry: Entry | None) -> Entry | None:
            return entry if entry is not None and now - entry.stored_at < fresh_for else None

        # This process's copy first: with Redis, fetching the whole body on every request
        # cost more than everything else a hit does. The version is read only when there is
        # a fresh copy to check it against.
        local = self.local(cache)
        entry = fresh(local.get(key)) if local is not None else None
        shared = None
        if entry is None:
            entry = shared = fresh(cache.store.get(key))
            if entry is None:
                return None  # Flask renders, or refreshes the copy
        found = self.version(cache, environ)
        if found is None:
            return None  # Flask's path serves the copy while the database is down
        version, changed_at = found
        if entry.version != version and shared is None:
            # Another process may have stored this version's copy already.
            entry = shared = fresh(cache.store.get(key))
        if entry is None or entry.version != version:
            return None  # Flask renders this version, or waits for another's render
        if local is not None and shared is not None:
            local.put(key, shared, keep_seconds=fresh_for)
        return self.respond(environ, entry, changed_at=changed_at)

    def key(self, environ: dict[str, Any]) -> str | None:
        """The cache key of a request for a cached endpoint, else None; remembered per
        host, path and query (matching the URL map was a third of a hit)."""
        request_line = (
            environ.get("HTTP_HOST"),
            environ.get("SERVER_NAME"),
            environ.get("SERVER_PORT"),
            environ.get("wsgi.url_scheme"),
            environ.get("SCRIPT_NAME"),
            environ.get("PATH_INFO"),
            environ.get("QUERY_STRING"),
        )
        try:
            return self._keys[request_line]
        except KeyError:
            pass
        config = self.app.config
        try:
            adapter = self.app.url_map.bind_to_environ(
                environ, server_name=config.get("SERVER_NAME")
            )
            endpoint, view_args = adapter.match()
        except HTTPException:  # not found, a redirect, another method: Flask answers
            key = None
        else:
            if endpoint in CACHED_ENDPOINTS:
                args = self.app.request_class(environ).args if CACHED_ENDPOINTS[endpoint] else {}
                # (The script root as Werkzeug's `request.script_root` has it.)
                root = str(environ.get("SCRIPT_NAME") or "").rstrip("/")
                key = key_for(str(endpoint), view_args, args, root=root)
            else:
                key = None
        if len(self._keys) >= MEMO_SIZE:
            self._keys.clear()  # random URLs must not grow it without bound
        self._keys[request_line] = key
        return key

    def respond(
        self, environ: dict[str, Any], entry: Entry, *, changed_at: datetime
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        """Status, headers and body as Flask and Werkzeug would send them for this copy."""
        encoding = choose(entry.variants, environ)
        body = entry.variants[encoding] if encoding else entry.body
        etag = etag_of(entry.etag, encoding)
        secure = environ.get("wsgi.url_scheme") == "https"
        varies = vary(environ)
        memo = (entry.etag, entry.version, entry.stored_at, encoding, changed_at, secure, varies)
        headers = self._headers.get(memo)
        if headers is None:
            headers = self.headers(entry, encoding, len(body), etag, changed_at, secure, varies)
            if len(self._headers) >= MEMO_SIZE:
                self._headers.clear()
            self._headers[memo] = headers
        if not_modified(environ, etag, changed_at):
            # What Werkzeug sends with a 304: no entity headers, no body.
            headers = list(headers)
            remove_entity_headers(headers)
            return "304 NOT MODIFIED", headers, b""
        if environ.get("REQUEST_METHOD") == "HEAD":
            body = b""
        return "200 OK", list(headers), body

    def headers(
        self,
        entry: Entry,
        encoding: str | None,
        length: int,
        etag: str,
        changed_at: datetime,
        secure: bool,
        varies: str = "Accept-Encoding",
    ) -> list[tuple[str, str]]:
        config = self.app.config
        headers = list(entry.headers)
        headers.append(("Content-Length", str(length)))
        if encoding:
            headers.append(("Content-Encoding", encoding))
        headers.append(("Vary", varies))
        headers.append(("ETag", quote_etag(etag)))
        headers.append(("Last-Modified", http_date(changed_at)))
        headers.append(("Cache-Control", cache_control(config)))
        headers.append(("X-Public-Cache", "HIT"))
        present = {name.lower() for name, _ in headers}
        for name, value in security_headers(config, secure=secure).items():
            if name.lower() not in present:  # a view's own choice stays (badges)
                headers.append((name, value))
        return headers
