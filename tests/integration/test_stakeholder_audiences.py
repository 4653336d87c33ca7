"""The stakeholder summary names the audiences an incident concerns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from statuspage.audiences import manage
from statuspage.incidents.operations import NewIncident, open_incident, post_update
from statuspage.notifications.stakeholder_email import affected_audiences


def test_affected_audiences_follow_the_updates_addressed_to_them(
    session: Any, make_component: Callable[..., Any], now: datetime
) -> None:
    api = make_component("API")
    enterprise = manage.create_audience(
        session, manage.AudienceFields(name="Enterprise customers"), actor_id=None, now=now
    )
    manage.create_audience(session, manage.AudienceFields(name="Acme Corp"), actor_id=None, now=now)
    incident = open_incident(
        session,
        NewIncident(title="Slow API", impact_started_at=now, component_ids=[api.id]),
        actor_id=None,
        now=now,
    )
    session.commit()
    assert affected_audiences(session, incident) == []

    post_update(
        session,
        incident,
        status="identified",
        body="Your cluster fails over.",
        audience_ids=[enterprise.id],
        actor_id=None,
        now=now,
    )
    session.commit()
    assert affected_audiences(session, incident) == ["Enterprise customers"]

    post_update(
        session, incident, status="investigating", body="Slow answers.", actor_id=None, now=now
    )
    session.commit()
    session.refresh(incident)
    assert affected_audiences(session, incident) == ["Public", "Enterprise customers"]
