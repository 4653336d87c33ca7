"""Translation and Babel formatting without Flask: what the worker's email templates and the
core's time words use (the web uses Flask-Babel, which reads the same catalogs).

A language is passed explicitly (`gettext(message, "de")`) or taken from `current_language()`,
which `using_language(code)` sets for a block (a context variable: safe across threads and
the worker's tasks). Catalogs are `translations/<code>/LC_MESSAGES/messages.mo`; a language
without a compiled catalog gives English, as on the web.
"""

from __future__ import annotations

import gettext as gettext_module
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache

from babel import Locale
from babel.support import Translations

from statuspage.core.languages import SOURCE_LANGUAGE, normalize
from statuspage.core.paths import PROJECT_ROOT

TRANSLATIONS_DIR = PROJECT_ROOT / "translations"
DOMAIN = "messages"

_current: ContextVar[str | None] = ContextVar("statuspage_language", default=None)


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name)
    """Mark `message` for extraction (pybabel's default keywords include N_) without
    translating it: for labels defined where no language is known yet. Translate where the
    text is shown (`gettext(label, code)` or `_()`/`|translate` in a template)."""
    return message


def current_language() -> str:
    return _current.get() or SOURCE_LANGUAGE


def explicit_language() -> str | None:
    """The language `using_language` set for this block, else None."""
    return _current.get()


@contextmanager
def using_language(code: str | None) -> Iterator[str]:
    """Within the block, `current_language()` (and so the email templates' `_()`, dates and
    numbers) is `code`, or the source language when `code` is not a supported one."""
    language = normalize(code) or SOURCE_LANGUAGE
    token = _current.set(language)
    try:
        yield language
    finally:
        _current.reset(token)


@cache
def translations(code: str) -> gettext_module.NullTranslations:
    if code == SOURCE_LANGUAGE:
        return gettext_module.NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [code], DOMAIN)


def gettext(message: str, language: str | None = None, /, **variables: object) -> str:
    """`message` in `language` (else the current one), `%(name)s` filled from `variables`
    (positional-only parameters: a placeholder may be called `language`)."""
    text = translations(language or current_language()).gettext(message)
    return text % variables if variables else text


def ngettext(
    singular: str, plural: str, num: int, language: str | None = None, /, **variables: object
) -> str:
    text = translations(language or current_language()).ngettext(singular, plural, num)
    return text % {"num": num, **variables}


def babel_locale(language: str | None = None) -> str:
    """The Babel locale name for a language code (`ar` -> `ar`: Babel's own defaults)."""
    return language or current_language()


def language_name(code: str, in_language: str) -> str:
    """`code`'s name in `in_language` ("anglais" for en in fr), from Babel's locale data."""
    try:
        return Locale.parse(normalize(in_language) or SOURCE_LANGUAGE).languages.get(code) or code
    except (ValueError, TypeError):
        return code
