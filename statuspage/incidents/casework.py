"""Working an incident: details, priority override, assignment, roles, tasks, notes, evidence,
links. Every function bumps the incident's version and writes the timeline event and audit row.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.auth.models import User
from statuspage.components.models import Component, ComponentStatus
from statuspage.core.errors import ConflictError, DomainError, NotFound, Term
from statuspage.core.records import bump_public_version, record_audit, record_event, touch
from statuspage.core.text import single_line
from statuspage.core.translation import N_
from statuspage.incidents import stakeholder_events, versioning
from statuspage.incidents.models import (
    Evidence,
    EvidenceKind,
    Incident,
    IncidentComponent,
    IncidentLink,
    IncidentNote,
    IncidentRole,
    IncidentRoleAssignment,
    IncidentSource,
    LinkKind,
    Priority,
    Task,
    TaskKind,
    TaskStatus,
)

TITLE_MAX = 200
# The details customers see once an incident is public (its page, the feeds, the JSON API).
PUBLIC_DETAILS = frozenset({"title", "impact_started_at", "components"})
NOTE_MAX = 20_000
LOG_MAX = 200_000

# Evidence files: what may be uploaded, and never served as a page.
EVIDENCE_MAX_BYTES = 5 * 1024 * 1024
EVIDENCE_TYPES = {
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".json": "application/json",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".pdf": "application/pdf",
    ".har": "application/json",
}


def check_version(session: Session, incident: Incident, expected: int | None) -> None:
    """Refuse a save built on an older version of the incident, saying what changed since."""
    if expected is None or expected == incident.version:
        return
    changes = []
    for entry in versioning.edits_since(session, "incident", incident.id, expected):
        fields = ", ".join(key for key in entry.changes if key != "version")
        changes.append(f"{entry.action}: {fields}" if fields else entry.action)
    raise ConflictError(
        N_(
            "Someone else changed this incident after you opened it. Nothing was saved; "
            "review their changes below, then make yours again."
        ),
        changes or ["(details not recorded)"],
    )


def _audit(
    session: Session,
    incident: Incident,
    action: str,
    changes: dict[str, Any],
    *,
    actor_id: int | None,
    now: datetime,
) -> None:
    changes = dict(changes, version=incident.version)
    record_audit(session, "incident", incident.id, action, changes, actor_id=actor_id, now=now)


def _user(session: Session, user_id: int | None, field: str) -> User | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound(N_("There is no active user with that id."), field=field)
    return user


def _size_words(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):g} MB"
    return f"{size / 1024:g} KB"


@dataclass(frozen=True)
class IncidentDetails:
    title: str
    description: str
    reporter_name: str
    reporter_contact: str
    source: IncidentSource
    impact_started_at: datetime
    detected_at: datetime | None
    component_ids: Sequence[int]


def update_details(
    session: Session,
    incident: Incident,
    details: IncidentDetails,
    *,
    expected_version: int | None,
    actor_id: int | None,
    now: datetime,
) -> Incident:
    check_version(session, incident, expected_version)
    title = single_line(details.title)
    if not title:
        raise DomainError(N_("An incident needs a title."), field="title")
    if len(title) > TITLE_MAX:
        raise DomainError(
            N_("Keep the title under %(max)s characters."), max=TITLE_MAX, field="title"
        )
    if details.impact_started_at > now:
        raise DomainError(N_("Impact cannot start in the future."), field="impact_started_at")
    if details.detected_at is not None and details.detected_at < details.impact_started_at:
        raise DomainError(
            N_("Detection cannot come before the impact started."), field="detected_at"
        )
    for milestone in ("resolved_at", "mitigated_at", "closed_at"):
        stamped = getattr(incident, milestone)
        if stamped is not None and details.impact_started_at > stamped:
            raise DomainError(
                N_("Impact cannot start after the incident was %(milestone)s."),
                milestone=Term(milestone[:-3], MILESTONE_WORDS[milestone]),
                field="impact_started_at",
            )
    wanted = set(details.component_ids)
    found = set(session.scalars(sa.select(Component.id).where(Component.id.in_(wanted))))
    if wanted - found:
        raise NotFound(N_("Some of the chosen components do not exist."), field="components")

    before = {
        "title": incident.title,
        "description": incident.description,
        "reporter_name": incident.reporter_name,
        "reporter_contact": incident.reporter_contact,
        "source": incident.source,
        "impact_started_at": incident.impact_started_at,
        "detected_at": incident.detected_at,
        "components": sorted(link.component_id for link in incident.affected),
    }
    incident.title = title
    incident.description = details.description
    incident.reporter_name = single_line(details.reporter_name)
    incident.reporter_contact = details.reporter_contact.strip()
    incident.source = IncidentSource(details.source)
    incident.impact_started_at = details.impact_started_at
    incident.detected_at = details.detected_at
    current = {link.component_id: link for link in incident.affected}
    for component_id in wanted - current.keys():
        incident.affected.append(
            IncidentComponent(component_id=component_id, status=ComponentStatus.OPERATIONAL)
        )
    for component_id in current.keys() - wanted:
        incident.affected.remove(current[component_id])
    after = {
        "title": incident.title,
        "description": incident.description,
        "reporter_name": incident.reporter_name,
        "reporter_contact": incident.reporter_contact,
        "source": incident.source,
        "impact_started_at": incident.impact_started_at,
        "detected_at": incident.detected_at,
        "components": sorted(wanted),
    }
    changed = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if not changed:
        return incident
    touch(incident, now)
    record_event(
        session,
        incident.id,
        "edited",
        "Details edited: " + ", ".join(sorted(changed)),
        actor_id=actor_id,
        now=now,
    )
    _audit(session, incident, "edit", changed, actor_id=actor_id, now=now)
    if incident.is_public and changed.keys() & PUBLIC_DETAILS:
        bump_public_version(session, now)
    session.flush()
    return incident


def override_priority(
    session: Session,
    incident: Incident,
    priority: Priority,
    reason: str,
    *,
    expected_version: int | None,
    actor_id: int | None,
    now: datetime,
) -> Incident:
    check_version(session, incident, expected_version)
    reason = reason.strip()
    if not reason:
        raise DomainError(N_("Overriding the matrix needs a reason."), field="reason")
    before = incident.priority
    incident.priority = Priority(priority)
    incident.priority_override_reason = reason
    touch(incident, now)
    record_event(
        session,
        incident.id,
        "priority_override",
        f"Priority set to {incident.priority.value} by hand: {reason}",
        actor_id=actor_id,
        now=now,
    )
    _audit(
        session,
        incident,
        "override_priority",
        {"priority": [before, incident.priority], "reason": reason},
        actor_id=actor_id,
        now=now,
    )
    stakeholder_events.priority_changed(session, incident, before, actor_id=actor_id, now=now)
    session.flush()
    return incident


def assign_incident(
    session: Session,
    incident: Incident,
    assignee_id: int | None,
    *,
    actor_id: int | None,
    now: datetime,
) -> Incident:
    user = _user(session, assignee_id, "assignee")
    before = incident.assignee_id
    if before == assignee_id:
        return incident
    incident.assignee_id = assignee_id
    touch(incident, now)
    who = user.name or user.email if user else "nobody"
    record_event(session, incident.id, "assigned", f"Assigned to {who}", actor_id=actor_id, now=now)
    _audit(
        session,
        incident,
        "assign",
        {"assignee_id": [before, assignee_id]},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return incident


def acknowledge_incident(
    session: Session, incident: Incident, *, actor_id: int | None, now: datetime
) -> Incident:
    """The assignee (or anyone working it) says work has started; stamped once."""
    if incident.acknowledged_at is not None:
        raise DomainError(N_("This incident was acknowledged already."))
    incident.acknowledged_at = now
    touch(incident, now)
    record_event(
        session,
        incident.id,
        "acknowledged",
        "Acknowledged: work has started",
        actor_id=actor_id,
        now=now,
    )
    _audit(session, incident, "acknowledge", {"acknowledged_at": now}, actor_id=actor_id, now=now)
    session.flush()
    return incident


def set_incident_role(
    session: Session,
    incident: Incident,
    user_id: int,
    role: IncidentRole,
    *,
    actor_id: int | None,
    now: datetime,
) -> IncidentRoleAssignment:
    user = _user(session, user_id, "user")
    assert user is not None
    role = IncidentRole(role)
    existing = session.scalar(
        sa.select(IncidentRoleAssignment).where(
            IncidentRoleAssignment.incident_id == incident.id,
            IncidentRoleAssignment.user_id == user_id,
            IncidentRoleAssignment.role == role,
        )
    )
    if existing is not None:
        raise DomainError(
            N_("%(person)s already has that role."), person=user.name or user.email, field="role"
        )
    if role != IncidentRole.OBSERVER:
        # One person per named role: a new incident manager replaces the old one.
        for old in session.scalars(
            sa.select(IncidentRoleAssignment).where(
                IncidentRoleAssignment.incident_id == incident.id,
                IncidentRoleAssignment.role == role,
            )
        ):
            session.delete(old)
    assignment = IncidentRoleAssignment(
        incident_id=incident.id, user_id=user_id, role=role, assigned_at=now
    )
    session.add(assignment)
    touch(incident, now)
    label = role.value.replace("_", " ")
    record_event(
        session,
        incident.id,
        "role",
        f"{user.name or user.email} is {label}",
        actor_id=actor_id,
        now=now,
    )
    _audit(
        session,
        incident,
        "set_role",
        {"role": role, "user_id": user_id},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return assignment


def remove_incident_role(
    session: Session,
    incident: Incident,
    assignment_id: int,
    *,
    actor_id: int | None,
    now: datetime,
) -> None:
    assignment = session.get(IncidentRoleAssignment, assignment_id)
    if assignment is None or assignment.incident_id != incident.id:
        raise NotFound(N_("That role assignment does not exist on this incident."))
    session.delete(assignment)
    touch(incident, now)
    record_event(
        session,
        incident.id,
        "role",
        f"Role {assignment.role.value.replace('_', ' ')} removed",
        actor_id=actor_id,
        now=now,
    )
    _audit(
        session,
        incident,
        "remove_role",
        {"role": assignment.role, "user_id": assignment.user_id},
        actor_id=actor_id,
        now=now,
    )
    session.flush()


def add_task(
    session: Session,
    incident: Incident,
    *,
    kind: TaskKind,
    title: str,
    owner_id: int | None,
    due_at: datetime | None,
    actor_id: int | None,
    now: datetime,
) -> Task:
    title = single_line(title)
    if not title:
        raise DomainError(N_("A task needs a title."), field="title")
    if len(title) > TITLE_MAX:
        raise DomainError(
            N_("Keep the title under %(max)s characters."), max=TITLE_MAX, field="title"
        )
    _user(session, owner_id, "owner")
    task = Task(
        incident_id=incident.id,
        kind=TaskKind(kind),
        title=title,
        owner_id=owner_id,
        due_at=due_at,
        status=TaskStatus.OPEN,
        created_at=now,
    )
    session.add(task)
    session.flush()
    touch(incident, now)
    kind_label = "Response task" if task.kind == TaskKind.RESPONSE else "Follow-up action"
    record_event(
        session,
        incident.id,
        "task",
        f"{kind_label} added: {title}",
        actor_id=actor_id,
        now=now,
        data={"task_id": task.id},
    )
    _audit(
        session,
        incident,
        "add_task",
        {"task_id": task.id, "kind": task.kind, "title": title},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return task


def set_task_status(
    session: Session,
    incident: Incident,
    task_id: int,
    status: TaskStatus,
    *,
    actor_id: int | None,
    now: datetime,
) -> Task:
    task = session.get(Task, task_id)
    if task is None or task.incident_id != incident.id:
        raise NotFound(N_("That task does not exist on this incident."))
    status = TaskStatus(status)
    before = task.status
    if before == status:
        return task
    task.status = status
    task.completed_at = now if status != TaskStatus.OPEN else None
    touch(incident, now)
    record_event(
        session,
        incident.id,
        "task",
        f"Task {status.value}: {task.title}",
        actor_id=actor_id,
        now=now,
        data={"task_id": task.id},
    )
    _audit(
        session,
        incident,
        "task_status",
        {"task_id": task.id, "status": [before, status]},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return task


def add_note(
    session: Session, incident: Incident, body: str, *, actor_id: int | None, now: datetime
) -> IncidentNote:
    body = body.strip()
    if not body:
        raise DomainError(N_("The note is empty."), field="body")
    if len(body) > NOTE_MAX:
        raise DomainError(N_("Keep a note under %(max)s characters."), max=NOTE_MAX, field="body")
    note = IncidentNote(incident_id=incident.id, body=body, author_id=actor_id, created_at=now)
    session.add(note)
    session.flush()
    touch(incident, now)
    record_event(
        session,
        incident.id,
        "note",
        "Internal note added",
        actor_id=actor_id,
        now=now,
        data={"note_id": note.id},
    )
    _audit(session, incident, "add_note", {"note_id": note.id}, actor_id=actor_id, now=now)
    session.flush()
    return note


def _add_evidence(
    session: Session,
    incident: Incident,
    evidence: Evidence,
    *,
    actor_id: int | None,
    now: datetime,
) -> Evidence:
    title = single_line(evidence.title)
    if not title:
        raise DomainError(N_("Give the evidence a title."), field="title")
    if len(title) > TITLE_MAX:
        raise DomainError(
            N_("Keep the title under %(max)s characters."), max=TITLE_MAX, field="title"
        )
    evidence.title = title
    evidence.incident_id = incident.id
    evidence.author_id = actor_id
    evidence.created_at = now
    session.add(evidence)
    session.flush()
    touch(incident, now)
    record_event(
        session,
        incident.id,
        "evidence",
        f"Evidence added ({evidence.kind.value}): {title}",
        actor_id=actor_id,
        now=now,
        data={"evidence_id": evidence.id},
    )
    _audit(
        session,
        incident,
        "add_evidence",
        {"evidence_id": evidence.id, "kind": evidence.kind},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return evidence


def add_evidence_link(
    session: Session,
    incident: Incident,
    *,
    title: str,
    url: str,
    actor_id: int | None,
    now: datetime,
) -> Evidence:
    url = url.strip()
    if not url.lower().startswith(("https://", "http://")) or len(url) > 2000:
        raise DomainError(N_("A link must be an http or https address."), field="url")
    return _add_evidence(
        session,
        incident,
        Evidence(kind=EvidenceKind.LINK, title=title, url=url),
        actor_id=actor_id,
        now=now,
    )


def add_evidence_log(
    session: Session,
    incident: Incident,
    *,
    title: str,
    text: str,
    actor_id: int | None,
    now: datetime,
) -> Evidence:
    if not text.strip():
        raise DomainError(N_("Paste the log text."), field="log_text")
    if len(text) > LOG_MAX:
        raise DomainError(
            N_("Keep a pasted log under %(max)s characters."), max=LOG_MAX, field="log_text"
        )
    return _add_evidence(
        session,
        incident,
        Evidence(kind=EvidenceKind.LOG, title=title, log_text=text),
        actor_id=actor_id,
        now=now,
    )


def add_evidence_file(
    session: Session,
    incident: Incident,
    *,
    title: str,
    filename: str,
    data: bytes,
    directory: Path,
    actor_id: int | None,
    now: datetime,
    max_bytes: int = EVIDENCE_MAX_BYTES,
) -> Evidence:
    """Store an uploaded file under `directory` with a random name; check size and type."""
    suffix = Path(filename).suffix.lower()
    if suffix not in EVIDENCE_TYPES:
        raise DomainError(
            N_("Files of that type are not accepted. Allowed: %(allowed)s."),
            field="file",
            allowed=", ".join(sorted(EVIDENCE_TYPES)),
        )
    if not data:
        raise DomainError(N_("The file is empty."), field="file")
    if len(data) > max_bytes:
        raise DomainError(
            N_("The file is larger than %(size)s."), size=_size_words(max_bytes), field="file"
        )
    stored_name = f"{secrets.token_hex(16)}{suffix}"
    directory.mkdir(parents=True, exist_ok=True)
    evidence = Evidence(
        kind=EvidenceKind.FILE,
        title=title or filename,
        filename=Path(filename).name[:255],
        stored_name=stored_name,
        content_type=EVIDENCE_TYPES[suffix],
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    result = _add_evidence(session, incident, evidence, actor_id=actor_id, now=now)
    (directory / stored_name).write_bytes(data)  # after validation; the row rolls back with it
    return result


def link_incidents(
    session: Session,
    incident: Incident,
    other_id: int,
    kind: LinkKind,
    *,
    actor_id: int | None,
    now: datetime,
) -> IncidentLink:
    if other_id == incident.id:
        raise DomainError(N_("An incident cannot be linked to itself."), field="other_id")
    other = session.get(Incident, other_id)
    if other is None:
        raise NotFound(N_("There is no incident %(id)s."), id=other_id, field="other_id")
    exists = session.scalar(
        sa.select(IncidentLink.id).where(
            sa.or_(
                sa.and_(IncidentLink.incident_id == incident.id, IncidentLink.other_id == other_id),
                sa.and_(IncidentLink.incident_id == other_id, IncidentLink.other_id == incident.id),
            )
        )
    )
    if exists is not None:
        raise DomainError(N_("These incidents are linked already."), field="other_id")
    kind = LinkKind(kind)
    link = IncidentLink(incident_id=incident.id, other_id=other_id, kind=kind, created_at=now)
    session.add(link)
    if kind == LinkKind.DUPLICATE:
        incident.duplicate_of_id = other_id
    touch(incident, now)
    word = "a duplicate of" if kind == LinkKind.DUPLICATE else "related to"
    record_event(
        session,
        incident.id,
        "link",
        f"Marked {word} incident #{other_id}",
        actor_id=actor_id,
        now=now,
    )
    _audit(
        session, incident, "link", {"other_id": other_id, "kind": kind}, actor_id=actor_id, now=now
    )
    session.flush()
    return link


def apply_template(
    session: Session,
    incident: Incident,
    template_id: int,
    *,
    actor_id: int | None,
    now: datetime,
) -> Incident:
    """Give a newly logged incident its template's category, priority and response tasks."""
    from statuspage.incidents.models import IncidentTemplate
    from statuspage.incidents.operations import categorize_incident

    template = session.get(IncidentTemplate, template_id)
    if template is None:
        raise NotFound(N_("There is no template %(id)s."), id=template_id, field="template")
    incident.template_id = template.id
    if template.impact is not None and template.urgency is not None:
        categorize_incident(
            session,
            incident,
            category_id=template.category_id,
            subcategory_id=template.subcategory_id,
            impact=template.impact,
            urgency=template.urgency,
            actor_id=actor_id,
            now=now,
        )
    elif template.category_id is not None:
        incident.category_id = template.category_id
        incident.subcategory_id = template.subcategory_id
    for title in template.task_checklist:
        if title.strip():
            add_task(
                session,
                incident,
                kind=TaskKind.RESPONSE,
                title=title,
                owner_id=None,
                due_at=None,
                actor_id=actor_id,
                now=now,
            )
    record_event(
        session,
        incident.id,
        "template",
        f"Created from template {template.name}",
        actor_id=actor_id,
        now=now,
        data={"template_id": template.id},
    )
    session.flush()
    return incident


# "Impact cannot start after the incident was resolved": the milestone's word.
MILESTONE_WORDS = {
    "resolved_at": N_("Resolved"),
    "mitigated_at": N_("Mitigated"),
    "closed_at": N_("Closed"),
}
