"""The worker's every-minute public automation: maintenance windows and next-update reminders."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from statuspage.components.models import Component, ComponentStatus
from statuspage.core.models import TimelineEvent
from statuspage.incidents.maintenance import NewMaintenance, schedule_maintenance
from statuspage.incidents.models import (
    Incident,
    IncidentRole,
    IncidentRoleAssignment,
    Maintenance,
    MaintenanceStatus,
)
from statuspage.worker.incidents import public_automation_task, run_public_automation


def test_one_run_starts_due_maintenance_and_reminds_about_a_missed_update(
    app, session, make_component, make_incident, make_user, now, tmp_path: Path
):
    mail = tmp_path / "mail"
    app.config.update(MAIL_TRANSPORT="file", MAIL_FILE_DIR=str(mail))
    db_component = make_component("Database")
    maintenance = schedule_maintenance(
        session,
        NewMaintenance(
            title="Database upgrade",
            scheduled_for=now + timedelta(minutes=5),
            scheduled_until=now + timedelta(hours=1),
            component_ids=[db_component.id],
            auto_start=True,
        ),
        actor_id=None,
        now=now,
    )
    lead = make_user("communicator")
    incident = make_incident("API errors")
    incident.next_update_at = now + timedelta(minutes=10)
    session.add(
        IncidentRoleAssignment(
            incident_id=incident.id, user_id=lead.id, role=IncidentRole.COMMS_LEAD
        )
    )
    session.commit()

    with app.app_context():
        early, nobody = run_public_automation(now=now + timedelta(minutes=1))
        assert (early.total, nobody) == (0, 0)
        later, reminded = run_public_automation(now=now + timedelta(minutes=15))
        again, reminded_again = run_public_automation(now=now + timedelta(minutes=16))

    assert (later.started, reminded) == (1, 1)
    assert (again.total, reminded_again) == (0, 0)  # each thing happens once
    session.expire_all()
    assert session.get(Maintenance, maintenance.id).status == MaintenanceStatus.IN_PROGRESS
    assert session.get(Component, db_component.id).status == ComponentStatus.UNDER_MAINTENANCE
    assert session.get(Incident, incident.id).next_update_reminded_at is not None
    kinds = list(
        session.scalars(
            sa.select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident.id)
        )
    )
    assert kinds.count("next_update_due") == 1
    [message] = list(mail.glob("*.eml"))
    assert lead.email in message.read_text()


def test_the_periodic_task_is_scheduled_every_minute(app):
    from statuspage.worker import tasks

    with app.app_context():
        due = tasks.huey.read_periodic(tasks.huey._get_timestamp().replace(minute=3, second=0))
    assert public_automation_task.name in [task.name for task in due]
