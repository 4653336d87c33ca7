"""What the public cache keeps and how it answers: the endpoints it caches, the key of a
request, the settings, and the HTTP caching headers. Shared by the fast path and Flask's path;
it reads no request and no database."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from werkzeug.http import parse_cookie, parse_date, parse_etags

from statuspage.core import languages

EXTENSION = "statuspage.public_cache"
ENVIRON_KEY = "statuspage.public_cache.endpoint"
VERSION_KEY = "statuspage.public_cache.version"  # read by the fast path, for Flask's path
# Set by `public.readers.ReaderMarks` (in front of the cache) for a signed-in reader, staff
# or an IP-allowlisted member: they get pages of their own, never the shared copy.
PRIVATE_READER_KEY = "statuspage.private_reader"

# Every public GET endpoint is either here or in `NEVER_CACHED` (a test checks that).
# The value: the query parameters the view reads, the only ones that are part of the key.
CACHED_ENDPOINTS: dict[str, tuple[str, ...]] = {
    "public.index": (),
    "public.incident": (),
    "public.maintenance": (),
    "public.component_uptime": (),
    "public.history": ("page", "component"),
    "public.history_rss": (),
    "public.history_atom": (),
    "public.component_history_rss": (),
    "public.component_history_atom": (),
    "public.badge": (),
    "public.component_badge": (),
    "public.widget": (),  # its words for every language: the same script for every reader
    "public.maintenance_calendar": (),
    # The JSON keeps the default language; `?lang=` asks for translations (api_v2.py).
    "api_v2.summary": ("lang",),
    "api_v2.status": (),
    "api_v2.components": (),
    "api_v2.incidents": ("lang",),
    "api_v2.unresolved_incidents": ("lang",),
    "api_v2.scheduled_maintenances": ("lang",),
    "api_v2.upcoming_maintenances": ("lang",),
    "api_v2.active_maintenances": ("lang",),
}
# Personal pages and forms with CSRF tokens: never shared, and they keep the real session.
NEVER_CACHED = frozenset(
    {
        "public.subscribe",
        "public.confirm_subscription",
        "public.manage_subscription",
        "public.unsubscribe_page",
        "public.sign_in",
        "public.sign_in_link",
        "public.audience_history_rss",
        "public.audience_history_atom",
        "api_v2.audience_summary",
        "api_v2.audience_incidents",
        "public.sign_in_oidc",
        "public.sign_in_oidc_callback",
        # Channel subscriptions (webhook, chat, SMS): forms and pages reached by a token.
        "public.subscribe_webhook",
        "public.manage_channel",
        "public.subscribe_chat",
        "public.subscribe_sms",
        "public.confirm_sms",
        # The language switcher: sets the reader's language cookie, then redirects.
        "public.choose_language",
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
    "PUBLIC_CACHE_VERSION_SECONDS": 5.0,
    "PUBLIC_CACHE_VERSION_LOCAL_SECONDS": 1.0,
}
RENDER_LEASE_SECONDS = 10  # how long one request may take to refresh a copy for the others
WAIT_POLL_SECONDS = 0.01  # how often a request waiting for another's render looks again
# Headers that belong to one response, not to the stored copy.
NOT_STORED = frozenset(
    {
        "cache-control",
        "content-length",
        "date",
        "etag",
        "last-modified",
        "set-cookie",
        "vary",
        "x-public-cache",
        "content-encoding",
    }
)
CONDITIONAL_HEADERS = (
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_MATCH",
    "HTTP_IF_RANGE",
)


def shared_cache_bypassed(environ: dict[str, Any]) -> bool:
    """The one rule for audiences: a reader who may see more than the public is never
    answered from, nor stored in, the shared cache."""
    return bool(environ.get(PRIVATE_READER_KEY))


def setting(config: Any, name: str) -> int:
    """A cache setting from `config`, or its default."""
    return int(config.get(name, DEFAULTS[name]))


def setting_float(config: Any, name: str) -> float:
    value = config.get(name)
    return float(DEFAULTS[name] if value is None else value)


def key_for(
    endpoint: str,
    view_args: dict[str, Any],
    args: Any,
    *,
    host: str | None = None,
    root: str = "",
) -> str:
    """Endpoint, URL arguments and the query parameters the view reads, in a fixed order;
    `host` when absolute links come from the request's host (no SITE_URL); `root`, the
    script root the page's links start with (the path a proxy mounts the app under)."""
    parts = [endpoint]
    parts += [f"{name}={value}" for name, value in sorted(view_args.items())]
    for name in CACHED_ENDPOINTS[endpoint]:
        value = (args.get(name) or "").strip()  # what the view reads: the first value
        if value.isascii() and value.isdigit():
            value = str(int(value))  # page=02 is page=2
        if value:
            parts.append(f"?{name}={value}")
    if host is not None:
        parts.append("@" + host)
    if root:
        parts.append("/" + root)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


LANGUAGE_COOKIE = "statuspage_lang"  # statuspage.i18n.COOKIE (this module loads no Flask)
_language_memo: dict[tuple[Any, ...], str] = {}


def environ_language(environ: dict[str, Any], default: Any) -> str:
    """The language a request's page is drawn in (as `statuspage.i18n` chooses it), from the
    WSGI environ alone: `?lang=`, the language cookie, Accept-Language, the default."""
    memo = (
        environ.get("QUERY_STRING"),
        environ.get("HTTP_COOKIE"),
        environ.get("HTTP_ACCEPT_LANGUAGE"),
        default,
    )
    found = _language_memo.get(memo)
    if found is not None:
        return found
    query, cookie, accept, _ = memo
    asked = None
    if query and "lang=" in query:
        asked = (parse_qs(query).get("lang") or [None])[0]
    chosen = None
    if cookie and LANGUAGE_COOKIE in cookie:
        chosen = parse_cookie(cookie).get(LANGUAGE_COOKIE)
    found = languages.choose(asked, chosen, accept, str(default or ""))
    if len(_language_memo) >= 4096:
        _language_memo.clear()  # random headers must not grow it without bound
    _language_memo[memo] = found
    return found


VARY_BY_URL = "Accept-Encoding"
VARY_BY_READER = "Accept-Encoding, Accept-Language, Cookie"


def vary(environ: dict[str, Any]) -> str:
    """The request headers a cached public answer depends on. With a valid `?lang=` the URL
    alone says the language (shared caches and CDNs may keep one copy per URL); without it
    the language comes from the cookie or Accept-Language, and a shared cache must key on
    both (or, seeing `Cookie`, not store the answer: never the wrong language)."""
    query = environ.get("QUERY_STRING")
    if (
        query
        and "lang=" in query
        and languages.normalize((parse_qs(query).get("lang") or [None])[0])
    ):
        return VARY_BY_URL
    return VARY_BY_READER


def with_language(key: str, language: str) -> str:
    """A cache key per language: a German reader never gets the English copy."""
    return f"{key}.{language}"


def cache_control(config: Any) -> str:
    """The Cache-Control of every cached public response, from the settings."""
    return (
        f"public, max-age={setting(config, 'PUBLIC_CACHE_MAX_AGE')}, "
        f"stale-while-revalidate={setting(config, 'PUBLIC_CACHE_STALE_WHILE_REVALIDATE')}, "
        f"stale-if-error={setting(config, 'PUBLIC_CACHE_STALE_IF_ERROR')}"
    )


def not_modified(conditions: dict[str, str], etag: str, changed_at: datetime | None) -> bool:
    """RFC 9110: If-None-Match decides when sent; If-Modified-Since only without it."""
    if_none_match = conditions.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        return parse_etags(if_none_match).contains_weak(etag)
    since = parse_date(conditions.get("HTTP_IF_MODIFIED_SINCE"))
    if since is None or changed_at is None:
        return False
    return changed_at.replace(microsecond=0) <= since
