"""The public interface in every shipped language (issue 17), through the test client on SQLite
and PostgreSQL: each page says its language and direction, dates and numbers follow it, the
switcher sets the cookie and never redirects off the site, and the public cache (Flask's path
and the fast path) never gives one language's copy to a reader of another."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import flask_babel
import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from statuspage import PROJECT_ROOT
from statuspage.core.languages import CODES, SOURCE_LANGUAGE
from statuspage.incidents.closure import ClosureReportText, write_closure_report
from statuspage.incidents.maintenance import NewMaintenance, schedule_maintenance
from statuspage.mail.templates import render_email
from statuspage.public.cache.policy import VARY_BY_READER
from statuspage.templating import uptime_percent

TRANSLATED = [code for code in CODES if code != SOURCE_LANGUAGE]  # de fr es ja ar
RTL = {"ar"}
HTML_TAG = re.compile(r"<html lang=\"([a-z]+)\" dir=\"(ltr|rtl)\">")


@pytest.fixture
def site(session: Any, make_component: Any, make_incident: Any, now: datetime) -> dict[str, Any]:
    api = make_component("REST API", group="Core")
    web = make_component("Website", group="Core")
    incident = make_incident(
        "Slow checkout",
        components={api.id: "partial_outage"},
        started=now - timedelta(hours=3),
        resolved_after=timedelta(hours=2, minutes=5),
    )
    write_closure_report(
        session,
        incident,
        ClosureReportText(
            summary="Checkout was slow.",
            impact="Some orders waited.",
            cause="A full disk.",
            resolution="More disk.",
            prevention="Alerts on disk use.",
        ),
        actor_id=None,
        now=now,
    )
    # An incident still going on: the front page's active incidents, "next update" and all.
    make_incident("Errors at login", components={web.id: "degraded_performance"})
    maintenance = schedule_maintenance(
        session,
        NewMaintenance(
            title="Database upgrade",
            scheduled_for=now + timedelta(days=1),
            scheduled_until=now + timedelta(days=1, hours=2),
            body="Planned.",
            component_ids=[web.id],
        ),
        actor_id=None,
        now=now,
    )
    session.commit()
    return {"api": api, "web": web, "incident": incident, "maintenance": maintenance}


def pages(site: dict[str, Any]) -> list[str]:
    """Every public HTML page a reader walks through."""
    return [
        "/",
        f"/incidents/{site['incident'].id}",
        f"/maintenance/{site['maintenance'].id}",
        "/history",
        f"/history?component={site['api'].id}",
        f"/components/{site['api'].id}/uptime",
        "/subscribe",
        "/subscribe/webhook",
        "/subscribe/slack",
        "/sign-in",
    ]


def html_language(response: Any) -> tuple[str, str]:
    found = HTML_TAG.search(response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)[:200]
    return found.group(1), found.group(2)


# --- every page in every language -----------------------------------------------------------


@pytest.mark.parametrize("code", TRANSLATED)
def test_each_public_page_says_its_language_and_direction(
    client: FlaskClient, site: dict[str, Any], code: str
) -> None:
    for path in pages(site):
        url = path + ("&" if "?" in path else "?") + f"lang={code}"
        response = client.get(url)
        assert response.status_code == 200, url
        assert html_language(response) == (code, "rtl" if code in RTL else "ltr"), url
        body = response.get_data(as_text=True)
        # Shareable: the canonical link is this page in this language, and every language
        # is offered as an alternate (x-default too).
        assert re.search(rf'<link rel="canonical" href="http://localhost[^"]*lang={code}"', body)
        for other in CODES:
            assert f'hreflang="{other}"' in body, (url, other)
        assert 'hreflang="x-default"' in body, url
    # Error pages too (a 404 in the reader's language).
    missing = client.get(f"/incidents/999999?lang={code}")
    assert missing.status_code == 404
    assert html_language(missing) == (code, "rtl" if code in RTL else "ltr")


@pytest.mark.parametrize("code", TRANSLATED)
def test_feeds_name_their_language(client: FlaskClient, site: dict[str, Any], code: str) -> None:
    rss = client.get(f"/history.rss?lang={code}").get_data(as_text=True)
    assert f"<language>{code}</language>" in rss
    atom = client.get(f"/history.atom?lang={code}").get_data(as_text=True)
    assert f'xml:lang="{code}"' in atom


def test_the_language_comes_from_the_cookie_then_accept_language(
    client: FlaskClient, site: dict[str, Any]
) -> None:
    assert html_language(client.get("/history")) == ("en", "ltr")
    asked = client.get("/history", headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"})
    assert html_language(asked) == ("fr", "ltr")
    client.set_cookie("statuspage_lang", "ar")
    assert html_language(client.get("/history", headers={"Accept-Language": "fr"})) == (
        "ar",
        "rtl",
    )
    # ?lang= beats the cookie: a shared link shows what its sender saw.
    assert html_language(client.get("/history?lang=ja")) == ("ja", "ltr")


# --- dates, times, numbers ------------------------------------------------------------------


def test_dates_numbers_and_durations_follow_the_language(
    client: FlaskClient, site: dict[str, Any], app: Flask
) -> None:
    incident = site["incident"]
    started = incident.impact_started_at.astimezone(UTC)
    english = client.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert f"{started.day} {started:%b %Y, %H:%M} UTC" in english
    assert "2 h 5 min" in english
    german = client.get(f"/incidents/{incident.id}?lang=de").get_data(as_text=True)
    # Babel's German: "4. Dez. 2026, 21:05 UTC"; the zone is still named.
    assert re.search(rf"{started.day}\. \w+\.? {started.year}, {started:%H:%M} UTC", german)
    assert "2 Std. 5 Min." in german
    japanese = client.get(f"/incidents/{incident.id}?lang=ja").get_data(as_text=True)
    # Babel's Japanese hour has no leading zero ("0:54"): H:mm.
    assert (
        f"{started.year}年{started.month}月{started.day}日 {started.hour}:{started:%M} UTC"
        in japanese
    )
    with app.test_request_context("/?lang=de"):
        assert uptime_percent(99.987) == "99,98%"  # rounded down, a decimal comma
        assert uptime_percent(None) == flask_babel.gettext("No data")
    with app.test_request_context("/"):
        assert uptime_percent(99.987) == "99.98%"


def test_emails_render_in_the_language_asked_for(now: datetime) -> None:
    context = {
        "site_name": "Test Status",
        "choices": None,
        "confirm_url": "http://localhost/subscriptions/t/confirm",
        "confirm_days": 2,
    }
    german = render_email("confirm_subscription", "Betreff", context, language="de")
    assert '<html lang="de">' in german.html
    arabic = render_email("confirm_subscription", "x", context, language="ar")
    assert '<html lang="ar" dir="rtl">' in arabic.html
    english = render_email("confirm_subscription", "Subject", context)
    assert '<html lang="en">' in english.html
    assert "The link works for 2 days." in english.html  # ngettext's plural
    assert "it works for 2 days" in english.text


# --- the switcher -----------------------------------------------------------------------------


def test_the_switcher_sets_the_cookie_and_returns_to_the_page(
    client: FlaskClient, site: dict[str, Any]
) -> None:
    page = client.get("/history?page=1").get_data(as_text=True)
    # The footer's links reach the switcher without JavaScript, carrying the page to return to.
    assert 'href="/language/de?next=/history?page%3D1"' in page
    response = client.get("/language/de?next=/history?page=1")
    assert response.status_code == 303
    assert response.headers["Location"] == "/history?page=1&lang=de"
    assert response.headers["Cache-Control"] == "no-store"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("statuspage_lang=de;")
    assert "Max-Age=31536000" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http here
    # The cookie now decides on pages without ?lang=.
    assert html_language(client.get("/history")) == ("de", "ltr")
    # An earlier ?lang= in `next` is replaced, not repeated.
    again = client.get("/language/fr?next=/history?lang=de")
    assert again.headers["Location"] == "/history?lang=fr"
    secure = client.get("/language/ja?next=/", base_url="https://localhost")
    assert "Secure" in secure.headers["Set-Cookie"]


def test_links_in_a_shared_copy_carry_no_stray_parameters(
    client: FlaskClient, site: dict[str, Any]
) -> None:
    """A cached page is one copy for every reader of its key: its canonical, alternate and
    switcher links hold only what the key holds, never another reader's stray parameters."""
    body = client.get("/history?page=1&utm_source=x%22y&lang=fr").get_data(as_text=True)
    assert "utm_source" not in body
    assert '<link rel="canonical" href="http://localhost/history?page=1&amp;lang=fr">' in body
    assert 'href="/language/de?next=/history?page%3D1"' in body


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "http:/evil.example",
        "/\\evil.example",
        "evil.example",
        "javascript:alert(1)",
        "/\r\nSet-Cookie:x=1",
        "",
    ],
)
def test_the_switcher_never_leaves_the_site(client: FlaskClient, target: str) -> None:
    response = client.get("/language/es", query_string={"next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/?lang=es", target


def test_an_unknown_language_is_not_found(client: FlaskClient) -> None:
    for code in ("xx", "de-AT", "en_GB", "%00"):
        response = client.get(f"/language/{code}?next=/")
        assert response.status_code == 404, code
        assert "Set-Cookie" not in response.headers


# --- the public cache: a copy per language ----------------------------------------------------


def test_a_german_reader_never_gets_the_english_copy(
    app: Flask, client: FlaskClient, site: dict[str, Any]
) -> None:
    seen: list[str] = []
    app.before_request_funcs.setdefault(None, []).insert(0, lambda: seen.append("flask"))
    for path in ("/", f"/incidents/{site['incident'].id}", "/history", "/history.rss"):
        english = client.get(path)
        assert english.headers["X-Public-Cache"] == "MISS", path
        german = client.get(path, headers={"Accept-Language": "de-DE,de;q=0.9"})
        assert german.headers["X-Public-Cache"] == "MISS", path  # not the English copy
        assert german.get_data() != english.get_data(), path
        # Flask's path, then the fast path (in front of Flask): each language its own copy.
        for fast in (0, 1):
            app.config["PUBLIC_CACHE_FAST_PATH"] = fast
            try:
                for headers, cookie, copy in (
                    ({"Accept-Language": "de"}, None, german),
                    ({"Accept-Language": "en-US"}, None, english),
                    ({"Accept-Language": "en-US"}, "de", german),  # the cookie decides
                ):
                    seen.clear()
                    if cookie:
                        client.set_cookie("statuspage_lang", cookie)
                    hit = client.get(path, headers=headers)
                    client.delete_cookie("statuspage_lang")
                    assert hit.headers["X-Public-Cache"] == "HIT", (path, headers, fast)
                    assert hit.get_data() == copy.get_data(), (path, headers, fast)
                    assert seen == ([] if fast else ["flask"]), (path, fast)
                    assert hit.headers["Vary"] == VARY_BY_READER
            finally:
                app.config["PUBLIC_CACHE_FAST_PATH"] = 1
        by_url = client.get(path + "?lang=de", headers={"Accept-Language": "en"})
        assert by_url.headers["Vary"] == "Accept-Encoding", path  # the URL decides
        if path != "/history.rss":
            assert html_language(by_url) == ("de", "ltr")


# --- the untranslated-string test -------------------------------------------------------------


def catalog(code: str) -> dict[str, bool]:
    """Each msgid of a language's .po, and whether it has a translation."""
    path = PROJECT_ROOT / "translations" / code / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        messages = read_po(handle, locale=code)
    found: dict[str, bool] = {}
    for message in messages:
        if not message.id:
            continue
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        found[msgid] = bool(strings) and all(strings) and not message.fuzzy
    return found


class Recording:
    """Flask-Babel's translations for a request, noting every msgid a page asks for."""

    def __init__(self, real: Any, asked: set[str]) -> None:
        self.real = real
        self.asked = asked

    def ugettext(self, message: str) -> str:
        self.asked.add(message)
        return self.real.ugettext(message)

    gettext = ugettext

    def ungettext(self, singular: str, plural: str, num: int) -> str:
        self.asked.add(singular)
        return self.real.ungettext(singular, plural, num)

    ngettext = ungettext

    def upgettext(self, context: str, message: str) -> str:
        self.asked.add(message)
        return self.real.upgettext(context, message)

    pgettext = upgettext

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture
def asked_msgids(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    asked: set[str] = set()
    real_get = flask_babel.Domain.get_translations

    def recording(self: Any) -> Any:
        return Recording(real_get(self), asked)

    monkeypatch.setattr(flask_babel.Domain, "get_translations", recording)
    yield asked


@pytest.mark.parametrize("code", TRANSLATED)
def test_no_page_shows_an_untranslated_catalog_string(
    client: FlaskClient, site: dict[str, Any], asked_msgids: set[str], code: str
) -> None:
    for path in pages(site):
        url = path + ("&" if "?" in path else "?") + f"lang={code}"
        assert client.get(url).status_code == 200, url
    client.get(f"/incidents/999999?lang={code}")
    client.get(f"/history.rss?lang={code}")
    # The recorder works: these are on every page.
    assert {"Current status", "Skip to content"} <= asked_msgids
    known = catalog(code)
    in_catalog = {msgid for msgid in asked_msgids if msgid in known}
    untranslated = sorted(msgid for msgid in in_catalog if not known[msgid])
    assert not untranslated, f"{code}: {len(untranslated)} untranslated: {untranslated[:20]}"


@pytest.mark.parametrize("code", ["de", "ar"])
def test_every_string_a_page_asks_for_is_in_the_catalog(
    client: FlaskClient, site: dict[str, Any], asked_msgids: set[str], code: str
) -> None:
    """What the untranslated-string test relies on: the recorder sees the pages' strings, and
    each one was extracted into the catalogs (`make messages`), so translators get it."""
    for path in pages(site):
        client.get(path + ("&" if "?" in path else "?") + f"lang={code}")
    client.get(f"/incidents/999999?lang={code}")
    client.get(f"/history.rss?lang={code}")
    assert {"Current status", "Skip to content", "Partial outage"} <= asked_msgids
    known = catalog(code)
    missing = sorted(asked_msgids - set(known))
    assert not missing, f"asked for but not in translations/{code}: {missing}"
