"""The staff area speaks the staff member's language (issue 17): the same choice as the public
pages (`?lang=`, then the `statuspage_lang` cookie, then Accept-Language), applied to the admin
templates, the forms' lazy labels and the views' flash messages.

The German catalog in translations/de proves the marking is wired: each expected text is looked
up there (`de(msgid)`), so rewording a translation does not break the test but an unmarked
string does. The catalog is compiled into a temporary directory (no `make catalogs` needed).
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

with (TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.po").open("rb") as _source:
    GERMAN = {message.id: message.string for message in read_po(_source, locale="de") if message.id}


def de(msgid, plural: int | None = None, **values) -> str:
    """The German catalog's text for `msgid` (the singular form of a plural entry when
    `plural` is given), with `values` filled in; a missing translation fails the test."""
    key = next(k for k in GERMAN if k == msgid or (isinstance(k, tuple) and k[0] == msgid))
    found = GERMAN[key]
    translated = found[plural or 0] if isinstance(found, tuple | list) else found
    assert translated, f"no German for {msgid!r}"
    return translated % values if values else translated


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
    assert f"<h1>{de('Dashboard')}</h1>" in dashboard
    assert de("How these numbers are counted") in dashboard
    assert f">{de('Menu')}</summary>" in dashboard and f">{de('Sign out')}</button>" in dashboard

    listing = text(client.get("/admin/incidents?lang=de"))
    assert f"<h1>{de('Incidents')}</h1>" in listing
    assert f">{de('Any status')}</option>" in listing
    assert (
        de("%(num)d incident. Sorted by: %(sort)s.", 0, num=1, sort="§").split("§")[0] in listing
    )  # ngettext, singular

    page = text(client.get(f"/admin/incidents/{incident.id}?lang=de"))
    assert de("Write a public update") in page
    assert de("Timeline and audit log (%(count)s events)").split("%(count)s")[0] in page
    assert re.search(
        r"<label for=\"[\w-]*title\">" + re.escape(de("Title")) + "</label>", page
    )  # a lazy form label

    settings = text(client.get("/admin/settings?lang=de"))
    assert f"<h1>{de('Settings')}</h1>" in settings
    assert f">{de('Your page')}</a>" in settings


def test_english_stays_the_default_and_the_cookie_carries_the_choice(client, incident):
    english = text(client.get("/admin/dashboard"))
    assert "<h1>Dashboard</h1>" in english and de("Dashboard") not in english

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
    assert de("Details saved.") in page  # a view's flash message, through gettext
    assert de("Write a public update") in page


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
    assert f"<h1>{de('Your language')}</h1>" in confirmed
    assert de("Pages are now shown in this language.") in confirmed  # flashed in German
    page = text(client.get("/admin/incidents"))
    assert f"<h1>{de('Incidents')}</h1>" in page and '<html lang="de"' in page
    assert "<h1>Incidents</h1>" in text(client.get("/admin/incidents?lang=en"))
