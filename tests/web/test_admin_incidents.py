"""Logging and working an incident through the admin forms (SQLite and PostgreSQL)."""

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from statuspage.core.models import AuditEntry, TimelineEvent
from statuspage.incidents.models import (
    Category,
    Evidence,
    Incident,
    IncidentStatus,
    IncidentTemplate,
    Problem,
    ProblemStatus,
    Task,
    TaskStatus,
)
from tests.conftest import csrf_token_from, login_with_csrf


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


@pytest.fixture
def responder(make_user, login):
    user = make_user("responder", name="Rita Responder")
    login(user)
    return user


@pytest.fixture
def incident(session, client, responder, make_component):
    api = make_component("API")
    session.commit()
    response = client.post(
        "/admin/incidents/new",
        data={
            "title": "API errors",
            "description": "5xx *spike*",
            "source": "monitoring",
            "components": [api.id],
        },
    )
    assert response.status_code == 302
    return session.scalar(sa.select(Incident).where(Incident.title == "API errors"))


def timeline(session, incident):
    return session.scalars(
        sa.select(TimelineEvent.summary)
        .where(TimelineEvent.incident_id == incident.id)
        .order_by(TimelineEvent.id)
    ).all()


def category(session, name="Infrastructure", child="Database"):
    parent = Category(name=name)
    session.add(parent)
    session.flush()
    sub = Category(name=child, parent_id=parent.id)
    session.add(sub)
    session.commit()
    return parent, sub


def test_logging_an_incident_records_it_and_shows_its_page(client, session, incident):
    assert incident.source == "monitoring"
    assert [link.component.name for link in incident.affected] == ["API"]
    page = text(client.get(f"/admin/incidents/{incident.id}"))
    assert "API errors" in page and "<em>spike</em>" in page
    assert "Incident logged: API errors" in page


def test_logging_with_bad_input_shows_field_errors_and_writes_nothing(client, session, responder):
    too_long = client.post("/admin/incidents/new", data={"title": "x" * 201, "source": "staff"})
    assert too_long.status_code == 400
    assert "Field cannot be longer than 200 characters" in text(too_long)
    future = client.post(
        "/admin/incidents/new",
        data={"title": "Later", "source": "staff", "impact_started_at": "2999-01-01T00:00"},
    )
    assert future.status_code == 400 and "Impact cannot start in the future." in text(future)
    bad_date = client.post(
        "/admin/incidents/new",
        data={"title": "Bad", "source": "staff", "impact_started_at": "yesterday"},
    )
    assert bad_date.status_code == 400
    unknown = client.post(
        "/admin/incidents/new", data={"title": "Bad", "source": "staff", "components": ["424242"]}
    )
    assert unknown.status_code == 400
    backwards = client.post(
        "/admin/incidents/new",
        data={
            "title": "Backwards",
            "source": "staff",
            "impact_started_at": "2026-01-02T10:00",
            "detected_at": "2026-01-02T09:00",
        },
    )
    assert backwards.status_code == 400
    assert session.scalar(sa.select(sa.func.count(Incident.id))) == 0


def test_backdated_impact_start_is_kept(client, session, responder):
    client.post(
        "/admin/incidents/new",
        data={
            "title": "Backdated",
            "source": "customer",
            "impact_started_at": "2026-01-02T10:00",
            "detected_at": "2026-01-02T10:30",
            "reporter_name": "Ann",
            "reporter_contact": "ann@x.io",
        },
    )
    incident = session.scalar(sa.select(Incident))
    assert incident.impact_started_at.isoformat() == "2026-01-02T10:00:00+00:00"
    assert incident.detected_at.isoformat() == "2026-01-02T10:30:00+00:00"
    assert incident.reporter_name == "Ann"


def test_categorize_sets_priority_from_matrix_and_override_needs_reason(client, session, incident):
    parent, sub = category(session)
    r = client.post(
        f"/admin/incidents/{incident.id}/categorize",
        data={
            "cat-category": parent.id,
            "cat-subcategory": sub.id,
            "cat-impact": "high",
            "cat-urgency": "medium",
            "cat-version": incident.version,
        },
    )
    assert r.status_code == 302
    session.refresh(incident)
    assert incident.priority == "P2"
    no_reason = client.post(
        f"/admin/incidents/{incident.id}/priority",
        data={"prio-priority": "P1", "prio-reason": "", "prio-version": incident.version},
    )
    assert no_reason.status_code == 400
    session.refresh(incident)
    assert incident.priority == "P2"
    client.post(
        f"/admin/incidents/{incident.id}/priority",
        data={
            "prio-priority": "P1",
            "prio-reason": "CEO demo at noon",
            "prio-version": incident.version,
        },
    )
    session.refresh(incident)
    assert incident.priority == "P1" and incident.priority_override_reason == "CEO demo at noon"
    assert any("by hand: CEO demo at noon" in s for s in timeline(session, incident))


def test_refused_transition_says_why_and_changes_nothing(client, session, incident):
    client.post(
        f"/admin/incidents/{incident.id}/transition",
        data={"move-target": "triage", "move-version": incident.version},
    )
    session.refresh(incident)
    assert incident.status == IncidentStatus.TRIAGE
    refused = client.post(
        f"/admin/incidents/{incident.id}/transition",
        data={"move-target": "investigating", "move-version": incident.version},
    )
    assert refused.status_code == 409
    assert "Leaving triage needs category, impact, urgency to be set first." in text(refused)
    impossible = client.post(
        f"/admin/incidents/{incident.id}/transition",
        data={"move-target": "closed", "move-version": incident.version},
    )
    assert impossible.status_code == 409
    assert "cannot move to closed" in text(impossible)
    session.refresh(incident)
    assert incident.status == IncidentStatus.TRIAGE


def test_resolving_needs_the_verification_checklist(client, session, incident):
    client.post(
        f"/admin/incidents/{incident.id}/transition",
        data={"move-target": "investigating", "move-version": incident.version},
    )
    session.refresh(incident)
    data = {
        "move-target": "resolved",
        "move-resolution_code": "rolled_back",
        "move-resolution_summary": "Rolled back deploy 42",
        "move-check_operational": "y",
        "move-check_users": "y",
        "move-version": incident.version,
    }
    missing = client.post(f"/admin/incidents/{incident.id}/transition", data=data)
    assert missing.status_code == 400 and "no side effects" in text(missing)
    data["move-check_side_effects"] = "y"
    ok = client.post(f"/admin/incidents/{incident.id}/transition", data=data)
    assert ok.status_code == 302
    session.refresh(incident)
    assert incident.status == IncidentStatus.RESOLVED and incident.resolved_at is not None
    assert incident.resolution_code == "rolled_back"
    assert incident.verification_checks == [
        "service operational",
        "users can resume",
        "no side effects",
    ]


def test_acknowledge_assign_and_roles(client, session, incident, make_user):
    lead = make_user("responder", name="Tess Lead")
    client.post(
        f"/admin/incidents/{incident.id}/assign",
        data={"assign-assignee": lead.id, "assign-version": incident.version},
    )
    r = client.post(f"/admin/incidents/{incident.id}/acknowledge")
    assert r.status_code == 302
    again = client.post(f"/admin/incidents/{incident.id}/acknowledge")
    assert again.status_code == 409  # stamped once, never overwritten
    client.post(
        f"/admin/incidents/{incident.id}/roles",
        data={"role-user": lead.id, "role-role": "incident_manager"},
    )
    session.refresh(incident)
    assert incident.assignee_id == lead.id and incident.acknowledged_at is not None
    summaries = timeline(session, incident)
    assert "Assigned to Tess Lead" in summaries
    assert "Acknowledged: work has started" in summaries
    assert "Tess Lead is incident manager" in summaries
    unknown = client.post(
        f"/admin/incidents/{incident.id}/assign",
        data={"assign-assignee": 424242, "assign-version": incident.version},
    )
    assert unknown.status_code == 400


def test_tasks_block_closure_until_done(client, session, incident):
    client.post(
        f"/admin/incidents/{incident.id}/tasks",
        data={"task-kind": "response", "task-title": "Fail over the database"},
    )
    client.post(
        f"/admin/incidents/{incident.id}/tasks",
        data={"task-kind": "follow_up", "task-title": "Write runbook"},
    )
    tasks = session.scalars(sa.select(Task).order_by(Task.id)).all()
    assert [t.kind for t in tasks] == ["response", "follow_up"]
    for target, extra in (
        ("investigating", {}),
        (
            "resolved",
            {
                "move-resolution_code": "fixed",
                "move-resolution_summary": "s",
                "move-check_operational": "y",
                "move-check_users": "y",
                "move-check_side_effects": "y",
            },
        ),
    ):
        session.refresh(incident)
        client.post(
            f"/admin/incidents/{incident.id}/transition",
            data={"move-target": target, "move-version": incident.version, **extra},
        )
    session.refresh(incident)
    refused = client.post(
        f"/admin/incidents/{incident.id}/transition",
        data={"move-target": "closed", "move-version": incident.version},
    )
    assert refused.status_code == 409 and "response task(s) are still open" in text(refused)
    client.post(f"/admin/incidents/{incident.id}/tasks/{tasks[0].id}/done")
    session.refresh(incident)
    closed = client.post(
        f"/admin/incidents/{incident.id}/transition",
        data={"move-target": "closed", "move-version": incident.version},
    )
    assert closed.status_code == 302
    session.refresh(incident)
    session.refresh(tasks[1])
    assert incident.status == IncidentStatus.CLOSED
    assert tasks[1].status == TaskStatus.OPEN  # the follow-up did not block


def test_notes_and_evidence_land_on_the_timeline(client, session, incident, app):
    client.post(
        f"/admin/incidents/{incident.id}/notes",
        data={"note-body": "Seen **502** <script>x()</script>"},
    )
    client.post(
        f"/admin/incidents/{incident.id}/evidence/link",
        data={"elink-title": "Grafana", "elink-url": "https://grafana.example/d/1"},
    )
    bad_link = client.post(
        f"/admin/incidents/{incident.id}/evidence/link",
        data={"elink-title": "Evil", "elink-url": "javascript:alert(1)"},
    )
    assert bad_link.status_code == 400
    client.post(
        f"/admin/incidents/{incident.id}/evidence/log",
        data={"elog-title": "nginx", "elog-log_text": "GET / 502\nGET / 502"},
    )
    upload = client.post(
        f"/admin/incidents/{incident.id}/evidence/file",
        data={"efile-title": "trace", "efile-file": (io.BytesIO(b"<html>hi</html>"), "x.html")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 400 and "not accepted" in text(upload)
    app.config["EVIDENCE_MAX_BYTES"] = 1024  # small, so the test client keeps it in memory
    big = client.post(
        f"/admin/incidents/{incident.id}/evidence/file",
        data={"efile-file": (io.BytesIO(b"x" * 1025), "big.log")},
        content_type="multipart/form-data",
    )
    assert big.status_code == 400 and "larger than 1 KB" in text(big)
    good = client.post(
        f"/admin/incidents/{incident.id}/evidence/file",
        data={"efile-title": "trace", "efile-file": (io.BytesIO(b"line 1\n"), "trace.log")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 302
    items = session.scalars(sa.select(Evidence).order_by(Evidence.id)).all()
    assert [e.kind for e in items] == ["link", "log", "file"]
    download = client.get(f"/admin/incidents/{incident.id}/evidence/{items[2].id}")
    assert download.status_code == 200 and download.data == b"line 1\n"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    download.close()
    page = text(client.get(f"/admin/incidents/{incident.id}"))
    assert "<strong>502</strong>" in page and "<script>x()" not in page
    assert "Evidence added (file): trace" in page
    assert "Internal note added" in page


def test_links_and_known_error_suggestions(client, session, incident, make_incident):
    other = make_incident(
        "Earlier API errors", components={incident.affected[0].component_id: "partial_outage"}
    )
    known = Problem(
        title="Connection pool exhaustion",
        root_cause="Pool too small",
        workaround="Restart the API pods",
        status=ProblemStatus.KNOWN_ERROR,
    )
    known.components = [incident.affected[0].component]
    session.add(known)
    session.commit()
    page = text(client.get(f"/admin/incidents/{incident.id}"))
    assert f"Known error #{known.id}: Connection pool exhaustion" in page
    assert "Earlier API errors" in page
    client.post(f"/admin/incidents/{incident.id}/problems", data={"problem-problem_id": known.id})
    client.post(
        f"/admin/incidents/{incident.id}/links",
        data={"link-other_id": other.id, "link-kind": "related"},
    )
    self_link = client.post(
        f"/admin/incidents/{incident.id}/links",
        data={"link-other_id": incident.id, "link-kind": "related"},
    )
    assert self_link.status_code == 400
    summaries = timeline(session, incident)
    assert any(
        s.startswith(f"Linked to known error #{known.id}") and "Restart the API pods" in s
        for s in summaries
    )
    assert f"Marked related to incident #{other.id}" in summaries


def test_second_save_from_a_stale_form_is_refused_with_what_changed(client, session, incident):
    stale_version = incident.version
    first = client.post(
        f"/admin/incidents/{incident.id}/details",
        data={
            "edit-title": "API errors (EU)",
            "edit-source": "monitoring",
            "edit-impact_started_at": incident.impact_started_at.strftime("%Y-%m-%dT%H:%M"),
            "edit-version": stale_version,
        },
    )
    assert first.status_code == 302
    second = client.post(
        f"/admin/incidents/{incident.id}/details",
        data={
            "edit-title": "API errors (US)",
            "edit-source": "monitoring",
            "edit-impact_started_at": incident.impact_started_at.strftime("%Y-%m-%dT%H:%M"),
            "edit-version": stale_version,
        },
    )
    assert second.status_code == 409
    body = text(second)
    assert "Someone else changed this incident" in body and "edit: title" in body
    session.refresh(incident)
    assert incident.title == "API errors (EU)"


def test_impact_start_after_resolution_is_refused(client, session, incident, now):
    client.post(
        f"/admin/incidents/{incident.id}/transition",
        data={"move-target": "investigating", "move-version": incident.version},
    )
    session.refresh(incident)
    client.post(
        f"/admin/incidents/{incident.id}/transition",
        data={
            "move-target": "resolved",
            "move-resolution_code": "fixed",
            "move-resolution_summary": "s",
            "move-check_operational": "y",
            "move-check_users": "y",
            "move-check_side_effects": "y",
            "move-version": incident.version,
        },
    )
    session.refresh(incident)
    later = incident.resolved_at + timedelta(minutes=5)
    if later > now:
        later = incident.resolved_at  # cannot be in the future either; equal is allowed
    r = client.post(
        f"/admin/incidents/{incident.id}/details",
        data={
            "edit-title": "API errors",
            "edit-source": "monitoring",
            "edit-impact_started_at": "2999-01-01T00:00",
            "edit-version": incident.version,
        },
    )
    assert r.status_code == 400


def test_audit_log_lists_every_field_change(client, session, incident):
    client.post(
        f"/admin/incidents/{incident.id}/details",
        data={
            "edit-title": "Renamed",
            "edit-source": "staff",
            "edit-impact_started_at": incident.impact_started_at.strftime("%Y-%m-%dT%H:%M"),
            "edit-version": incident.version,
        },
    )
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "edit"))
    assert entry.changes["title"] == ["API errors", "Renamed"]
    assert entry.changes["source"] == ["monitoring", "staff"]
    page = text(client.get(f"/admin/incidents/{incident.id}/audit"))
    assert "<td>title</td> <td>API errors</td><td>Renamed</td>" in page


def test_new_incident_from_template_gets_its_defaults(client, session, responder):
    parent, sub = category(session, "Application", "Defect")
    template = IncidentTemplate(
        name="Checkout down",
        title="Checkout failing",
        category_id=parent.id,
        subcategory_id=sub.id,
        impact="high",
        urgency="high",
        task_checklist=["Page the payments team", "Check the gateway status"],
        message_templates={"investigating": "We are looking into checkout errors."},
    )
    session.add(template)
    session.commit()
    form = text(client.get(f"/admin/incidents/new?template={template.id}"))
    assert 'value="Checkout failing"' in form
    client.post(
        "/admin/incidents/new",
        data={"title": "Checkout failing", "source": "staff", "template": template.id},
    )
    incident = session.scalar(sa.select(Incident))
    assert incident.priority == "P1" and incident.template_id == template.id
    assert incident.category_id == parent.id and incident.subcategory_id == sub.id
    titles = session.scalars(sa.select(Task.title).where(Task.kind == "response")).all()
    assert sorted(titles) == ["Check the gateway status", "Page the payments team"]


def test_viewer_sees_but_cannot_change(client, session, make_user, login, make_incident):
    incident = make_incident("Visible")
    viewer = make_user("viewer")
    login(viewer)
    page = client.get(f"/admin/incidents/{incident.id}")
    assert page.status_code == 200
    assert "Change status" not in text(page)
    assert (
        client.post(f"/admin/incidents/{incident.id}/notes", data={"note-body": "hi"}).status_code
        == 403
    )
    assert client.post("/admin/incidents/new", data={"title": "x"}).status_code == 403


def test_unknown_incident_is_404(client, responder):
    assert client.get("/admin/incidents/424242").status_code == 404
    assert client.post("/admin/incidents/424242/notes", data={"note-body": "x"}).status_code == 404


@pytest.mark.parametrize(
    "path, data",
    [
        ("notes", {"note-body": "hello"}),
        ("tasks", {"task-kind": "response", "task-title": "T"}),
    ],
)
def test_incident_forms_need_their_csrf_token(
    csrf_client, make_user, make_incident, session, path, data
):
    incident = make_incident("CSRF target")
    user = make_user("responder")
    login_with_csrf(csrf_client, user)
    refused = csrf_client.post(f"/admin/incidents/{incident.id}/{path}", data=data)
    assert refused.status_code == 400
    page = csrf_client.get(f"/admin/incidents/{incident.id}").get_data(as_text=True)
    token = csrf_token_from(page)
    prefix = path[:-1] if path != "notes" else "note"
    accepted = csrf_client.post(
        f"/admin/incidents/{incident.id}/{path}", data={**data, f"{prefix}-csrf_token": token}
    )
    assert accepted.status_code == 302


def test_log_incident_has_one_template_picker_and_keeps_the_choice(client, session, responder):
    """One picker ("Start from a template") fills the form; the choice travels with the form
    (and is shown), so the template's category, priority and tasks apply when it is logged."""
    parent, sub = category(session, "Application", "Defect")
    template = IncidentTemplate(
        name="Checkout down", title="Checkout failing", category_id=parent.id, impact="high"
    )
    session.add(template)
    session.commit()

    def pickers(html: str) -> list[str]:
        return re.findall(r"<select[^>]*name=\"template\"", html)

    blank = client.get("/admin/incidents/new").get_data(as_text=True)
    assert len(pickers(blank)) == 1
    assert "Start from a template" in blank

    chosen = client.get(f"/admin/incidents/new?template={template.id}").get_data(as_text=True)
    assert len(pickers(chosen)) == 1
    logging_form = chosen.split('<form method="post" novalidate', 1)[1]
    assert pickers(logging_form) == []
    assert re.search(rf'<input type="hidden" name="template" value="{template.id}"', logging_form)
    assert "Checkout down" in text(client.get(f"/admin/incidents/new?template={template.id}"))

    client.post(
        "/admin/incidents/new",
        data={"title": "Checkout failing", "source": "staff", "template": template.id},
    )
    incident = session.scalar(sa.select(Incident))
    assert incident.template_id == template.id and incident.category_id == parent.id
