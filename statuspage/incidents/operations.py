"""Opening and categorizing incidents.

Each function takes the session, the acting user's id and `now`; flushes, never commits; writes
the timeline event and the audit row with the change. Publishing a public update is
`statuspage.incidents.publishing`; `post_update` and `IMPACT_OF_STATUS` are re-exported here for
the callers that import them from this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from statuspage.core.errors import DomainError, NotFound
from statuspage.core.records import record_audit, record_event, touch
from statuspage.core.text import single_line
from statuspage.core.translation import N_
from statuspage.incidents import stakeholder_events
from statuspage.incidents.models import (
    Incident,
    IncidentComponent,
    IncidentSource,
    Level,
)
from statuspage.incidents.priority import priority_for
from statuspage.incidents.publishing import IMPACT_OF_STATUS as IMPACT_OF_STATUS
from statuspage.incidents.publishing import components_by_id
from statuspage.incidents.publishing import post_update as post_update

TITLE_MAX = 200


@dataclass(frozen=True)
class NewIncident:
    title: str
    description: str = ""
    source: IncidentSource = IncidentSource.STAFF
    reporter_name: str = ""
    reporter_contact: str = ""
    impact_started_at: datetime | None = None
    detected_at: datetime | None = None
    component_ids: Sequence[int] = field(default_factory=tuple)


def open_incident(
    session: Session, command: NewIncident, *, actor_id: int | None, now: datetime
) -> Incident:
    title = single_line(command.title)
    if not title:
        raise DomainError(N_("An incident needs a title."), field="title")
    if len(title) > TITLE_MAX:
        raise DomainError(
            N_("Keep the title under %(max)s characters."), max=TITLE_MAX, field="title"
        )
    started = command.impact_started_at or now
    detected = command.detected_at or now
    if started > now:
        raise DomainError(N_("Impact cannot start in the future."), field="impact_started_at")
    if detected < started:
        raise DomainError(
            N_("Detection cannot come before the impact started."), field="detected_at"
        )
    components = components_by_id(session, command.component_ids)
    incident = Incident(
        title=title,
        description=command.description,
        source=IncidentSource(command.source),
        reporter_name=single_line(command.reporter_name),
        reporter_contact=command.reporter_contact.strip(),
        impact_started_at=started,
        detected_at=detected,
        reported_at=now,
        created_at=now,
        updated_at=now,
    )
    incident.affected = [
        IncidentComponent(component_id=component.id, status=component.status)
        for component in components.values()
    ]
    session.add(incident)
    session.flush()
    record_event(
        session, incident.id, "logged", f"Incident logged: {title}", actor_id=actor_id, now=now
    )
    record_audit(
        session,
        "incident",
        incident.id,
        "create",
        {
            "title": title,
            "source": incident.source,
            "impact_started_at": started,
            "detected_at": detected,
            "components": sorted(components),
        },
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return incident


def get_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(N_("There is no incident %(id)s."), id=incident_id)
    return incident


def categorize_incident(
    session: Session,
    incident: Incident,
    *,
    category_id: int | None,
    subcategory_id: int | None,
    impact: Level,
    urgency: Level,
    actor_id: int | None,
    now: datetime,
    reason: str = "",
) -> Incident:
    """Set category, impact and urgency; the priority follows from the stored matrix.

    `reason` says where impact and urgency came from when no person chose them (an alert's
    severity); the timeline and the audit entry carry it.
    """
    from statuspage.incidents.models import Category

    for name, value in (("category", category_id), ("subcategory", subcategory_id)):
        if value is not None and session.get(Category, value) is None:
            message = N_("There is no category %(id)s.") if name == "category" else None
            raise NotFound(message or N_("There is no subcategory %(id)s."), field=name, id=value)
    if subcategory_id is not None:
        sub = session.get(Category, subcategory_id)
        if sub is not None and sub.parent_id != category_id:
            raise DomainError(
                N_("That subcategory belongs to another category."), field="subcategory"
            )
    before = {
        "category_id": incident.category_id,
        "subcategory_id": incident.subcategory_id,
        "impact": incident.impact,
        "urgency": incident.urgency,
        "priority": incident.priority,
    }
    incident.category_id = category_id
    incident.subcategory_id = subcategory_id
    incident.impact = Level(impact)
    incident.urgency = Level(urgency)
    incident.priority = priority_for(session, incident.impact, incident.urgency)
    incident.priority_override_reason = ""
    after = {
        "category_id": category_id,
        "subcategory_id": subcategory_id,
        "impact": incident.impact,
        "urgency": incident.urgency,
        "priority": incident.priority,
    }
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    changes["version"] = touch(incident, now)
    summary = (
        f"Categorized: impact {incident.impact.value}, urgency {incident.urgency.value}, "
        f"priority {incident.priority.value}"
    )
    if reason:
        changes["reason"] = reason
        summary += f" ({reason})"
    record_event(session, incident.id, "categorized", summary, actor_id=actor_id, now=now)
    record_audit(
        session, "incident", incident.id, "categorize", changes, actor_id=actor_id, now=now
    )
    stakeholder_events.priority_changed(
        session, incident, before["priority"], actor_id=actor_id, now=now
    )
    session.flush()
    return incident
