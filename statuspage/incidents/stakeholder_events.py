"""Where incident events tell stakeholder lists (`statuspage.stakeholders`).

Each function here is called from the one domain function where its event happens, inside
that change's transaction, so the stakeholder message and its outbox row commit with the
change or not at all:

- declared, priority raised: `priority_changed`, from the two functions that set a priority,
  `operations.categorize_incident` and `casework.override_priority`;
- status changed, resolved: `status_changed`, from `lifecycle.transition_incident`;
- SLA breached: `sla_breached`, from `escalation._record` (once per breach, under its claim);
- review published: `review_published`, from `reviews.publish_review` (its first publication).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from statuspage.incidents.models import Incident, IncidentStatus, Priority
from statuspage.stakeholders.models import StakeholderEvent
from statuspage.stakeholders.notify import notify_stakeholders, priority_event


def _priority(incident: Incident) -> str | None:
    return incident.priority.value if incident.priority is not None else None


def priority_changed(
    session: Session,
    incident: Incident,
    before: Priority | None,
    *,
    actor_id: int | None,
    now: datetime,
) -> None:
    old = before.value if before is not None else None
    new = _priority(incident)
    event = priority_event(old, new)
    if event is None:
        return
    detail = (
        f"{new} declared"
        if event == StakeholderEvent.DECLARED
        else f"priority raised from {old} to {new}"
    )
    notify_stakeholders(
        session,
        incident_id=incident.id,
        priority=new,
        event=event,
        detail=detail,
        actor_id=actor_id,
        now=now,
    )


def status_changed(
    session: Session,
    incident: Incident,
    before: IncidentStatus,
    *,
    actor_id: int | None,
    now: datetime,
) -> None:
    target = incident.status
    if target == IncidentStatus.RESOLVED:
        event, detail = StakeholderEvent.RESOLVED, f"resolved ({_priority(incident)})"
    else:
        event = StakeholderEvent.STATUS_CHANGED
        detail = f"status changed from {before.value} to {target.value}".replace("_", " ")
    notify_stakeholders(
        session,
        incident_id=incident.id,
        priority=_priority(incident),
        event=event,
        detail=detail,
        actor_id=actor_id,
        now=now,
    )


def sla_breached(session: Session, incident: Incident, target_label: str, *, now: datetime) -> None:
    notify_stakeholders(
        session,
        incident_id=incident.id,
        priority=_priority(incident),
        event=StakeholderEvent.SLA_BREACHED,
        detail=f"SLA breached: {target_label}",
        actor_id=None,
        now=now,
    )


def review_published(
    session: Session, incident: Incident, *, actor_id: int | None, now: datetime
) -> None:
    notify_stakeholders(
        session,
        incident_id=incident.id,
        priority=_priority(incident),
        event=StakeholderEvent.REVIEW_PUBLISHED,
        detail="post-incident review published",
        actor_id=actor_id,
        now=now,
    )
