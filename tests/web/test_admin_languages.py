"""The staff area speaks the staff member's language (issue 17): the same choice as the public
pages (`?lang=`, then the `statuspage_lang` cookie, then Accept-Language), applied to the admin
templates, the forms' lazy labels and the views' flash messages.

German translations of a few staff msgids in translations/de prove the marking is wired; the
catalog is compiled into a temporary directory so the test does not depend on `make catalogs`.
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from statuspage.i18n import COOKIE, TRANSLATIONS
from statuspage.incidents.models import Incident
from tests.conftest import _empty_database, make_app


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator:
    catalogs = tmp_path / "translations"
    target = catalogs / "de" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source, locale="de")
    with (target / "messages.mo").open("wb") as compiled:
        write_mo(compiled, catalog)
    application = make_app(database_url, BABEL_TRANSLATION_DIRECTORIES=str(catalogs))
    yield application
    _empty_database(application)


@pytest.fixture
def incident(session, client, make_user, login):
    login(make_user("admin"))
    response = client.post("/admin/incidents/new", data={"title": "API errors", "source": "staff"})
    assert response.status_code == 302
    return session.scalar(sa.select(Incident).where(Incident.title == "API errors"))


def test_main_staff_pages_are_german_with_lang_de(client, incident):
    dashboard = text(client.get("/admin/dashboard?lang=de"))
    assert '<html lang="de"' in dashboard
    assert "<h1>Übersicht</h1>" in dashboard
    assert "Wie diese Zahlen gezählt werden" in dashboard
    assert ">Menü</summary>" in dashboard and ">Abmelden</button>" in dashboard

    listing = text(client.get("/admin/incidents?lang=de"))
    assert "<h1>Störungen</h1>" in listing
    assert ">Jeder Status</option>" in listing
    assert "1 Störung. Sortiert nach:" in listing  # ngettext, singular

    page = text(client.get(f"/admin/incidents/{incident.id}?lang=de"))
    assert "Öffentliches Update schreiben" in page
    assert "Zeitleiste und Prüfprotokoll (" in page
    assert re.search(r"<label for=\"[\w-]*title\">Titel</label>", page)  # a lazy form label

    settings = text(client.get("/admin/settings?lang=de"))
    assert "<h1>Einstellungen</h1>" in settings
    assert ">Ihre Seite</a>" in settings


def test_english_stays_the_default_and_the_cookie_carries_the_choice(client, incident):
    english = text(client.get("/admin/dashboard"))
    assert "<h1>Dashboard</h1>" in english and "Übersicht" not in english

    client.set_cookie(COOKIE, "de")
    form = {
        "edit-title": "API errors (EU)",
        "edit-source": "staff",
        "edit-impact_started_at": incident.impact_started_at.strftime("%Y-%m-%dT%H:%M"),
        "edit-version": incident.version,
    }
    refused = client.post(
        f"/admin/incidents/{incident.id}/details", data={**form, "edit-title": ""}
    )
    assert refused.status_code == 400
    assert "Dieses Feld wird benötigt." in text(refused)  # WTForms' own messages follow too

    saved = client.post(f"/admin/incidents/{incident.id}/details", data=form, follow_redirects=True)
    page = text(saved)
    assert "Details gespeichert." in page  # a view's flash message, through gettext
    assert "Öffentliches Update schreiben" in page


def test_the_account_page_sets_the_language_cookie(client, make_user, login):
    login(make_user("responder"))
    form = text(client.get("/account/language"))
    assert '<option selected value="en">English</option>' in form
    assert '<option value="de">Deutsch</option>' in form

    refused = client.post("/account/language", data={"language": "xx"})
    assert refused.status_code == 400
    assert client.get_cookie(COOKIE) is None

    chosen = client.post("/account/language", data={"language": "de"})
    assert chosen.status_code == 302
    cookie = client.get_cookie(COOKIE)
    assert cookie.value == "de" and cookie.http_only
    confirmed = text(client.get("/account/language"))
    assert "<h1>Ihre Sprache</h1>" in confirmed
    assert "Seiten werden jetzt in dieser Sprache angezeigt." in confirmed  # flashed in German
    page = text(client.get("/admin/incidents"))
    assert "<h1>Störungen</h1>" in page and '<html lang="de"' in page
    assert "<h1>Incidents</h1>" in text(client.get("/admin/incidents?lang=en"))
