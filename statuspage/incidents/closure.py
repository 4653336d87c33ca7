"""Closure reports: what customers are told once an incident is over.

A report on a public incident is published when it is saved: it appears on the incident's
page and in the feeds, and its first publication writes one outbox row so subscribers are told
(later edits are published too, but notify nobody; the audit log keeps each edit, and
`published_at` stays the first publication).

A report on an incident that is not public stays internal (`published_at` NULL). If the
incident later becomes public, the report is published the next time it is saved; nothing
publishes it automatically.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.errors import DomainError, Term
from statuspage.core.outbox import NotificationKind, queue_notification
from statuspage.core.records import bump_public_version, record_audit, record_event
from statuspage.core.timetext import human_duration, utc_text
from statuspage.core.translation import N_
from statuspage.incidents import versioning
from statuspage.incidents.models import (
    ClosureReport,
    Incident,
    IncidentStatus,
    PostIncidentReview,
    Priority,
    ReviewStatus,
    Task,
    TaskKind,
    TaskStatus,
)
from statuspage.incidents.reviews import review_is_approved
from statuspage.stakeholders.models import StakeholderEvent
from statuspage.stakeholders.notify import matching_lists, resolution_told

logger = logging.getLogger(__name__)

# Each section may be this long; the admin form says the same.
SECTION_MAX = 20_000

SECTION_WORDS = {
    "summary": "summary",
    "impact": "impact",
    "cause": "cause",
    "resolution": "resolution",
    "prevention": "what is being done so it does not happen again",
}
# The same words as msgids (the report's headings), for refusals shown in other languages.
SECTION_LABELS = {
    "summary": N_("Summary"),
    "impact": N_("Impact"),
    "cause": N_("Cause"),
    "resolution": N_("Resolution"),
    "prevention": N_("Prevention"),
}


@dataclass(frozen=True)
class ClosureReportText:
    summary: str
    impact: str
    cause: str
    resolution: str
    prevention: str


SECTIONS = tuple(f.name for f in fields(ClosureReportText))


def closure_report_prefill(incident: Incident) -> ClosureReportText:
    """A starting point for a new report from what the incident already records: its
    duration and affected components as the impact, its resolution summary. Staff edit it
    before saving; nothing here is published."""
    lines = []
    ended = incident.public_resolved_at or incident.resolved_at
    started = incident.impact_started_at
    if started is not None and ended is not None:
        lines.append(
            f"Duration: {human_duration(ended - started)} "
            f"(from {utc_text(started)} to {utc_text(ended)})."
        )
    elif started is not None:
        lines.append(f"Started: {utc_text(started)}.")
    names = sorted(link.component.name for link in incident.affected if link.component is not None)
    if names:
        lines.append("Affected components: " + ", ".join(names) + ".")
    lines.append("Who was affected: ")
    return ClosureReportText(
        summary="",
        impact="\n\n".join(lines),
        cause="",
        resolution=incident.resolution_summary or "",
        prevention="",
    )


def _validated(text: ClosureReportText) -> dict[str, str]:
    values = {}
    for name in SECTIONS:
        value = (getattr(text, name) or "").strip()
        section = Term(SECTION_WORDS[name], SECTION_LABELS[name])
        if not value:
            raise DomainError(
                N_("The closure report needs its %(section)s."), field=name, section=section
            )
        if len(value) > SECTION_MAX:
            raise DomainError(
                N_("Keep the %(section)s under %(max)s characters."),
                field=name,
                section=section,
                max=SECTION_MAX,
            )
        values[name] = value
    return values


def write_closure_report(
    session: Session,
    incident: Incident,
    text: ClosureReportText,
    *,
    actor_id: int | None,
    now: datetime,
    expected_version: int | None = None,
) -> ClosureReport:
    """Write or edit the incident's closure report; publish it when the incident is public.

    `expected_version` is the report's version the editor loaded (0: there was none yet); a
    newer one is a `ConflictError`, so a second writer never silently overwrites the first.

    Every section is required (a refusal raises `DomainError` naming the field, before
    anything is written). The first publication notifies subscribers once; edits do not.
    """
    values = _validated(text)
    report = incident.closure_report
    if report is not None:
        versioning.check(session, "closure_report", report, expected_version, what="report")
    is_new = report is None
    if report is None:
        report = ClosureReport(incident_id=incident.id, created_at=now)
    changed = [name for name in SECTIONS if getattr(report, name, None) != values[name]]
    for name, value in values.items():
        setattr(report, name, value)
    report.author_id = actor_id
    version = 1 if is_new else versioning.bump(report)
    first_publication = incident.is_public and report.published_at is None
    if first_publication:
        report.published_at = now
    incident.closure_report = report
    incident.updated_at = now
    session.flush()

    published = report.published_at is not None
    if is_new:
        summary = "Closure report written" + (" and published" if published else " (internal)")
    elif first_publication:
        summary = "Closure report edited and published"
    else:
        summary = "Closure report edited"
    record_event(session, incident.id, "closure_report", summary, actor_id=actor_id, now=now)
    record_audit(
        session,
        "closure_report",
        report.id,
        "write" if is_new else "edit",
        {
            "incident_id": incident.id,
            "fields": changed,
            "published": published,
            "version": version,
            **({"published_at": now} if first_publication else {}),
        },
        actor_id=actor_id,
        now=now,
    )
    if published and (changed or first_publication):
        bump_public_version(session, now)
    if first_publication:
        queue_notification(
            session,
            NotificationKind.CLOSURE_REPORT,
            incident_id=incident.id,
            component_ids=[link.component_id for link in incident.affected],
            now=now,
        )
    logger.info(
        "closure report %s for incident %s by %s (published: %s)",
        "written" if is_new else "edited",
        incident.id,
        actor_id,
        published,
    )
    session.flush()
    return report


# --- the closure checklist ---


@dataclass(frozen=True)
class ClosureItem:
    """One line of the checklist. `label` and `detail` are msgids (marked with N_, translated
    on the page) and `values` fills the detail's placeholders (`when`: a datetime)."""

    key: str
    label: str
    done: bool
    detail: str
    blocks_closing: bool  # closing is refused until it is done (the lifecycle's guard)
    values: Mapping[str, object] = field(default_factory=dict)


def closure_checklist(
    session: Session,
    incident: Incident,
    *,
    review_required_for: Iterable[Priority | str],
    tasks: Sequence[Task] | None = None,
    review: PostIncidentReview | None | Literal[False] = False,
) -> list[ClosureItem]:
    """What closing asks, for the staff pages. The first three are the lifecycle's guards;
    the last asks whether stakeholders were told of the resolution, as the closure step
    requires: done when a "resolved" stakeholder notification was sent (by the lists' rules),
    or a stakeholder update was sent by hand since the incident was resolved."""
    items = []
    # `tasks` and `review`, when the page has them loaded already, save reading them again.
    if tasks is not None:
        open_tasks = sum(
            1 for t in tasks if t.kind == TaskKind.RESPONSE and t.status == TaskStatus.OPEN
        )
    else:
        open_tasks = session.scalar(
            sa.select(sa.func.count(Task.id)).where(
                Task.incident_id == incident.id,
                Task.kind == TaskKind.RESPONSE,
                Task.status == TaskStatus.OPEN,
            )
        )
    items.append(
        ClosureItem(
            "tasks",
            N_("Response tasks done"),
            not open_tasks,
            N_("%(count)s still open") if open_tasks else N_("none open"),
            True,
            {"count": open_tasks} if open_tasks else {},
        )
    )
    report_needed = incident.is_public
    items.append(
        ClosureItem(
            "report",
            N_("Closure report written"),
            incident.closure_report is not None or not report_needed,
            N_("written")
            if incident.closure_report is not None
            else (
                N_("needed: customers saw this incident")
                if report_needed
                else N_("optional (not public)")
            ),
            report_needed,
        )
    )
    required = {Priority(value) for value in review_required_for}
    review_needed = incident.priority in required
    approved = (
        review_is_approved(session, incident.id)
        if review is False
        else review is not None and review.status in (ReviewStatus.APPROVED, ReviewStatus.PUBLISHED)
    )
    items.append(
        ClosureItem(
            "review",
            N_("Post-incident review approved"),
            approved or not review_needed,
            N_("approved") if approved else (N_("needed") if review_needed else N_("optional")),
            review_needed,
        )
    )
    told = resolution_told(session, incident.id, incident.resolved_at)
    values: dict[str, object] = {}
    if told is not None:
        detail = (
            N_("%(lists)s told (sent by the lists' rules, %(when)s)")
            if told.event == StakeholderEvent.RESOLVED
            else N_("%(lists)s told (by hand, %(when)s)")
        )
        values = {"lists": ", ".join(told.list_names), "when": told.created_at}
    elif incident.resolved_at is None and incident.status != IncidentStatus.RESOLVED:
        detail = N_("not resolved yet")
    else:
        priority = incident.priority.value if incident.priority is not None else None
        covered = matching_lists(session, priority, StakeholderEvent.RESOLVED)
        if covered:
            detail = N_(
                "no resolved notification was sent: the lists had no members; were "
                "stakeholders told? Send a stakeholder update if not"
            )
        elif priority is None:
            detail = N_(
                "no resolved notification was sent: no list's rules cover an incident without "
                "priority; were stakeholders told? Send a stakeholder update if not"
            )
        else:
            detail = N_(
                "no resolved notification was sent: no list's rules cover %(priority)s; were "
                "stakeholders told? Send a stakeholder update if not"
            )
            values = {"priority": priority}
    items.append(
        ClosureItem(
            "stakeholders",
            N_("Stakeholders told of the resolution?"),
            told is not None,
            detail,
            False,
            values,
        )
    )
    return items
