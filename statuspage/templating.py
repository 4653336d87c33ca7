"""Jinja filters and globals: times with their zone, durations, Markdown, status words.

Every filter that shows words, dates or numbers follows the page's language (Flask-Babel's
`get_locale()`, chosen by statuspage/i18n.py); the status vocabulary's msgids are in
statuspage/core/vocabulary.py, translated here at the template edge.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from statuspage.core import timetext, translation, vocabulary
from statuspage.core.rendering import render_markdown
from statuspage.core.translation import explicit_language

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flask import Flask

# No Flask at import time: the worker's composers (statuspage/notifications) use
# `status_label` too. Under Flask (a request, or an app context with `force_locale`) the
# language is Flask-Babel's; a block in `translation.using_language(code)` (an email being
# rendered) takes precedence; otherwise English.


def _in_flask() -> bool:
    if "flask" not in sys.modules:
        return False
    from flask import has_app_context

    return has_app_context()


def page_language() -> str:
    """The language of what is being rendered: the email's, else the reader's (or the one
    forced by `flask_babel.force_locale`), else English."""
    explicit = explicit_language()
    if explicit:
        return explicit
    if _in_flask():
        from flask_babel import get_locale

        locale = get_locale()
        if locale is not None:
            return str(locale.language)
    return timetext.current_language()


def _gettext(message: str, **variables: object) -> str:
    if explicit_language() is None and _in_flask():
        from statuspage.i18n import current_translations

        text = current_translations().ugettext(message)
        return text % variables if variables else text
    return translation.gettext(message, **variables)


def iso8601(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_text(value: datetime, with_date: bool = True) -> str:
    return timetext.utc_text(value, with_date, language=page_language())


def human_duration(value: timedelta | float | None) -> str:
    return timetext.human_duration(value, language=page_language())


def uptime_percent(value: float | None) -> str:
    """Two decimals, rounded down: any downtime at all never shows as 100.00%."""
    return timetext.uptime_percent(value, language=page_language())


def hundredths_percent(value: int | None) -> str:
    return timetext.hundredths_percent(value, language=page_language())


def whole_percent(fraction: float) -> str:
    return timetext.whole_percent(fraction, language=page_language())


def number(value: float) -> str:
    return timetext.number(value, language=page_language())


def medium_date(value: date | datetime) -> str:
    return timetext.medium_date(value, language=page_language())


def long_date(value: date) -> str:
    return timetext.long_date(value, language=page_language())


def month_year(value: date) -> str:
    return timetext.month_year(value, language=page_language())


def name_list(names: Iterable[str]) -> str:
    """'A, B, C' as the language lists names (Japanese '、', Arabic '، ')."""
    items = list(names)
    if not any(isinstance(item, Markup) for item in items):
        return timetext.name_list([str(item) for item in items], language=page_language())
    # Parts already escaped (translated phrases) stay as they are; the rest is escaped.
    joined = escape(items[0]) if items else Markup()
    pattern = escape(timetext.list_pattern(page_language()))
    for item in items[1:]:
        joined = pattern.format(joined, item)
    return joined


def translate(message: object) -> str:
    """A msgid marked elsewhere (`N_()` in a domain package), in the page's language; text
    that is not in the catalog comes back as it is."""
    if message is None:
        return ""
    return _gettext(str(message)) if str(message) else ""


def status_label(value: str) -> str:
    return _gettext(vocabulary.label(vocabulary.COMPONENT_STATUS, value))


def public_status_label(value: str) -> str:
    return _gettext(vocabulary.label(vocabulary.PUBLIC_STATUS, value))


def maintenance_status_label(value: str) -> str:
    return _gettext(vocabulary.label(vocabulary.MAINTENANCE_STATUS, value))


def impact_label(value: str) -> str:
    return _gettext(vocabulary.label(vocabulary.IMPACT, value))


def indicator_label(value: str) -> str:
    return _gettext(vocabulary.label(vocabulary.INDICATOR, value))


def term(member: object, kind: str | None = None) -> str:
    """An enum member of the domain in words, in the page's language, chosen by its class
    (`vocabulary.TERMS`): `{{ incident.status|term }}`; a value stored as a string names its
    enum, `{{ incident.resolution_code|term("ResolutionCode") }}`. None shows as a dash."""
    if member is None or member == "":
        return "—"
    return _gettext(vocabulary.term_of(member, kind))


def language_name(code: str) -> str:
    """Language `code`'s name in the page's language ("Deutsch" for de on a German page,
    "allemand" on a French one), from Babel's locale data."""
    return translation.language_name(code, page_language())


def init_app(app: Flask) -> None:
    filters = app.jinja_env.filters
    filters["iso8601"] = iso8601
    filters["utc_text"] = utc_text
    filters["duration"] = human_duration
    filters["markdown"] = render_markdown
    filters["status_label"] = status_label
    filters["public_status_label"] = public_status_label
    filters["maintenance_status_label"] = maintenance_status_label
    filters["impact_label"] = impact_label
    filters["indicator_label"] = indicator_label
    filters["translate"] = translate
    filters["term"] = term
    filters["language_name"] = language_name
    filters["uptime_percent"] = uptime_percent
    filters["hundredths_percent"] = hundredths_percent
    filters["whole_percent"] = whole_percent
    filters["number"] = number
    filters["medium_date"] = medium_date
    filters["long_date"] = long_date
    filters["month_year"] = month_year
    filters["name_list"] = name_list
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
