"""The admin subscriber pages: who may use them, the list and its counts, CSV export and
import (with the confirmation emails of imported addresses), removal, CSRF, hostile input."""

from __future__ import annotations

import csv
import io
import sys
import types
from datetime import timedelta

import pytest
import sqlalchemy as sa

import statuspage.admin.subscribers  # noqa: F401  (registers the routes until admin/__init__ does)
from statuspage.core.models import AuditEntry
from statuspage.notifications.models import Subscriber
from tests.conftest import csrf_token_from, login_with_csrf
from tests.hostile import assert_inert

TASKS_MODULE = "statuspage.worker.subscriptions"


@pytest.fixture
def make_subscriber(session, now):
    def make(email, *, state="active", components=(), groups=(), **fields):
        subscriber = Subscriber(
            email=email,
            all_components=not components and not groups,
            created_at=fields.pop("created_at", now - timedelta(days=1)),
            components=list(components),
            groups=list(groups),
            **fields,
        )
        if state in ("active", "unsubscribed", "suppressed"):
            subscriber.confirmed_at = now - timedelta(hours=20)
        if state == "unsubscribed":
            subscriber.unsubscribed_at = now - timedelta(hours=1)
        if state == "suppressed":
            subscriber.suppressed_at = now - timedelta(hours=1)
            subscriber.suppressed_reason = "bounce"
        session.add(subscriber)
        session.commit()
        return subscriber

    return make


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


def upload(client, text, *, confirmed=False, name="people.csv", raw=None):
    data = {"file": (io.BytesIO(raw if raw is not None else text.encode()), name)}
    if confirmed:
        data["mark_confirmed"] = "y"
    return client.post("/admin/subscribers/import", data=data, content_type="multipart/form-data")


def subscribers(session):
    session.rollback()
    return {s.email: s for s in session.scalars(sa.select(Subscriber))}


def audit_rows(session, action):
    session.rollback()
    return session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.entity_type == "subscriber", AuditEntry.action == action
        )
    ).all()


# --- who may ----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login_or_refused(client, make_subscriber):
    target = make_subscriber("a@example.com")
    for url in ("/admin/subscribers", "/admin/subscribers.csv", "/admin/subscribers/import"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next="), url
    assert client.post(f"/admin/subscribers/{target.id}/remove").status_code == 401
    assert upload(client, "email\nb@example.com\n").status_code == 401


@pytest.mark.parametrize("role", ["viewer", "responder"])
def test_roles_without_publish_get_403_everywhere(
    client, session, make_user, login, make_subscriber, role
):
    target = make_subscriber("a@example.com")
    login(make_user(role))
    for url in ("/admin/subscribers", "/admin/subscribers.csv", "/admin/subscribers/import"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/admin/subscribers/{target.id}/remove").status_code == 403
    assert upload(client, "email\nb@example.com\n").status_code == 403
    assert set(subscribers(session)) == {"a@example.com"}
    assert audit_rows(session, "exported") == []


@pytest.mark.parametrize("role", ["communicator", "manager", "admin"])
def test_publishing_roles_may_use_the_pages(client, make_user, login, role):
    login(make_user(role))
    for url in ("/admin/subscribers", "/admin/subscribers.csv", "/admin/subscribers/import"):
        assert client.get(url).status_code == 200, url


# --- the list ---------------------------------------------------------------------------


def test_list_shows_state_in_words_choices_and_who_confirmed_an_import(
    client, session, make_user, login, make_subscriber, make_component
):
    admin = make_user("admin", name="Ada Admin")
    api = make_component("API", group="Core")
    web = make_component("Website")
    make_subscriber("everything@example.com")
    make_subscriber("chooser@example.com", components=[web], groups=[api.group])
    make_subscriber("pending@example.com", state="unconfirmed")
    make_subscriber("gone@example.com", state="unsubscribed")
    make_subscriber("bounced@example.com", state="suppressed")
    make_subscriber("imported@example.com", imported=True, confirmed_by_id=admin.id)
    login(make_user("communicator"))

    page = client.get("/admin/subscribers").get_data(as_text=True)
    rows = {
        email: page.split(email, 1)[1].split("</tr>", 1)[0]
        for email in (
            "everything@example.com",
            "chooser@example.com",
            "pending@example.com",
            "gone@example.com",
            "bounced@example.com",
            "imported@example.com",
        )
    }
    assert "All components" in rows["everything@example.com"]
    assert "Active" in rows["everything@example.com"]
    assert "Group: Core" in rows["chooser@example.com"]
    assert "Website" in rows["chooser@example.com"]
    assert "All components" not in rows["chooser@example.com"]
    assert "Not confirmed yet" in rows["pending@example.com"]
    assert "not confirmed" in rows["pending@example.com"]
    assert "Unsubscribed" in rows["gone@example.com"]
    assert "Suppressed (bounce)" in rows["bounced@example.com"]
    assert "imported as confirmed by Ada Admin" in rows["imported@example.com"]
    assert "<time datetime=" in rows["imported@example.com"]


def test_search_matches_a_substring_with_wildcards_taken_literally(
    client, make_user, login, make_subscriber
):
    make_subscriber("ann_smith@example.com")
    make_subscriber("annXsmith@example.com")
    make_subscriber("bob@example.org")
    make_subscriber("100%@example.net")
    login(make_user("communicator"))

    def emails(query):
        page = client.get("/admin/subscribers", query_string=query).get_data(as_text=True)
        return {
            e
            for e in (
                "ann_smith@example.com",
                "annXsmith@example.com",
                "bob@example.org",
                "100%@example.net",
            )
            if e in page
        }

    assert emails({"q": "ann_"}) == {"ann_smith@example.com"}
    assert emails({"q": "%"}) == {"100%@example.net"}
    assert emails({"q": "EXAMPLE.COM"}) == {"ann_smith@example.com", "annXsmith@example.com"}
    assert emails({"q": "nobody"}) == set()


def test_state_filter_and_bad_parameters(client, make_user, login, make_subscriber):
    make_subscriber("active@example.com")
    make_subscriber("pending@example.com", state="unconfirmed")
    make_subscriber("gone@example.com", state="unsubscribed")
    make_subscriber("bounced@example.com", state="suppressed")
    login(make_user("communicator"))
    for state, email in (
        ("active", "active@example.com"),
        ("unconfirmed", "pending@example.com"),
        ("unsubscribed", "gone@example.com"),
        ("suppressed", "bounced@example.com"),
    ):
        page = client.get("/admin/subscribers", query_string={"state": state})
        text = page.get_data(as_text=True).split('id="subscribers"', 1)[1]
        assert email in text
        assert text.count("data-subscriber-id=") == 1, state

    bad_state = client.get("/admin/subscribers?state=%3Cscript%3E")
    assert bad_state.status_code == 400
    assert "<script>" not in bad_state.get_data(as_text=True)
    assert client.get("/admin/subscribers?page=two").status_code == 400


def test_the_list_is_paged(client, session, make_user, login, now):
    for index in range(53):
        session.add(
            Subscriber(
                email=f"person{index:02d}@example.com",
                confirmed_at=now,
                created_at=now - timedelta(minutes=index),
            )
        )
    session.commit()
    login(make_user("communicator"))
    first = client.get("/admin/subscribers").get_data(as_text=True)
    assert first.count("data-subscriber-id=") == 50
    assert "person00@example.com" in first and "person52@example.com" not in first
    assert "Page 1 of 2" in first
    second = client.get("/admin/subscribers?page=2").get_data(as_text=True)
    assert second.count("data-subscriber-id=") == 3
    assert "person52@example.com" in second
    # A page past the end shows the last one.
    assert "person52@example.com" in client.get("/admin/subscribers?page=9").get_data(as_text=True)


def test_counts_per_component_follow_all_groups_and_choices(
    client, session, make_user, login, make_subscriber, make_component, count_queries
):
    api = make_component("API", group="Core")
    db_ = make_component("Database", group="Core")
    web = make_component("Website")
    make_subscriber("all@example.com")
    make_subscriber("all-pending@example.com", state="unconfirmed")
    make_subscriber("core@example.com", groups=[api.group])
    make_subscriber("both@example.com", components=[api], groups=[api.group])  # counted once
    make_subscriber("web@example.com", components=[web])
    make_subscriber("web-gone@example.com", components=[web], state="unsubscribed")
    make_subscriber("core-bounced@example.com", groups=[api.group], state="suppressed")
    login(make_user("communicator"))

    page = client.get("/admin/subscribers").get_data(as_text=True)

    def count(component):
        row = page.split(f'data-component-id="{component.id}"', 1)[1].split("</tr>", 1)[0]
        return int(row.split('class="count">', 1)[1].split("<", 1)[0])

    assert count(api) == 3  # all, core, both
    assert count(db_) == 3  # all, core, both (through the group)
    assert count(web) == 2  # all, web
    assert 'id="count-active">4<' in page
    assert 'id="count-all-components">1<' in page
    assert 'id="count-unconfirmed">1<' in page
    assert 'id="count-total">7<' in page

    # The counts are aggregates: more subscribers, no more statements.
    before = count_queries(lambda: client.get("/admin/subscribers"))
    for index in range(30):
        make_subscriber(f"extra{index}@example.com", components=[web])
    assert count_queries(lambda: client.get("/admin/subscribers")) == before


# --- export -----------------------------------------------------------------------------


def test_export_streams_every_subscriber_as_safe_csv(
    client, session, make_user, login, make_subscriber, make_component, now
):
    api = make_component("=API", group="+Core")
    make_subscriber("plain@example.com")
    make_subscriber("=1+1@example.com", components=[api], groups=[api.group])
    make_subscriber("pending@example.com", state="unconfirmed")
    user = make_user("communicator")
    login(user)

    response = client.get("/admin/subscribers.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "email",
        "state",
        "all_components",
        "components",
        "groups",
        "created_at",
        "confirmed_at",
    ]
    by_email = {row[0]: row for row in rows[1:]}
    assert set(by_email) == {"plain@example.com", "'=1+1@example.com", "pending@example.com"}
    hostile = by_email["'=1+1@example.com"]
    assert hostile[1:5] == ["active", "no", "'=API", "'+Core"]
    assert hostile[5].endswith("Z") and "T" in hostile[5]
    assert by_email["pending@example.com"][1] == "unconfirmed"
    assert by_email["pending@example.com"][6] == ""
    assert by_email["plain@example.com"][2:5] == ["yes", "", ""]
    # No cell a spreadsheet would run.
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)

    exported = audit_rows(session, "exported")
    assert len(exported) == 1 and exported[0].actor_id == user.id
    assert "example.com" not in str(exported[0].changes)


def test_an_unread_export_leaves_no_context_behind(client, make_user, login, make_subscriber):
    make_subscriber("a@example.com")
    login(make_user("communicator"))
    unread = client.get("/admin/subscribers.csv")
    for _ in range(3):
        assert client.get("/admin/subscribers").status_code == 200
    assert "a@example.com" in unread.get_data(as_text=True)
    assert client.get("/admin/subscribers.csv").status_code == 200


def test_export_follows_the_filters(client, make_user, login, make_subscriber):
    make_subscriber("keep@example.com")
    make_subscriber("other@example.com", state="unconfirmed")
    login(make_user("communicator"))
    text = client.get("/admin/subscribers.csv?state=unconfirmed").get_data(as_text=True)
    assert "other@example.com" in text and "keep@example.com" not in text
    text = client.get("/admin/subscribers.csv?q=keep").get_data(as_text=True)
    assert "keep@example.com" in text and "other@example.com" not in text
    assert client.get("/admin/subscribers.csv?state=nope").status_code == 400


# --- import -----------------------------------------------------------------------------


def test_import_marked_confirmed_records_the_admin(client, session, make_user, login, queued):
    admin = make_user("communicator", name="Carla")
    login(admin)
    response = upload(client, "email\nOne@Example.com\ntwo@example.com\n", confirmed=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="result-added">2' in page and "marked confirmed by you" in page

    found = subscribers(session)
    assert set(found) == {"one@example.com", "two@example.com"}
    for subscriber in found.values():
        assert subscriber.active and subscriber.imported
        assert subscriber.confirmed_by_id == admin.id
        assert subscriber.all_components
    assert queued == []  # nobody to ask
    audits = audit_rows(session, "imported")
    assert sorted(a.entity_id for a in audits) == sorted(s.id for s in found.values())
    assert all(a.changes["confirmed"] is True and a.actor_id == admin.id for a in audits)
    assert all(a.changes["confirmed_by_id"] == admin.id for a in audits)
    assert "example.com" not in str([a.changes for a in audits])

    listing = client.get("/admin/subscribers").get_data(as_text=True)
    assert "imported as confirmed by Carla" in listing


def test_import_unconfirmed_queues_a_confirmation_email_each(
    client, session, make_user, login, queued
):
    login(make_user("communicator"))
    response = upload(client, "email\na@example.com\nb@example.com\n")
    assert response.status_code == 200
    assert "each gets a confirmation email" in response.get_data(as_text=True)
    found = subscribers(session)
    assert sorted(queued) == sorted((s.id, "confirm") for s in found.values())
    for subscriber in found.values():
        assert not subscriber.active
        assert subscriber.confirmed_at is None and subscriber.confirmed_by_id is None
        # The task stamps it when it sends; the import itself sent nothing.
        assert subscriber.confirmation_sent_at is None
        assert subscriber.imported
    assert all(a.changes["confirmed"] is False for a in audit_rows(session, "imported"))


def test_a_queue_failure_is_shown_and_the_import_kept(
    client, session, make_user, login, monkeypatch
):
    module = types.ModuleType(TASKS_MODULE)

    def broken(subscriber_id, kind):
        raise ConnectionError("redis is down")

    module.send_subscription_email_task = broken
    monkeypatch.setitem(sys.modules, TASKS_MODULE, module)
    login(make_user("communicator"))
    response = upload(client, "email\na@example.com\n")
    assert response.status_code == 200
    assert "could not be queued" in response.get_data(as_text=True)
    assert not subscribers(session)["a@example.com"].active


def test_import_reports_present_repeated_and_invalid_rows_and_imports_the_rest(
    client, session, make_user, login, make_subscriber, make_component, queued
):
    api = make_component("API", group="Core")
    make_component("Website")
    make_subscriber("known@example.com")
    make_subscriber("left@example.com", state="unsubscribed")
    login(make_user("communicator"))
    text = (
        "Email,Components,groups,notes\n"  # line 1
        "new@example.com,API; website,,hello\n"  # 2: two components, case-insensitive
        "known@example.com,,,\n"  # 3: already there
        "left@example.com,,,\n"  # 4: unsubscribed: must stay so
        "not-an-address,,,\n"  # 5
        "<script>alert(1)</script>@evil.example,,,\n"  # 6
        "\n"  # 7: blank, ignored
        "=cmd|' /C calc'!A0,,,\n"  # 8
        "NEW@example.com,,,\n"  # 9: repeated
        "group@example.com,,Core,\n"  # 10
        "typo@example.com,Nope,,\n"  # 11: unknown component
        ",,,\n"  # 12: empty row, ignored
        "short-row@example.com\n"  # 13: missing cells are empty
    )
    response = upload(client, text)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert_inert(page, allowed=frozenset({"script", "form"}))
    # Every script on the page is one of the site's own files.
    assert "<script>alert" not in page
    assert page.count("<script") == page.count('<script src="/static/js/')
    assert "&lt;script&gt;" in page
    assert 'id="result-added">3' in page
    assert 'id="result-present">2 (lines 3, 4)' in page
    assert 'id="result-repeated">1 (lines 9)' in page
    assert 'id="result-invalid">4<' in page
    problems = page.split('id="import-problems"', 1)[1]
    for line, reason in (
        (5, "not a valid email address"),
        (6, "not a valid email address"),
        (8, "not a valid email address"),
        (11, "no component is called &#39;Nope&#39;"),
    ):
        assert f"<tr><td>{line}</td>" in problems, line
        assert reason in problems.split(f"<tr><td>{line}</td>", 1)[1].split("</tr>", 1)[0]

    found = subscribers(session)
    assert set(found) == {
        "known@example.com",
        "left@example.com",
        "new@example.com",
        "group@example.com",
        "short-row@example.com",
    }
    new = found["new@example.com"]
    assert not new.all_components
    assert sorted(c.name for c in new.components) == ["API", "Website"]
    assert [g.id for g in found["group@example.com"].groups] == [api.group_id]
    assert found["short-row@example.com"].all_components
    assert found["left@example.com"].unsubscribed_at is not None  # left alone
    assert found["known@example.com"].imported is False
    assert len(queued) == 3


def test_a_formula_like_address_survives_a_round_trip(
    client, session, make_user, login, make_subscriber, queued
):
    make_subscriber("=1+1@example.com")
    login(make_user("communicator"))
    exported = client.get("/admin/subscribers.csv").get_data(as_text=True)
    assert "'=1+1@example.com" in exported
    session.execute(sa.delete(Subscriber))
    session.commit()
    assert upload(client, exported).status_code == 200
    assert set(subscribers(session)) == {"=1+1@example.com"}


def test_a_byte_order_mark_is_fine(client, session, make_user, login, queued):
    login(make_user("communicator"))
    raw = "\ufeffemail,components\r\nbom@example.com,\r\n".encode()
    assert upload(client, "", raw=raw).status_code == 200
    assert set(subscribers(session)) == {"bom@example.com"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"address,components\nx@example.com,\n", "&#39;email&#39; column"),
        (b"", "The file is empty"),
        (b"email\n", "no addresses"),
        ("email\nbj\xf6rn@example.com\n".encode("latin-1"), "not UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8"),
        (b'email\n"unclosed@example.com\n', "cannot be read as CSV"),
        (b"email,Email\nx@example.com,y@example.com\n", "twice"),
    ],
)
def test_a_file_that_is_not_usable_writes_nothing(
    client, session, make_user, login, queued, raw, message
):
    login(make_user("communicator"))
    response = upload(client, "", raw=raw)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert subscribers(session) == {}
    assert audit_rows(session, "imported") == []
    assert queued == []


def test_a_file_over_the_size_limit_is_refused(client, session, app, make_user, login, queued):
    app.config["SUBSCRIBER_IMPORT_MAX_BYTES"] = 64
    login(make_user("communicator"))
    text = "email\n" + "".join(f"person{i}@example.com\n" for i in range(10))
    response = upload(client, text)
    assert response.status_code == 400
    assert "larger than" in response.get_data(as_text=True)
    assert subscribers(session) == {}


def test_no_file_is_a_form_error(client, make_user, login):
    login(make_user("communicator"))
    response = client.post("/admin/subscribers/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose a CSV file" in response.get_data(as_text=True)


# --- removal ----------------------------------------------------------------------------


def test_removal_deletes_and_audits_by_id(
    client, session, make_user, login, make_subscriber, make_component
):
    web = make_component("Website")
    target_id = make_subscriber("bye@example.com", components=[web]).id
    make_subscriber("stay@example.com")
    user = make_user("communicator")
    login(user)
    response = client.post(
        f"/admin/subscribers/{target_id}/remove", data={"q": "bye", "state": "active"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/subscribers?q=bye&state=active")
    assert set(subscribers(session)) == {"stay@example.com"}
    links = session.execute(sa.text("SELECT count(*) FROM subscriber_component")).scalar()
    assert links == 0
    removed = audit_rows(session, "removed")
    assert [(a.entity_id, a.actor_id) for a in removed] == [(target_id, user.id)]
    assert "bye@example.com" not in str(removed[0].changes)
    assert client.post(f"/admin/subscribers/{target_id}/remove").status_code == 404


# --- CSRF -------------------------------------------------------------------------------


def test_import_and_removal_need_the_csrf_token(csrf_client, session, make_user, make_subscriber):
    target = make_subscriber("keep@example.com")
    login_with_csrf(csrf_client, make_user("communicator"))

    assert upload(csrf_client, "email\nforged@example.com\n", confirmed=True).status_code == 400
    assert csrf_client.post(f"/admin/subscribers/{target.id}/remove").status_code == 400
    assert set(subscribers(session)) == {"keep@example.com"}

    form_page = csrf_client.get("/admin/subscribers/import").get_data(as_text=True)
    response = csrf_client.post(
        "/admin/subscribers/import",
        data={
            "csrf_token": csrf_token_from(form_page),
            "mark_confirmed": "y",
            "file": (io.BytesIO(b"email\nreal@example.com\n"), "people.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    listing = csrf_client.get("/admin/subscribers").get_data(as_text=True)
    response = csrf_client.post(
        f"/admin/subscribers/{target.id}/remove", data={"csrf_token": csrf_token_from(listing)}
    )
    assert response.status_code == 302
    assert set(subscribers(session)) == {"real@example.com"}


def test_imported_addresses_get_the_real_confirmation_email(
    client, session, app, make_user, login, immediate_huey, tmp_path
):
    app.config.update(MAIL_TRANSPORT="file", MAIL_FILE_DIR=str(tmp_path))
    login(make_user("communicator"))
    response = upload(client, "email\nask-me@example.com\n")
    assert response.status_code == 200
    subscriber = subscribers(session)["ask-me@example.com"]
    assert not subscriber.active
    assert subscriber.confirmation_sent_at is not None
    sent = list(tmp_path.glob("*.eml"))
    assert len(sent) == 1
    assert "To: ask-me@example.com" in sent[0].read_text()
