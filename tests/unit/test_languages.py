"""How a reader's language is chosen (statuspage.core.languages), without Flask."""

from __future__ import annotations

import pytest

from statuspage.core import languages
from statuspage.public.cache.policy import environ_language, with_language


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("en;q=0.5, fr;q=0.9", "fr"),
        ("pt-BR, ja;q=0.3", "ja"),  # Portuguese is not offered: the next one is
        ("zh, *;q=0.5", None),
        ("ar;q=0, es;q=0.1", "es"),  # q=0 means "not this one"
        ("fr;q=abc, de", "de"),  # a malformed weight is skipped, not fatal
        ("", None),
        ("x" * 5000, None),
    ],
)
def test_accept_language_picks_the_best_offered_language(header: str, expected: str | None) -> None:
    assert languages.from_accept_language(header) == expected


def test_the_url_beats_the_cookie_beats_the_browser_beats_the_default() -> None:
    assert languages.choose("ja", "de", "fr", "es") == "ja"
    assert languages.choose(None, "de", "fr", "es") == "de"
    assert languages.choose("klingon", "de", "fr", "es") == "de"
    assert languages.choose(None, None, "fr-CA", "es") == "fr"
    assert languages.choose(None, "", "zh", "es") == "es"
    assert languages.choose(None, None, None, "nonsense") == "en"


def test_arabic_is_the_right_to_left_language() -> None:
    assert [lang.code for lang in languages.LANGUAGES if lang.rtl] == ["ar"]
    assert languages.direction("ar") == "rtl"
    assert languages.direction("ja") == "ltr"


def test_the_cache_reads_the_same_language_from_the_environ() -> None:
    environ = {
        "QUERY_STRING": "",
        "HTTP_COOKIE": "a=1; statuspage_lang=fr",
        "HTTP_ACCEPT_LANGUAGE": "de",
    }
    assert environ_language(environ, "en") == "fr"
    assert (
        environ_language(
            {"QUERY_STRING": "lang=ja&page=2", "HTTP_COOKIE": "statuspage_lang=fr"}, "en"
        )
        == "ja"
    )
    assert environ_language({"HTTP_ACCEPT_LANGUAGE": "es-MX"}, "en") == "es"
    assert environ_language({}, "de") == "de"
    assert with_language("k", "de") != with_language("k", "en")


def test_language_links_keep_only_what_the_page_reads(tmp_path) -> None:  # noqa: ANN001
    from statuspage import create_app

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
            "SECRET_KEY": "k" * 40,
        }
    )
    from statuspage.i18n import language_url

    with app.test_request_context("/history?page=2&evil=%3Cx%3E&_external=1&_scheme=javascript"):
        from flask import request

        request.url_rule = app.url_map.bind("localhost").match("/history", return_rule=True)[0]
        request.view_args = {}
        url = language_url("de")
    assert url.startswith("/history?")
    assert "page=2" in url and "lang=de" in url
    assert "evil" not in url and "javascript" not in url and "_external" not in url
