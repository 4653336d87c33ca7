"""Managing stakeholder lists: create, edit (members and rules), delete, and the defaults.

Functions take the session, the acting user's id and `now`; they flush, never commit, refuse
bad input with `DomainError` naming the field, and write an audit row with each change.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from statuspage.auth.models import User
from statuspage.core.errors import ConflictError, DomainError, NotFound
from statuspage.core.records import record_audit
from statuspage.core.text import single_line
from statuspage.core.translation import N_
from statuspage.mail.message import usable_address
from statuspage.stakeholders.models import (
    RULE_EVENTS,
    StakeholderEvent,
    StakeholderList,
    StakeholderMember,
    StakeholderTemplate,
)

logger = logging.getLogger(__name__)

_BARE = re.compile(r"[^\s<>@,;]+@[^\s<>@,;]+\.[^\s<>@,;]+")

# The incident priorities, most severe first (the values of `incidents.models.Priority`, which
# this package may not import: `incidents` imports it).
PRIORITIES = ("P1", "P2", "P3", "P4")
NAME_MAX = 80
DESCRIPTION_MAX = 2000
EMAILS_MAX = 200
TEMPLATE_BODY_MAX = 20_000

E = StakeholderEvent
# The seeds: a critical incident needs "immediate, on-call escalation and stakeholder
# notification"; P1 tells Leadership and Support at once, P2 tells Support.
DEFAULT_LISTS: tuple[tuple[str, str, tuple[str, ...], tuple[StakeholderEvent, ...]], ...] = (
    (
        "Leadership",
        "Told at once of critical (P1) incidents, their breaches, resolution and review.",
        ("P1",),
        (E.DECLARED, E.PRIORITY_RAISED, E.SLA_BREACHED, E.RESOLVED, E.REVIEW_PUBLISHED),
    ),
    (
        "Support",
        "Told of P1 and P2 incidents as they move, so they can answer customers.",
        ("P1", "P2"),
        (E.DECLARED, E.PRIORITY_RAISED, E.STATUS_CHANGED, E.SLA_BREACHED, E.RESOLVED),
    ),
)


@dataclass(frozen=True)
class ListFields:
    name: str
    description: str = ""
    priorities: Sequence[str] = ()
    events: Sequence[str] = ()
    user_ids: Sequence[int] = ()
    emails: Sequence[str] = field(default_factory=tuple)


def parse_emails(text: str) -> list[str]:
    """Addresses from a text box: one per line, or separated by commas or spaces."""
    return [part for part in text.replace(",", " ").split() if part]


def _clean_email(raw: str) -> str:
    email = raw.strip().lower()
    # A bare address (no display name), that the mail stack can send to.
    if not _BARE.fullmatch(email) or usable_address(email) != email:
        raise DomainError(N_("%(email)r is not an email address."), email=raw[:80], field="emails")
    return email


def _checked(session: Session, fields: ListFields, *, exclude_id: int | None) -> dict:
    name = single_line(fields.name)
    if not name:
        raise DomainError(N_("A list needs a name."), field="name")
    if len(name) > NAME_MAX:
        raise DomainError(N_("Keep the name under %(max)s characters."), max=NAME_MAX, field="name")
    clash = sa.select(StakeholderList.id).where(sa.func.lower(StakeholderList.name) == name.lower())
    if exclude_id is not None:
        clash = clash.where(StakeholderList.id != exclude_id)
    if session.scalar(clash.limit(1)) is not None:
        raise DomainError(N_("There is already a list named %(name)r."), name=name, field="name")
    description = (fields.description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise DomainError(
            N_("Keep the description under %(max)s characters."),
            field="description",
            max=DESCRIPTION_MAX,
        )
    priorities = [p for p in PRIORITIES if p in set(fields.priorities)]
    if set(fields.priorities) - set(PRIORITIES):
        raise DomainError(N_("Choose priorities among P1 to P4."), field="priorities")
    wanted_events = set(fields.events)
    if wanted_events - {event.value for event in RULE_EVENTS}:
        raise DomainError(N_("Choose events from the list."), field="events")
    events = [event.value for event in RULE_EVENTS if event.value in wanted_events]
    user_ids = sorted(set(fields.user_ids))
    if user_ids:
        found = set(session.scalars(sa.select(User.id).where(User.id.in_(user_ids))))
        if set(user_ids) - found:
            raise NotFound(N_("Some of the chosen staff members do not exist."), field="user_ids")
    emails = list(dict.fromkeys(_clean_email(raw) for raw in fields.emails))
    if len(emails) > EMAILS_MAX:
        raise DomainError(N_("At most %(max)s addresses per list."), max=EMAILS_MAX, field="emails")
    return {
        "name": name,
        "description": description,
        "priorities": priorities,
        "events": events,
        "user_ids": user_ids,
        "emails": emails,
    }


def _set_members(stakeholder_list: StakeholderList, user_ids: list[int], emails: list[str]) -> None:
    by_user = {m.user_id: m for m in stakeholder_list.members if m.user_id is not None}
    by_email = {m.email: m for m in stakeholder_list.members if m.email}
    keep = [by_user.get(uid) or StakeholderMember(user_id=uid) for uid in user_ids]
    keep += [by_email.get(email) or StakeholderMember(email=email) for email in emails]
    stakeholder_list.members = keep


def member_summary(stakeholder_list: StakeholderList) -> dict[str, list]:
    return {
        "user_ids": sorted(m.user_id for m in stakeholder_list.members if m.user_id is not None),
        "emails": [m.email for m in stakeholder_list.members if m.email],
    }


def create_list(
    session: Session, fields: ListFields, *, actor_id: int | None, now: datetime
) -> StakeholderList:
    values = _checked(session, fields, exclude_id=None)
    stakeholder_list = StakeholderList(
        name=values["name"],
        description=values["description"],
        priorities=values["priorities"],
        events=values["events"],
        created_at=now,
        updated_at=now,
    )
    _set_members(stakeholder_list, values["user_ids"], values["emails"])
    session.add(stakeholder_list)
    session.flush()
    record_audit(
        session,
        "stakeholder_list",
        stakeholder_list.id,
        "create",
        {**values, "emails": len(values["emails"])},
        actor_id=actor_id,
        now=now,
    )
    logger.info("stakeholder list %s created by user %s", stakeholder_list.id, actor_id)
    return stakeholder_list


def get_list(session: Session, list_id: int) -> StakeholderList:
    stakeholder_list = session.get(StakeholderList, list_id)
    if stakeholder_list is None:
        raise NotFound(N_("There is no stakeholder list %(id)s."), id=list_id)
    return stakeholder_list


def update_list(
    session: Session,
    list_id: int,
    fields: ListFields,
    *,
    actor_id: int | None,
    now: datetime,
    expected_version: int | None = None,
) -> StakeholderList:
    """Edit a list's name, description, rules and members. `expected_version`: the version
    the editor loaded; a newer one is a `ConflictError`."""
    stakeholder_list = get_list(session, list_id)
    if expected_version is not None and expected_version != stakeholder_list.version:
        raise ConflictError(
            N_("Someone else saved this list since you opened it; reload to see their changes."),
            ["the list"],
        )
    values = _checked(session, fields, exclude_id=stakeholder_list.id)
    before = {
        "name": stakeholder_list.name,
        "description": stakeholder_list.description,
        "priorities": list(stakeholder_list.priorities or []),
        "events": list(stakeholder_list.events or []),
        **member_summary(stakeholder_list),
    }
    changes = {key: [before[key], values[key]] for key in values if before[key] != values[key]}
    if not changes:
        return stakeholder_list
    if "emails" in changes:
        # Counts, not the addresses: the audit log is not a list of people's mail.
        changes["emails"] = [len(before["emails"]), len(values["emails"])]
    stakeholder_list.name = values["name"]
    stakeholder_list.description = values["description"]
    stakeholder_list.priorities = values["priorities"]
    stakeholder_list.events = values["events"]
    _set_members(stakeholder_list, values["user_ids"], values["emails"])
    stakeholder_list.updated_at = now
    stakeholder_list.version += 1
    changes["version"] = stakeholder_list.version
    record_audit(
        session,
        "stakeholder_list",
        stakeholder_list.id,
        "edit",
        changes,
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    logger.info("stakeholder list %s edited by user %s", stakeholder_list.id, actor_id)
    return stakeholder_list


def delete_list(session: Session, list_id: int, *, actor_id: int | None, now: datetime) -> str:
    """Delete a list (messages already written keep its name). Returns the name."""
    stakeholder_list = get_list(session, list_id)
    name = stakeholder_list.name
    session.delete(stakeholder_list)
    record_audit(
        session, "stakeholder_list", list_id, "delete", {"name": name}, actor_id=actor_id, now=now
    )
    session.flush()
    logger.info("stakeholder list %s deleted by user %s", list_id, actor_id)
    return name


def all_lists(session: Session) -> list[StakeholderList]:
    return list(
        session.scalars(
            sa.select(StakeholderList)
            .options(selectinload(StakeholderList.members))
            .order_by(sa.func.lower(StakeholderList.name))
        )
    )


def list_choices(session: Session) -> list[tuple[int, str]]:
    return [
        (row.id, row.name)
        for row in session.execute(
            sa.select(StakeholderList.id, StakeholderList.name).order_by(
                sa.func.lower(StakeholderList.name)
            )
        )
    ]


def install_default_lists(session: Session, *, now: datetime) -> int:
    """Add the default lists whose names are not taken (no members: staff add them). Returns
    how many were added. The migration writes the same rows on every database."""
    taken = {name.lower() for name in session.scalars(sa.select(StakeholderList.name))}
    added = 0
    for name, description, priorities, events in DEFAULT_LISTS:
        if name.lower() in taken:
            continue
        session.add(
            StakeholderList(
                name=name,
                description=description,
                priorities=list(priorities),
                events=[event.value for event in events],
                created_at=now,
                updated_at=now,
            )
        )
        added += 1
    session.flush()
    return added


# --- templates for updates sent by hand ---


def create_template(
    session: Session, name: str, body: str, *, actor_id: int | None, now: datetime
) -> StakeholderTemplate:
    name = single_line(name)
    body = (body or "").strip()
    if not name:
        raise DomainError(N_("A template needs a name."), field="name")
    if len(name) > NAME_MAX:
        raise DomainError(N_("Keep the name under %(max)s characters."), max=NAME_MAX, field="name")
    if not body:
        raise DomainError(N_("A template needs its text."), field="body")
    if len(body) > TEMPLATE_BODY_MAX:
        raise DomainError(
            N_("Keep the text under %(max)s characters."), max=TEMPLATE_BODY_MAX, field="body"
        )
    clash = sa.select(StakeholderTemplate.id).where(
        sa.func.lower(StakeholderTemplate.name) == name.lower()
    )
    if session.scalar(clash.limit(1)) is not None:
        raise DomainError(
            N_("There is already a template named %(name)r."), name=name, field="name"
        )
    template = StakeholderTemplate(name=name, body=body, created_at=now)
    session.add(template)
    session.flush()
    record_audit(
        session,
        "stakeholder_template",
        template.id,
        "create",
        {"name": name},
        actor_id=actor_id,
        now=now,
    )
    return template


def delete_template(
    session: Session, template_id: int, *, actor_id: int | None, now: datetime
) -> None:
    template = session.get(StakeholderTemplate, template_id)
    if template is None:
        raise NotFound(N_("There is no stakeholder template %(id)s."), id=template_id)
    record_audit(
        session,
        "stakeholder_template",
        template.id,
        "delete",
        {"name": template.name},
        actor_id=actor_id,
        now=now,
    )
    session.delete(template)
    session.flush()


def all_templates(session: Session) -> list[StakeholderTemplate]:
    return list(
        session.scalars(
            sa.select(StakeholderTemplate).order_by(sa.func.lower(StakeholderTemplate.name))
        )
    )
