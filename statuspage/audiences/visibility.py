"""The one set of rules for who sees what, asked by every channel (pages, feeds, JSON,
email, webhooks, chat).

`audience_ids` is what the reader may see beyond the public: an empty collection is the
public (an anonymous reader, a public subscriber, the widget, the badge, the snapshot). The
rules:

- a component is seen when it is public, or private and addressed to one of the reader's
  audiences; an archived component is seen by nobody;
- an update addressed to nobody is public (every audience sees it); one addressed to
  audiences is seen by their members only;
- an incident is seen when it is public, or addressed to one of the reader's audiences (an
  update to chosen audiences addresses its incident to them).

The predicates take model objects (duck-typed: this package imports only `core`, so that
`components` and `incidents` can declare their `audiences` over its tables); the SQL
conditions take the columns they test.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from statuspage.audiences.models import (
    component_audience,
    incident_audience,
    incident_update_audience,
)

T = TypeVar("T")

PUBLIC: frozenset[int] = frozenset()


def _ids(audiences: Iterable[Any]) -> set[int]:
    return {audience.id for audience in audiences}


def addressed_to(audiences: Iterable[Any], audience_ids: Collection[int]) -> bool:
    """Whether any of `audiences` (model objects) is one of `audience_ids`."""
    return bool(_ids(audiences) & set(audience_ids))


# --- predicates ----------------------------------------------------------------------------


def component_visible_to(component: Any, audience_ids: Collection[int]) -> bool:
    if component.archived_at is not None:
        return False
    if component.is_public:
        return True
    # The public never needs the component's audiences loaded.
    return bool(audience_ids) and addressed_to(component.audiences, audience_ids)


def update_visible_to(update: Any, audience_ids: Collection[int]) -> bool:
    """A published update the reader may read (a draft is nobody's)."""
    if update.published_at is None:
        return False
    return not update.audiences or addressed_to(update.audiences, audience_ids)


def incident_visible_to(incident: Any, audience_ids: Collection[int]) -> bool:
    if incident.is_public:
        return True
    return bool(audience_ids) and addressed_to(incident.audiences, audience_ids)


def update_is_public(update: Any) -> bool:
    return not update.audiences


def component_is_public(component: Any) -> bool:
    return bool(component.is_public)


def visible_updates(updates: Iterable[T], audience_ids: Collection[int]) -> list[T]:
    return [update for update in updates if update_visible_to(update, audience_ids)]


def visible_components(components: Iterable[T], audience_ids: Collection[int]) -> list[T]:
    return [c for c in components if component_visible_to(c, audience_ids)]


def audience_names(audiences: Iterable[Any]) -> list[str]:
    return sorted(audience.name for audience in audiences)


# --- SQL conditions ------------------------------------------------------------------------


def _ids_list(audience_ids: Collection[int]) -> Sequence[int]:
    return sorted({int(i) for i in audience_ids})


def component_clause(
    component_id: Any, is_public: Any, archived_at: Any, audience_ids: Collection[int]
) -> sa.ColumnElement[bool]:
    """`component_visible_to` as a WHERE condition over a component's columns."""
    ids = _ids_list(audience_ids)
    shown: sa.ColumnElement[bool] = is_public.is_(True)
    if ids:
        shown = sa.or_(
            shown,
            sa.exists().where(
                component_audience.c.component_id == component_id,
                component_audience.c.audience_id.in_(ids),
            ),
        )
    return sa.and_(archived_at.is_(None), shown)


def update_clause(update_id: Any, audience_ids: Collection[int]) -> sa.ColumnElement[bool]:
    """The audience half of `update_visible_to` (published-ness is the caller's)."""
    ids = _ids_list(audience_ids)
    public = ~sa.exists().where(incident_update_audience.c.update_id == update_id)
    if not ids:
        return public
    return sa.or_(
        public,
        sa.exists().where(
            incident_update_audience.c.update_id == update_id,
            incident_update_audience.c.audience_id.in_(ids),
        ),
    )


def incident_clause(
    incident_id: Any, is_public: Any, audience_ids: Collection[int]
) -> sa.ColumnElement[bool]:
    """`incident_visible_to` as a WHERE condition."""
    ids = _ids_list(audience_ids)
    if not ids:
        return is_public.is_(True)
    return sa.or_(
        is_public.is_(True),
        sa.exists().where(
            incident_audience.c.incident_id == incident_id,
            incident_audience.c.audience_id.in_(ids),
        ),
    )
