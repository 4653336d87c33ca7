"""The SLA job: notice clocks at risk or breached, record each once, escalate breaches.

`check_sla` is run every minute by the worker (`statuspage.worker.incidents`) and on demand by
`flask --app app sla check`. For every incident that is not closed or cancelled and has a
priority, it computes the clocks (`sla.clocks_for`) and, for each *running* clock that reached
75% (at risk) or 100% (breached) and has no `SlaEvent` for that state yet, writes the event,
a timeline event (`sla_at_risk` / `sla_breached`) and an audit row. A breach also sends one
email to the priority's `escalation_contacts` and stores the addresses in
`SlaEvent.escalated_to`.

Decisions, and why:

- **Only running clocks escalate.** A clock that already stopped (the incident was acknowledged,
  mitigated or resolved) asks nobody to act any more, and escalating it afterwards (say, the
  first run after the worker was down, or after demo data was loaded) would only be noise. What
  happened remains computable from the milestones; the admin page shows stopped clocks too.
- **`Incident.sla_state` is the worst state of the running clocks**, so it goes back to `ok`
  when they stop (after resolution, or when a fresh public update restarts the cadence clock).
  It drives the badge in the incident list, which says "needs attention now"; the history of
  breaches is kept by the `SlaEvent` rows, the timeline and the audit log. Changing it does not
  bump `Incident.version`: it is derived by the job, and bumping it would make a responder's
  open form fail with an edit conflict every time a clock crossed a line.
- **Once only, also when two runs overlap** (two workers, or the worker and the CLI). The claim
  is `INSERT ... ON CONFLICT DO NOTHING RETURNING id` against `uq_sla_event_once`: the run
  whose insert returns the id owns the escalation; the other gets nothing back (on PostgreSQL it
  waits for the first transaction and then sees the row) and moves on. This is used instead of
  a savepoint and catching `IntegrityError` because SQLite's Python driver does not open a
  transaction before `SAVEPOINT`, so releasing the savepoint would commit the job's work half
  way; the insert needs no savepoint and leaves the transaction usable. Other databases fall
  back to the savepoint.
- **The public-update cadence repeats.** Its clock restarts with every public update, but the
  unique constraint allows one row per incident, target and state. A clock that started after
  the recorded event is a new cycle: the row is taken over with a compare-and-set `UPDATE`
  (guarded by its old `occurred_at`, so again exactly one run wins); the timeline and audit log
  keep every cycle.
- **The email goes out after the claim and before the caller commits**: at least once. If the
  transport fails, the claim is withdrawn and nothing is recorded for that clock, so the next
  run tries again; if the commit fails after a successful send, the next run sends again.
  Losing an escalation is worse than sending it twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from statuspage.core.records import record_audit, record_event
from statuspage.incidents import stakeholder_events
from statuspage.incidents.models import (
    Incident,
    IncidentStatus,
    Priority,
    SlaEvent,
    SlaPolicy,
    SlaState,
    SlaTarget,
)
from statuspage.incidents.sla import CLOSED_STATES, SlaClock, clocks_for, worst_state
from statuspage.mail.message import InvalidAddress, format_address
from statuspage.mail.templates import render_email

if TYPE_CHECKING:
    from statuspage.mail.mailer import Mailer

logger = logging.getLogger(__name__)

TARGET_LABELS = {
    SlaTarget.ACKNOWLEDGE: "acknowledge target",
    SlaTarget.MITIGATE: "mitigate target",
    SlaTarget.RESOLVE: "resolve target",
    SlaTarget.UPDATE: "public update cadence",
}
# "Target: resolve within 480 minutes" in the escalation email.
TARGET_PHRASES = {
    SlaTarget.ACKNOWLEDGE: "acknowledge within",
    SlaTarget.MITIGATE: "mitigate within",
    SlaTarget.RESOLVE: "resolve within",
    SlaTarget.UPDATE: "a public update at least every",
}
TIMELINE_KINDS = {SlaState.AT_RISK: "sla_at_risk", SlaState.BREACHED: "sla_breached"}
STATE_WORDS = {SlaState.AT_RISK: "at risk", SlaState.BREACHED: "breached"}


@dataclass(frozen=True)
class SlaFinding:
    """One clock crossing one line, as recorded by this run."""

    incident_id: int
    priority: Priority | None
    target: SlaTarget
    state: SlaState
    due_at: datetime
    escalated_to: int  # how many addresses the escalation email went to


@dataclass
class SlaCheckReport:
    checked: int = 0  # incidents looked at
    findings: list[SlaFinding] = field(default_factory=list)
    emails_sent: int = 0
    failures: int = 0  # escalations whose email failed; retried by the next run
    state_changes: int = 0  # incidents whose `sla_state` changed

    @property
    def at_risk(self) -> int:
        return sum(1 for f in self.findings if f.state == SlaState.AT_RISK)

    @property
    def breached(self) -> int:
        return sum(1 for f in self.findings if f.state == SlaState.BREACHED)


class _Recorded(NamedTuple):
    id: int
    due_at: datetime
    occurred_at: datetime
    escalated_to: list[str]


class _Claim(NamedTuple):
    event_id: int
    previous: _Recorded | None  # what to put back when a taken-over row must be released


OPEN_STATES = tuple(status for status in IncidentStatus if status not in CLOSED_STATES)
FLAGGED_STATES = tuple(state for state in SlaState if state != SlaState.OK)


def watched_incidents() -> sa.Select[tuple[Incident]]:
    """The incidents whose SLA clocks the check looks at. Said with what the columns are, not
    what they are not, so that each half is a seek on its index (`ix_incident_status`,
    `ix_incident_sla_state`): the closed incidents, nearly all of them, are never read."""
    return (
        sa.select(Incident)
        .where(
            sa.or_(
                sa.and_(Incident.status.in_(OPEN_STATES), Incident.priority.is_not(None)),
                # Closed, cancelled or unprioritized but still showing a badge: reset it.
                Incident.sla_state.in_(FLAGGED_STATES),
            )
        )
        .order_by(Incident.id)
    )


def check_sla(session: Session, *, now: datetime, mailer: Mailer) -> SlaCheckReport:
    """Record and escalate the SLA clocks of every open incident; flushes, never commits."""
    report = SlaCheckReport()
    incidents = session.scalars(watched_incidents()).all()
    if not incidents:
        return report
    policies = {policy.priority: policy for policy in session.scalars(sa.select(SlaPolicy))}
    recorded = _recorded_events(session, [incident.id for incident in incidents])

    for incident in incidents:
        report.checked += 1
        running = [clock for clock in clocks_for(session, incident, now=now) if clock.running]
        for clock in running:
            if clock.state == SlaState.OK:
                continue
            previous = recorded.get((incident.id, clock.target, clock.state))
            if previous is not None and not _new_cycle(clock, previous):
                continue
            policy = policies.get(incident.priority) if incident.priority else None
            _record(
                session, incident, policy, clock, previous, now=now, mailer=mailer, report=report
            )
        _set_state(session, incident, worst_state(running), now=now, report=report)
    session.flush()
    return report


def _recorded_events(
    session: Session, incident_ids: list[int]
) -> dict[tuple[int, SlaTarget, SlaState], _Recorded]:
    """What earlier runs recorded, read once. Possibly stale by the time it is used: another
    run may record the same crossing meanwhile, which `_claim` notices."""
    rows = session.execute(
        sa.select(
            SlaEvent.id,
            SlaEvent.incident_id,
            SlaEvent.target,
            SlaEvent.state,
            SlaEvent.due_at,
            SlaEvent.occurred_at,
            SlaEvent.escalated_to,
        ).where(SlaEvent.incident_id.in_(incident_ids))
    )
    return {
        (row.incident_id, row.target, row.state): _Recorded(
            row.id, row.due_at, row.occurred_at, list(row.escalated_to or [])
        )
        for row in rows
    }


def _new_cycle(clock: SlaClock, previous: _Recorded) -> bool:
    """The cadence clock restarted (a public update) since the recorded crossing."""
    return clock.target == SlaTarget.UPDATE and clock.started_at > previous.occurred_at


def _record(
    session: Session,
    incident: Incident,
    policy: SlaPolicy | None,
    clock: SlaClock,
    previous: _Recorded | None,
    *,
    now: datetime,
    mailer: Mailer,
    report: SlaCheckReport,
) -> None:
    claim = _claim(session, incident.id, clock, previous, now=now)
    if claim is None:
        logger.info(
            "Incident %s: %s %s already recorded by another run",
            incident.id,
            clock.target.value,
            clock.state.value,
        )
        return
    label = TARGET_LABELS[clock.target]
    due = _utc(clock.due_at)
    contacts: list[str] = []
    if clock.state == SlaState.BREACHED:
        contacts = _usable_contacts(policy)
        if contacts:
            try:
                mailer.send(_escalation_message(incident, policy, clock, contacts, mailer, now))
            except Exception:
                # Withdraw the claim: nothing is recorded, and the next run tries again.
                logger.exception(
                    "Incident %s: the SLA escalation email (%s) failed; will retry",
                    incident.id,
                    clock.target.value,
                )
                _release(session, claim)
                report.failures += 1
                return
            report.emails_sent += 1
            session.execute(
                sa.update(SlaEvent)
                .where(SlaEvent.id == claim.event_id)
                .values(escalated_to=contacts)
                .execution_options(synchronize_session=False)
            )
        else:
            logger.warning(
                "Incident %s: %s breached but %s has no usable escalation contacts",
                incident.id,
                clock.target.value,
                incident.priority.value if incident.priority else "its priority",
            )
        summary = f"SLA breached: {label} was due {due}"
        summary += (
            f"; escalated to {len(contacts)} contact(s)"
            if contacts
            else "; no usable escalation contacts are set"
        )
    else:
        summary = f"SLA at risk: {label} due {due} ({int(clock.fraction * 100)}% used)"

    data = {
        "target": clock.target.value,
        "state": clock.state.value,
        "due_at": clock.due_at.isoformat(),
        "started_at": clock.started_at.isoformat(),
        "escalated_count": len(contacts),
    }
    record_event(
        session,
        incident.id,
        TIMELINE_KINDS[clock.state],
        summary,
        actor_id=None,
        now=now,
        data=data,
    )
    record_audit(
        session,
        "incident",
        incident.id,
        TIMELINE_KINDS[clock.state],
        {
            "sla_target": clock.target,
            "sla_due_at": clock.due_at,
            "sla_minutes_used": round(clock.minutes_used, 1),
            "escalated_to": contacts,
        },
        actor_id=None,
        now=now,
    )
    if clock.state == SlaState.BREACHED:
        stakeholder_events.sla_breached(session, incident, label, now=now)
    logger.info(
        "Incident %s: %s %s (due %s), escalated to %d contact(s)",
        incident.id,
        clock.target.value,
        clock.state.value,
        due,
        len(contacts),
    )
    report.findings.append(
        SlaFinding(
            incident.id, incident.priority, clock.target, clock.state, clock.due_at, len(contacts)
        )
    )


def _claim(
    session: Session,
    incident_id: int,
    clock: SlaClock,
    previous: _Recorded | None,
    *,
    now: datetime,
) -> _Claim | None:
    """Make this run the one that records the crossing, or return None if another run did."""
    if previous is not None:
        taken = session.execute(
            sa.update(SlaEvent)
            .where(SlaEvent.id == previous.id, SlaEvent.occurred_at == previous.occurred_at)
            .values(due_at=clock.due_at, occurred_at=now, escalated_to=[])
            .execution_options(synchronize_session=False)
        )
        return _Claim(previous.id, previous) if taken.rowcount == 1 else None

    values = {
        "incident_id": incident_id,
        "target": clock.target,
        "state": clock.state,
        "due_at": clock.due_at,
        "occurred_at": now,
        "escalated_to": [],
    }
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(SlaEvent)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["incident_id", "target", "state"])
            .returning(SlaEvent.id)
        )
        event_id = session.execute(statement).scalar_one_or_none()
        return _Claim(event_id, None) if event_id is not None else None
    try:
        with session.begin_nested():
            event = SlaEvent(**values)
            session.add(event)
    except IntegrityError:
        return None
    return _Claim(event.id, None)


def _release(session: Session, claim: _Claim) -> None:
    """Undo a claim whose escalation could not be sent."""
    if claim.previous is None:
        session.execute(
            sa.delete(SlaEvent)
            .where(SlaEvent.id == claim.event_id)
            .execution_options(synchronize_session=False)
        )
        return
    session.execute(
        sa.update(SlaEvent)
        .where(SlaEvent.id == claim.event_id)
        .values(
            due_at=claim.previous.due_at,
            occurred_at=claim.previous.occurred_at,
            escalated_to=claim.previous.escalated_to,
        )
        .execution_options(synchronize_session=False)
    )


def _set_state(
    session: Session, incident: Incident, state: SlaState, *, now: datetime, report: SlaCheckReport
) -> None:
    old = incident.sla_state
    if old == state:
        return
    # Compare-and-set, so that of two overlapping runs only one writes the audit row.
    changed = session.execute(
        sa.update(Incident)
        .where(Incident.id == incident.id, Incident.sla_state == old)
        .values(sla_state=state, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        session.refresh(incident, ["sla_state", "updated_at"])
        return
    # The row has them already; tell the session so without making the incident dirty.
    set_committed_value(incident, "sla_state", state)
    set_committed_value(incident, "updated_at", now)
    record_audit(
        session,
        "incident",
        incident.id,
        "sla_state",
        {"sla_state": [old, state]},
        actor_id=None,
        now=now,
    )
    report.state_changes += 1
    logger.info("Incident %s: SLA state %s -> %s", incident.id, old.value, state.value)


def _usable_contacts(policy: SlaPolicy | None) -> list[str]:
    usable = []
    for position, contact in enumerate((policy.escalation_contacts or []) if policy else [], 1):
        try:
            usable.append(format_address(str(contact)))
        except InvalidAddress:
            # Its position, not the address: logs are no place for addresses.
            logger.warning(
                "Escalation contact %d of the %s SLA policy is not a usable address; skipped",
                position,
                policy.priority.value if policy else "?",
            )
    return usable


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _escalation_message(
    incident: Incident,
    policy: SlaPolicy | None,
    clock: SlaClock,
    contacts: list[str],
    mailer: Mailer,
    now: datetime,
) -> EmailMessage:
    """The email to the escalation contacts, from `templates/email/sla_escalation.*`."""
    priority = incident.priority.value if incident.priority else "-"
    label = TARGET_LABELS[clock.target]
    unit = (
        "business minutes (Mon-Fri 09:00-17:00 UTC)"
        if policy and policy.business_hours_only
        else "minutes"
    )
    email = render_email(
        "sla_escalation",
        f"[SLA breached] {priority} #{incident.id} {incident.title}: {label}",
        {
            "site_name": mailer.site_name,
            "incident": incident,
            "label": label,
            "priority": priority,
            "policy_name": policy.name if policy and policy.name else "",
            "status": incident.status.value.replace("_", " "),
            "target": f"{TARGET_PHRASES[clock.target]} {clock.minutes_allowed} {unit}",
            "started": _utc(clock.started_at),
            "due": _utc(clock.due_at),
            "link": mailer.url(f"/admin/incidents/{incident.id}"),
        },
    )
    return mailer.message(email, to=contacts, now=now)
