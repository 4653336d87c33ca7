"""The reader's language on the web: Flask-Babel, and the order a language is chosen in.

1. `?lang=xx` in the URL (shareable links; the switcher's links carry it);
2. the `statuspage_lang` cookie (set when a reader picks a language in the switcher);
3. the browser's `Accept-Language`;
4. the page's default language (`DEFAULT_LANGUAGE`).

The language is read once per request and kept in `g.language` (templates: `language`,
`text_direction`). Catalogs are in `translations/` (see the Makefile's `messages` and
`catalogs` targets); a language without a compiled catalog shows English.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app, g, has_request_context, request
from markupsafe import Markup

from statuspage.core.errors import DomainError, Term, Terms
from statuspage.core.languages import (
    BY_CODE,
    CODES,
    LANGUAGES,
    choose,
    direction,
    normalize,
)
from statuspage.core.paths import PROJECT_ROOT
from statuspage.core.timetext import name_list

if TYPE_CHECKING:
    from babel.support import NullTranslations
    from flask import Flask, Response

COOKIE = "statuspage_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
TRANSLATIONS = PROJECT_ROOT / "translations"


def default_language() -> str:
    return normalize(current_app.config.get("DEFAULT_LANGUAGE")) or "en"


def url_language() -> str | None:
    """The language the URL asks for (`?lang=`), else None."""
    return normalize(request.args.get("lang"))


def choose_language() -> str:
    if not has_request_context():
        return default_language()
    cached = g.get("language")
    if cached:
        return str(cached)
    language = choose(
        request.args.get("lang"),
        request.cookies.get(COOKIE),
        request.headers.get("Accept-Language"),
        default_language(),
    )
    g.language = language
    return language


# app.extensions key: endpoint -> the query arguments its cached page reads (the app factory
# sets it from statuspage.public.cache.policy.CACHED_ENDPOINTS).
KEPT_ARGUMENTS = "statuspage_kept_arguments"


def language_url(code: str, *, external: bool = False) -> str:
    """This page in language `code` (`?lang=code`, other query arguments kept). Outside a
    routed request, the front page."""
    from flask import url_for

    endpoint = request.endpoint if has_request_context() else None
    if not endpoint or endpoint == "static":
        return url_for("public.index", lang=code, _external=external)
    # Only the query arguments the page reads: a cached page must not carry whatever a
    # visitor put in the URL into everyone's copy, and `_external`-like names are url_for's.
    kept = current_app.extensions.get(KEPT_ARGUMENTS, {}).get(endpoint)
    args = {
        key: value
        for key, value in request.args.items()
        if key != "lang" and not key.startswith("_") and (kept is None or key in kept)
    }
    args.update(request.view_args or {})
    args["lang"] = code
    return url_for(endpoint, _external=external, **args)


def remember_language(response: Response, code: str) -> Response:
    """Keep the reader's choice of language in the `statuspage_lang` cookie for a year (the
    public switcher and the staff account page both set it this way)."""
    response.set_cookie(
        COOKIE,
        code,
        max_age=COOKIE_MAX_AGE,
        secure=request.is_secure or bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Lax",
    )
    return response


def text_attrs(code: str) -> Markup:
    """` lang=".." dir=".."` for a text in language `code` inside a page in another language
    (screen readers switch voice; an English text on an Arabic page keeps its punctuation on
    the right side), else nothing."""
    if not code or code == choose_language():
        return Markup("")
    return Markup(' lang="%s" dir="%s"') % (code, direction(code))


def staff_text_attrs() -> Markup:
    """The same for a text staff wrote with no translations (maintenance, an update's earlier
    versions): it is in the page's default language."""
    return text_attrs(default_language())


def refusal_text(error: DomainError) -> str:
    """A domain refusal in the reader's language: its msgid translated and filled with its
    parameters (terms in their translated words). English, or a message raised without a
    marked msgid, is the error's own text; so is a translation whose placeholders do not fit
    (a broken catalog entry must not turn a refusal into a 500)."""
    from flask_babel import get_locale, gettext

    language = str(get_locale() or "en")
    if language == "en" or not error.msgid:
        return error.message
    params = {name: _translated(value, language) for name, value in error.params.items()}
    text = gettext(error.msgid)
    if not params:
        return text
    try:
        return text % params
    except (KeyError, TypeError, ValueError):
        return error.message


def _translated(value: object, language: str) -> object:
    from flask_babel import gettext

    if isinstance(value, Terms):
        return name_list([str(gettext(term.label)) for term in value], language)
    if isinstance(value, Term):
        return gettext(value.label)
    return value


# On Flask-Babel's per-context namespace (`g._flask_babel`): the locale object the
# translations below were looked up for, and those translations.
_REMEMBERED = "statuspage_translations"


def current_translations() -> NullTranslations:
    """Flask-Babel's catalog for the current context, looked up once per locale.

    Flask-Babel finds it again on every call (the context, the locale and the domain, each
    through `g`): the front page translates about 400 texts, and that lookup cost more than
    the translating. The catalog is remembered next to the locale object it belongs to, so
    `force_locale` (which puts a new locale object there and the old one back) and
    `flask_babel.refresh()` are followed."""
    from flask_babel import get_translations

    context = g.get("_flask_babel")
    locale = getattr(context, "babel_locale", None)
    if locale is None:  # not chosen yet in this context: Flask-Babel chooses it
        return get_translations()
    remembered = getattr(context, _REMEMBERED, None)
    if remembered is not None and remembered[0] is locale:
        return remembered[1]
    found = get_translations()
    setattr(context, _REMEMBERED, (locale, found))
    return found


def init_app(app: Flask) -> None:
    from flask_babel import Babel

    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    Babel(app, locale_selector=choose_language)
    # The templates' `_`, `ngettext` and `pgettext` as Flask-Babel installs them (new-style:
    # `%(name)s` filled and escaped by Jinja), with the catalog looked up once per locale.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]  # from jinja2.ext.i18n
        gettext=lambda message: current_translations().ugettext(message),
        ngettext=lambda singular, plural, num: current_translations().ungettext(
            singular, plural, num
        ),
        pgettext=lambda context, message: current_translations().upgettext(context, message),
        npgettext=lambda context, singular, plural, num: current_translations().unpgettext(
            context, singular, plural, num
        ),
        newstyle=True,
    )

    @app.after_request
    def keep_the_url_language(response: Response) -> Response:
        """A page asked for with `?lang=` that no shared cache keeps (a form, a staff page)
        remembers that language in the cookie: the form posts to its own address without
        `?lang=`, and its answer (a refusal, a confirmation) must come in the same language.
        Pages a shared cache may keep never set a cookie."""
        if request.method not in ("GET", "HEAD") or response.status_code != 200:
            return response
        code = url_language()
        if code is None or request.cookies.get(COOKIE) == code:
            return response
        if response.cache_control.public or response.mimetype != "text/html":
            return response
        return remember_language(response, code)

    @app.context_processor
    def language_context() -> dict[str, object]:
        code = choose_language() if has_request_context() else default_language()
        return {
            "language": code,
            "text_direction": direction(code),
            "languages": LANGUAGES,
            "language_names": {c: BY_CODE[c].name for c in CODES},
            "language_url": language_url,
            "direction_of": direction,
            "staff_text_attrs": staff_text_attrs,
            "refusal_text": refusal_text,
        }
