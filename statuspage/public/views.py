"""Public pages. Thin: parse the request, ask the queries, render."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from flask import abort, current_app, render_template
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError

from statuspage import web_converters
from statuspage.audiences import visibility
from statuspage.components import queries as component_queries
from statuspage.components.models import Component
from statuspage.components.status import overall_status
from statuspage.components.uptime import DOWNTIME_WEIGHT, MINOR_DAY_BELOW_MINUTES
from statuspage.components.uptime_days import STORED_FLAG
from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.incidents import queries as incident_queries
from statuspage.incidents.models import Maintenance
from statuspage.public import queries as public_queries
from statuspage.public import translated
from statuspage.public.blueprint import bp
from statuspage.public.branding import current_page
from statuspage.public.readers import current_reader

logger = logging.getLogger(__name__)


def _keep_counted_days() -> None:
    """Commit the uptime days this render counted and stored, if any, so the next render
    reads them. The page does not depend on it: a failed write is rolled back and the days
    are counted again next time."""
    if not db.session.info.pop(STORED_FLAG, False):
        return
    try:
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        logger.warning("could not store counted uptime days; they are counted again next time")


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
    active_incidents = incident_queries.active_incidents(session, audience_ids=ids)
    # The same incidents `unresolved_public_impacts` would read again.
    status = overall_status(
        component_queries.all_component_statuses(session, audience_ids=ids),
        [incident.public_impact.value for incident in active_incidents],
    )
    maintenance = incident_queries.maintenance_overview(session, now=now)
    recent_days = incident_queries.recent_days(
        session, now=now, days=config["RECENT_DAYS"], audience_ids=ids
    )
    translated.prime_maintenances(
        [
            *maintenance.in_progress,
            *maintenance.upcoming,
            *(item for day in recent_days for item in day.maintenances),
        ]
    )
    html = render_template(
        "public/index.html",
        now=now,
        status=status,
        groups=groups,
        active_incidents=active_incidents,
        maintenance=maintenance,
        recent_days=recent_days,
        uptime_days=config["UPTIME_DAYS"],
        uptime_zone=zone_name,
        downtime_weights=DOWNTIME_WEIGHT,
    )
    # After the render: a commit expires the loaded rows the template still reads.
    _keep_counted_days()
    return html


@bp.get("/components/<int:component_id>/uptime")
def component_uptime(component_id: int) -> str:
    """One component's uptime day by day: the text behind its bar on the front page."""
    component = db.session.get(Component, component_id)
    # A member follows a private component's bar here too; to anyone else it does not exist.
    if component is None or not visibility.component_visible_to(
        component, current_reader().audience_ids
    ):
        abort(404)
    now = utcnow()
    zone_name = current_page().time_zone
    report, rows = public_queries.component_uptime_days(
        db.session,
        component,
        now=now,
        days=current_app.config["UPTIME_DAYS"],
        zone=ZoneInfo(zone_name),
    )
    html = render_template(
        "public/component_uptime.html",
        component=component,
        report=report,
        rows=rows,
        uptime_zone=zone_name,
        minor_below=MINOR_DAY_BELOW_MINUTES,
        now=now,
    )
    _keep_counted_days()
    return html


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
    translated.prime_maintenances([found], updates=True)
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
            abort(
                400,
                description=_("There is no component %(id)s to filter by.", id=component_id),
            )
    result = incident_queries.history_page(
        db.session,
        page=page,
        per_page=current_app.config["HISTORY_PAGE_SIZE"],
        component_id=component_id,
        audience_ids=ids,
    )
    translated.prime_maintenances(
        item for _month, items in result.months for item in items if isinstance(item, Maintenance)
    )
    return render_template(
        "public/history.html",
        history=result,
        component=component,
        components=component_queries.list_components_for_filter(db.session, audience_ids=ids),
        now=utcnow(),
    )
