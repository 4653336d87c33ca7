"""The staff page to move in from Statuspage (/admin/import): permission, CSRF, errors shown,
and the summary of what was imported, against the loopback Statuspage server."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from statuspage.components.models import Component, ComponentGroup
from statuspage.core import translation
from statuspage.core.models import AuditEntry, SiteState
from statuspage.incidents.models import Incident, Maintenance
from tests.conftest import csrf_token_from, login_with_csrf
from tests.fakes.statuspage_server import FakeStatuspage, statuspage_documents


@pytest.fixture
def source(now):
    with FakeStatuspage(statuspage_documents(now)) as server:
        yield server


@pytest.fixture
def allow_loopback(app):
    app.config["IMPORT_ALLOW_PRIVATE_NETWORK"] = True


def imported(session):
    session.rollback()  # see what other connections committed
    return {
        "components": session.scalar(sa.select(sa.func.count(Component.id))),
        "groups": session.scalar(sa.select(sa.func.count(ComponentGroup.id))),
        "incidents": session.scalar(sa.select(sa.func.count(Incident.id))),
        "maintenance": session.scalar(sa.select(sa.func.count(Maintenance.id))),
        "version": session.scalar(sa.select(SiteState.public_version)),
    }


def cell(page, kind):
    """(created, already) from the counts table's row for `kind`."""
    match = re.search(rf"<th scope=\"row\">{kind}</th><td>(\d+)</td><td>(\d+)</td>", page)
    assert match, f"no row for {kind}"
    return int(match.group(1)), int(match.group(2))


def test_only_roles_that_configure_may_import(client, make_user, login, source, allow_loopback):
    login(make_user("responder"))
    assert client.get("/admin/import").status_code == 403
    assert client.post("/admin/import", data={"url": source.url}).status_code == 403
    assert source.requests == []


def test_the_page_is_linked_from_the_settings(client, make_user, login):
    login(make_user("manager"))
    assert "/admin/import" in client.get("/admin/settings").get_data(as_text=True)
    page = client.get("/admin/import")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Move in from Statuspage" in text
    assert "/admin/subscribers/import" in text  # managers may publish: the CSV step is offered


def test_an_import_shows_what_was_created_and_skipped(
    client, session, make_user, login, source, allow_loopback
):
    user = make_user("admin")
    login(user)
    response = client.post("/admin/import", data={"url": source.url + "/"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Imported from Acme Status" in page
    assert cell(page, "Groups") == (2, 0)
    assert cell(page, "Components") == (7, 0)
    assert cell(page, "Incidents") == (5, 0)
    assert cell(page, "Maintenance windows") == (2, 0)
    assert "unknown status &#39;exploding&#39;" in page
    assert "unknown status &#39;postponed&#39;" in page
    assert "imported as operational" in page
    assert "<script>alert" not in page
    counts = imported(session)
    assert counts["components"] == 7 and counts["incidents"] == 5
    actors = set(
        session.scalars(sa.select(AuditEntry.actor_id).where(AuditEntry.action == "import"))
    )
    assert actors == {user.id}

    again = client.post("/admin/import", data={"url": source.url}).get_data(as_text=True)
    assert cell(again, "Components") == (0, 7)
    assert cell(again, "Incidents") == (0, 5)
    assert "Nothing new" in again
    assert imported(session) == counts

    german = client.post("/admin/import?lang=de", data={"url": source.url}).get_data(as_text=True)
    components = translation.gettext("components", "de").capitalize()
    assert components != "Components" and cell(german, components) == (0, 7)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "Only http:// and https:// addresses can be imported."),
        ("", "Give the address of the status page."),
    ],
)
def test_refused_addresses_are_shown_on_the_form(client, make_user, login, url, message):
    login(make_user("admin"))
    response = client.post("/admin/import", data={"url": url})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_a_loopback_address_is_refused_without_the_setting(
    client, session, make_user, login, source
):
    login(make_user("admin"))
    response = client.post("/admin/import", data={"url": source.url})
    assert response.status_code == 400
    assert "private, local or reserved address" in response.get_data(as_text=True)
    assert source.requests == []
    assert imported(session)["components"] == 0


def test_a_failing_source_is_shown_and_nothing_is_imported(
    client, session, make_user, login, source, allow_loopback
):
    login(make_user("admin"))
    before = imported(session)
    source.answer("/api/v2/scheduled-maintenances.json", status=500, body={"error": "oops"})
    response = client.post("/admin/import", data={"url": source.url})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "answered 500" in text and "nothing was imported" in text
    assert imported(session) == before


def test_the_import_needs_the_csrf_token(csrf_client, session, make_user, source):
    csrf_client.application.config["IMPORT_ALLOW_PRIVATE_NETWORK"] = True
    login_with_csrf(csrf_client, make_user("admin"))
    assert csrf_client.post("/admin/import", data={"url": source.url}).status_code == 400
    assert source.requests == []
    form = csrf_client.get("/admin/import").get_data(as_text=True)
    response = csrf_client.post(
        "/admin/import", data={"url": source.url, "csrf_token": csrf_token_from(form)}
    )
    assert response.status_code == 200
    assert imported(session)["groups"] == 2
