"""Every incident form refuses a POST without its CSRF token and accepts it with one."""

import io

import pytest
import sqlalchemy as sa

from statuspage.incidents.models import Incident, Problem, Task
from tests.conftest import csrf_token_from, login_with_csrf


def forms(incident, other, task, problem, user):
    """(path, form prefix or None, data, needs multipart) for each incident action."""
    return [
        (
            "details",
            "edit",
            {
                "title": "Renamed",
                "source": "staff",
                "impact_started_at": incident.impact_started_at.strftime("%Y-%m-%dT%H:%M"),
                "version": str(incident.version),
            },
            False,
        ),
        ("categorize", "cat", {"impact": "low", "urgency": "low"}, False),
        ("priority", "prio", {"priority": "P2", "reason": "Customer escalation"}, False),
        ("acknowledge", None, {}, False),
        ("transition", "move", {"target": "investigating"}, False),
        ("assign", "assign", {"assignee": str(user.id)}, False),
        ("roles", "role", {"user": str(user.id), "role": "observer"}, False),
        ("tasks", "task", {"kind": "response", "title": "Check"}, False),
        (f"tasks/{task.id}/done", None, {}, False),
        ("notes", "note", {"body": "A note"}, False),
        ("evidence/link", "elink", {"title": "Dash", "url": "https://example.com/d"}, False),
        ("evidence/log", "elog", {"title": "Log", "log_text": "line"}, False),
        ("evidence/file", "efile", {"title": "Trace"}, True),
        ("links", "link", {"other_id": str(other.id), "kind": "related"}, False),
        ("problems", "problem", {"problem_id": str(problem.id)}, False),
        (
            "closure-report",
            None,
            {"summary": "s", "impact": "i", "cause": "c", "resolution": "r", "prevention": "p"},
            False,
        ),
        ("review/start", None, {}, False),
        ("review", None, {"summary": "What happened", "timeline": ""}, False),
        ("review/in_review", None, {}, False),
    ]


@pytest.fixture
def setting(session, make_user, make_incident):
    incident = make_incident("Target")
    other = make_incident("Other")
    task = Task(incident_id=incident.id, kind="response", title="Existing")
    problem = Problem(title="Known")
    session.add_all([task, problem])
    session.commit()
    user = make_user("manager")
    return incident, other, task, problem, user


def test_every_incident_form_checks_its_csrf_token(csrf_client, session, setting):
    incident, other, task, problem, user = setting
    login_with_csrf(csrf_client, user)
    base = f"/admin/incidents/{incident.id}"
    for path, prefix, fields, multipart in forms(incident, other, task, problem, user):
        data = {(f"{prefix}-{key}" if prefix else key): value for key, value in fields.items()}
        if multipart:
            data[f"{prefix}-file"] = (io.BytesIO(b"trace\n"), "trace.log")
        kwargs = {"content_type": "multipart/form-data"} if multipart else {}
        refused = csrf_client.post(f"{base}/{path}", data=dict(data), **kwargs)
        assert refused.status_code == 400, path
        assert "CSRF" in refused.get_data(as_text=True), path

        page = csrf_client.get(base).get_data(as_text=True)
        token = csrf_token_from(page)
        data[f"{prefix}-csrf_token" if prefix else "csrf_token"] = token
        if multipart:
            data[f"{prefix}-file"] = (io.BytesIO(b"trace\n"), "trace.log")
        if path == "details":
            session.expire_all()
            data["edit-version"] = str(session.get(Incident, incident.id).version)
        accepted = csrf_client.post(f"{base}/{path}", data=data, **kwargs)
        assert accepted.status_code == 302, (path, accepted.status_code)


def test_logging_a_new_incident_checks_its_csrf_token(csrf_client, session, make_user):
    login_with_csrf(csrf_client, make_user("responder"))
    refused = csrf_client.post("/admin/incidents/new", data={"title": "x", "source": "staff"})
    assert refused.status_code == 400
    token = csrf_token_from(csrf_client.get("/admin/incidents/new").get_data(as_text=True))
    accepted = csrf_client.post(
        "/admin/incidents/new", data={"title": "x", "source": "staff", "csrf_token": token}
    )
    assert accepted.status_code == 302
    assert session.scalar(sa.select(sa.func.count(Incident.id))) == 1
