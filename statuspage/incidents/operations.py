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
from statuspage.core.errors import DomainError, NotFound
from statuspage.core.outbox import NotificationKind, queue_notification
from statuspage.core.records import bump_public_version, record_audit, record_event, touch
from statuspage.core.text import single_line
from statuspage.incidents.models import (
    Incident,
    IncidentComponent,
    IncidentSource,
    IncidentStatus,
    IncidentUpdate,
    IncidentUpdateComponent,
    Level,
    PublicImpact,
    PublicStatus,
)
from statuspage.incidents.priority import priority_for

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
    title = single_line(command.title)
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


# Lifecycle statuses in which the incident takes no more public updates.
NO_UPDATES_IN = frozenset({IncidentStatus.CLOSED, IncidentStatus.CANCELLED})


def check_open_for_updates(incident: Incident) -> None:
    """Refuse a new public update on a closed or cancelled incident."""
    if incident.status in NO_UPDATES_IN:
        raise DomainError(
            f"Incident #{incident.id} is {incident.status.value}: it takes no more public "
            "updates. Reopen it first if customers need to hear more."
        )


def parse_public_status(value: PublicStatus | str | None) -> PublicStatus:
    try:
        return PublicStatus(value)
    except ValueError:
        words = ", ".join(s.value for s in PublicStatus)
        raise DomainError(
            f"Unknown public status {value!r}; use one of {words}.", field="status"
        ) from None


def parse_component_statuses(
    component_statuses: Mapping[int, ComponentStatus | str] | None,
) -> dict[int, ComponentStatus]:
    wanted: dict[int, ComponentStatus] = {}
    for key, value in (component_statuses or {}).items():
        try:
            wanted[int(key)] = ComponentStatus(value)
        except ValueError:
            words = ", ".join(s.value for s in ComponentStatus)
            raise DomainError(
                f"Unknown component status {value!r}; use one of {words}.", field="components"
            ) from None
    return wanted


def check_next_update_at(
    next_update_at: datetime | None, status: PublicStatus, *, now: datetime
) -> None:
    if next_update_at is None:
        return
    if status == PublicStatus.RESOLVED:
        raise DomainError(
            "A resolved update promises no next update; leave the time empty.",
            field="next_update_at",
        )
    if next_update_at <= now:
        raise DomainError("Choose a next-update time in the future.", field="next_update_at")


def plan_component_changes(
    update: IncidentUpdate,
    wanted: Mapping[int, ComponentStatus],
    components: Mapping[int, Component],
) -> None:
    """Make `update.component_changes` say exactly `wanted`, old statuses as they are now.

    Rows are changed in place rather than replaced: a draft keeps its planned changes in the
    same rows, and deleting and re-inserting a row with the same key in one flush is fragile.
    """
    existing = {change.component_id: change for change in update.component_changes}
    for component_id, change in existing.items():
        if component_id not in wanted:
            update.component_changes.remove(change)
    for component_id, new_status in wanted.items():
        old_status = components[component_id].status
        change = existing.get(component_id)
        if change is None:
            update.component_changes.append(
                IncidentUpdateComponent(
                    component_id=component_id, old_status=old_status, new_status=new_status
                )
            )
        else:
            change.old_status = old_status
            change.new_status = new_status


def post_update(
    session: Session,
    incident: Incident,
    *,
    status: PublicStatus | str,
    body: str,
    component_statuses: Mapping[int, ComponentStatus | str] | None = None,
    deliver_notifications: bool = True,
    next_update_at: datetime | None = None,
    actor_id: int | None,
    now: datetime,
) -> IncidentUpdate:
    """Publish a public update and change the components' statuses with it.

    Components not yet affected by the incident are added to it (the API relies on this; the
    admin form in `incidents.updates` offers only the affected ones). The update replaces the
    incident's "next update by" promise with `next_update_at` (None: no promise).
    """
    check_open_for_updates(incident)
    status = parse_public_status(status)
    body = body.strip()
    if not body:
        raise DomainError("A public update needs a message.", field="body")
    wanted = parse_component_statuses(component_statuses)
    check_next_update_at(next_update_at, status, now=now)
    components = _components_by_id(session, list(wanted))

    update = IncidentUpdate(
        incident_id=incident.id,
        status=status,
        body=body,
        deliver_notifications=deliver_notifications,
        author_id=actor_id,
        created_at=now,
    )
    session.add(update)
    return publish_prepared_update(
        session,
        incident,
        update,
        wanted,
        components,
        next_update_at=next_update_at,
        actor_id=actor_id,
        now=now,
    )


def publish_prepared_update(
    session: Session,
    incident: Incident,
    update: IncidentUpdate,
    wanted: Mapping[int, ComponentStatus],
    components: Mapping[int, Component],
    *,
    next_update_at: datetime | None,
    actor_id: int | None,
    now: datetime,
    from_draft: bool = False,
) -> IncidentUpdate:
    """Publish `update` (new, or a draft): components, public face, history, outbox.

    The caller has validated everything; this only writes, all in the caller's transaction,
    so a failure part way leaves nothing behind once the caller rolls back.
    """
    status = PublicStatus(update.status)
    update.published_at = now
    plan_component_changes(update, wanted, components)
    affected = {link.component_id: link for link in incident.affected}
    for component_id, new_status in wanted.items():
        set_component_status(
            session,
            components[component_id],
            new_status,
            now=now,
            incident_id=incident.id,
            actor_id=actor_id,
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
    # The update keeps (or replaces) the promise of the next one, and ends any reminder.
    incident.next_update_at = next_update_at
    incident.next_update_reminded_at = None
    touch(incident, now)
    session.flush()
    what = "Draft published" if from_draft else "Public update published"
    record_event(
        session,
        incident.id,
        "public_update",
        f"{what} ({status.value})" + (": incident is now public" if first else ""),
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
            "deliver_notifications": update.deliver_notifications,
            "next_update_at": next_update_at,
            "from_draft": from_draft,
        },
        actor_id=actor_id,
        now=now,
    )
    bump_public_version(session, now)
    if update.deliver_notifications:
        queue_notification(
            session,
            NotificationKind.INCIDENT_UPDATE,
            incident_id=incident.id,
            incident_update_id=update.id,
            component_ids=[link.component_id for link in incident.affected],
            now=now,
        )
    session.flush()
    return update


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
