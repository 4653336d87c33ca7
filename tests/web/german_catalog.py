"""Helpers of the staff-language tests (test_admin_languages.py, test_refusal_languages.py):
expected texts are read from the German catalog in translations/de (`de(msgid)`), so that
rewording a translation does not break a test but an unmarked string does; the app under test
reads that catalog compiled into a temporary directory (no `make catalogs` needed).

Test modules import the fixtures they use from here: `german_app` (the fixture named `app`)
and `staff_incident` (named `incident`).
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from statuspage.i18n import TRANSLATIONS
from statuspage.incidents.models import Incident
from tests.conftest import _empty_database, make_app

GERMAN_PO = TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.po"

with GERMAN_PO.open("rb") as _source:
    GERMAN = {message.id: message.string for message in read_po(_source, locale="de") if message.id}


def de(msgid: str, plural: int | None = None, **values: object) -> str:
    """The German catalog's text for `msgid` (the singular form of a plural entry when
    `plural` is given), with `values` filled in; a missing translation fails the test."""
    key = next((k for k in GERMAN if k == msgid or (isinstance(k, tuple) and k[0] == msgid)), None)
    assert key is not None, f"{msgid!r} is not in the German catalog"
    found = GERMAN[key]
    translated = found[plural or 0] if isinstance(found, tuple | list) else found
    assert translated, f"no German for {msgid!r}"
    return translated % values if values else translated


def text(response) -> str:  # type: ignore[no-untyped-def]
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


@pytest.fixture(name="app")
def german_app(database_url: str, tmp_path: Path) -> Iterator:
    catalogs = tmp_path / "translations"
    target = catalogs / "de" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with GERMAN_PO.open("rb") as source:
        catalog = read_po(source, locale="de")
    with (target / "messages.mo").open("wb") as compiled:
        write_mo(compiled, catalog)
    application = make_app(database_url, BABEL_TRANSLATION_DIRECTORIES=str(catalogs))
    yield application
    _empty_database(application)


@pytest.fixture(name="incident")
def staff_incident(session, client, make_user, login):  # type: ignore[no-untyped-def]
    """An incident opened through the staff form by a signed-in admin."""
    login(make_user("admin"))
    response = client.post("/admin/incidents/new", data={"title": "API errors", "source": "staff"})
    assert response.status_code == 302
    return session.scalar(sa.select(Incident).where(Incident.title == "API errors"))
