"""Numbers and percentages as each language writes them, remembered per value and language
(statuspage.core.timetext): a remembered answer is the one Babel gives."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal, format_percent

from statuspage.core import timetext


def test_numbers_and_percentages_are_the_languages_own():
    assert timetext.number(1234, "de") == "1.234"
    assert timetext.number(1234, "en") == "1,234"
    assert timetext.number(2.5, "fr") == format_decimal(2.5, locale="fr")
    assert timetext.uptime_percent(99.987, "de") == "99,98%"  # the pattern places the sign
    assert timetext.uptime_percent(99.987, "en") == "99.98%"
    assert timetext.whole_percent(0.3, "ar") == format_percent(0.3, format="#,##0%", locale="ar")


def test_a_remembered_formatting_is_reused_and_kept_apart_by_language_and_type():
    # The remembered string itself comes back (Babel would make a new one each time); other
    # threads formatting meanwhile change nothing here.
    first = timetext.number(987_654.321, "ja")
    assert timetext.number(987_654.321, "ja") is first
    assert format_decimal(987_654.321, locale="ja") is not first
    assert timetext.number(90, "ar") == format_decimal(90, locale="ar")
    # Equal values of other types are formatted by Babel for what they are, not reused.
    assert timetext.number(Decimal("1.50"), "en") == format_decimal(Decimal("1.50"), locale="en")
    assert timetext.number(1.5, "en") == format_decimal(1.5, locale="en")
