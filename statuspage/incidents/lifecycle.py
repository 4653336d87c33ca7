"""The incident lifecycle: allowed moves, their guards, and milestones stamped once.

See docs/architecture.md for the table; it is the same as `ALLOWED_MOVES` below.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.errors import InvalidTransition, Term, Terms
from statuspage.core.records import bump_public_version, record_audit, record_event, touch
from statuspage.core.translation import N_
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
        raise InvalidTransition(
            N_(
                "An incident that is %(current)s cannot move to %(target)s; "
                "it may move to: %(allowed)s."
            ),
            current=status_term(current),
            target=status_term(target),
            allowed=Terms(status_term(s) for s in sorted(ALLOWED_MOVES[current])),
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
            Term(word, label)
            for word, label, value in (
                ("category", N_("Category"), incident.category_id),
                ("impact", N_("Impact"), incident.impact),
                ("urgency", N_("Urgency"), incident.urgency),
            )
            if value is None
        ]
        if missing:
            raise InvalidTransition(
                N_("Leaving triage needs %(missing)s to be set first."), missing=Terms(missing)
            )
    if target == S.MITIGATED and not details.workaround.strip():
        raise InvalidTransition(N_("Describe the workaround or fix in place to mark it mitigated."))
    if target == S.RESOLVED:
        absent = [
            Term(word, label)
            for word, label, value in (
                ("a resolution code", N_("Resolution code"), details.resolution_code),
                ("a resolution summary", N_("Resolution summary"), details.resolution_summary),
                ("how the fix was verified", N_("How the fix was verified"), details.verification),
            )
            if not value.strip()
        ]
        if absent:
            raise InvalidTransition(N_("Resolving needs %(absent)s."), absent=Terms(absent))
    if target == S.CANCELLED and not details.reason.strip():
        raise InvalidTransition(N_("Cancelling needs a reason (false alarm, duplicate of ...)."))
    if current == S.CLOSED and target == S.INVESTIGATING and not details.reason.strip():
        raise InvalidTransition(N_("Reopening a closed incident needs a reason."))
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
            N_("%(count)s response task(s) are still open; finish or cancel them first."),
            count=open_response_tasks,
        )
    if incident.is_public:
        has_report = session.scalar(
            sa.select(ClosureReport.id).where(ClosureReport.incident_id == incident.id)
        )
        if has_report is None:
            raise InvalidTransition(
                N_("This incident had public updates: write its closure report before closing.")
            )
    if incident.priority in review_required_for and not review_is_approved(session, incident.id):
        raise InvalidTransition(
            N_("%(priority)s incidents need an approved post-incident review first."),
            priority=incident.priority.value,
        )


# The staff statuses' words in refusals: English keeps the value ("triage"), other languages
# show the label's translation.
STATUS_WORDS = {
    S.NEW: N_("New"),
    S.TRIAGE: N_("Triage"),
    S.INVESTIGATING: N_("Investigating"),
    S.IDENTIFIED: N_("Identified"),
    S.MITIGATED: N_("Mitigated"),
    S.RESOLVED: N_("Resolved"),
    S.POST_INCIDENT: N_("Post-incident"),
    S.CLOSED: N_("Closed"),
    S.CANCELLED: N_("Cancelled"),
}


def status_term(status: IncidentStatus) -> Term:
    return Term(status.value, STATUS_WORDS[IncidentStatus(status)])
