"""What managers configure: the category taxonomy, the priority matrix, the SLA policy of each
priority and incident templates.

Plain functions over the models, like the rest of the domain: they take the session, the acting
user's id and `now`, validate everything before changing anything, flush (never commit) and
write an audit row for every change. A refusal raises `DomainError` naming the form field it
concerns, so the caller can show it next to that field and roll back with nothing half written.

Two choices worth knowing:

- Editing the priority matrix changes the priority of incidents categorized from then on;
  incidents that already have a priority keep it (re-categorizing one applies the new matrix).
- A category in use is never deleted silently: what uses it (incidents, templates, problems)
  is moved to another category first, each moved row with its own audit entry.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.errors import DomainError, NotFound
from statuspage.core.records import record_audit
from statuspage.core.text import single_line
from statuspage.core.translation import N_
from statuspage.incidents import versioning
from statuspage.incidents.models import (
    Category,
    Incident,
    IncidentTemplate,
    Level,
    Priority,
    PriorityRule,
    Problem,
    PublicStatus,
    SlaPolicy,
)
from statuspage.incidents.priority import DEFAULT_MATRIX, DEFAULT_SLA

logger = logging.getLogger(__name__)

CATEGORY_NAME_MAX = 120
SLA_NAME_MAX = 60
# A year: a longer target means nothing, and every value fits a 32-bit integer column.
MINUTES_MAX = 366 * 24 * 60
CONTACTS_MAX = 20
EMAIL_MAX = 254
TEMPLATE_NAME_MAX = 120
TITLE_MAX = 200
DESCRIPTION_MAX = 20_000
CHECKLIST_MAX = 50
TASK_TITLE_MAX = 200
MESSAGE_MAX = 10_000

# Deliberately loose (one @, a dot in the domain, no spaces or list separators): the address is
# checked for shape here; whether it receives mail is learnt when an escalation is sent.
_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+$")


def _text(
    value: str | None,
    *,
    limit: int,
    field: str,
    what: str,
    required: bool,
    one_line: bool = False,
) -> str:
    cleaned = single_line(value) if one_line else (value or "").strip()
    if required and not cleaned:
        raise DomainError(REQUIRED.get(what) or f"{what} is required.", field=field)
    if len(cleaned) > limit:
        too_long = TOO_LONG.get(what) or f"{what} must be at most %(max)s characters."
        raise DomainError(too_long, field=field, max=limit)
    return cleaned


# --- categories ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryUsage:
    incidents: int = 0
    templates: int = 0
    problems: int = 0

    @property
    def total(self) -> int:
        return self.incidents + self.templates + self.problems

    def describe(self) -> str:
        parts = [
            f"{count} {word}{'' if count == 1 else 's'}"
            for count, word in (
                (self.incidents, "incident"),
                (self.templates, "template"),
                (self.problems, "problem"),
            )
            if count
        ]
        return ", ".join(parts) if parts else "nothing"


def _category_or_404(session: Session, category_id: int) -> Category:
    category = session.get(Category, category_id)
    if category is None:
        raise NotFound(N_("There is no category %(id)s."), id=category_id)
    return category


def _check_unique_category(
    session: Session, name: str, parent_id: int | None, *, exclude_id: int | None = None
) -> None:
    # Compared without case: "Network" and "network" side by side would only confuse. The
    # database's unique constraint cannot cover top-level names (NULL parents are distinct).
    query = sa.select(Category.id).where(sa.func.lower(Category.name) == name.lower())
    if parent_id is None:
        query = query.where(Category.parent_id.is_(None))
    else:
        query = query.where(Category.parent_id == parent_id)
    if exclude_id is not None:
        query = query.where(Category.id != exclude_id)
    if session.scalar(query.limit(1)) is not None:
        message = (
            N_("There is already a category named %(name)r at the top level.")
            if parent_id is None
            else N_("There is already a category named %(name)r under that category.")
        )
        raise DomainError(message, name=name, field="name")


def create_category(
    session: Session,
    name: str,
    *,
    parent_id: int | None = None,
    actor_id: int | None,
    now: datetime,
) -> Category:
    """A top-level category, or a subcategory when `parent_id` names a top-level category."""
    name = _text(
        name, limit=CATEGORY_NAME_MAX, field="name", what="The name", required=True, one_line=True
    )
    if parent_id is not None:
        parent = session.get(Category, parent_id)
        if parent is None:
            raise NotFound(N_("There is no category %(id)s."), id=parent_id, field="parent")
        if parent.parent_id is not None:
            raise DomainError(
                N_("Subcategories go one level deep: choose a top-level category as the parent."),
                field="parent",
            )
    _check_unique_category(session, name, parent_id)
    siblings = sa.select(sa.func.coalesce(sa.func.max(Category.position), -1))
    siblings = siblings.where(
        Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id
    )
    category = Category(name=name, parent_id=parent_id, position=session.scalar(siblings) + 1)
    session.add(category)
    session.flush()
    record_audit(
        session,
        "category",
        category.id,
        "create",
        {"name": name, "parent_id": parent_id},
        actor_id=actor_id,
        now=now,
    )
    logger.info("category %s created by user %s", category.id, actor_id)
    return category


def rename_category(
    session: Session, category_id: int, name: str, *, actor_id: int | None, now: datetime
) -> Category:
    category = _category_or_404(session, category_id)
    name = _text(
        name, limit=CATEGORY_NAME_MAX, field="name", what="The name", required=True, one_line=True
    )
    if name == category.name:
        return category
    _check_unique_category(session, name, category.parent_id, exclude_id=category.id)
    old = category.name
    category.name = name
    record_audit(
        session,
        "category",
        category.id,
        "rename",
        {"name": [old, name]},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    logger.info("category %s renamed by user %s", category.id, actor_id)
    return category


def category_usage(session: Session, category_id: int) -> CategoryUsage:
    return usage_by_category(session, [category_id]).get(category_id, CategoryUsage())


def usage_by_category(
    session: Session, category_ids: Iterable[int] | None = None
) -> dict[int, CategoryUsage]:
    """How many incidents, templates and problems use each category (as category or
    subcategory). A fixed number of grouped queries, however many categories there are."""
    ids = None if category_ids is None else list(category_ids)
    counts: dict[int, dict[str, int]] = {}

    def add(kind: str, column: Any) -> None:
        query = sa.select(column, sa.func.count()).where(column.is_not(None)).group_by(column)
        if ids is not None:
            query = query.where(column.in_(ids))
        for category_id, count in session.execute(query):
            slot = counts.setdefault(category_id, {"incidents": 0, "templates": 0, "problems": 0})
            slot[kind] += count

    add("incidents", Incident.category_id)
    add("incidents", Incident.subcategory_id)
    add("templates", IncidentTemplate.category_id)
    add("templates", IncidentTemplate.subcategory_id)
    add("problems", Problem.category_id)
    return {category_id: CategoryUsage(**slot) for category_id, slot in counts.items()}


def _move_references(
    session: Session,
    model: type[Any],
    column_name: str,
    old_id: int,
    new_id: int,
    entity_type: str,
    *,
    actor_id: int | None,
    now: datetime,
) -> int:
    """Point every row of `model` that refers to `old_id` at `new_id`; one audit row each."""
    column = getattr(model, column_name)
    values: dict[str, Any] = {column_name: new_id, "updated_at": now}
    if model is Incident:
        # A form opened before the move must not silently put the old category back.
        values["version"] = Incident.version + 1
    moved = (
        session.execute(sa.select(model.id).where(column == old_id).order_by(model.id))
        .scalars()
        .all()
    )
    if not moved:
        return 0
    session.execute(
        sa.update(model)
        .where(column == old_id)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    versions: dict[int, int] = {}
    if model is Incident:
        versions = dict(
            session.execute(
                sa.select(Incident.id, Incident.version).where(Incident.id.in_(moved))
            ).all()
        )
    for row_id in moved:
        changes: dict[str, Any] = {column_name: [old_id, new_id]}
        if row_id in versions:
            changes["version"] = versions[row_id]
        record_audit(
            session, entity_type, row_id, "recategorize", changes, actor_id=actor_id, now=now
        )
    return len(moved)


def delete_category(
    session: Session,
    category_id: int,
    *,
    reassign_to: int | None = None,
    actor_id: int | None,
    now: datetime,
) -> CategoryUsage:
    """Delete a category. When something uses it, `reassign_to` names where that goes: another
    top-level category for a category, a sibling subcategory for a subcategory. A category with
    subcategories is refused: delete or keep those first. Returns what was moved."""
    category = _category_or_404(session, category_id)
    has_children = session.scalar(
        sa.select(Category.id).where(Category.parent_id == category.id).limit(1)
    )
    if has_children is not None:
        raise DomainError(
            N_("This category has subcategories: delete them first."), field="reassign_to"
        )
    usage = category_usage(session, category.id)
    target: Category | None = None
    if reassign_to is not None:
        target = session.get(Category, reassign_to)
        if target is None:
            raise NotFound(N_("There is no category %(id)s."), id=reassign_to, field="reassign_to")
        if target.id == category.id:
            raise DomainError(N_("Choose another category to move to."), field="reassign_to")
        if category.parent_id is None and target.parent_id is not None:
            raise DomainError(
                N_("Move what uses a category to another top-level category."), field="reassign_to"
            )
        if category.parent_id is not None and target.parent_id != category.parent_id:
            raise DomainError(
                N_("Move what uses a subcategory to another subcategory of the same category."),
                field="reassign_to",
            )
    elif usage.total:
        raise DomainError(
            f"In use by {usage.describe()}: choose a category to move them to.",
            field="reassign_to",
        )
    if target is not None:
        own = "category_id" if category.parent_id is None else "subcategory_id"
        for model, column_name, entity_type in (
            (Incident, own, "incident"),
            (IncidentTemplate, own, "incident_template"),
            (Problem, "category_id", "problem"),
        ):
            _move_references(
                session,
                model,
                column_name,
                category.id,
                target.id,
                entity_type,
                actor_id=actor_id,
                now=now,
            )
    record_audit(
        session,
        "category",
        category.id,
        "delete",
        {
            "name": category.name,
            "parent_id": category.parent_id,
            "moved_to": target.id if target is not None else None,
            "moved": usage.describe() if target is not None else "nothing",
        },
        actor_id=actor_id,
        now=now,
    )
    session.delete(category)
    session.flush()
    logger.info("category %s deleted by user %s", category_id, actor_id)
    return usage


# --- priority matrix ----------------------------------------------------------------------


def cell_field(impact: Level | str, urgency: Level | str) -> str:
    """The form field of one matrix cell, e.g. "high_medium" (impact first)."""
    return f"{Level(impact).value}_{Level(urgency).value}"


def priority_matrix(session: Session) -> dict[tuple[Level, Level], Priority]:
    """The nine cells as stored, the defaults filling any missing one."""
    matrix = dict(DEFAULT_MATRIX)
    for rule in session.scalars(sa.select(PriorityRule)):
        matrix[(rule.impact, rule.urgency)] = rule.priority
    return matrix


def set_priority_matrix(
    session: Session,
    cells: Mapping[tuple[Level | str, Level | str], Priority | str],
    *,
    actor_id: int | None,
    now: datetime,
) -> dict[tuple[Level, Level], Priority]:
    """Store all nine cells at once. Incidents that have a priority keep it."""
    wanted: dict[tuple[Level, Level], Priority] = {}
    for (impact, urgency), priority in cells.items():
        try:
            key = (Level(impact), Level(urgency))
        except ValueError:
            raise DomainError(f"There is no matrix cell {impact!r} x {urgency!r}.") from None
        try:
            wanted[key] = Priority(priority)
        except ValueError:
            raise DomainError(N_("Choose P1, P2, P3 or P4."), field=cell_field(*key)) from None
    for key in DEFAULT_MATRIX:
        if key not in wanted:
            raise DomainError(
                N_("Every cell of the matrix needs a priority."), field=cell_field(*key)
            )
    rules = {(rule.impact, rule.urgency): rule for rule in session.scalars(sa.select(PriorityRule))}
    for key, priority in wanted.items():
        rule = rules.get(key)
        if rule is None:
            rule = PriorityRule(impact=key[0], urgency=key[1], priority=priority)
            session.add(rule)
            session.flush()
            old = None
        elif rule.priority == priority:
            continue
        else:
            old = rule.priority
            rule.priority = priority
        record_audit(
            session,
            "priority_rule",
            rule.id,
            "edit",
            {"impact": key[0], "urgency": key[1], "priority": [old, priority]},
            actor_id=actor_id,
            now=now,
        )
    session.flush()
    logger.info("priority matrix edited by user %s", actor_id)
    return priority_matrix(session)


# --- SLA policies -------------------------------------------------------------------------

SLA_MINUTE_FIELDS = {
    "acknowledge_minutes": "The acknowledge target",
    "mitigate_minutes": "The mitigate target",
    "resolve_minutes": "The resolve target",
    "update_cadence_minutes": "The public-update cadence",
}


@dataclass(frozen=True)
class SlaTargets:
    """One policy's targets in minutes, and who is told when one is breached."""

    name: str
    acknowledge_minutes: int | None
    mitigate_minutes: int | None
    resolve_minutes: int | None
    update_cadence_minutes: int | None
    business_hours_only: bool = False
    escalation_contacts: Sequence[str] = ()


def clean_contacts(contacts: Iterable[str]) -> list[str]:
    """Valid, distinct email addresses (compared without case), in the order given."""
    cleaned: list[str] = []
    seen: set[str] = set()
    for raw in contacts:
        address = (raw or "").strip()
        if not address:
            continue
        if len(address) > EMAIL_MAX or not _EMAIL.match(address):
            raise DomainError(
                N_("%(email)r is not an email address."), email=address, field="escalation_contacts"
            )
        if address.lower() in seen:
            continue
        seen.add(address.lower())
        cleaned.append(address)
    if len(cleaned) > CONTACTS_MAX:
        raise DomainError(
            N_("At most %(max)s escalation contacts; use a mailing list for more."),
            max=CONTACTS_MAX,
            field="escalation_contacts",
        )
    return cleaned


def _check_targets(targets: SlaTargets) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": _text(
            targets.name,
            limit=SLA_NAME_MAX,
            field="name",
            what="The name",
            required=True,
            one_line=True,
        )
    }
    for name, what in SLA_MINUTE_FIELDS.items():
        minutes = getattr(targets, name)
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise DomainError(f"{what} must be a whole number of minutes.", field=name)
        if not 1 <= minutes <= MINUTES_MAX:
            raise DomainError(f"{what} must be between 1 and {MINUTES_MAX} minutes.", field=name)
        values[name] = minutes
    if values["mitigate_minutes"] < values["acknowledge_minutes"]:
        raise DomainError(
            N_("Mitigation cannot be due before acknowledgement."), field="mitigate_minutes"
        )
    if values["resolve_minutes"] < values["mitigate_minutes"]:
        raise DomainError(
            N_("Resolution cannot be due before mitigation."), field="resolve_minutes"
        )
    values["business_hours_only"] = bool(targets.business_hours_only)
    values["escalation_contacts"] = clean_contacts(targets.escalation_contacts)
    return values


def sla_policies(session: Session) -> list[SlaPolicy]:
    return list(session.scalars(sa.select(SlaPolicy).order_by(SlaPolicy.priority)))


def update_sla_policy(
    session: Session,
    priority: Priority | str,
    targets: SlaTargets,
    *,
    actor_id: int | None,
    now: datetime,
) -> SlaPolicy:
    """Set the targets of one priority's policy (created from the defaults if missing).
    Running clocks use the new targets from their next check."""
    try:
        priority = Priority(priority)
    except ValueError:
        raise NotFound(f"There is no priority {priority!r}.") from None
    values = _check_targets(targets)
    policy = session.scalar(sa.select(SlaPolicy).where(SlaPolicy.priority == priority))
    action = "edit"
    if policy is None:
        name, ack, mitigate, resolve, cadence, business = DEFAULT_SLA[priority]
        policy = SlaPolicy(
            priority=priority,
            name=name,
            acknowledge_minutes=ack,
            mitigate_minutes=mitigate,
            resolve_minutes=resolve,
            update_cadence_minutes=cadence,
            business_hours_only=business,
            escalation_contacts=[],
        )
        session.add(policy)
        session.flush()
        action = "create"
    changes = {}
    for key, value in values.items():
        old = getattr(policy, key)
        if old != value:
            changes[key] = [old, value]
            setattr(policy, key, value)
    if changes or action == "create":
        changes["priority"] = priority
        record_audit(session, "sla_policy", policy.id, action, changes, actor_id=actor_id, now=now)
    session.flush()
    logger.info("SLA policy %s edited by user %s", priority.value, actor_id)
    return policy


# --- incident templates -------------------------------------------------------------------

MESSAGE_STATUSES = tuple(status.value for status in PublicStatus)


@dataclass(frozen=True)
class TemplateFields:
    name: str
    title: str = ""
    description: str = ""
    category_id: int | None = None
    subcategory_id: int | None = None
    impact: Level | str | None = None
    urgency: Level | str | None = None
    task_checklist: Sequence[str] = ()
    # Public message text per public status: investigating, identified, monitoring, resolved.
    message_templates: Mapping[str, str] = field(default_factory=dict)


def _level(value: Level | str | None, field_name: str) -> Level | None:
    if value in (None, ""):
        return None
    try:
        return Level(value)
    except ValueError:
        raise DomainError(N_("Choose high, medium or low."), field=field_name) from None


def _check_template(
    session: Session, fields: TemplateFields, *, exclude_id: int | None
) -> dict[str, Any]:
    name = _text(
        fields.name,
        limit=TEMPLATE_NAME_MAX,
        field="name",
        what="The name",
        required=True,
        one_line=True,
    )
    clash = sa.select(IncidentTemplate.id).where(
        sa.func.lower(IncidentTemplate.name) == name.lower()
    )
    if exclude_id is not None:
        clash = clash.where(IncidentTemplate.id != exclude_id)
    if session.scalar(clash.limit(1)) is not None:
        raise DomainError(
            N_("There is already a template named %(name)r."), name=name, field="name"
        )
    title = _text(
        fields.title,
        limit=TITLE_MAX,
        field="title",
        what="The title",
        required=False,
        one_line=True,
    )
    description = _text(
        fields.description,
        limit=DESCRIPTION_MAX,
        field="description",
        what="The description",
        required=False,
    )
    if fields.category_id is not None:
        category = session.get(Category, fields.category_id)
        if category is None:
            raise NotFound(
                N_("There is no category %(id)s."), id=fields.category_id, field="category"
            )
        if category.parent_id is not None:
            raise DomainError(N_("Choose a top-level category here."), field="category")
    if fields.subcategory_id is not None:
        if fields.category_id is None:
            raise DomainError(N_("Choose the category of this subcategory too."), field="category")
        sub = session.get(Category, fields.subcategory_id)
        if sub is None:
            raise NotFound(
                N_("There is no subcategory %(id)s."), id=fields.subcategory_id, field="subcategory"
            )
        if sub.parent_id != fields.category_id:
            raise DomainError(
                N_("That subcategory belongs to another category."), field="subcategory"
            )
    impact = _level(fields.impact, "impact")
    urgency = _level(fields.urgency, "urgency")
    if (impact is None) != (urgency is None):
        raise DomainError(
            N_("Set both impact and urgency (the priority follows from them), or neither."),
            field="urgency" if urgency is None else "impact",
        )
    checklist = [line.strip() for line in fields.task_checklist if line and line.strip()]
    if len(checklist) > CHECKLIST_MAX:
        raise DomainError(N_("At most %(max)s tasks."), max=CHECKLIST_MAX, field="task_checklist")
    for line in checklist:
        if len(line) > TASK_TITLE_MAX:
            raise DomainError(
                N_("Each task must be at most %(max)s characters."),
                field="task_checklist",
                max=TASK_TITLE_MAX,
            )
    messages: dict[str, str] = {}
    for status, text in fields.message_templates.items():
        if status not in MESSAGE_STATUSES:
            raise DomainError(f"There is no public status {status!r}.", field="message_templates")
        body = _text(
            text,
            limit=MESSAGE_MAX,
            field=f"message_{status}",
            what="The message",
            required=False,
        )
        if body:
            messages[status] = body
    return {
        "name": name,
        "title": title,
        "description": description,
        "category_id": fields.category_id,
        "subcategory_id": fields.subcategory_id,
        "impact": impact,
        "urgency": urgency,
        "task_checklist": checklist,
        "message_templates": messages,
    }


def create_template(
    session: Session, fields: TemplateFields, *, actor_id: int | None, now: datetime
) -> IncidentTemplate:
    values = _check_template(session, fields, exclude_id=None)
    template = IncidentTemplate(created_at=now, updated_at=now, **values)
    session.add(template)
    session.flush()
    record_audit(
        session,
        "incident_template",
        template.id,
        "create",
        dict(values, version=1),
        actor_id=actor_id,
        now=now,
    )
    logger.info("incident template %s created by user %s", template.id, actor_id)
    return template


def _template_or_404(session: Session, template_id: int) -> IncidentTemplate:
    template = session.get(IncidentTemplate, template_id)
    if template is None:
        raise NotFound(N_("There is no template %(id)s."), id=template_id)
    return template


def update_template(
    session: Session,
    template_id: int,
    fields: TemplateFields,
    *,
    actor_id: int | None,
    now: datetime,
    expected_version: int | None = None,
) -> IncidentTemplate:
    """Edit a template. `expected_version` is the template's version the editor loaded; a
    newer one is a `ConflictError` (someone else saved it meanwhile)."""
    template = _template_or_404(session, template_id)
    versioning.check(session, "incident_template", template, expected_version, what="template")
    values = _check_template(session, fields, exclude_id=template.id)
    changes = {}
    for key, value in values.items():
        old = getattr(template, key)
        if old != value:
            changes[key] = [old, value]
            setattr(template, key, value)
    if changes:
        template.updated_at = now
        changes["version"] = versioning.bump(template)
        record_audit(
            session, "incident_template", template.id, "edit", changes, actor_id=actor_id, now=now
        )
    session.flush()
    logger.info("incident template %s edited by user %s", template.id, actor_id)
    return template


def delete_template(
    session: Session, template_id: int, *, actor_id: int | None, now: datetime
) -> None:
    """Delete a template. Incidents made from it keep everything it gave them; only their
    pointer to it is cleared (as the foreign key's ON DELETE SET NULL would)."""
    template = _template_or_404(session, template_id)
    session.execute(
        sa.update(Incident)
        .where(Incident.template_id == template.id)
        .values(template_id=None)
        .execution_options(synchronize_session="fetch")
    )
    record_audit(
        session,
        "incident_template",
        template.id,
        "delete",
        {"name": template.name},
        actor_id=actor_id,
        now=now,
    )
    session.delete(template)
    session.flush()
    logger.info("incident template %s deleted by user %s", template_id, actor_id)


# _text()'s refusals per `what`, whole sentences for the catalogs.
REQUIRED = {
    "The name": N_("The name is required."),
    "The title": N_("The title is required."),
    "The description": N_("The description is required."),
    "The message": N_("The message is required."),
}
TOO_LONG = {
    "The name": N_("The name must be at most %(max)s characters."),
    "The title": N_("The title can be at most %(max)s characters."),
    "The description": N_("The description must be at most %(max)s characters."),
    "The message": N_("The message can be at most %(max)s characters."),
}
