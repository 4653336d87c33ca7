"""Opening incidents and publishing public updates.

Each function takes the session, the acting user's id and `now`; flushes, never commits; writes
the timeline event and the audit row with the change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.components.models import Component, ComponentStatus
from statuspage.components.status import set_component_status
from statuspage.incidents.errors import DomainError, NotFound
from statuspage.incidents.models import (
    ClosureReport,
    Incident,
    IncidentComponent,
    IncidentSource,
    IncidentUpdate,
    IncidentUpdateComponent,
    Level,
    PublicImpact,
    PublicStatus,
)
from statuspage.incidents.priority import priority_for
from statuspage.incidents.records import record_audit, record_event, touch

# The public impact an incident has, at least, when it puts a component in this status.
IMPACT_OF_STATUS = {
    ComponentStatus.OPERATIONAL: PublicImpact.NONE,
    ComponentStatus.UNDER_MAINTENANCE: PublicImpact.NONE,
    ComponentStatus.DEGRADED_PERFORMANCE: PublicImpact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: PublicImpact.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: PublicImpact.CRITICAL,
}
_IMPACT_ORDER = list(PublicImpact)

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


def _components_by_id(session: Session, ids: Sequence[int]) -> dict[int, Component]:
    wanted = set(ids)
    if not wanted:
        return {}
    found = {c.id: c for c in session.scalars(sa.select(Component).where(Component.id.in_(wanted)))}
    missing = wanted - found.keys()
    if missing:
        raise NotFound(
            "Unknown component id(s): " + ", ".join(str(i) for i in sorted(missing)),
            field="components",
        )
    return found


def open_incident(
    session: Session, command: NewIncident, *, actor_id: int | None, now: datetime
) -> Incident:
    title = command.title.strip()
    if not title:
        raise DomainError("An incident needs a title.", field="title")
    if len(title) > TITLE_MAX:
        raise DomainError(f"Keep the title under {TITLE_MAX} characters.", field="title")
    started = command.impact_started_at or now
    detected = command.detected_at or now
    if started > now:
        raise DomainError("Impact cannot start in the future.", field="impact_started_at")
    if detected < started:
        raise DomainError("Detection cannot come before the impact started.", field="detected_at")
    components = _components_by_id(session, command.component_ids)
    incident = Incident(
        title=title,
        description=command.description,
        source=IncidentSource(command.source),
        reporter_name=command.reporter_name.strip(),
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


def post_update(
    session: Session,
    incident: Incident,
    *,
    status: PublicStatus,
    body: str,
    component_statuses: Mapping[int, ComponentStatus] | None = None,
    deliver_notifications: bool = True,
    actor_id: int | None,
    now: datetime,
) -> IncidentUpdate:
    """Publish a public update and change the affected components' statuses with it."""
    status = PublicStatus(status)
    body = body.strip()
    if not body:
        raise DomainError("A public update needs a message.", field="body")
    wanted = {int(k): ComponentStatus(v) for k, v in (component_statuses or {}).items()}
    components = _components_by_id(session, list(wanted))

    update = IncidentUpdate(
        incident_id=incident.id,
        status=status,
        body=body,
        deliver_notifications=deliver_notifications,
        author_id=actor_id,
        created_at=now,
        published_at=now,
    )
    session.add(update)
    affected = {link.component_id: link for link in incident.affected}
    for component_id, new_status in wanted.items():
        component = components[component_id]
        update.component_changes.append(
            IncidentUpdateComponent(
                component_id=component_id, old_status=component.status, new_status=new_status
            )
        )
        set_component_status(
            session, component, new_status, now=now, incident_id=incident.id, actor_id=actor_id
        )
        link = affected.get(component_id)
        if link is None:
            link = IncidentComponent(component_id=component_id, status=new_status)
            incident.affected.append(link)
            affected[component_id] = link
        else:
            link.status = new_status
        impact = IMPACT_OF_STATUS[new_status]
        if _IMPACT_ORDER.index(impact) > _IMPACT_ORDER.index(incident.public_impact):
            incident.public_impact = impact

    first = not incident.is_public
    incident.is_public = True
    if incident.published_at is None:
        incident.published_at = now
    incident.public_status = status
    if status == PublicStatus.MONITORING and incident.monitoring_at is None:
        incident.monitoring_at = now
    if status == PublicStatus.RESOLVED:
        incident.public_resolved_at = now
    elif incident.public_resolved_at is not None:
        incident.public_resolved_at = None  # reopened publicly
    touch(incident, now)
    session.flush()
    record_event(
        session,
        incident.id,
        "public_update",
        f"Public update published ({status.value})" + (": incident is now public" if first else ""),
        actor_id=actor_id,
        now=now,
        data={"update_id": update.id},
    )
    record_audit(
        session,
        "incident_update",
        update.id,
        "publish",
        {
            "incident_id": incident.id,
            "status": status,
            "components": {str(k): v.value for k, v in wanted.items()},
            "deliver_notifications": deliver_notifications,
        },
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return update


@dataclass(frozen=True)
class ClosureReportText:
    summary: str
    impact: str
    cause: str
    resolution: str
    prevention: str


def write_closure_report(
    session: Session,
    incident: Incident,
    text: ClosureReportText,
    *,
    actor_id: int | None,
    now: datetime,
) -> ClosureReport:
    for name in ("summary", "impact", "cause", "resolution", "prevention"):
        if not getattr(text, name).strip():
            raise DomainError(f"The closure report needs its {name}.", field=name)
    report = incident.closure_report or ClosureReport(incident_id=incident.id, created_at=now)
    report.summary = text.summary.strip()
    report.impact = text.impact.strip()
    report.cause = text.cause.strip()
    report.resolution = text.resolution.strip()
    report.prevention = text.prevention.strip()
    report.author_id = actor_id
    report.published_at = now if incident.is_public else None
    incident.closure_report = report
    incident.updated_at = now
    session.flush()
    record_event(
        session, incident.id, "closure_report", "Closure report written", actor_id=actor_id, now=now
    )
    record_audit(
        session,
        "closure_report",
        report.id,
        "write",
        {"incident_id": incident.id},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return report


def get_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"There is no incident {incident_id}.")
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
) -> Incident:
    """Set category, impact and urgency; the priority follows from the stored matrix."""
    from statuspage.incidents.models import Category

    for name, value in (("category", category_id), ("subcategory", subcategory_id)):
        if value is not None and session.get(Category, value) is None:
            raise NotFound(f"There is no {name} {value}.", field=name)
    if subcategory_id is not None:
        sub = session.get(Category, subcategory_id)
        if sub is not None and sub.parent_id != category_id:
            raise DomainError("That subcategory belongs to another category.", field="subcategory")
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
    record_event(
        session,
        incident.id,
        "categorized",
        f"Categorized: impact {incident.impact.value}, urgency {incident.urgency.value}, "
        f"priority {incident.priority.value}",
        actor_id=actor_id,
        now=now,
    )
    record_audit(
        session, "incident", incident.id, "categorize", changes, actor_id=actor_id, now=now
    )
    session.flush()
    return incident
