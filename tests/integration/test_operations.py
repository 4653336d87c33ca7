"""Domain operations against a real database (SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from statuspage.components.models import ComponentStatus, ComponentStatusChange
from statuspage.core.errors import DomainError, InvalidTransition, NotFound
from statuspage.core.models import AuditEntry, TimelineEvent
from statuspage.incidents.lifecycle import TransitionDetails, transition_incident
from statuspage.incidents.maintenance import (
    NewMaintenance,
    advance_maintenance,
    schedule_maintenance,
)
from statuspage.incidents.models import (
    IncidentStatus,
    Level,
    MaintenanceStatus,
    Priority,
    PriorityRule,
    PublicImpact,
    PublicStatus,
)
from statuspage.incidents.operations import (
    NewIncident,
    categorize_incident,
    open_incident,
    post_update,
)


def history(session, component_id):
    return list(
        session.scalars(
            sa.select(ComponentStatusChange)
            .where(ComponentStatusChange.component_id == component_id)
            .order_by(ComponentStatusChange.id)
        )
    )


def test_timestamps_come_back_timezone_aware_utc(session, make_component, now):
    component = make_component("API")
    session.commit()
    session.expire_all()
    change = history(session, component.id)[0]
    assert change.changed_at.tzinfo is not None
    assert change.changed_at.utcoffset() == timedelta(0)
    assert change.changed_at == now - timedelta(days=120)


def test_posting_an_update_changes_components_and_writes_history(session, make_component, now):
    api = make_component("API")
    web = make_component("Website")
    incident = open_incident(
        session, NewIncident(title="Errors", component_ids=[api.id]), actor_id=None, now=now
    )
    assert incident.is_public is False

    update = post_update(
        session,
        incident,
        status=PublicStatus.INVESTIGATING,
        body="Looking into it.",
        component_statuses={
            api.id: ComponentStatus.MAJOR_OUTAGE,
            web.id: ComponentStatus.DEGRADED_PERFORMANCE,
        },
        actor_id=None,
        now=now,
    )
    session.commit()

    assert incident.is_public and incident.published_at == now
    assert incident.public_status == PublicStatus.INVESTIGATING
    assert incident.public_impact == PublicImpact.CRITICAL
    assert api.status == ComponentStatus.MAJOR_OUTAGE
    assert web.status == ComponentStatus.DEGRADED_PERFORMANCE
    latest = history(session, api.id)[-1]
    assert (latest.old_status, latest.status) == (ComponentStatus.OPERATIONAL, "major_outage")
    assert latest.incident_id == incident.id and latest.changed_at == now
    assert {c.component_id for c in update.component_changes} == {api.id, web.id}
    assert {link.component_id for link in incident.affected} == {api.id, web.id}
    kinds = session.scalars(
        sa.select(TimelineEvent.kind).where(TimelineEvent.incident_id == incident.id)
    ).all()
    assert kinds == ["logged", "public_update"]
    assert (
        session.scalar(
            sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.action == "publish")
        )
        == 1
    )


def test_resolving_publicly_records_the_time_and_keeps_the_worst_impact(
    session, make_component, now
):
    api = make_component("API")
    incident = open_incident(session, NewIncident(title="Errors"), actor_id=None, now=now)
    post_update(
        session,
        incident,
        status="investigating",
        body="Down.",
        component_statuses={api.id: "partial_outage"},
        actor_id=None,
        now=now,
    )
    later = now + timedelta(minutes=40)
    post_update(
        session,
        incident,
        status="resolved",
        body="Fixed.",
        component_statuses={api.id: "operational"},
        actor_id=None,
        now=later,
    )
    assert incident.public_resolved_at == later
    assert incident.public_impact == PublicImpact.MAJOR
    assert api.status == ComponentStatus.OPERATIONAL


def test_a_refused_update_changes_nothing(session, make_component, now):
    api = make_component("API")
    incident = open_incident(session, NewIncident(title="Errors"), actor_id=None, now=now)
    session.commit()
    with pytest.raises(NotFound):
        post_update(
            session,
            incident,
            status="investigating",
            body="x",
            component_statuses={api.id: "major_outage", 9999: "major_outage"},
            actor_id=None,
            now=now,
        )
    session.rollback()
    with pytest.raises(DomainError):
        post_update(session, incident, status="investigating", body="   ", actor_id=None, now=now)
    session.rollback()
    assert api.status == ComponentStatus.OPERATIONAL
    assert incident.is_public is False
    assert len(history(session, api.id)) == 1


def test_open_incident_refuses_future_impact_and_detection_before_impact(session, now):
    with pytest.raises(DomainError) as future:
        open_incident(
            session,
            NewIncident(title="x", impact_started_at=now + timedelta(hours=1)),
            actor_id=None,
            now=now,
        )
    assert future.value.field == "impact_started_at"
    with pytest.raises(DomainError):
        open_incident(
            session,
            NewIncident(
                title="x",
                impact_started_at=now - timedelta(hours=1),
                detected_at=now - timedelta(hours=2),
            ),
            actor_id=None,
            now=now,
        )
    with pytest.raises(DomainError):
        open_incident(session, NewIncident(title="  "), actor_id=None, now=now)


def test_priority_follows_the_stored_matrix(session, now):
    incident = open_incident(session, NewIncident(title="x"), actor_id=None, now=now)
    categorize_incident(
        session,
        incident,
        category_id=None,
        subcategory_id=None,
        impact=Level.HIGH,
        urgency=Level.HIGH,
        actor_id=None,
        now=now,
    )
    assert incident.priority == Priority.P1
    rule = session.scalar(
        sa.select(PriorityRule).where(PriorityRule.impact == "low", PriorityRule.urgency == "low")
    )
    rule.priority = Priority.P3  # a manager edited the matrix
    session.flush()
    categorize_incident(
        session,
        incident,
        category_id=None,
        subcategory_id=None,
        impact=Level.LOW,
        urgency=Level.LOW,
        actor_id=None,
        now=now,
    )
    assert incident.priority == Priority.P3


def test_lifecycle_stamps_milestones_once(session, now):
    incident = open_incident(session, NewIncident(title="x"), actor_id=None, now=now)
    t1, t2, t3 = (now + timedelta(minutes=m) for m in (5, 10, 15))
    transition_incident(session, incident, IncidentStatus.INVESTIGATING, actor_id=None, now=t1)
    assert incident.acknowledged_at == t1
    transition_incident(session, incident, IncidentStatus.IDENTIFIED, actor_id=None, now=t2)
    transition_incident(session, incident, IncidentStatus.INVESTIGATING, actor_id=None, now=t3)
    transition_incident(
        session, incident, IncidentStatus.IDENTIFIED, actor_id=None, now=t3 + timedelta(minutes=1)
    )
    assert incident.identified_at == t2  # first entry only
    assert incident.acknowledged_at == t1


def test_refused_transitions_say_why(session, now):
    incident = open_incident(session, NewIncident(title="x"), actor_id=None, now=now)
    with pytest.raises(InvalidTransition, match="cannot move to resolved"):
        transition_incident(session, incident, IncidentStatus.RESOLVED, actor_id=None, now=now)
    transition_incident(session, incident, IncidentStatus.TRIAGE, actor_id=None, now=now)
    with pytest.raises(InvalidTransition, match="category, impact, urgency"):
        transition_incident(session, incident, IncidentStatus.INVESTIGATING, actor_id=None, now=now)
    with pytest.raises(InvalidTransition, match="reason"):
        transition_incident(session, incident, IncidentStatus.CANCELLED, actor_id=None, now=now)
    assert incident.status == IncidentStatus.TRIAGE


def test_resolving_needs_code_summary_and_verification(session, now):
    incident = open_incident(session, NewIncident(title="x"), actor_id=None, now=now)
    transition_incident(session, incident, IncidentStatus.INVESTIGATING, actor_id=None, now=now)
    with pytest.raises(InvalidTransition, match="verified"):
        transition_incident(
            session,
            incident,
            IncidentStatus.RESOLVED,
            actor_id=None,
            now=now,
            details=TransitionDetails(resolution_code="fixed", resolution_summary="done"),
        )
    transition_incident(
        session,
        incident,
        IncidentStatus.RESOLVED,
        actor_id=None,
        now=now,
        details=TransitionDetails(
            resolution_code="fixed", resolution_summary="done", verification="graphs normal"
        ),
    )
    assert incident.resolved_at == now


def test_closing_a_public_incident_needs_its_closure_report(session, make_incident, now):
    incident = make_incident()
    transition_incident(session, incident, IncidentStatus.INVESTIGATING, actor_id=None, now=now)
    transition_incident(
        session,
        incident,
        IncidentStatus.RESOLVED,
        actor_id=None,
        now=now,
        details=TransitionDetails(
            resolution_code="fixed", resolution_summary="s", verification="v"
        ),
    )
    with pytest.raises(InvalidTransition, match="closure report"):
        transition_incident(session, incident, IncidentStatus.CLOSED, actor_id=None, now=now)


def test_maintenance_puts_components_under_maintenance_and_back(session, make_component, now):
    db_component = make_component("Database")
    maintenance = schedule_maintenance(
        session,
        NewMaintenance(
            title="Upgrade",
            scheduled_for=now,
            scheduled_until=now + timedelta(hours=1),
            component_ids=[db_component.id],
        ),
        actor_id=None,
        now=now - timedelta(days=1),
    )
    advance_maintenance(session, maintenance, MaintenanceStatus.IN_PROGRESS, actor_id=None, now=now)
    assert db_component.status == ComponentStatus.UNDER_MAINTENANCE
    advance_maintenance(
        session,
        maintenance,
        MaintenanceStatus.COMPLETED,
        actor_id=None,
        now=now + timedelta(minutes=50),
    )
    assert db_component.status == ComponentStatus.OPERATIONAL
    changes = history(session, db_component.id)
    assert [c.maintenance_id for c in changes[1:]] == [maintenance.id, maintenance.id]
    with pytest.raises(InvalidTransition):
        advance_maintenance(
            session, maintenance, MaintenanceStatus.IN_PROGRESS, actor_id=None, now=now
        )


def test_maintenance_window_must_end_after_it_starts(session, now):
    with pytest.raises(DomainError):
        schedule_maintenance(
            session,
            NewMaintenance(title="x", scheduled_for=now, scheduled_until=now),
            actor_id=None,
            now=now,
        )
