"""Numbers and percentages as each language writes them, remembered per value and language
(statuspage.core.timetext): a remembered answer is the one Babel gives."""

from __future__ import annotations

import math
from decimal import Decimal

from babel.numbers import format_decimal, format_percent
from hypothesis import given, settings
from hypothesis import strategies as st

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


@settings(max_examples=300, deadline=None)
@given(
    value=st.floats(min_value=0, max_value=100, allow_nan=False),
    language=st.sampled_from(["en", "de", "fr", "ar", "ja"]),
)
def test_an_uptime_kept_as_hundredths_shows_exactly_as_the_figure(value, language):
    # The front page keeps a component's block per shown uptime (statuspage/public/fragments):
    # the hundredths must show what the exact figure shows, and differ when it differs.
    hundredths = timetext.uptime_hundredths(value)
    shown = timetext.uptime_percent(value, language)
    assert timetext.hundredths_percent(hundredths, language) == shown
    assert shown == format_percent(
        math.floor(value * 100) / 100 / 100, format="#,##0.00%", locale=language
    )
    if hundredths and hundredths < 10_000:
        assert timetext.hundredths_percent(hundredths - 1, language) != shown


def test_no_data_is_said_in_words():
    assert timetext.uptime_hundredths(None) is None
    assert timetext.hundredths_percent(None, "en") == "No data"
    assert timetext.hundredths_percent(None, "de") == timetext.uptime_percent(None, "de")
    assert timetext.uptime_hundredths(99.999) == 9999
