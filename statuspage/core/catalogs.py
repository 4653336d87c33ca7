"""The gettext catalogs without Flask: what the worker uses to write an email in its
recipient's language (the web uses Flask-Babel over the same `translations/` directory).

A language without a compiled catalog (`make catalogs`) reads English, as on the web.
"""

from __future__ import annotations

from functools import cache

from babel import Locale
from babel.support import NullTranslations, Translations

from statuspage.core.languages import SOURCE_LANGUAGE, normalize
from statuspage.core.paths import PROJECT_ROOT

DIRECTORY = PROJECT_ROOT / "translations"


@cache
def translations(language: str) -> NullTranslations:
    code = normalize(language)
    if code is None or code == SOURCE_LANGUAGE:
        return NullTranslations()
    return Translations.load(str(DIRECTORY), [code], domain="messages")


def gettext(language: str, message: str, /, **variables: object) -> str:
    text = translations(language).gettext(message)
    return text % variables if variables else text


def language_name(code: str, in_language: str) -> str:
    """`code`'s name in `in_language` ("anglais" for en in fr), from Babel's locale data."""
    try:
        return Locale.parse(normalize(in_language) or SOURCE_LANGUAGE).languages.get(code) or code
    except (ValueError, TypeError):
        return code
