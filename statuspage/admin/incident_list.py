"""Admin views: the incident list, with filters, text search, sorting and pages.

The filter form is a plain GET form (bookmarkable, no JavaScript, no CSRF: it changes nothing).
A parameter that cannot mean anything (an unknown status, a page that is not a number) is
answered with 400 and says which one; a page past either end is clamped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

import sqlalchemy as sa
from flask import abort, render_template, request
from sqlalchemy.orm import Session, defer, selectinload

from statuspage.admin import bp
from statuspage.auth.models import User
from statuspage.components.models import Component
from statuspage.core.paging import Paged, clamp_page
from statuspage.extensions import db
from statuspage.incidents.models import (
    Incident,
    IncidentComponent,
    IncidentStatus,
    Priority,
    SlaState,
)
from statuspage.web_converters import page_arg

PER_PAGE = 50
SEARCH_MAX = 200
NONE = "none"  # priority=none: not prioritized yet; assignee=none: nobody assigned

_STATUS_ORDER = sa.case(
    {status: index for index, status in enumerate(IncidentStatus)}, value=Incident.status
)
# Each sort ends with the id so that pages never repeat or skip a row.
SORTS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "newest": ("Newest first", (Incident.created_at.desc(), Incident.id.desc())),
    "oldest": ("Oldest first", (Incident.created_at.asc(), Incident.id.asc())),
    "priority": (
        "Priority (P1 first)",
        (
            Incident.priority.is_(None),  # unprioritized last on every database
            Incident.priority.asc(),
            Incident.created_at.desc(),
            Incident.id.desc(),
        ),
    ),
    "status": (
        "Status (lifecycle order)",
        (_STATUS_ORDER, Incident.created_at.desc(), Incident.id.desc()),
    ),
    "updated": ("Recently updated", (Incident.updated_at.desc(), Incident.id.desc())),
}
DEFAULT_SORT = "newest"


@dataclass(frozen=True)
class IncidentFilters:
    status: IncidentStatus | None = None
    priority: Priority | str | None = None  # a Priority, or NONE
    component_id: int | None = None
    assignee_id: int | str | None = None  # a user id, or NONE
    sla: SlaState | None = None
    search: str = ""
    sort: str = DEFAULT_SORT

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        where: list[sa.ColumnElement[bool]] = []
        if self.status is not None:
            where.append(Incident.status == self.status)
        if self.priority == NONE:
            where.append(Incident.priority.is_(None))
        elif self.priority is not None:
            where.append(Incident.priority == self.priority)
        if self.component_id is not None:
            where.append(
                Incident.id.in_(
                    sa.select(IncidentComponent.incident_id).where(
                        IncidentComponent.component_id == self.component_id
                    )
                )
            )
        if self.assignee_id == NONE:
            where.append(Incident.assignee_id.is_(None))
        elif self.assignee_id is not None:
            where.append(Incident.assignee_id == self.assignee_id)
        if self.sla is not None:
            where.append(Incident.sla_state == self.sla)
        if self.search:
            # lower(...) LIKE lower(...) on SQLite, ILIKE on PostgreSQL; % and _ typed by the
            # user are matched literally.
            where.append(
                sa.or_(
                    Incident.title.icontains(self.search, autoescape=True),
                    Incident.description.icontains(self.search, autoescape=True),
                )
            )
        return where


@dataclass(frozen=True)
class IncidentPage(Paged):
    page: int
    per_page: int
    total: int
    incidents: list[Incident]


def list_incidents(
    session: Session, filters: IncidentFilters, *, page: int, per_page: int = PER_PAGE
) -> IncidentPage:
    """One page of matching incidents with their components: three or four statements."""
    where = filters.conditions()
    total = session.scalar(sa.select(sa.func.count(Incident.id)).where(*where)) or 0
    page = clamp_page(page, total, per_page)
    incidents = session.scalars(
        sa.select(Incident)
        .where(*where)
        .order_by(*SORTS[filters.sort][1])
        .limit(per_page)
        .offset((page - 1) * per_page)
        .options(
            defer(Incident.description),
            selectinload(Incident.affected).selectinload(IncidentComponent.component),
        )
    ).all()
    return IncidentPage(page=page, per_page=per_page, total=total, incidents=list(incidents))


# --- reading the query string -----------------------------------------------------------


def _arg(name: str) -> str:
    return request.args.get(name, "").strip()


def _bad(name: str, raw: str, allowed: list[str]) -> NoReturn:
    abort(
        400,
        description=f"The filter {name!r} cannot be {raw!r}; use one of: {', '.join(allowed)}.",
    )


def _choice(name: str, enum_class: type[Any], extra: tuple[str, ...] = ()) -> Any:
    raw = _arg(name)
    if not raw:
        return None
    if raw in extra:
        return raw
    try:
        return enum_class(raw)
    except ValueError:
        _bad(name, raw, [m.value for m in enum_class] + list(extra))


def _whole_number(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        abort(400, description=f"The parameter {name!r} must be a whole number, not {raw!r}.")


def _known_id(name: str, known: dict[int, Any], what: str) -> int | None:
    raw = _arg(name)
    if not raw:
        return None
    value = _whole_number(name, raw)
    if value not in known:
        abort(400, description=f"There is no {what} {value} to filter by.")
    return value


def _filters(components: dict[int, Component], users: dict[int, User]) -> IncidentFilters:
    sort = _arg("sort") or DEFAULT_SORT
    if sort not in SORTS:
        _bad("sort", sort, list(SORTS))
    return IncidentFilters(
        status=_choice("status", IncidentStatus),
        priority=_choice("priority", Priority, extra=(NONE,)),
        component_id=_known_id("component", components, "component"),
        assignee_id=NONE if _arg("assignee") == NONE else _known_id("assignee", users, "user"),
        sla=_choice("sla", SlaState),
        # PostgreSQL refuses NUL in text; it never belongs in a search anyway.
        search=_arg("q").replace("\x00", "")[:SEARCH_MAX],
        sort=sort,
    )


def _page_number() -> int:
    return page_arg()


def _query_args(filters: IncidentFilters) -> dict[str, str]:
    """The active filters as query parameters, for the pager's links."""
    values = {
        "status": filters.status,
        "priority": filters.priority,
        "component": filters.component_id,
        "assignee": filters.assignee_id,
        "sla": filters.sla,
        "q": filters.search,
        "sort": filters.sort if filters.sort != DEFAULT_SORT else None,
    }
    return {key: str(value) for key, value in values.items() if value not in (None, "")}


@bp.get("/")
@bp.get("/incidents")
def incidents() -> str:
    session = db.session
    components = {
        c.id: c
        for c in session.scalars(sa.select(Component).order_by(Component.position, Component.name))
    }
    users = {u.id: u for u in session.scalars(sa.select(User).order_by(User.name, User.email))}
    filters = _filters(components, users)
    result = list_incidents(session, filters, page=_page_number())
    query_args = _query_args(filters)
    return render_template(
        "admin/incidents/list.html",
        result=result,
        filters=filters,
        query_args=query_args,
        filtered=any(key != "sort" for key in query_args),
        components=components,
        users=users,
        statuses=list(IncidentStatus),
        priorities=list(Priority),
        sla_states=list(SlaState),
        sorts={key: label for key, (label, _) in SORTS.items()},
        none_value=NONE,
    )
