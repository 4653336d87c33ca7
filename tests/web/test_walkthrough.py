"""The issue's acceptance path, as a new user would take it, through the real forms.

Log in as an admin made with the CLI, log an incident from a template, assign it, work its
tasks, let an SLA breach escalate, link a known error, and take it through every status to
closed; each step shows on the timeline.
"""

import re
from datetime import timedelta

import sqlalchemy as sa

from statuspage.incidents.models import (
    Incident,
    IncidentStatus,
    IncidentTemplate,
    Problem,
    ProblemStatus,
    SlaEvent,
    Task,
)
from statuspage.worker.incidents import run_sla_check


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_a_p1_incident_from_logging_to_closure(
    app, client, runner, session, make_component, tmp_path, now
):
    mail_dir = tmp_path / "mail"
    app.config.update(MAIL_TRANSPORT="file", MAIL_FILE_DIR=str(mail_dir))
    password = "walkthrough password 1"
    created = runner.invoke(
        args=["users", "create", "--email", "ada@example.com", "--role", "admin", "--name", "Ada"],
        input=f"{password}\n{password}\n",
    )
    assert created.exit_code == 0, created.output
    api = make_component("Checkout API")
    session.commit()
    api_id = api.id

    assert (
        client.post("/login", data={"email": "ada@example.com", "password": password}).status_code
        == 302
    )

    # A manager's template and a known error already exist.
    made = client.post("/admin/settings/categories", data={"new-name": "Application"})
    assert made.status_code == 302
    template = IncidentTemplate(
        name="Checkout outage",
        title="Checkout failing",
        impact="high",
        urgency="high",
        task_checklist=["Page payments on-call", "Check gateway"],
    )
    known = Problem(
        title="Gateway TLS expiry",
        root_cause="Certificate not renewed",
        workaround="Switch to the backup gateway",
        status=ProblemStatus.KNOWN_ERROR,
    )
    known.components = [api]
    session.add_all([template, known])
    session.commit()
    template_id, known_id = template.id, known.id
    saved = client.post(
        "/admin/settings/sla/P1",
        data={
            "name": "Critical",
            "acknowledge_minutes": 60,
            "mitigate_minutes": 240,
            "resolve_minutes": 480,
            "update_cadence_minutes": 30,
            "escalation_contacts": "oncall-lead@example.com",
        },
    )
    assert saved.status_code == 302, text(saved)[:1000]

    # Log it from the template, backdated: the impact began 90 minutes ago.
    started = (now - timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        "/admin/incidents/new",
        data={
            "title": "Checkout failing",
            "source": "customer",
            "template": template_id,
            "impact_started_at": started,
            "detected_at": started,
            "components": [api_id],
        },
    )
    assert response.status_code == 302
    incident = session.scalar(sa.select(Incident))
    incident_id = incident.id
    assert incident.priority == "P1"
    url = f"/admin/incidents/{incident_id}"

    def version() -> int:
        session.expire_all()
        return session.get(Incident, incident_id).version

    def move(target: str, **extra: str) -> None:
        answer = client.post(
            f"{url}/transition", data={"move-target": target, "move-version": version(), **extra}
        )
        assert answer.status_code == 302, text(answer)[:2000]

    # Assign it.
    ada_id = session.scalar(sa.text("SELECT id FROM \"user\" WHERE email = 'ada@example.com'"))
    client.post(f"{url}/assign", data={"assign-assignee": ada_id, "assign-version": version()})
    client.post(f"{url}/roles", data={"role-user": ada_id, "role-role": "incident_manager"})

    # The acknowledge clock ran out before anyone acknowledged: the SLA job escalates.
    with app.app_context():
        report = run_sla_check()
    assert report.breached >= 1 and report.emails_sent >= 1
    assert (
        session.scalar(
            sa.select(sa.func.count(SlaEvent.id)).where(
                SlaEvent.incident_id == incident_id, SlaEvent.state == "breached"
            )
        )
        >= 1
    )
    mails = list(mail_dir.glob("*.eml"))
    assert mails and "oncall-lead@example.com" in mails[0].read_text()
    assert "breached" in text(client.get("/admin/incidents"))

    # Work it.
    move("triage")
    client.post(
        f"{url}/categorize",
        data={
            "cat-category": session.scalar(sa.text("SELECT id FROM category")),
            "cat-impact": "high",
            "cat-urgency": "high",
            "cat-version": version(),
        },
    )
    move("investigating")
    client.post(f"{url}/problems", data={"problem-problem_id": known_id})
    client.post(f"{url}/notes", data={"note-body": "Gateway returns TLS errors"})
    move("identified")
    move("mitigated", **{"move-workaround": "Switched to the backup gateway"})
    for task in session.scalars(sa.select(Task).where(Task.incident_id == incident_id)):
        assert client.post(f"{url}/tasks/{task.id}/done").status_code == 302
    move(
        "resolved",
        **{
            "move-resolution_code": "config_change",
            "move-resolution_summary": "Renewed the certificate",
            "move-check_operational": "y",
            "move-check_users": "y",
            "move-check_side_effects": "y",
        },
    )
    move("post_incident")
    refused = client.post(
        f"{url}/transition", data={"move-target": "closed", "move-version": version()}
    )
    assert refused.status_code == 409 and "approved post-incident review" in text(refused)

    # The review, approved by a manager (the admin may too).
    assert client.post(f"{url}/review/start").status_code == 302
    client.post(
        f"{url}/review", data={"summary": "The gateway certificate expired.", "timeline": ""}
    )
    assert client.post(f"{url}/review/in_review").status_code == 302
    assert client.post(f"{url}/review/approved").status_code == 302
    move("closed")

    session.expire_all()
    incident = session.get(Incident, incident_id)
    assert incident.status == IncidentStatus.CLOSED
    for milestone in (
        "acknowledged_at",
        "identified_at",
        "mitigated_at",
        "resolved_at",
        "closed_at",
    ):
        assert getattr(incident, milestone) is not None, milestone

    page = text(client.get(url))
    for step in (
        "Created from template Checkout outage",
        "Assigned to Ada",
        "Ada is incident manager",
        "Status changed from new to triage",
        "Categorized: impact high, urgency high, priority P1",
        f"Linked to known error #{known_id}: Gateway TLS expiry",
        "Internal note added",
        "Status changed from mitigated to resolved",
        "Task done: Page payments on-call",
        "Post-incident review approved",
        "Status changed from post_incident to closed",
    ):
        assert step in page, step
    assert "SLA breached: acknowledge target was due" in page
    assert "escalated to 1 contact(s)" in page
