"""The languages the site speaks, and how a reader's language is chosen.

Flask-free (the worker composes email per subscriber language with it). English is the source
language of every catalog; the others are gettext catalogs under `translations/`. A language
code here is a bare ISO 639-1 code (`de`, not `de-AT`): regional variants fall back to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # in the language itself: what a reader looks for in the switcher
    english_name: str
    rtl: bool = False


LANGUAGES: tuple[Language, ...] = (
    Language("en", "English", "English"),
    Language("de", "Deutsch", "German"),
    Language("fr", "Français", "French"),
    Language("es", "Español", "Spanish"),
    Language("ja", "日本語", "Japanese"),
    Language("ar", "العربية", "Arabic", rtl=True),
)
BY_CODE: dict[str, Language] = {language.code: language for language in LANGUAGES}
CODES: tuple[str, ...] = tuple(BY_CODE)
SOURCE_LANGUAGE = "en"
MAX_HEADER = 1000  # longer Accept-Language headers are read only this far


def normalize(value: object, allowed: Iterable[str] = CODES) -> str | None:
    """The supported code `value` names (`de`, `DE`, `de-AT`, `de_AT`), else None."""
    if not isinstance(value, str) or not value or len(value) > 35:
        return None
    code = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return code if code in set(allowed) else None


def from_accept_language(header: str | None, allowed: Iterable[str] = CODES) -> str | None:
    """The supported language the reader's browser ranks highest (RFC 9110 quality values),
    else None. Ties keep the header's order; `*` and malformed entries are skipped."""
    if not header:
        return None
    allowed = tuple(allowed)
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header[:MAX_HEADER].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        if not 0 < quality <= 1:
            continue
        code = normalize(tag, allowed)
        if code is not None:
            ranked.append((-quality, position, code))
    return min(ranked)[2] if ranked else None


def is_rtl(code: str) -> bool:
    language = BY_CODE.get(code)
    return bool(language and language.rtl)


def direction(code: str) -> str:
    return "rtl" if is_rtl(code) else "ltr"


def choose(
    asked: str | None,
    cookie: str | None,
    accept_language: str | None,
    default: str,
    allowed: Iterable[str] = CODES,
) -> str:
    """The reader's language: the URL's `?lang=`, else the cookie, else the browser's
    Accept-Language, else the page's default."""
    allowed = tuple(allowed)
    return (
        normalize(asked, allowed)
        or normalize(cookie, allowed)
        or from_accept_language(accept_language, allowed)
        or normalize(default, allowed)
        or SOURCE_LANGUAGE
    )
