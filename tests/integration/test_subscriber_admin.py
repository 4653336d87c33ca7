"""The subscriber admin domain (`notifications.subscriber_admin`) on both databases: states,
counts, export in chunks, CSV parsing, import and removal, and no address in logs or audits."""

from __future__ import annotations

import csv
import io
import logging
import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from statuspage.core.errors import DomainError, NotFound
from statuspage.core.models import AuditEntry
from statuspage.notifications import subscriber_admin as admin
from statuspage.notifications.models import Subscriber
from statuspage.notifications.subscriber_admin import (
    STATE_CONDITIONS,
    SubscriberFilters,
    SubscriberState,
)


def add(session, email, *, now, **fields):
    subscriber = Subscriber(email=email, created_at=fields.pop("created_at", now), **fields)
    session.add(subscriber)
    session.flush()
    return subscriber


def test_the_module_imports_no_flask():
    code = (
        "import sys, statuspage.notifications.subscriber_admin\n"
        "print(any(m == 'flask' or m.startswith(('flask.', 'flask_')) for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_every_subscriber_is_in_exactly_one_state_and_sql_agrees(session, now):
    combos = []
    for confirmed in (None, now):
        for unsubscribed in (None, now):
            for suppressed in (None, now):
                combos.append((confirmed, unsubscribed, suppressed))
    for index, (confirmed, unsubscribed, suppressed) in enumerate(combos):
        add(
            session,
            f"s{index}@example.com",
            now=now,
            confirmed_at=confirmed,
            unsubscribed_at=unsubscribed,
            suppressed_at=suppressed,
        )
    session.flush()
    everyone = session.scalars(sa.select(Subscriber)).all()
    for subscriber in everyone:
        matching = [
            state
            for state, condition in STATE_CONDITIONS.items()
            if session.scalar(
                sa.select(sa.func.count()).where(Subscriber.id == subscriber.id, condition)
            )
        ]
        assert matching == [admin.state_of(subscriber)], subscriber.email
        assert (admin.state_of(subscriber) == SubscriberState.ACTIVE) == subscriber.active
    counts = admin.subscriber_counts(session)
    assert counts.total == 8
    assert counts.by_state == {
        SubscriberState.ACTIVE: 1,
        SubscriberState.UNCONFIRMED: 1,
        SubscriberState.UNSUBSCRIBED: 2,
        SubscriberState.SUPPRESSED: 4,
    }


def test_counts_per_component(session, now, make_component):
    api = make_component("API", group="Core")
    store = make_component("Storage", group="Core")
    web = make_component("Website")
    lonely = make_component("Lonely")
    add(session, "all@example.com", now=now, confirmed_at=now)
    add(session, "core@example.com", now=now, confirmed_at=now, all_components=False).groups = [
        api.group
    ]
    both = add(session, "both@example.com", now=now, confirmed_at=now, all_components=False)
    both.groups, both.components = [api.group], [api, web]
    pending = add(session, "pending@example.com", now=now, all_components=False)
    pending.components = [web]
    session.flush()

    counts = admin.subscriber_counts(session)
    per = {item.name: item.active for item in counts.per_component}
    assert per == {"API": 3, "Storage": 3, "Website": 2, "Lonely": 1}
    assert counts.active == 3 and counts.all_components == 1
    groups = {item.name: item.group_name for item in counts.per_component}
    assert groups["API"] == "Core" and groups["Website"] is None
    assert {store.id, lonely.id} <= {item.component_id for item in counts.per_component}


def test_list_filters_and_confirmed_by(session, now, make_user):
    user = make_user("admin", email="boss@example.com")
    add(
        session,
        "x_1@example.com",
        now=now,
        confirmed_at=now,
        imported=True,
        confirmed_by_id=user.id,
    )
    add(session, "xa1@example.com", now=now - timedelta(minutes=1))
    page = admin.list_subscribers(session, SubscriberFilters(search="X_"), page=1)
    assert [row.email for row in page.rows] == ["x_1@example.com"]
    assert page.rows[0].confirmed_by == "boss@example.com"  # no name: the address
    page = admin.list_subscribers(
        session, SubscriberFilters(state=SubscriberState.UNCONFIRMED), page=7
    )
    assert [row.email for row in page.rows] == ["xa1@example.com"] and page.page == 1


def test_export_reads_in_chunks_in_id_order(session, now, make_component, monkeypatch):
    monkeypatch.setattr(admin, "EXPORT_CHUNK", 2)
    api = make_component("API", group="Core")
    web = make_component("Web")
    for index in range(5):
        subscriber = add(
            session, f"p{index}@example.com", now=now, confirmed_at=now, all_components=False
        )
        subscriber.components = [web, api]
        subscriber.groups = [api.group]
    session.flush()
    statements = []
    engine = session.get_bind()

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        rows = list(admin.export_rows(session, SubscriberFilters()))
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert [row[0] for row in rows[1:]] == [f"p{index}@example.com" for index in range(5)]
    assert rows[1][3] == "API;Web" and rows[1][4] == "Core"
    # Three chunks of subscribers (2, 2, 1) and an empty one, each with its two collections.
    assert sum("FROM subscriber " in s and "LIMIT" in s for s in statements) == 4
    text = admin.csv_text(rows)
    assert list(csv.reader(io.StringIO(text))) == rows


def test_parse_counts_physical_lines_and_keeps_going_after_bad_rows():
    data = b'email,components\n"a@example.com","API;\nWeb"\nbad\n\n  B@Example.COM  ,\n'
    parsed = admin.parse_import(data)
    assert [(row.line, row.email, row.component_names) for row in parsed.rows] == [
        (3, "a@example.com", ("API", "Web")),
        (6, "b@example.com", ()),
    ]
    assert [(p.line, p.reason) for p in parsed.problems] == [(4, "not a valid email address")]


def test_parse_refuses_too_many_rows_and_nul():
    rows = "".join(f"p{index}@example.com\n" for index in range(4))
    with pytest.raises(DomainError, match="more than 3"):
        admin.parse_import(("email\n" + rows).encode(), max_rows=3)
    with pytest.raises(DomainError, match="not a text CSV") as caught:
        admin.parse_import(b"email\na@example.com\x00\n")
    assert caught.value.field == "file"


def test_import_is_idempotent_and_refuses_ambiguous_names(session, now, make_component):
    make_component("API", group="One")
    make_component("api", group="Two")
    make_component("Web")
    parsed = admin.parse_import(
        b"email,components\nfirst@example.com,Web\nsecond@example.com,API\n"
    )
    result = admin.import_subscribers(session, parsed, mark_confirmed=False, actor_id=None, now=now)
    assert result.added == 1
    assert [(p.line, p.reason) for p in result.problems] == [
        (3, "more than one component is called 'API'")
    ]
    again = admin.import_subscribers(session, parsed, mark_confirmed=True, actor_id=None, now=now)
    assert again.added == 0 and again.present_lines == [2]
    first = session.scalars(sa.select(Subscriber)).one()
    assert first.confirmed_at is None  # the second, "confirmed" import left it alone


def test_no_address_in_audit_rows_or_logs(session, now, make_user, caplog):
    user = make_user("communicator")
    caplog.set_level(logging.DEBUG, logger="statuspage")
    parsed = admin.parse_import(b"email\nsecret.person@example.com\nbad-address\n")
    result = admin.import_subscribers(
        session, parsed, mark_confirmed=True, actor_id=user.id, now=now
    )
    admin.record_export(session, SubscriberFilters(search="secret"), actor_id=user.id, now=now)
    admin.remove_subscriber(session, result.added_ids[0], actor_id=user.id, now=now)
    audits = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.entity_type == "subscriber")
    ).all()
    assert sorted(a.action for a in audits) == ["exported", "imported", "removed"]
    assert all("secret" not in str(a.changes) for a in audits)
    assert caplog.records, "the operations log what they did"
    assert all("secret" not in r.getMessage() for r in caplog.records)
    assert all("@" not in r.getMessage() for r in caplog.records)
    assert session.scalars(sa.select(Subscriber)).all() == []


def test_removing_an_unknown_subscriber_is_not_found(session, now):
    with pytest.raises(NotFound):
        admin.remove_subscriber(session, 12345, actor_id=None, now=now)
