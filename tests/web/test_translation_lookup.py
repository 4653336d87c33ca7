"""The templates' `_`/`ngettext` and the status words find the catalog once per locale
(statuspage.i18n.current_translations), and still follow every change of locale within a
request: `force_locale` blocks (emails in a subscriber's language) and `refresh()`."""

from __future__ import annotations

from flask import Flask, g, render_template_string
from flask_babel import force_locale, get_locale, refresh

from statuspage.core import translation

TEMPLATE = (
    "{{ _('Today') }}|{{ ngettext('%(num)s day ago', '%(num)s days ago', 3) }}"
    "|{{ 'major_outage'|status_label }}"
)


def expected(language: str) -> str:
    """The same three texts, from the catalogs by the worker's own code path."""
    return "|".join(
        [
            translation.gettext("Today", language),
            translation.ngettext("%(num)s day ago", "%(num)s days ago", 3, language),
            translation.gettext("Major outage", language),
        ]
    )


def test_templates_follow_the_locale_through_forced_blocks(app: Flask) -> None:
    assert expected("de") != expected("fr") != expected("en")
    with app.test_request_context("/?lang=de"):
        assert str(get_locale()) == "de"
        assert render_template_string(TEMPLATE) == expected("de")
        with force_locale("fr"):
            assert render_template_string(TEMPLATE) == expected("fr")
            with force_locale("en"):
                assert render_template_string(TEMPLATE) == expected("en")
            assert render_template_string(TEMPLATE) == expected("fr")
        assert render_template_string(TEMPLATE) == expected("de")


def test_a_refreshed_locale_is_looked_up_again(app: Flask) -> None:
    with app.test_request_context("/?lang=de"):
        assert render_template_string(TEMPLATE) == expected("de")
        # The language is chosen once per request and kept in g.language; a view that changes
        # it (the language switcher) tells Flask-Babel with refresh().
        g.language = "ja"
        refresh()
        assert render_template_string(TEMPLATE) == expected("ja")


def test_each_request_gets_its_own_language(app: Flask) -> None:
    client = app.test_client()
    german = client.get("/?lang=de").get_data(as_text=True)
    arabic = client.get("/?lang=ar").get_data(as_text=True)
    assert translation.gettext("No components are listed yet.", "de") in german
    assert translation.gettext("No components are listed yet.", "ar") in arabic
