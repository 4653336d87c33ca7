"""Public responses served from a cache keyed by the public version (issue 7).

A status page gets its biggest traffic exactly when things are broken, so the public pages,
feeds, badges, the calendar and the /api/v2 JSON are rendered once and then served from a
cache, with the HTTP headers that let nginx or a CDN absorb the spike too.

How a request for a cached endpoint (`CACHED_ENDPOINTS`, GET or HEAD) is answered (a fresh
copy of the current version by `CacheHits`, a WSGI middleware in front of Flask (`fast_path`);
everything else by the request hooks inside Flask (`flask_path`)):

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
   page while the others wait for its copy (`flask_path._one_render_per_version`).
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
(`PUBLIC_CACHE_STORAGE`: memory, redis or none to choose). With Redis, each process also
keeps the copies it served (the fast path checks them against the version, so a hit does not
fetch the body from Redis), and the version is published to Redis after every commit that
bumps it and announced on pub/sub, so a hit needs no round trip at all (`version.py`,
`VersionWatch`; issue 18). Flask's path always reads the version from the database.

Compression: each stored copy keeps its brotli and gzip bodies, and a request gets the one its
Accept-Encoding prefers, with `Vary: Accept-Encoding` and an ETag per encoding (`encoding`).

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

Languages (issue 17): each copy is of one language (`policy.with_language`), so a German
reader never gets the English copy. Without `?lang=` in the URL the language may come from
the `statuspage_lang` cookie or Accept-Language, and the answer says `Vary: Accept-Encoding,
Accept-Language, Cookie` for shared caches; with a valid `?lang=` the URL decides and only
`Vary: Accept-Encoding` is sent (the switcher and the hreflang links all carry `?lang=`).

The package, by responsibility: `policy` (what is cached, the key, the settings, the HTTP
headers), `store` (memory and Redis), `version` (reading, publishing and watching the public
version), `encoding` (compressed copies), `fast_path`
(the WSGI middleware), `flask_path` (the request hooks), `session` (no cookie, no visitor
in a shared copy); `register` below installs them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from statuspage.public.cache.fast_path import CacheHits
from statuspage.public.cache.flask_path import (
    PublicCache,
    after_request,
    before_request,
    public_cache,
    release_claim,
    request_key,
)
from statuspage.public.cache.policy import CACHED_ENDPOINTS, EXTENSION, NEVER_CACHED, key_for
from statuspage.public.cache.session import PublicAwareSessionInterface, public_template_context
from statuspage.public.cache.store import Entry, MemoryStore, RedisStore, make_store
from statuspage.public.cache.version import VersionReader, VersionWatch, install_publisher

if TYPE_CHECKING:
    from flask import Flask

__all__ = [
    "CACHED_ENDPOINTS",
    "NEVER_CACHED",
    "Entry",
    "MemoryStore",
    "RedisStore",
    "VersionReader",
    "key_for",
    "public_cache",
    "register",
    "request_key",
]


def register(app: Flask) -> None:
    """Install the cache hooks on the app, and the fast path in front of it."""
    cache = PublicCache(None)
    cache.store = make_store(app.config, lambda: cache.clock())
    if isinstance(cache.store, RedisStore):
        local = float(app.config.get("PUBLIC_CACHE_VERSION_LOCAL_SECONDS", 1.0) or 0)
        cache.version_watch = VersionWatch(cache.store, local_seconds=local)
    app.extensions[EXTENSION] = cache
    app.session_interface = PublicAwareSessionInterface(app.session_interface)
    app.before_request(before_request)
    app.after_request(after_request)
    app.teardown_request(release_claim)
    app.context_processor(public_template_context)
    app.wsgi_app = CacheHits(app, app.wsgi_app)  # type: ignore[method-assign]
    from flask_sqlalchemy.session import Session as FlaskSession

    install_publisher(FlaskSession)
