"""Admin views: the incident list, with filters, text search, sorting and pages.

The filter form is a plain GET form (bookmarkable, no JavaScript, no CSRF: it changes nothing).
A parameter that cannot mean anything (an unknown status, a page that is not a number) is
answered with 400 and says which one; a page past either end is clamped.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import abort, render_template, request

from statuspage.admin import bp
from statuspage.admin.checklist import setup_checklist
from statuspage.auth.models import User
from statuspage.auth.queries import active_users
from statuspage.components.models import Component
from statuspage.components.queries import components_by_position
from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.incidents.models import IncidentStatus, Priority, SlaState
from statuspage.incidents.queries import (
    DEFAULT_SORT,
    NONE,
    SORTS,
    IncidentFilters,
    list_incidents,
)
from statuspage.incidents.sla import running_states
from statuspage.web_converters import id_arg, page_arg

SEARCH_MAX = 200


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


def _known_id(name: str, known: dict[int, Any], what: str) -> int | None:
    value = id_arg(name)
    if value is None:
        return None
    if value not in known:
        abort(400, description=f"There is no {what} {value} to filter by.")
    return value


def _known_user(name: str) -> int | None:
    """A user id to filter by: any account, a disabled one included (its incidents still need
    finding)."""
    value = id_arg(name)  # bounded: a huge id is a 400, never a database error
    if value is None:
        return None
    if db.session.get(User, value) is None:
        abort(400, description=f"There is no user {value} to filter by.")
    return value


def _filters(components: dict[int, Component]) -> IncidentFilters:
    sort = _arg("sort") or DEFAULT_SORT
    if sort not in SORTS:
        _bad("sort", sort, list(SORTS))
    return IncidentFilters(
        status=_choice("status", IncidentStatus),
        priority=_choice("priority", Priority, extra=(NONE,)),
        component_id=_known_id("component", components, "component"),
        assignee_id=NONE if _arg("assignee") == NONE else _known_user("assignee"),
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
    components = {c.id: c for c in components_by_position(session)}
    filters = _filters(components)
    result = list_incidents(session, filters, page=_page_number())
    # The assignee select offers the active accounts, and keeps a disabled one when the list
    # is filtered by it (found by `_known_user`, so no further statement).
    assignee_options = active_users(session)
    if isinstance(filters.assignee_id, int) and filters.assignee_id not in {
        user.id for user in assignee_options
    }:
        filtered_by = session.get(User, filters.assignee_id)
        if filtered_by is not None:
            assignee_options.append(filtered_by)
    query_args = _query_args(filters)
    return render_template(
        "admin/incidents/list.html",
        checklist=setup_checklist(),
        result=result,
        filters=filters,
        query_args=query_args,
        filtered=any(key != "sort" for key in query_args),
        components=components,
        assignee_options=assignee_options,
        statuses=list(IncidentStatus),
        priorities=list(Priority),
        sla_states=list(SlaState),
        # The SLA column says what the clocks say now, not what the SLA job last stored.
        live_sla=running_states(session, result.incidents, now=utcnow()),
        sorts={key: label for key, (label, _) in SORTS.items()},
        none_value=NONE,
    )
