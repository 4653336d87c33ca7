"""The language switcher's endpoint: `GET /language/<code>?next=<local path>`.

Works without JavaScript (the footer's links point here). It remembers the choice in the
`statuspage_lang` cookie for a year and sends the reader back to the page they came from,
with `?lang=<code>` so the address they land on is the shareable one of that language (and a
shared cache never has to guess from the cookie). Never cached: the answer sets a cookie.

Only a local path is followed (`/incidents/5?page=2`): anything with a scheme or a host,
`//evil.example`, backslashes or control characters goes to the front page instead (no open
redirect). An unknown language is a 404.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import abort, redirect, request, url_for
from werkzeug.wrappers import Response

from statuspage.core.languages import CODES, normalize
from statuspage.i18n import remember_language
from statuspage.public.blueprint import bp
from statuspage.public.cache.policy import CACHED_ENDPOINTS

MAX_NEXT = 2000


def safe_next(value: str | None) -> str | None:
    """`value` when it is a path on this site, else None."""
    if not value or len(value) > MAX_NEXT or not value.startswith("/"):
        return None
    if value.startswith("//") or "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def with_lang(path: str, code: str) -> str:
    """`path` with `lang=code` (any earlier `lang` replaced, the other arguments kept)."""
    parts = urlsplit(path)
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)]
    query = [(name, value) for name, value in query if name != "lang"] + [("lang", code)]
    return urlunsplit(("", "", parts.path, urlencode(query), ""))


def page_arguments() -> dict[str, object]:
    """The URL arguments that make this page what it is: the route's, and for a page the
    public cache keeps, only the query parameters its key holds (a shared copy must not carry
    links built from another reader's stray parameters); elsewhere every one but `lang`."""
    keyed = CACHED_ENDPOINTS.get(request.endpoint or "")
    args: dict[str, object] = {
        key: value
        for key, value in request.args.items()
        if key != "lang" and (keyed is None or key in keyed)
    }
    args.update(request.view_args or {})
    return args


def page_url(code: str, *, external: bool = False) -> str:
    """This public page in language `code` (`?lang=code`): canonical and hreflang links."""
    endpoint = request.endpoint
    if not endpoint or endpoint == "static":
        return url_for("public.index", lang=code, _external=external)
    return url_for(endpoint, _external=external, **{**page_arguments(), "lang": code})


def switcher_url(code: str) -> str:
    """The language switcher's link to `code`: `/language/<code>?next=<this page>`."""
    endpoint = request.endpoint
    here = (
        url_for(endpoint, **page_arguments())
        if endpoint and endpoint != "static"
        else url_for("public.index")
    )
    return url_for("public.choose_language", code=code, next=here)


@bp.context_processor
def language_links() -> dict[str, object]:
    return {"page_url": page_url, "switcher_url": switcher_url}


@bp.get("/language/<code>")
def choose_language(code: str) -> Response:
    language = normalize(code)
    if language is None or language != code.lower() or language not in CODES:
        abort(404)
    target = safe_next(request.args.get("next")) or url_for("public.index")
    response = redirect(with_lang(target, language), 303)
    remember_language(response, language)
    response.headers["Cache-Control"] = "no-store"
    return response
