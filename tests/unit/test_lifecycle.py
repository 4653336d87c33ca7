"""The lifecycle state machine, milestones and priority matrix, without Flask.

A plain SQLAlchemy session on an in-memory SQLite database: the domain needs nothing else.
"""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import statuspage.models  # noqa: F401  (every table on the metadata)
from statuspage.core.db import Base
from statuspage.core.errors import InvalidTransition
from statuspage.incidents.lifecycle import (
    ALLOWED_MOVES,
    TransitionDetails,
    transition_incident,
)
from statuspage.incidents.models import (
    ClosureReport,
    IncidentStatus,
    Level,
    PostIncidentReview,
    Priority,
    ReviewStatus,
    Task,
    TaskKind,
)
from statuspage.incidents.operations import NewIncident, open_incident
from statuspage.incidents.priority import DEFAULT_MATRIX, priority_for

S = IncidentStatus
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
RESOLUTION = TransitionDetails(
    resolution_code="fixed", resolution_summary="Patched", verification="Checked graphs"
)


@pytest.fixture
def session():
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)  # tests only; the application uses migrations
    with Session(engine) as db_session:
        yield db_session
    engine.dispose()


def new_incident(session, **fields):
    incident = open_incident(session, NewIncident(title="Outage"), actor_id=None, now=T0)
    for key, value in fields.items():
        setattr(incident, key, value)
    return incident


def at(minutes):
    return T0 + timedelta(minutes=minutes)


def test_the_table_of_moves_is_the_designed_one():
    designed = {
        S.NEW: {S.TRIAGE, S.INVESTIGATING, S.CANCELLED},
        S.TRIAGE: {S.INVESTIGATING, S.CANCELLED},
        S.INVESTIGATING: {S.IDENTIFIED, S.MITIGATED, S.RESOLVED, S.CANCELLED},
        S.IDENTIFIED: {S.INVESTIGATING, S.MITIGATED, S.RESOLVED},
        S.MITIGATED: {S.INVESTIGATING, S.RESOLVED},
        S.RESOLVED: {S.INVESTIGATING, S.POST_INCIDENT, S.CLOSED},
        S.POST_INCIDENT: {S.CLOSED, S.INVESTIGATING},
        S.CLOSED: {S.INVESTIGATING},
        S.CANCELLED: {S.TRIAGE},
    }
    assert designed == ALLOWED_MOVES


REFUSED_MOVES = [(a, b) for a in S for b in S if b not in ALLOWED_MOVES[a]]


@pytest.mark.parametrize(("source", "target"), REFUSED_MOVES)
def test_every_move_outside_the_table_is_refused(session, source, target):
    incident = new_incident(session, status=source)
    with pytest.raises(InvalidTransition, match=f"cannot move to {target.value}"):
        transition_incident(session, incident, target, actor_id=None, now=at(1), details=RESOLUTION)
    assert incident.status == source


def test_full_path_stamps_each_milestone_once(session):
    incident = new_incident(session)
    transition_incident(session, incident, S.INVESTIGATING, actor_id=None, now=at(5))
    transition_incident(session, incident, S.IDENTIFIED, actor_id=None, now=at(10))
    transition_incident(
        session,
        incident,
        S.MITIGATED,
        actor_id=None,
        now=at(20),
        details=TransitionDetails(workaround="Traffic moved to EU"),
    )
    transition_incident(session, incident, S.INVESTIGATING, actor_id=None, now=at(25))
    transition_incident(
        session,
        incident,
        S.MITIGATED,
        actor_id=None,
        now=at(30),
        details=TransitionDetails(workaround="Again"),
    )
    transition_incident(
        session, incident, S.RESOLVED, actor_id=None, now=at(40), details=RESOLUTION
    )
    transition_incident(session, incident, S.CLOSED, actor_id=None, now=at(60))
    assert incident.acknowledged_at == at(5)
    assert incident.identified_at == at(10)
    assert incident.mitigated_at == at(20)  # first entry, not the second
    assert incident.resolved_at == at(40)
    assert incident.closed_at == at(60)
    # Reopening keeps the milestones and needs a reason.
    with pytest.raises(InvalidTransition, match="reason"):
        transition_incident(session, incident, S.INVESTIGATING, actor_id=None, now=at(70))
    transition_incident(
        session,
        incident,
        S.INVESTIGATING,
        actor_id=None,
        now=at(70),
        details=TransitionDetails(reason="It came back"),
    )
    transition_incident(
        session, incident, S.RESOLVED, actor_id=None, now=at(80), details=RESOLUTION
    )
    assert incident.resolved_at == at(40) and incident.closed_at == at(60)


def test_explicit_acknowledgement_is_not_overwritten_by_investigating(session):
    incident = new_incident(session, acknowledged_at=at(2))
    transition_incident(session, incident, S.INVESTIGATING, actor_id=None, now=at(9))
    assert incident.acknowledged_at == at(2)


def test_guards(session):
    incident = new_incident(session)
    with pytest.raises(InvalidTransition, match="reason"):
        transition_incident(session, incident, S.CANCELLED, actor_id=None, now=at(1))
    transition_incident(session, incident, S.INVESTIGATING, actor_id=None, now=at(1))
    with pytest.raises(InvalidTransition, match="workaround"):
        transition_incident(session, incident, S.MITIGATED, actor_id=None, now=at(2))
    with pytest.raises(InvalidTransition, match="resolution code"):
        transition_incident(
            session,
            incident,
            S.RESOLVED,
            actor_id=None,
            now=at(2),
            details=TransitionDetails(resolution_summary="x", verification="y"),
        )
    transition_incident(
        session,
        incident,
        S.CANCELLED,
        actor_id=None,
        now=at(3),
        details=TransitionDetails(reason="Duplicate of #4"),
    )
    assert incident.cancel_reason == "Duplicate of #4" and incident.cancelled_at == at(3)


def test_closing_rules(session):
    incident = new_incident(session, priority=Priority.P2, is_public=True)
    transition_incident(session, incident, S.INVESTIGATING, actor_id=None, now=at(1))
    transition_incident(session, incident, S.RESOLVED, actor_id=None, now=at(2), details=RESOLUTION)
    session.add(Task(incident_id=incident.id, kind=TaskKind.RESPONSE, title="Restart"))
    session.add(Task(incident_id=incident.id, kind=TaskKind.FOLLOW_UP, title="Runbook"))
    session.flush()
    with pytest.raises(InvalidTransition, match="1 response task"):
        transition_incident(session, incident, S.CLOSED, actor_id=None, now=at(3))
    session.execute(sa.update(Task).where(Task.kind == TaskKind.RESPONSE).values(status="done"))
    with pytest.raises(InvalidTransition, match="closure report"):
        transition_incident(session, incident, S.CLOSED, actor_id=None, now=at(3))
    session.add(
        ClosureReport(
            incident_id=incident.id,
            summary="s",
            impact="i",
            cause="c",
            resolution="r",
            prevention="p",
        )
    )
    session.flush()
    with pytest.raises(InvalidTransition, match="approved post-incident review"):
        transition_incident(session, incident, S.CLOSED, actor_id=None, now=at(3))
    session.add(
        PostIncidentReview(
            incident_id=incident.id, status=ReviewStatus.IN_REVIEW, summary="Why it broke"
        )
    )
    session.flush()
    with pytest.raises(InvalidTransition, match="approved post-incident review"):
        transition_incident(session, incident, S.CLOSED, actor_id=None, now=at(3))
    session.execute(sa.update(PostIncidentReview).values(status=ReviewStatus.APPROVED))
    transition_incident(session, incident, S.CLOSED, actor_id=None, now=at(3))
    assert incident.status == S.CLOSED


def test_each_change_bumps_the_version(session):
    incident = new_incident(session)
    before = incident.version
    transition_incident(session, incident, S.INVESTIGATING, actor_id=None, now=at(1))
    assert incident.version == before + 1


def test_default_matrix_is_the_usual_table(session):
    for (impact, urgency), expected in DEFAULT_MATRIX.items():
        assert priority_for(session, impact, urgency) == expected
    assert priority_for(session, Level.HIGH, Level.HIGH) == Priority.P1
    assert priority_for(session, Level.LOW, Level.LOW) == Priority.P4
    assert priority_for(session, Level.MEDIUM, Level.MEDIUM) == Priority.P3
