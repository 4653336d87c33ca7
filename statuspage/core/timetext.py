"""Times, durations and numbers in words, the same on pages, in feeds and in email.

Formatted by Babel (CLDR) for a language: `language=None` means the current one of
`statuspage.core.translation` (the email being rendered; English elsewhere), and the web's
filters pass the reader's. English keeps the site's own house style ("4 Dec 2026, 21:05 UTC",
"2 h 5 min"). Times always name their zone: they are UTC.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, date, datetime, timedelta

from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.numbers import format_decimal, format_percent
from babel.units import format_unit

from statuspage.core.languages import SOURCE_LANGUAGE
from statuspage.core.translation import current_language, gettext

UNIT_LENGTH = "short"


def _language(language: str | None) -> str:
    return str(language or current_language())


def utc_text(value: datetime, with_date: bool = True, language: str | None = None) -> str:
    value = value.astimezone(UTC)
    code = _language(language)
    if code == SOURCE_LANGUAGE:
        if with_date:
            return f"{value.day} {value:%b %Y, %H:%M} UTC"
        return f"{value:%H:%M} UTC"
    time = format_skeleton("Hm", value, tzinfo=UTC, locale=code)
    if not with_date:
        return f"{time} UTC"
    day = format_skeleton("yMMMd", value, tzinfo=UTC, locale=code)
    pattern = Locale.parse(code).datetime_formats["medium"]
    return f"{pattern.format(time, day)} UTC"


def medium_date(value: date | datetime, language: str | None = None) -> str:
    """'4 Dec 2026' (a day, no time)."""
    code = _language(language)
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date()
    if code == SOURCE_LANGUAGE:
        return f"{value.day} {value:%b %Y}"
    return format_skeleton("yMMMd", value, locale=code)


def long_date(value: date, language: str | None = None) -> str:
    """'4 December 2026'."""
    code = _language(language)
    if code == SOURCE_LANGUAGE:
        return f"{value.day} {value:%B %Y}"
    return format_date(value, "long", locale=code)


def month_year(value: date, language: str | None = None) -> str:
    """'December 2026'."""
    code = _language(language)
    if code == SOURCE_LANGUAGE:
        return f"{value:%B %Y}"
    return format_skeleton("yMMMM", value, locale=code)


def human_duration(value: timedelta | float | None, language: str | None = None) -> str:
    """'2 h 5 min', '45 min', '3 d 4 h'; minutes when given a number."""
    if value is None:
        return ""
    code = _language(language)
    minutes = value.total_seconds() / 60 if isinstance(value, timedelta) else float(value)
    minutes = int(round(minutes))
    if minutes < 1:
        return gettext("less than a minute", code)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts: list[tuple[int, str, str]] = []
    if days:
        parts.append((days, "d", "duration-day"))
    if hours:
        parts.append((hours, "h", "duration-hour"))
    if mins and not days:
        parts.append((mins, "min", "duration-minute"))
    if code == SOURCE_LANGUAGE:
        return " ".join(f"{number} {short}" for number, short, _unit in parts)
    return " ".join(
        format_unit(number, unit, length=UNIT_LENGTH, locale=code) for number, _s, unit in parts
    )


# Babel formats a number in about 20 microseconds, and the front page shows about 120 of
# them (day counts, percentages), most of them the same few values: each formatting is
# remembered per value and language. The results depend on nothing else.
FORMATS_KEPT = 4096


def number(value: float, language: str | None = None) -> str:
    """1,234 / 1.234 / 1 234: grouped as the language groups digits."""
    return _number(value, _language(language))


@functools.lru_cache(maxsize=FORMATS_KEPT, typed=True)
def _number(value: float, code: str) -> str:
    return format_decimal(value, locale=code)


def uptime_percent(value: float | None, language: str | None = None) -> str:
    """Two decimals, rounded down: any downtime at all never shows as 100.00%."""
    return hundredths_percent(uptime_hundredths(value), language)


def uptime_hundredths(value: float | None) -> int | None:
    """What `uptime_percent` shows, as a whole number of hundredths of a percent (rounded
    down), or None without data: equal for every value that shows alike."""
    return None if value is None else math.floor(value * 100)


def hundredths_percent(hundredths: int | None, language: str | None = None) -> str:
    """`uptime_percent` of a value given as `uptime_hundredths`."""
    code = _language(language)
    if hundredths is None:
        return gettext("No data", code)
    return _percent(hundredths / 100 / 100, "#,##0.00%", code)


def whole_percent(fraction: float, language: str | None = None) -> str:
    """0.3 -> '30%' (as the language writes a percentage)."""
    return _percent(fraction, "#,##0%", _language(language))


@functools.lru_cache(maxsize=FORMATS_KEPT, typed=True)
def _percent(fraction: float, pattern: str, code: str) -> str:
    return format_percent(fraction, format=pattern, locale=code)


def name_list(names: list[str], language: str | None = None) -> str:
    """'A, B, C': names joined as the language separates items of a list ('、' in Japanese)."""
    middle = list_pattern(language)
    text = names[0] if names else ""
    for name in names[1:]:
        text = middle.format(text, name)
    return text


def list_pattern(language: str | None = None) -> str:
    """'{0}, {1}': how the language joins two items in the middle of a list."""
    code = _language(language)
    if code == SOURCE_LANGUAGE:
        return "{0}, {1}"
    try:
        return str(Locale.parse(code).list_patterns["standard"]["middle"])
    except (KeyError, ValueError):
        return "{0}, {1}"
