"""Moving in from Statuspage: the import against a loopback server serving v2 API fixtures.

The fixtures (tests/fakes/statuspage_server.py) follow the shapes Atlassian documents, with
the odd cases: components without a group, a group listing a member that is not there,
unknown status words, an incident without updates, hostile text, ids too long to be ids.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from statuspage.components.models import (
    Component,
    ComponentGroup,
    ComponentStatus,
    ComponentStatusChange,
)
from statuspage.core.models import AuditEntry, SiteState
from statuspage.core.outbox import Notification
from statuspage.importing.fetch import FetchError, FetchLimits, fetch_bytes, parse_target
from statuspage.importing.models import ImportedRecord
from statuspage.importing.run import run_import
from statuspage.importing.statuspage_v2 import base_url, read_page
from statuspage.incidents.models import (
    Incident,
    IncidentComponent,
    IncidentStatus,
    IncidentUpdate,
    IncidentUpdateComponent,
    Maintenance,
    MaintenanceStatus,
    MaintenanceUpdate,
    PublicImpact,
    PublicStatus,
)
from tests.fakes.statuspage_server import (
    BIG_NUMBER_ID,
    FakeStatuspage,
    group_only_documents,
    statuspage_documents,
)

LOOPBACK = FetchLimits(timeout=5, allow_private=True)


@pytest.fixture
def source(now):
    with FakeStatuspage(statuspage_documents(now)) as server:
        yield server


def do_import(session, url, *, limits=LOOPBACK, now=None):
    from statuspage.core.db import utcnow

    at = now or utcnow()
    page = read_page(url, limits=limits, now=at)
    report = run_import(session, page, actor_id=None, now=at)
    session.commit()
    return report


def counts(session):
    tables = [
        Component,
        ComponentGroup,
        ComponentStatusChange,
        Incident,
        IncidentUpdate,
        IncidentComponent,
        IncidentUpdateComponent,
        Maintenance,
        MaintenanceUpdate,
        AuditEntry,
        ImportedRecord,
        Notification,
    ]
    found = {
        table.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(table))
        for table in tables
    }
    found["public_version"] = session.scalar(sa.select(SiteState.public_version))
    return found


def by_title(session, model, title):
    return session.scalar(sa.select(model).where(model.title == title))


def test_the_import_matches_the_fixtures_field_by_field(session, source, now):
    report = do_import(session, source.url)

    # Groups, in the page's order, with their members in order.
    groups = session.scalars(sa.select(ComponentGroup).order_by(ComponentGroup.position)).all()
    assert [g.name for g in groups] == ["Platform", "Regions"]
    members = {
        g.name: [c.name for c in sorted(g.components, key=lambda c: c.position)] for g in groups
    }
    assert members == {"Platform": ["API", "Website"], "Regions": ["EU region"]}
    ungrouped = session.scalars(
        sa.select(Component).where(Component.group_id.is_(None)).order_by(Component.position)
    ).all()
    # Hostile markup is gone from names; the unknown status word is imported as operational.
    assert [c.name for c in ungrouped] == ["Search", "Dashboard", "Billing", "Legacy"]

    components = {c.name: c for c in session.scalars(sa.select(Component))}
    assert components["API"].description == "The REST API at api.acme.example."
    assert components["Website"].description == "Marketing site and docs"
    assert components["Website"].showcase is False
    assert components["API"].showcase is True
    assert components["Dashboard"].only_show_if_degraded is True
    assert components["API"].start_date.isoformat() == "2023-01-15"
    assert components["Search"].status == ComponentStatus.DEGRADED_PERFORMANCE
    assert components["Legacy"].status == ComponentStatus.OPERATIONAL
    assert all(c.is_public and c.archived_at is None for c in components.values())
    assert "Too long an id" not in components

    # Incidents: names, statuses, impact, times.
    api = by_title(session, Incident, "Elevated API error rates")
    started = now - timedelta(days=20)
    assert api.is_public
    assert api.public_status == PublicStatus.RESOLVED
    assert api.public_impact == PublicImpact.MAJOR
    assert api.status == IncidentStatus.CLOSED
    assert api.created_at == started
    assert api.impact_started_at == started - timedelta(minutes=5)
    assert api.detected_at == started
    assert api.published_at == started
    assert api.identified_at == started + timedelta(minutes=20)
    assert api.monitoring_at == started + timedelta(minutes=40)
    assert api.mitigated_at == started + timedelta(minutes=40)
    assert api.public_resolved_at == started + timedelta(minutes=60)
    assert api.resolved_at == api.closed_at == started + timedelta(minutes=60)
    assert [link.component.name for link in api.affected] == ["API"]

    updates = sorted(api.updates, key=lambda u: u.created_at)
    assert [(u.status, u.body, u.created_at) for u in updates] == [
        (PublicStatus.INVESTIGATING, "We are investigating errors on the API.", started),
        (PublicStatus.IDENTIFIED, "A faulty load balancer node.", started + timedelta(minutes=20)),
        (PublicStatus.MONITORING, "A fix is in place.", started + timedelta(minutes=40)),
        (
            PublicStatus.RESOLVED,
            "This incident has been resolved.",
            started + timedelta(minutes=60),
        ),
    ]
    assert all(u.published_at == u.created_at and not u.deliver_notifications for u in updates)
    first_changes = [
        (c.component.name, c.old_status, c.new_status) for c in updates[0].component_changes
    ]
    assert first_changes == [("API", ComponentStatus.OPERATIONAL, ComponentStatus.PARTIAL_OUTAGE)]
    # The outage is in the component's history, so uptime counts it.
    history = session.execute(
        sa.select(ComponentStatusChange.changed_at, ComponentStatusChange.status)
        .where(ComponentStatusChange.component_id == components["API"].id)
        .order_by(ComponentStatusChange.changed_at)
    ).all()
    assert (started, ComponentStatus.PARTIAL_OUTAGE) in history
    assert (started + timedelta(minutes=60), ComponentStatus.OPERATIONAL) in history

    # Postmortem is resolved; the update with an unknown word is left out.
    website = by_title(session, Incident, "Website outage")
    assert website.public_status == PublicStatus.RESOLVED
    assert website.public_impact == PublicImpact.CRITICAL
    assert [u.body for u in sorted(website.updates, key=lambda u: u.created_at)] == [
        "The website is down.",
        "Back up.",
    ]

    quiet = by_title(session, Incident, "Delayed emails")
    assert quiet.updates == []
    assert quiet.public_impact == PublicImpact.NONE
    assert quiet.public_resolved_at == now - timedelta(days=5) + timedelta(hours=1)

    hostile = by_title(session, Incident, "Login problems")
    assert hostile.public_impact == PublicImpact.NONE
    body = hostile.updates[0].body
    assert "<" not in body and "cookie" not in body and "onerror" not in body
    assert body.startswith("We fixed it. Details [more](javascript:alert(2))")
    assert body.endswith("Thanks & sorry.")

    still_open = by_title(session, Incident, "Slow search")
    assert still_open.status == IncidentStatus.MITIGATED
    assert still_open.public_status == PublicStatus.MONITORING
    assert still_open.public_resolved_at is None and still_open.closed_at is None
    assert [(link.component.name, link.status) for link in still_open.affected] == [
        ("Search", ComponentStatus.DEGRADED_PERFORMANCE)
    ]

    assert session.scalar(sa.select(sa.func.count(Incident.id))) == 5
    for missing in ("A status nobody knows", "An incident with an absurd id"):
        assert by_title(session, Incident, missing) is None

    # Maintenance windows.
    done_at = (now - timedelta(days=12)).replace(microsecond=0)
    upgrade = by_title(session, Maintenance, "Database upgrade")
    assert upgrade.status == MaintenanceStatus.COMPLETED
    assert upgrade.scheduled_for == done_at
    assert upgrade.scheduled_until == done_at + timedelta(hours=2)
    assert upgrade.started_at == done_at
    assert upgrade.completed_at == done_at + timedelta(minutes=95)
    assert upgrade.body == "The dashboard may be read-only for a few minutes."
    assert [c.name for c in upgrade.components] == ["Dashboard"]
    assert [(u.status, u.body) for u in sorted(upgrade.updates, key=lambda u: u.created_at)] == [
        (MaintenanceStatus.SCHEDULED, "The dashboard may be read-only for a few minutes."),
        (MaintenanceStatus.IN_PROGRESS, "Started."),
        (MaintenanceStatus.COMPLETED, "Done."),
    ]
    ahead = by_title(session, Maintenance, "Network maintenance")
    assert ahead.status == MaintenanceStatus.SCHEDULED
    assert ahead.scheduled_for == (now + timedelta(days=3)).replace(microsecond=0)
    assert not ahead.auto_start and ahead.reminder_minutes_before is None
    assert [c.name for c in ahead.components] == ["EU region"]
    assert by_title(session, Maintenance, "Postponed work") is None

    # Nobody is emailed about history.
    assert session.scalar(sa.select(sa.func.count(Notification.id))) == 0

    # The report says what was made and what was skipped, and why.
    assert report.created["component_group"] == 2
    assert report.created["component"] == 7
    assert report.created["incident"] == 5
    assert report.created["maintenance"] == 2
    skipped = {(p.kind, p.name): p.reason for p in report.skipped}
    assert skipped[("component", "Too long an id")] == "no usable id"
    assert skipped[("incident", "A status nobody knows")] == "unknown status 'exploding'"
    assert skipped[("incident", "An incident with an absurd id")] == "no usable id"
    assert skipped[("maintenance", "Postponed work")] == "unknown status 'postponed'"
    assert skipped[("incident_update", "Website outage")].startswith("unknown status 'wondering'")
    mapped = {(p.kind, p.name): p.reason for p in report.mapped}
    assert "imported as operational" in mapped[("component", "Legacy")]
    assert "imported as none" in mapped[("incident", "Login problems")]


def test_a_second_run_changes_nothing(session, source):
    first = do_import(session, source.url)
    assert first.changed
    before = counts(session)
    second = do_import(session, source.url)
    assert not second.changed
    assert second.already["component"] == 7
    assert second.already["incident"] == 5
    assert second.already["maintenance"] == 2
    assert counts(session) == before


def test_updates_posted_after_an_import_are_reported_not_added(session, source, now):
    from tests.fakes.statuspage_server import iso, open_incident

    do_import(session, source.url)
    later = open_incident(now)
    later["status"] = "resolved"
    later["incident_updates"].insert(
        0,
        {
            **later["incident_updates"][0],
            "id": "upd0open0003",
            "status": "resolved",
            "body": "All good.",
            "created_at": iso(now),
            "display_at": iso(now),
        },
    )
    source.answer(
        "/api/v2/incidents.json", body={"page": {"id": "y2j98763l56x"}, "incidents": [later]}
    )
    before = counts(session)
    report = do_import(session, source.url)
    assert not report.changed
    assert report.already["incident_update"] == 2
    assert [
        (p.kind, p.external_id, p.reason) for p in report.skipped if p.kind == "incident_update"
    ] == [
        (
            "incident_update",
            "upd0open0003",
            "posted on Statuspage after an earlier import: not added (post it here)",
        )
    ]
    assert counts(session) == before


def test_what_staff_removed_is_not_brought_back(session, source):
    do_import(session, source.url)
    legacy = session.scalar(sa.select(Component).where(Component.name == "Legacy"))
    session.delete(legacy)
    session.commit()
    do_import(session, source.url)
    assert session.scalar(sa.select(Component).where(Component.name == "Legacy")) is None


def test_a_number_id_is_kept_as_text(session, source):
    do_import(session, source.url)
    kept = session.scalar(
        sa.select(ImportedRecord).where(ImportedRecord.external_id == str(BIG_NUMBER_ID))
    )
    assert kept is not None and kept.kind == "component"


def test_a_group_only_page(session, now):
    with FakeStatuspage(group_only_documents(now)) as server:
        report = do_import(session, server.url)
    assert [g.name for g in session.scalars(sa.select(ComponentGroup))] == ["Core", "Edge"]
    assert session.scalar(sa.select(sa.func.count(Component.id))) == 0
    assert report.created["component_group"] == 2 and not report.skipped


def test_the_public_pages_show_the_history_safely(app, session, source):
    do_import(session, source.url)
    client = app.test_client()
    hostile = by_title(session, Incident, "Login problems")
    for url in ("/", "/history", f"/incidents/{hostile.id}", "/api/v2/incidents.json"):
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.get_data(as_text=True)
        assert 'href="javascript' not in text
        assert "<script>alert" not in text
        assert "onerror" not in text
    page = client.get(f"/incidents/{hostile.id}").get_data(as_text=True)
    assert "Login problems" in page
    assert 'href="javascript' not in page


# --- what goes wrong on the way ---------------------------------------------------------------


def test_a_server_error_writes_nothing(session, source):
    source.answer("/api/v2/incidents.json", status=500, body={"error": "boom"})
    before = counts(session)
    with pytest.raises(FetchError, match="answered 500"):
        do_import(session, source.url)
    assert counts(session) == before


def test_a_slow_answer_times_out(session, source):
    source.answer("/api/v2/summary.json", body={"page": {}}, delay=3)
    with pytest.raises(FetchError, match="did not answer within 0.5 seconds"):
        do_import(session, source.url, limits=FetchLimits(timeout=0.5, allow_private=True))
    assert session.scalar(sa.select(sa.func.count(Component.id))) == 0


def test_an_answer_that_is_not_json_or_not_a_page(session, source):
    source.answer("/api/v2/summary.json", body="<html>hello</html>")
    with pytest.raises(FetchError, match="did not answer with JSON"):
        do_import(session, source.url)
    source.answer("/api/v2/summary.json", body={"components": []})
    with pytest.raises(FetchError, match="not a Statuspage summary"):
        do_import(session, source.url)


def test_an_answer_over_the_size_limit_is_refused(source):
    source.answer("/big", body="x" * 5000)
    with pytest.raises(FetchError, match="larger than"):
        fetch_bytes(source.url + "/big", FetchLimits(max_bytes=1024, allow_private=True))


def test_loopback_is_refused_unless_allowed(source):
    with pytest.raises(FetchError, match="private, local or reserved"):
        fetch_bytes(source.url + "/api/v2/summary.json", FetchLimits())
    assert source.requests == []


def test_redirects_stay_on_the_same_host(source):
    source.answer("/moved", status=301, headers={"Location": "/api/v2/summary.json"})
    assert fetch_bytes(source.url + "/moved", LOOPBACK).startswith(b"{")
    source.answer("/away", status=302, headers={"Location": "http://localhost:1/secret"})
    with pytest.raises(FetchError, match="redirects to another host"):
        fetch_bytes(source.url + "/away", LOOPBACK)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "Only http"),
        ("gopher://status.example.com/", "Only http"),
        ("ftp://status.example.com/", "Only http"),
        ("https://user:secret@status.example.com/", "user name and password"),
        ("", "Give the address"),
        ("https://", "no host name"),
        ("http://[::1", "does not parse"),
    ],
)
def test_addresses_that_are_refused_outright(url, message):
    with pytest.raises(FetchError, match=message):
        parse_target(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.0.0.8/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://192.168.1.1:8080/",
    ],
)
def test_private_addresses_are_refused(url):
    with pytest.raises(FetchError, match="private, local or reserved"):
        fetch_bytes(url, FetchLimits(timeout=1))


def test_the_base_address_is_found_from_what_people_paste():
    assert base_url("status.example.com") == "https://status.example.com"
    assert base_url("https://status.example.com/") == "https://status.example.com"
    assert (
        base_url("https://status.example.com/api/v2/summary.json?x=1")
        == "https://status.example.com"
    )
    assert base_url("http://127.0.0.1:8080/page/") == "http://127.0.0.1:8080/page"


# --- the command line -------------------------------------------------------------------------


def test_the_command_imports_with_a_progress_bar_and_reports(runner, session, source):
    result = runner.invoke(args=["import", "statuspage", source.url, "--allow-private-network"])
    assert result.exit_code == 0, result.output
    assert "Reading the page" in result.output and "Importing" in result.output
    assert "From Acme Status at http://127.0.0.1:" in result.output
    assert "Components: 7 created, 0 already imported" in result.output
    assert "Incidents: 5 created, 0 already imported" in result.output
    assert (
        "Skipped incident 'A status nobody knows' (inc0weird001): unknown status 'exploding'"
        in (result.output)
    )
    assert "Note: component 'Legacy': unknown status 'kaputt': imported as operational" in (
        result.output
    )
    before = counts(session)

    again = runner.invoke(args=["import", "statuspage", source.url, "--allow-private-network"])
    assert again.exit_code == 0, again.output
    assert "Components: 0 created, 7 already imported" in again.output
    assert "Incidents: 0 created, 5 already imported" in again.output
    session.rollback()
    assert counts(session) == before


def test_the_command_refuses_a_loopback_page_unless_allowed(runner, session, source):
    result = runner.invoke(args=["import", "statuspage", source.url])
    assert result.exit_code == 1
    assert "private, local or reserved address" in result.output
    assert source.requests == []
    assert session.scalar(sa.select(sa.func.count(Component.id))) == 0


def test_the_command_reports_a_failing_source_and_writes_nothing(runner, session, source):
    source.answer("/api/v2/summary.json", body={"page": {"id": "x"}}, delay=3)
    result = runner.invoke(
        args=["import", "statuspage", source.url, "--allow-private-network", "--timeout", "0.5"]
    )
    assert result.exit_code == 1
    assert "did not answer within 0.5 seconds" in result.output
    source.answer("/api/v2/summary.json", status=503, body="down")
    result = runner.invoke(args=["import", "statuspage", source.url, "--allow-private-network"])
    assert result.exit_code == 1
    assert "answered 503 Service Unavailable; nothing was imported" in result.output
    assert session.scalar(sa.select(sa.func.count(Component.id))) == 0
