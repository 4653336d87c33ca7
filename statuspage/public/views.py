"""Public pages. Thin: parse the request, ask the queries, render."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, current_app, render_template

from statuspage import web_converters
from statuspage.audiences import visibility
from statuspage.components import queries as component_queries
from statuspage.components.models import Component
from statuspage.components.status import overall_status
from statuspage.components.uptime import DOWNTIME_WEIGHT
from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.incidents import queries as incident_queries
from statuspage.incidents.models import Maintenance
from statuspage.public import queries as public_queries
from statuspage.public.blueprint import bp
from statuspage.public.branding import current_page
from statuspage.public.readers import current_reader


@bp.get("/")
def index() -> str:
    now = utcnow()
    session = db.session
    config = current_app.config
    zone_name = current_page().time_zone
    ids = current_reader().audience_ids  # empty for the public (and every cached copy)
    groups = public_queries.status_page_groups(
        session, now=now, days=config["UPTIME_DAYS"], zone=ZoneInfo(zone_name), audience_ids=ids
    )
    status = overall_status(
        component_queries.all_component_statuses(session, audience_ids=ids),
        incident_queries.unresolved_public_impacts(session, audience_ids=ids),
    )
    return render_template(
        "public/index.html",
        now=now,
        status=status,
        groups=groups,
        active_incidents=incident_queries.active_incidents(session, audience_ids=ids),
        maintenance=incident_queries.maintenance_overview(session, now=now),
        recent_days=incident_queries.recent_days(
            session, now=now, days=config["RECENT_DAYS"], audience_ids=ids
        ),
        uptime_days=config["UPTIME_DAYS"],
        uptime_zone=zone_name,
        downtime_weights=DOWNTIME_WEIGHT,
    )


@bp.get("/incidents/<int:incident_id>")
def incident(incident_id: int) -> str:
    ids = current_reader().audience_ids
    found = incident_queries.public_incident(db.session, incident_id, audience_ids=ids)
    if found is None:
        abort(404)
    worst = incident_queries.worst_component_statuses(found)
    return render_template(
        "public/incident.html",
        incident=found,
        # (link, name, worst status) of the affected components this reader may see.
        affected=[
            (link, *worst[index])
            for index, link in enumerate(found.affected)
            if visibility.component_visible_to(link.component, ids)
        ],
        review=incident_queries.published_review(db.session, found.id),
        histories=incident_queries.update_histories(db.session, found),
        now=utcnow(),
    )


@bp.get("/maintenance/<int:maintenance_id>")
def maintenance(maintenance_id: int) -> str:
    found = db.session.get(Maintenance, maintenance_id)
    if found is None:
        abort(404)
    return render_template("public/maintenance.html", maintenance=found, now=utcnow())


@bp.get("/history")
def history() -> str:
    page = web_converters.page_arg()  # bounded: a page past 2^31 is a 400, not a bigint OFFSET
    component_id = web_converters.id_arg("component")
    ids = current_reader().audience_ids
    component = None
    if component_id is not None:
        component = db.session.get(Component, component_id)
        # An archived component's history stays readable; a hidden one's never was.
        if component is None or not (
            component.is_public or visibility.addressed_to(component.audiences, ids)
        ):
            abort(400, description=f"There is no component {component_id} to filter by.")
    result = incident_queries.history_page(
        db.session,
        page=page,
        per_page=current_app.config["HISTORY_PAGE_SIZE"],
        component_id=component_id,
        audience_ids=ids,
    )
    return render_template(
        "public/history.html",
        history=result,
        component=component,
        components=component_queries.list_components_for_filter(db.session, audience_ids=ids),
        now=utcnow(),
    )
