"""What the public page needs about components, in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.audiences import visibility
from statuspage.audiences.models import component_audience
from statuspage.components.models import (
    Component,
    ComponentGroup,
    ComponentStatus,
    ComponentStatusChange,
)
from statuspage.components.uptime import (
    StatusPoint,
)


def all_component_statuses(
    session: Session, *, audience_ids: Collection[int] = ()
) -> list[ComponentStatus]:
    # Hidden components count (their outage is real); archived ones are gone from service.
    # A private component addressed to audiences counts only for their members.
    addressed = sa.exists().where(component_audience.c.component_id == Component.id)
    return list(
        session.scalars(
            sa.select(Component.status).where(
                Component.archived_at.is_(None),
                sa.or_(~addressed, seen_by(audience_ids)),
            )
        )
    )


def seen_by(audience_ids: Collection[int]) -> sa.ColumnElement[bool]:
    """Components the reader sees: listed ones, and private ones of their audiences."""
    return visibility.component_clause(
        Component.id, Component.is_public, Component.archived_at, audience_ids
    )


def status_points(
    session: Session, component_ids: list[int], since: datetime
) -> dict[int, list[StatusPoint]]:
    """Each component's changes since `since`, preceded by the last change before it.

    Two halves joined by UNION ALL, each able to use the (component_id, changed_at, id) index:
    the changes inside the window, and per component the one change just before it. (An OR
    of the two in one WHERE made PostgreSQL scan the whole history: 65 ms at 100,000
    incidents against 2 ms at 100.) The cost follows the number of components and of changes
    in the window, not the length of the history.
    """
    points: dict[int, list[StatusPoint]] = defaultdict(list)
    if not component_ids:
        return points
    change = ComponentStatusChange
    earlier = sa.orm.aliased(ComponentStatusChange)
    last_before = (
        sa.select(earlier.id)
        .where(earlier.component_id == Component.id, earlier.changed_at < since)
        # Read backwards off the (component_id, changed_at, id) index with no sort, even for
        # a component whose last change is years old.
        .order_by(earlier.changed_at.desc(), earlier.id.desc())
        .limit(1)
        .correlate(Component)
        .scalar_subquery()
    )
    columns = (change.component_id, change.changed_at, change.status, change.id)
    inside = sa.select(*columns).where(
        change.component_id.in_(component_ids), change.changed_at >= since
    )
    before = sa.select(*columns).where(
        change.id.in_(sa.select(last_before).where(Component.id.in_(component_ids)))
    )
    both = sa.union_all(inside, before).subquery()
    rows = session.execute(
        sa.select(both.c.component_id, both.c.changed_at, both.c.status).order_by(
            both.c.changed_at, both.c.id
        )
    )
    for component_id, changed_at, status in rows:
        points[component_id].append(StatusPoint(at=changed_at, status=status))
    return points


def components_by_position(session: Session) -> list[Component]:
    """Every component in the order staff arrange them (position, then name); one statement.

    The one list behind every admin select of components and the incident list's filter.
    """
    return list(session.scalars(sa.select(Component).order_by(Component.position, Component.name)))


def component_choices(session: Session) -> list[tuple[int, str]]:
    """(id, name) pairs of every component, in position order, for the admin selects."""
    return [(component.id, component.name) for component in components_by_position(session)]


def list_components_for_filter(
    session: Session, *, audience_ids: Collection[int] = ()
) -> list[Component]:
    return list(
        session.scalars(sa.select(Component).where(seen_by(audience_ids)).order_by(Component.name))
    )


def shown_components(session: Session, *, audience_ids: Collection[int] = ()) -> list[Component]:
    """Components shown publicly, with their groups loaded, in page order; one query.

    By group (position), then by position within the group; components outside any group
    last. Operational `only_show_if_degraded` components are included: the page leaves them
    out itself, the JSON API reports the flag and leaves the choice to the reader.
    """
    return list(
        session.scalars(
            sa.select(Component)
            .where(seen_by(audience_ids))
            .outerjoin(ComponentGroup, ComponentGroup.id == Component.group_id)
            .order_by(
                ComponentGroup.position.is_(None),
                ComponentGroup.position,
                ComponentGroup.id,
                Component.position,
                Component.id,
            )
            .options(sa.orm.contains_eager(Component.group))
        )
    )


@dataclass(frozen=True)
class SetupGroup:
    group: ComponentGroup
    components: list[Component]


@dataclass(frozen=True)
class SetupListing:
    """Everything staff set up, in page order: groups with their components, the components
    outside any group, and the archived ones."""

    groups: list[ComponentGroup]
    grouped: list[SetupGroup]
    ungrouped: list[Component]
    archived: list[Component]

    @property
    def empty(self) -> bool:
        return not self.groups and not self.ungrouped and not self.archived


def setup_listing(session: Session) -> SetupListing:
    """Two queries: the groups, and every component."""
    groups = list(
        session.scalars(
            sa.select(ComponentGroup).order_by(ComponentGroup.position, ComponentGroup.id)
        )
    )
    components = list(
        session.scalars(sa.select(Component).order_by(Component.position, Component.id))
    )
    by_group: dict[int | None, list[Component]] = {}
    archived = []
    for component in components:
        if component.archived_at is not None:
            archived.append(component)
        else:
            by_group.setdefault(component.group_id, []).append(component)
    return SetupListing(
        groups=groups,
        grouped=[SetupGroup(group, by_group.get(group.id, [])) for group in groups],
        ungrouped=by_group.get(None, []),
        archived=archived,
    )


def listed_component_count(session: Session) -> int:
    """Components readers can see (listed, not archived)."""
    return int(
        session.scalar(
            sa.select(sa.func.count()).select_from(Component).where(Component.listed_clause())
        )
        or 0
    )
