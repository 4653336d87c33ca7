"""Setting up a page: creating, editing, ordering and archiving components and groups.

One entry point per action, called alike by the staff pages, the write API and the CLI. Each
validates its input (a `DomainError` naming the field), writes an audit row and bumps the
public version in the caller's transaction: the page, feeds, JSON and snapshot show the change
as soon as it commits.

A component with history (status changes beyond its first row, or incidents and maintenance
that name it) is archived rather than deleted: its history, uptime and incidents stay readable,
and the page and the JSON API stop listing it. A component without history is deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.audiences.models import Audience
from statuspage.components.models import Component, ComponentGroup
from statuspage.components.models import ComponentStatusChange as StatusChange
from statuspage.components.status import add_component
from statuspage.components.uptime import day_start
from statuspage.core.errors import DomainError, NotFound
from statuspage.core.records import bump_public_version, record_audit
from statuspage.core.text import single_line
from statuspage.core.translation import N_

NAME_MAX = 120  # the columns' length
DESCRIPTION_MAX = 1000  # plain text shown under the name: a sentence or two
Direction = Literal["up", "down"]


def _name(value: str, what: str) -> str:
    name = single_line(value or "")  # line breaks fold into one space
    if not name:
        raise DomainError(
            N_("A group needs a name.") if what == "group" else N_("A component needs a name."),
            field="name",
        )
    if len(name) > NAME_MAX:
        raise DomainError(N_("Keep the name under %(max)s characters."), max=NAME_MAX, field="name")
    return name


def _description(value: str) -> str:
    text = (value or "").replace("\r\n", "\n").strip()
    if len(text) > DESCRIPTION_MAX:
        raise DomainError(
            N_("Keep the description under %(max)s characters."),
            field="description",
            max=DESCRIPTION_MAX,
        )
    return text


@dataclass(frozen=True)
class ComponentFields:
    """What staff set on a component. `None` in an edit leaves the field as it is."""

    name: str | None = None
    description: str | None = None
    group_id: int | None = None
    showcase: bool | None = None  # show the uptime bar (Statuspage's meaning)
    only_show_if_degraded: bool | None = None
    start_date: date | None = None
    is_public: bool | None = None  # listed on the public page, feeds and JSON
    # The audiences a private component is shown to (None: as is). A listed component is
    # everyone's; its audiences only matter once it is not listed.
    audience_ids: Sequence[int] | None = None
    # Edits only: set to move the component out of its group (group_id None means "as is").
    ungroup: bool = False


@dataclass(frozen=True)
class GroupFields:
    name: str | None = None
    description: str | None = None


def _audiences(session: Session, audience_ids: Sequence[int]) -> list[Audience]:
    wanted = sorted({int(i) for i in audience_ids})
    found = (
        list(session.scalars(sa.select(Audience).where(Audience.id.in_(wanted)))) if wanted else []
    )
    if len(found) != len(wanted):
        raise NotFound(N_("One of the chosen audiences does not exist."), field="audiences")
    return found


def _get_component(session: Session, component_id: int) -> Component:
    component = session.get(Component, component_id)
    if component is None:
        raise NotFound(N_("No such component."))
    return component


def _get_group(session: Session, group_id: int) -> ComponentGroup:
    group = session.get(ComponentGroup, group_id)
    if group is None:
        raise NotFound(N_("No such component group."), field="group_id")
    return group


def _in_group(group_id: int | None) -> sa.ColumnElement[bool]:
    if group_id is None:
        return Component.group_id.is_(None)
    return Component.group_id == group_id


def _last_position(session: Session, column: Any, *where: Any) -> int:
    return int(session.scalar(sa.select(sa.func.max(column)).where(*where)) or 0)


def _changed(record: Any, wanted: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        key: [getattr(record, key), value]
        for key, value in wanted.items()
        if getattr(record, key) != value
    }


def _component_values(
    session: Session, values: ComponentFields, *, creating: bool
) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    if values.name is not None or creating:
        wanted["name"] = _name(values.name or "", "component")
    if values.description is not None:
        wanted["description"] = _description(values.description)
    if values.group_id is not None:
        _get_group(session, values.group_id)
        wanted["group_id"] = values.group_id
    elif values.ungroup:
        wanted["group_id"] = None
    for key in ("showcase", "only_show_if_degraded", "is_public"):
        value = getattr(values, key)
        if value is not None:
            wanted[key] = bool(value)
    if values.start_date is not None:
        wanted["start_date"] = values.start_date
    return wanted


def create_component(
    session: Session, values: ComponentFields, *, actor_id: int | None, now: datetime
) -> Component:
    """A new component, operational, last in its group, with its first history row (uptime
    counts from its start date when one is given, else from now)."""
    wanted = _component_values(session, values, creating=True)
    last = _last_position(session, Component.position, _in_group(wanted.get("group_id")))
    component = add_component(session, position=last + 1, actor_id=actor_id, now=now, **wanted)
    if values.audience_ids is not None:
        component.audiences = _audiences(session, values.audience_ids)
        wanted["audiences"] = [audience.id for audience in component.audiences]
    record_audit(
        session,
        "component",
        component.id,
        "create",
        {
            key: [None, value]
            for key, value in {"start_date": component.start_date, **wanted}.items()
        },
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return component


def edit_component(
    session: Session,
    component_id: int,
    values: ComponentFields,
    *,
    actor_id: int | None,
    now: datetime,
) -> Component:
    component = _get_component(session, component_id)
    if component.archived_at is not None:
        raise DomainError(N_("This component is archived; restore it before editing it."))
    changes = _changed(component, _component_values(session, values, creating=False))
    if values.audience_ids is not None:
        audiences = _audiences(session, values.audience_ids)
        before = sorted(audience.id for audience in component.audiences)
        after = sorted(audience.id for audience in audiences)
        if before != after:
            component.audiences = audiences
            record_audit(
                session,
                "component",
                component.id,
                "audiences",
                {"audiences": [before, after]},
                actor_id=actor_id,
                now=now,
            )
            component.updated_at = now
    if not changes:
        return component
    if "group_id" in changes:  # last in its new group
        component.position = (
            _last_position(session, Component.position, _in_group(changes["group_id"][1])) + 1
        )
    for key, (_, value) in changes.items():
        setattr(component, key, value)
    component.updated_at = now
    if "start_date" in changes:
        _move_first_history_row(session, component, now)
    record_audit(session, "component", component.id, "edit", changes, actor_id=actor_id, now=now)
    bump_public_version(session, now)
    session.flush()
    return component


def _move_first_history_row(session: Session, component: Component, now: datetime) -> None:
    """Uptime counts from the first history row: it moves to the new start date, never past
    the component's next real change nor into the future."""
    rows = list(
        session.scalars(
            sa.select(StatusChange)
            .where(StatusChange.component_id == component.id)
            .order_by(StatusChange.changed_at, StatusChange.id)
            .limit(2)
        )
    )
    if not rows or rows[0].old_status is not None or component.start_date is None:
        return
    latest = rows[1].changed_at if len(rows) > 1 else now
    rows[0].changed_at = min(day_start(component.start_date), latest)


def has_history(session: Session, component_id: int) -> bool:
    """Anything a reader may look back at: status changes beyond the first row, or incidents
    and maintenance that name it."""
    changes = session.scalar(
        sa.select(sa.func.count())
        .select_from(StatusChange)
        .where(StatusChange.component_id == component_id)
    )
    if (changes or 0) > 1:
        return True
    for table in (
        "incident_component",
        "incident_update_component",
        "maintenance_component",
        "problem_component",
    ):
        # The link tables belong to other packages; named here, not imported.
        link = sa.table(table, sa.column("component_id"))
        linked = session.execute(
            sa.select(sa.literal(1))
            .select_from(link)
            .where(link.c.component_id == component_id)
            .limit(1)
        ).first()
        if linked is not None:
            return True
    return False


def remove_component(
    session: Session, component_id: int, *, actor_id: int | None, now: datetime
) -> Literal["archived", "deleted"]:
    """Archive a component with history; delete one without. Either way it leaves the page,
    the feeds and the JSON API."""
    component = _get_component(session, component_id)
    if component.archived_at is not None:
        return "archived"
    if has_history(session, component_id):
        component.archived_at = now
        component.updated_at = now
        outcome: Literal["archived", "deleted"] = "archived"
        changes: dict[str, Any] = {"archived_at": [None, now]}
    else:
        changes = {"name": [component.name, None]}
        session.execute(sa.delete(StatusChange).where(StatusChange.component_id == component_id))
        session.execute(
            sa.text("DELETE FROM subscriber_component WHERE component_id = :id"),
            {"id": component_id},
        )
        session.delete(component)
        outcome = "deleted"
    record_audit(session, "component", component_id, outcome, changes, actor_id=actor_id, now=now)
    bump_public_version(session, now)
    session.flush()
    return outcome


def restore_component(
    session: Session, component_id: int, *, actor_id: int | None, now: datetime
) -> Component:
    component = _get_component(session, component_id)
    if component.archived_at is None:
        return component
    record_audit(
        session,
        "component",
        component.id,
        "restore",
        {"archived_at": [component.archived_at, None]},
        actor_id=actor_id,
        now=now,
    )
    component.archived_at = None
    component.updated_at = now
    bump_public_version(session, now)
    session.flush()
    return component


def _swap(
    session: Session,
    items: Sequence[Any],
    item_id: int,
    direction: Direction,
    *,
    entity: str,
    actor_id: int | None,
    now: datetime,
) -> bool:
    """Move one item a place up or down in `items` (already in order); renumber all."""
    ids = [item.id for item in items]
    if item_id not in ids:
        raise NotFound(f"No such {entity.replace('_', ' ')}.")
    index = ids.index(item_id)
    target = index - 1 if direction == "up" else index + 1
    if target < 0 or target >= len(items):
        return False
    ordered = list(items)
    ordered[index], ordered[target] = ordered[target], ordered[index]
    _renumber(session, ordered, entity=entity, actor_id=actor_id, now=now)
    return True


def _renumber(
    session: Session, ordered: Sequence[Any], *, entity: str, actor_id: int | None, now: datetime
) -> None:
    for position, item in enumerate(ordered, start=1):
        if item.position != position:
            record_audit(
                session,
                entity,
                item.id,
                "reorder",
                {"position": [item.position, position]},
                actor_id=actor_id,
                now=now,
            )
            item.position = position
            item.updated_at = now
    bump_public_version(session, now)
    session.flush()


def _siblings(session: Session, group_id: int | None) -> list[Component]:
    return list(
        session.scalars(
            sa.select(Component)
            .where(_in_group(group_id), Component.archived_at.is_(None))
            .order_by(Component.position, Component.id)
        )
    )


def move_component(
    session: Session,
    component_id: int,
    direction: Direction,
    *,
    actor_id: int | None,
    now: datetime,
) -> bool:
    """One place up or down within its group; False when it is already first or last."""
    component = _get_component(session, component_id)
    return _swap(
        session,
        _siblings(session, component.group_id),
        component_id,
        direction,
        entity="component",
        actor_id=actor_id,
        now=now,
    )


def reorder_components(
    session: Session,
    group_id: int | None,
    component_ids: Sequence[int],
    *,
    actor_id: int | None,
    now: datetime,
) -> None:
    """Set the order of a group's components (all of them, each once)."""
    siblings = _siblings(session, group_id)
    by_id = {component.id: component for component in siblings}
    if sorted(component_ids) != sorted(by_id):
        raise DomainError(
            N_("Give every component of the group exactly once."), field="component_ids"
        )
    _renumber(
        session,
        [by_id[i] for i in component_ids],
        entity="component",
        actor_id=actor_id,
        now=now,
    )


# --- groups ------------------------------------------------------------------------------


def _groups(session: Session) -> list[ComponentGroup]:
    return list(
        session.scalars(
            sa.select(ComponentGroup).order_by(ComponentGroup.position, ComponentGroup.id)
        )
    )


def _group_values(values: GroupFields, *, creating: bool) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    if values.name is not None or creating:
        wanted["name"] = _name(values.name or "", "group")
    if values.description is not None:
        wanted["description"] = _description(values.description)
    return wanted


def create_group(
    session: Session, values: GroupFields, *, actor_id: int | None, now: datetime
) -> ComponentGroup:
    wanted = _group_values(values, creating=True)
    group = ComponentGroup(
        position=_last_position(session, ComponentGroup.position) + 1,
        created_at=now,
        updated_at=now,
        **wanted,
    )
    session.add(group)
    session.flush()
    record_audit(
        session,
        "component_group",
        group.id,
        "create",
        {key: [None, value] for key, value in wanted.items()},
        actor_id=actor_id,
        now=now,
    )
    bump_public_version(session, now)
    session.flush()
    return group


def edit_group(
    session: Session, group_id: int, values: GroupFields, *, actor_id: int | None, now: datetime
) -> ComponentGroup:
    group = _get_group(session, group_id)
    changes = _changed(group, _group_values(values, creating=False))
    if not changes:
        return group
    for key, (_, value) in changes.items():
        setattr(group, key, value)
    group.updated_at = now
    record_audit(session, "component_group", group.id, "edit", changes, actor_id=actor_id, now=now)
    bump_public_version(session, now)
    session.flush()
    return group


def delete_group(session: Session, group_id: int, *, actor_id: int | None, now: datetime) -> int:
    """Delete a group; its components stay, outside any group, after the ungrouped ones.
    Returns how many components it held."""
    group = _get_group(session, group_id)
    members = list(
        session.scalars(
            sa.select(Component)
            .where(Component.group_id == group_id)
            .order_by(Component.position, Component.id)
        )
    )
    last = _last_position(session, Component.position, _in_group(None))
    for offset, component in enumerate(members, start=1):
        component.group_id = None
        component.position = last + offset
        component.updated_at = now
    record_audit(
        session,
        "component_group",
        group.id,
        "delete",
        {"name": [group.name, None], "components": [[c.id for c in members], []]},
        actor_id=actor_id,
        now=now,
    )
    session.execute(sa.text("DELETE FROM subscriber_group WHERE group_id = :id"), {"id": group_id})
    session.delete(group)
    bump_public_version(session, now)
    session.flush()
    return len(members)


def move_group(
    session: Session, group_id: int, direction: Direction, *, actor_id: int | None, now: datetime
) -> bool:
    return _swap(
        session,
        _groups(session),
        group_id,
        direction,
        entity="component_group",
        actor_id=actor_id,
        now=now,
    )


def reorder_groups(
    session: Session, group_ids: Sequence[int], *, actor_id: int | None, now: datetime
) -> None:
    groups = _groups(session)
    by_id = {group.id: group for group in groups}
    if sorted(group_ids) != sorted(by_id):
        raise DomainError(N_("Give every group exactly once."), field="group_ids")
    _renumber(
        session,
        [by_id[i] for i in group_ids],
        entity="component_group",
        actor_id=actor_id,
        now=now,
    )
