"""Subscribers from a Statuspage subscriber export, through /admin/subscribers/import: the
export's columns are understood, and the staff see a preview with the counts before anything
is written."""

from __future__ import annotations

import io
import re
import sys
import types

import pytest
import sqlalchemy as sa

from statuspage.core.db import utcnow
from statuspage.importing.fetch import FetchLimits
from statuspage.importing.run import run_import
from statuspage.importing.statuspage_v2 import read_page
from statuspage.notifications import subscriber_admin as admin
from statuspage.notifications.models import Subscriber
from tests.conftest import csrf_token_from, login_with_csrf
from tests.fakes.statuspage_server import FakeStatuspage, statuspage_documents

TASKS_MODULE = "statuspage.notifications.subscription_tasks"

# Shaped like a Statuspage subscriber export: a type column (email, sms, webhook, ...), the
# address under a longer name, components listed with commas, by name or by Statuspage id.
EXPORT = (
    "Type,Email Address,Phone Number,Components,Created At\r\n"
    "email,Ann@Example.com,,,2024-01-02T10:00:00Z\r\n"
    'email,bob@example.com,,"API, Website",2024-01-03T10:00:00Z\r\n'
    "email,carol@example.com,,cmp000000eu1,2024-01-04T10:00:00Z\r\n"
    "sms,,5551234567,,2024-01-05T10:00:00Z\r\n"
    "webhook,https://hooks.example.com/x,,,2024-01-06T10:00:00Z\r\n"
    "email,dan@example.com,,Nonexistent,2024-01-07T10:00:00Z\r\n"
)


@pytest.fixture
def queued(monkeypatch):
    """Stands in for the subscription helper's Huey task; records what would be queued."""
    calls: list[tuple[int, str]] = []
    module = types.ModuleType(TASKS_MODULE)
    module.send_subscription_email_task = lambda subscriber_id, kind: calls.append(
        (subscriber_id, kind)
    )
    monkeypatch.setitem(sys.modules, TASKS_MODULE, module)
    return calls


@pytest.fixture
def imported_page(session, now):
    with FakeStatuspage(statuspage_documents(now)) as source:
        at = utcnow()
        page = read_page(source.url, limits=FetchLimits(allow_private=True), now=at)
        run_import(session, page, actor_id=None, now=at)
        session.commit()


def subscribers(session):
    session.rollback()
    return {s.email: s for s in session.scalars(sa.select(Subscriber))}


def preview(client, text, *, confirmed=False):
    data = {"file": (io.BytesIO(text.encode()), "export.csv"), "action": "preview"}
    if confirmed:
        data["mark_confirmed"] = "y"
    return client.post("/admin/subscribers/import", data=data, content_type="multipart/form-data")


def upload_id(page):
    match = re.search(r'name="upload_id" type="hidden" value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="upload_id"', page
    )
    assert match, "no upload_id in the preview"
    return match.group(1)


def fact(page, name):
    match = re.search(rf'<dd id="{name}">(\d+)', page)
    assert match, name
    return int(match.group(1))


def test_the_export_is_understood(session, imported_page, now):
    parsed = admin.parse_import(EXPORT.encode())
    assert [row.email for row in parsed.rows] == [
        "ann@example.com",
        "bob@example.com",
        "carol@example.com",
        "dan@example.com",
    ]
    assert [(p.line, p.reason) for p in parsed.problems] == [
        (5, "a sms subscriber, not email"),
        (6, "a webhook subscriber, not email"),
    ]
    from statuspage.importing.run import component_aliases

    result = admin.import_subscribers(
        session,
        parsed,
        mark_confirmed=True,
        actor_id=None,
        now=now,
        component_aliases=component_aliases(session),
    )
    assert result.added == 3
    assert [(p.line, p.reason) for p in result.problems] == [
        (5, "a sms subscriber, not email"),
        (6, "a webhook subscriber, not email"),
        (7, "no component is called 'Nonexistent'"),
    ]
    found = {s.email: s for s in session.scalars(sa.select(Subscriber))}
    assert found["ann@example.com"].all_components
    assert sorted(c.name for c in found["bob@example.com"].components) == ["API", "Website"]
    assert [c.name for c in found["carol@example.com"].components] == ["EU region"]


def test_our_own_files_still_read_as_before():
    parsed = admin.parse_import(b"email,components,groups\na@example.com,API;Web,Core\n")
    assert parsed.rows[0].component_names == ("API", "Web")
    assert parsed.rows[0].group_names == ("Core",)


def test_a_header_without_an_address_column_is_refused():
    from statuspage.core.errors import DomainError

    with pytest.raises(DomainError, match="naming an 'email' column"):
        admin.parse_import(b"name,phone\nAnn,555\n")
    # Two columns that both mention email: which one is the address is not guessed.
    with pytest.raises(DomainError, match="naming an 'email' column"):
        admin.parse_import(b"email address,email verified\na@example.com,yes\n")


def test_the_preview_counts_and_writes_nothing_until_confirmed(
    client, session, make_user, login, imported_page, queued
):
    login(make_user("communicator"))
    response = preview(client, EXPORT, confirmed=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Preview: nothing is saved yet" in page
    assert fact(page, "preview-added") == 3
    assert fact(page, "preview-invalid") == 3
    assert "a sms subscriber, not email" in page
    assert "Import 3 subscribers" in page
    assert subscribers(session) == {}
    assert queued == []

    kept = upload_id(page)
    response = client.post(
        "/admin/subscribers/import",
        data={"upload_id": kept, "mark_confirmed": "y"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert fact(response.get_data(as_text=True), "result-added") == 3
    found = subscribers(session)
    assert set(found) == {"ann@example.com", "bob@example.com", "carol@example.com"}
    assert all(s.confirmed_at is not None for s in found.values())

    # The kept upload is used once.
    again = client.post(
        "/admin/subscribers/import", data={"upload_id": kept}, content_type="multipart/form-data"
    )
    assert again.status_code == 400
    assert "That preview has expired" in again.get_data(as_text=True)


def test_a_preview_belongs_to_the_one_who_made_it(client, session, make_user, login, queued):
    first, second = make_user("communicator"), make_user("communicator")
    login(first)
    kept = upload_id(preview(client, "email\nsomeone@example.com\n").get_data(as_text=True))
    client.post("/logout")
    login(second)
    response = client.post(
        "/admin/subscribers/import", data={"upload_id": kept}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert subscribers(session) == {}


@pytest.mark.parametrize("forged", ["../../etc/passwd", "x", "a" * 200])
def test_a_forged_upload_id_is_refused(client, session, make_user, login, forged):
    login(make_user("communicator"))
    response = client.post(
        "/admin/subscribers/import", data={"upload_id": forged}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert "That preview has expired" in response.get_data(as_text=True)


def test_the_confirmation_needs_the_csrf_token(csrf_client, session, make_user, queued):
    login_with_csrf(csrf_client, make_user("communicator"))
    form = csrf_client.get("/admin/subscribers/import").get_data(as_text=True)
    page = csrf_client.post(
        "/admin/subscribers/import",
        data={
            "csrf_token": csrf_token_from(form),
            "action": "preview",
            "file": (io.BytesIO(b"email\nreal@example.com\n"), "people.csv"),
        },
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    kept = upload_id(page)
    forged = csrf_client.post(
        "/admin/subscribers/import", data={"upload_id": kept}, content_type="multipart/form-data"
    )
    assert forged.status_code == 400
    assert subscribers(session) == {}
    done = csrf_client.post(
        "/admin/subscribers/import",
        data={"upload_id": kept, "csrf_token": csrf_token_from(page)},
        content_type="multipart/form-data",
    )
    assert done.status_code == 200
    assert set(subscribers(session)) == {"real@example.com"}
