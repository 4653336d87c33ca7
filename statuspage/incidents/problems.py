"""Problems and known errors, and the suggestions shown when an incident is logged.

Suggestion rule (also shown on the incident page): for an incident, suggest
1. known errors (problems with status known_error) that share a component with the incident or
   have the incident's category, and
2. recent incidents (started in the last 30 days, not the incident itself, not cancelled) that
   share a component or the category,
newest first, at most 5 of each, leaving out what is already linked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from statuspage.components.models import Component
from statuspage.core.errors import DomainError, NotFound
from statuspage.core.records import record_audit, record_event, touch
from statuspage.core.text import single_line
from statuspage.core.translation import N_
from statuspage.incidents.models import (
    Incident,
    IncidentComponent,
    IncidentLink,
    IncidentStatus,
    Problem,
    ProblemStatus,
    problem_component,
    problem_incident,
)

SUGGESTION_DAYS = 30
SUGGESTION_LIMIT = 5


@dataclass(frozen=True)
class ProblemText:
    title: str
    description: str = ""
    root_cause: str = ""
    workaround: str = ""
    status: ProblemStatus = ProblemStatus.OPEN
    category_id: int | None = None
    component_ids: tuple[int, ...] = ()


def _apply(session: Session, problem: Problem, text: ProblemText) -> None:
    title = single_line(text.title)
    if not title:
        raise DomainError(N_("A problem needs a title."), field="title")
    if len(title) > 200:
        raise DomainError(N_("Keep the title under %(max)s characters."), max=200, field="title")
    status = ProblemStatus(text.status)
    if status == ProblemStatus.KNOWN_ERROR and not (
        text.root_cause.strip() and text.workaround.strip()
    ):
        raise DomainError(
            N_("A known error needs its root cause and a workaround."), field="workaround"
        )
    components = list(
        session.scalars(sa.select(Component).where(Component.id.in_(set(text.component_ids))))
    )
    if len(components) != len(set(text.component_ids)):
        raise NotFound(N_("Some of the chosen components do not exist."), field="components")
    problem.title = title
    problem.description = text.description.strip()
    problem.root_cause = text.root_cause.strip()
    problem.workaround = text.workaround.strip()
    problem.status = status
    problem.category_id = text.category_id
    problem.components = components


def create_problem(
    session: Session, text: ProblemText, *, actor_id: int | None, now: datetime
) -> Problem:
    problem = Problem(created_at=now, updated_at=now)
    _apply(session, problem, text)
    session.add(problem)
    session.flush()
    record_audit(
        session,
        "problem",
        problem.id,
        "create",
        {"title": problem.title, "status": problem.status},
        actor_id=actor_id,
        now=now,
    )
    return problem


def update_problem(
    session: Session, problem: Problem, text: ProblemText, *, actor_id: int | None, now: datetime
) -> Problem:
    before = {
        "title": problem.title,
        "status": problem.status,
        "root_cause": problem.root_cause,
        "workaround": problem.workaround,
    }
    _apply(session, problem, text)
    problem.updated_at = now
    after = {
        "title": problem.title,
        "status": problem.status,
        "root_cause": problem.root_cause,
        "workaround": problem.workaround,
    }
    record_audit(
        session,
        "problem",
        problem.id,
        "edit",
        {k: [before[k], after[k]] for k in after if before[k] != after[k]},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return problem


def link_problem(
    session: Session, incident: Incident, problem_id: int, *, actor_id: int | None, now: datetime
) -> Problem:
    problem = session.get(Problem, problem_id)
    if problem is None:
        raise NotFound(N_("There is no problem %(id)s."), id=problem_id, field="problem_id")
    if incident in problem.incidents:
        raise DomainError(
            N_("This incident is linked to that problem already."), field="problem_id"
        )
    session.execute(
        problem_incident.insert().values(
            problem_id=problem.id, incident_id=incident.id, linked_at=now
        )
    )
    session.expire(problem, ["incidents"])
    version = touch(incident, now)
    word = "known error" if problem.status == ProblemStatus.KNOWN_ERROR else "problem"
    summary = f"Linked to {word} #{problem.id}: {problem.title}"
    if problem.workaround:
        summary += f" (workaround: {problem.workaround})"
    record_event(
        session,
        incident.id,
        "problem",
        summary,
        actor_id=actor_id,
        now=now,
        data={"problem_id": problem.id},
    )
    record_audit(
        session,
        "incident",
        incident.id,
        "link_problem",
        {"problem_id": problem.id, "version": version},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return problem


def linked_problems(session: Session, incident: Incident) -> list[Problem]:
    return list(
        session.scalars(
            sa.select(Problem)
            .join(problem_incident, problem_incident.c.problem_id == Problem.id)
            .where(problem_incident.c.incident_id == incident.id)
            .order_by(Problem.id)
        )
    )


@dataclass
class Suggestions:
    known_errors: list[Problem]
    recent_incidents: list[Incident]


def suggestions_for(session: Session, incident: Incident, *, now: datetime) -> Suggestions:
    component_ids = [link.component_id for link in incident.affected]
    linked = sa.select(problem_incident.c.problem_id).where(
        problem_incident.c.incident_id == incident.id
    )
    problem_match = []
    if component_ids:
        problem_match.append(
            Problem.id.in_(
                sa.select(problem_component.c.problem_id).where(
                    problem_component.c.component_id.in_(component_ids)
                )
            )
        )
    if incident.category_id is not None:
        problem_match.append(Problem.category_id == incident.category_id)
    known_errors: list[Problem] = []
    if problem_match:
        known_errors = list(
            session.scalars(
                sa.select(Problem)
                .where(
                    Problem.status == ProblemStatus.KNOWN_ERROR,
                    sa.or_(*problem_match),
                    Problem.id.not_in(linked),
                )
                .order_by(Problem.updated_at.desc())
                .limit(SUGGESTION_LIMIT)
            )
        )
    incident_match = []
    if component_ids:
        incident_match.append(
            Incident.id.in_(
                sa.select(IncidentComponent.incident_id).where(
                    IncidentComponent.component_id.in_(component_ids)
                )
            )
        )
    if incident.category_id is not None:
        incident_match.append(Incident.category_id == incident.category_id)
    recent: list[Incident] = []
    if incident_match:
        already = sa.union(
            sa.select(IncidentLink.other_id).where(IncidentLink.incident_id == incident.id),
            sa.select(IncidentLink.incident_id).where(IncidentLink.other_id == incident.id),
        )
        recent = list(
            session.scalars(
                sa.select(Incident)
                .where(
                    Incident.id != incident.id,
                    Incident.status != IncidentStatus.CANCELLED,
                    Incident.impact_started_at >= now - timedelta(days=SUGGESTION_DAYS),
                    sa.or_(*incident_match),
                    Incident.id.not_in(already),
                )
                .order_by(Incident.impact_started_at.desc())
                .limit(SUGGESTION_LIMIT)
                .options(selectinload(Incident.affected))
            )
        )
    return Suggestions(known_errors=known_errors, recent_incidents=recent)
