"""The incident lifecycle: allowed moves, their guards, and milestones stamped once.

See docs/architecture.md for the table; it is the same as `ALLOWED_MOVES` below.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.errors import InvalidTransition
from statuspage.core.records import bump_public_version, record_audit, record_event, touch
from statuspage.incidents import stakeholder_events
from statuspage.incidents.models import (
    ClosureReport,
    Incident,
    IncidentStatus,
    Priority,
    Task,
    TaskKind,
    TaskStatus,
)
from statuspage.incidents.reviews import review_is_approved

S = IncidentStatus
# Entering or leaving these changes what a public incident's page shows.
PUBLICLY_FINAL = frozenset({IncidentStatus.CLOSED, IncidentStatus.CANCELLED})

ALLOWED_MOVES: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.NEW: frozenset({S.TRIAGE, S.INVESTIGATING, S.CANCELLED}),
    S.TRIAGE: frozenset({S.INVESTIGATING, S.CANCELLED}),
    S.INVESTIGATING: frozenset({S.IDENTIFIED, S.MITIGATED, S.RESOLVED, S.CANCELLED}),
    S.IDENTIFIED: frozenset({S.INVESTIGATING, S.MITIGATED, S.RESOLVED}),
    S.MITIGATED: frozenset({S.INVESTIGATING, S.RESOLVED}),
    S.RESOLVED: frozenset({S.INVESTIGATING, S.POST_INCIDENT, S.CLOSED}),
    S.POST_INCIDENT: frozenset({S.CLOSED, S.INVESTIGATING}),
    S.CLOSED: frozenset({S.INVESTIGATING}),
    S.CANCELLED: frozenset({S.TRIAGE}),
}

# The milestone each status stamps on first entry.
MILESTONES: dict[IncidentStatus, str] = {
    S.IDENTIFIED: "identified_at",
    S.MITIGATED: "mitigated_at",
    S.RESOLVED: "resolved_at",
    S.CLOSED: "closed_at",
    S.CANCELLED: "cancelled_at",
}

# Priorities whose incidents need an approved post-incident review before closing, unless the
# caller says otherwise (the site's setting REVIEW_REQUIRED_PRIORITIES, passed in by the views).
REVIEW_REQUIRED_FOR = frozenset({Priority.P1, Priority.P2})


@dataclass(frozen=True)
class TransitionDetails:
    """What some moves need: a reason, the workaround, the resolution and its verification."""

    reason: str = ""
    workaround: str = ""
    resolution_code: str = ""
    resolution_summary: str = ""
    verification: str = ""


def transition_incident(
    session: Session,
    incident: Incident,
    target: IncidentStatus,
    *,
    actor_id: int | None,
    now: datetime,
    details: TransitionDetails | None = None,
    review_required_for: Iterable[Priority | str] = REVIEW_REQUIRED_FOR,
) -> Incident:
    """Move the incident to `target` or raise `InvalidTransition` saying why not.

    `review_required_for`: the priorities whose incidents need an approved post-incident
    review before closing (the site's setting; P1 and P2 by default).
    """
    details = details or TransitionDetails()
    required = frozenset(Priority(value) for value in review_required_for)
    target = IncidentStatus(target)
    current = incident.status
    if target not in ALLOWED_MOVES[current]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED_MOVES[current]))
        raise InvalidTransition(
            f"An incident that is {current.value} cannot move to {target.value}; "
            f"it may move to: {allowed}."
        )
    _check_guard(session, incident, target, details, required)

    changes: dict[str, object] = {"status": [current, target]}
    if target == S.MITIGATED:
        incident.workaround = details.workaround.strip()
        changes["workaround"] = incident.workaround
    if target == S.RESOLVED:
        incident.resolution_code = details.resolution_code.strip()
        incident.resolution_summary = details.resolution_summary.strip()
        incident.verification = details.verification.strip()
        changes.update(
            resolution_code=incident.resolution_code,
            resolution_summary=incident.resolution_summary,
        )
    if target == S.CANCELLED:
        incident.cancel_reason = details.reason.strip()
        changes["cancel_reason"] = incident.cancel_reason
    if target == S.INVESTIGATING and incident.acknowledged_at is None:
        incident.acknowledged_at = now
        changes["acknowledged_at"] = now
    milestone = MILESTONES.get(target)
    if milestone and getattr(incident, milestone) is None:
        setattr(incident, milestone, now)
        changes[milestone] = now

    incident.status = target
    changes["version"] = touch(incident, now)
    summary = f"Status changed from {current.value} to {target.value}"
    if details.reason.strip():
        summary += f": {details.reason.strip()}"
    record_event(
        session,
        incident.id,
        "status_change",
        summary,
        actor_id=actor_id,
        now=now,
        data={"from": current.value, "to": target.value},
    )
    record_audit(
        session, "incident", incident.id, "transition", changes, actor_id=actor_id, now=now
    )
    stakeholder_events.status_changed(session, incident, current, actor_id=actor_id, now=now)
    if incident.is_public and {current, target} & PUBLICLY_FINAL:
        # The public page stops (or starts again) promising the next update.
        bump_public_version(session, now)
    session.flush()
    return incident


def _check_guard(
    session: Session,
    incident: Incident,
    target: IncidentStatus,
    details: TransitionDetails,
    review_required_for: frozenset[Priority],
) -> None:
    current = incident.status
    if current == S.TRIAGE and target != S.CANCELLED:
        missing = [
            label
            for label, value in (
                ("category", incident.category_id),
                ("impact", incident.impact),
                ("urgency", incident.urgency),
            )
            if value is None
        ]
        if missing:
            raise InvalidTransition(
                "Leaving triage needs " + ", ".join(missing) + " to be set first."
            )
    if target == S.MITIGATED and not details.workaround.strip():
        raise InvalidTransition("Describe the workaround or fix in place to mark it mitigated.")
    if target == S.RESOLVED:
        absent = [
            label
            for label, value in (
                ("a resolution code", details.resolution_code),
                ("a resolution summary", details.resolution_summary),
                ("how the fix was verified", details.verification),
            )
            if not value.strip()
        ]
        if absent:
            raise InvalidTransition("Resolving needs " + ", ".join(absent) + ".")
    if target == S.CANCELLED and not details.reason.strip():
        raise InvalidTransition("Cancelling needs a reason (false alarm, duplicate of ...).")
    if current == S.CLOSED and target == S.INVESTIGATING and not details.reason.strip():
        raise InvalidTransition("Reopening a closed incident needs a reason.")
    if target == S.CLOSED:
        _check_closable(session, incident, review_required_for)


def _check_closable(
    session: Session, incident: Incident, review_required_for: frozenset[Priority]
) -> None:
    open_response_tasks = session.scalar(
        sa.select(sa.func.count(Task.id)).where(
            Task.incident_id == incident.id,
            Task.kind == TaskKind.RESPONSE,
            Task.status == TaskStatus.OPEN,
        )
    )
    if open_response_tasks:
        raise InvalidTransition(
            f"{open_response_tasks} response task(s) are still open; finish or cancel them first."
        )
    if incident.is_public:
        has_report = session.scalar(
            sa.select(ClosureReport.id).where(ClosureReport.incident_id == incident.id)
        )
        if has_report is None:
            raise InvalidTransition(
                "This incident had public updates: write its closure report before closing."
            )
    if incident.priority in review_required_for and not review_is_approved(session, incident.id):
        raise InvalidTransition(
            f"{incident.priority.value} incidents need an approved post-incident review first."
        )
