"""The public JSON API in Statuspage's v2 format, under /api/v2.

Thin views: ask the queries, shape with `api_v2_format`, answer JSON that anyone may read
(CORS), with a strong ETag from the body (304 on If-None-Match) and a short public max-age so a
CDN can absorb a traffic spike. Errors under /api/v2 are JSON too, unknown paths included.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
)

from statuspage.audiences import manage as audience_manage
from statuspage.components import queries as component_queries
from statuspage.components.status import OverallStatus, overall_status
from statuspage.core.db import utcnow
from statuspage.database import ThrottledLog
from statuspage.extensions import db
from statuspage.i18n import default_language, url_language
from statuspage.incidents import queries as incident_queries
from statuspage.incidents.models import Incident, MaintenanceStatus
from statuspage.incidents.translations import Kind, Localizer
from statuspage.public.api_v2_format import Page, StatuspageV2, default_page_id
from statuspage.public.branding import current_page

logger = logging.getLogger(__name__)
_unavailable_log = ThrottledLog(logger)  # one line a minute during an outage, not per request

URL_PREFIX = "/api/v2"
bp = Blueprint("api_v2", __name__, url_prefix=URL_PREFIX)

DEFAULT_MAX_AGE = 30  # seconds; override with API_MAX_AGE (env STATUSPAGE_API_MAX_AGE)
UPCOMING = (MaintenanceStatus.SCHEDULED,)
ACTIVE = (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)


def _format(audience_ids: Collection[int] = ()) -> StatuspageV2:
    config = current_app.config
    page = current_page()  # the name and zone staff set in the app, over the settings
    # `?lang=xx` asks for translations; anything else (Accept-Language, the cookie, an unknown
    # code) keeps the default language, as Statuspage clients expect.
    default = default_language()
    localizer = Localizer(db.session, url_language() or default, default)
    return StatuspageV2(
        Page(
            # The id stays what SITE_NAME made it: renaming the page must not change its id.
            id=config.get("PAGE_ID") or default_page_id(config["SITE_NAME"]),
            name=page.name,
            url=config["SITE_URL"],
            time_zone=page.time_zone,
            updated_at=incident_queries.api_page_updated_at(db.session) or utcnow(),
        ),
        audience_ids=audience_ids,
        localizer=localizer,
    )


def _overall(audience_ids: Collection[int] = ()) -> OverallStatus:
    return overall_status(
        component_queries.all_component_statuses(db.session, audience_ids=audience_ids),
        incident_queries.unresolved_public_impacts(db.session, audience_ids=audience_ids),
    )


def _incidents(fmt: StatuspageV2, incidents: list[Incident]) -> list[dict[str, Any]]:
    reviews = incident_queries.published_reviews(db.session, [i.id for i in incidents])
    fmt.localizer.prime(Kind.UPDATE, [u.id for i in incidents for u in i.updates])
    fmt.localizer.prime(Kind.REVIEW, [r.review_id for r in reviews.values() if r.review_id])
    return [fmt.incident_dict(i, review=reviews.get(i.id)) for i in incidents]


def _maintenances(
    fmt: StatuspageV2,
    statuses: tuple[MaintenanceStatus, ...] | None,
    *,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    found = incident_queries.api_maintenances(
        db.session, statuses=statuses, newest_first=newest_first
    )
    fmt.localizer.prime(Kind.MAINTENANCE, [m.id for m in found])
    fmt.localizer.prime(Kind.MAINTENANCE_UPDATE, [u.id for m in found for u in m.updates])
    return [fmt.maintenance_dict(m) for m in found]


def _json(data: dict[str, Any]) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    response = current_app.response_class(body, content_type="application/json; charset=utf-8")
    response.set_etag(hashlib.sha256(body).hexdigest()[:40])
    response.cache_control.public = True
    response.cache_control.max_age = int(current_app.config.get("API_MAX_AGE", DEFAULT_MAX_AGE))
    return response.make_conditional(request)


def _cors(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "ETag"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "If-None-Match"
        response.headers["Access-Control-Max-Age"] = "86400"
    return response


def _error(error: HTTPException) -> Response:
    code = error.code or 500
    response = current_app.response_class(
        json.dumps({"error": {"code": code, "name": error.name, "message": error.description}}),
        status=code,
        content_type="application/json; charset=utf-8",
    )
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return _cors(response)


@bp.after_request
def add_cors(response: Response) -> Response:
    return _cors(response)


@bp.before_app_request
def unknown_api_path() -> Response | None:
    """A path under /api/v2 that matches no route fails in routing, before any blueprint is
    known, so a blueprint error handler never sees it: answer its 404 or 405 in JSON here."""
    failure = request.routing_exception
    if not isinstance(failure, HTTPException) or (failure.code or 0) < 400:
        return None
    if request.path != URL_PREFIX and not request.path.startswith(URL_PREFIX + "/"):
        return None
    return _error(failure)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response | HTTPException:
    if error.code and error.code < 400:
        return error
    return _error(error)


@bp.errorhandler(InternalServerError)
def internal_error(error: InternalServerError) -> Response:
    db.session.rollback()
    return _error(InternalServerError("Something went wrong on our side. It has been logged."))


@bp.errorhandler(OperationalError)
def database_unavailable(error: OperationalError) -> Response:
    db.session.rollback()
    _unavailable_log.log(logging.ERROR, "database unavailable: %s", error.__class__.__name__)
    return _error(
        ServiceUnavailable("The status database is not answering. Please try again shortly.")
    )


@bp.get("/summary.json")
def summary() -> Response:
    fmt = _format()
    return _json(
        {
            "page": fmt.page_dict(),
            "components": fmt.component_list(component_queries.shown_components(db.session)),
            "incidents": _incidents(fmt, incident_queries.api_unresolved_incidents(db.session)),
            "scheduled_maintenances": _maintenances(fmt, UPCOMING + ACTIVE),
            "status": fmt.status_dict(_overall()),
        }
    )


@bp.get("/status.json")
def status() -> Response:
    fmt = _format()
    return _json({"page": fmt.page_dict(), "status": fmt.status_dict(_overall())})


@bp.get("/components.json")
def components() -> Response:
    fmt = _format()
    return _json(
        {
            "page": fmt.page_dict(),
            "components": fmt.component_list(component_queries.shown_components(db.session)),
        }
    )


@bp.get("/incidents.json")
def incidents() -> Response:
    fmt = _format()
    found = incident_queries.api_recent_incidents(db.session)
    return _json({"page": fmt.page_dict(), "incidents": _incidents(fmt, found)})


@bp.get("/incidents/unresolved.json")
def unresolved_incidents() -> Response:
    fmt = _format()
    found = incident_queries.api_unresolved_incidents(db.session)
    return _json({"page": fmt.page_dict(), "incidents": _incidents(fmt, found)})


@bp.get("/scheduled-maintenances.json")
def scheduled_maintenances() -> Response:
    fmt = _format()
    return _json(
        {
            "page": fmt.page_dict(),
            "scheduled_maintenances": _maintenances(fmt, None, newest_first=True),
        }
    )


@bp.get("/scheduled-maintenances/upcoming.json")
def upcoming_maintenances() -> Response:
    fmt = _format()
    return _json({"page": fmt.page_dict(), "scheduled_maintenances": _maintenances(fmt, UPCOMING)})


@bp.get("/scheduled-maintenances/active.json")
def active_maintenances() -> Response:
    fmt = _format()
    return _json({"page": fmt.page_dict(), "scheduled_maintenances": _maintenances(fmt, ACTIVE)})


# An audience's JSON, through a secret token in the address (`audiences.manage`): the same
# shapes with what is addressed to that audience, never shared by a cache.


def _audience_of_token(token: str) -> int:
    audience_id = audience_manage.audience_for_feed_token(db.session, token)
    if audience_id is None:
        raise NotFound("There is nothing at this address.")
    return audience_id


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/private/<token>/summary.json")
def audience_summary(token: str) -> Response:
    ids = [_audience_of_token(token)]
    fmt = _format(ids)
    return _private(
        _json(
            {
                "page": fmt.page_dict(),
                "components": fmt.component_list(
                    component_queries.shown_components(db.session, audience_ids=ids)
                ),
                "incidents": _incidents(
                    fmt, incident_queries.api_unresolved_incidents(db.session, audience_ids=ids)
                ),
                "scheduled_maintenances": _maintenances(fmt, UPCOMING + ACTIVE),
                "status": fmt.status_dict(_overall(ids)),
            }
        )
    )


@bp.get("/private/<token>/incidents.json")
def audience_incidents(token: str) -> Response:
    ids = [_audience_of_token(token)]
    fmt = _format(ids)
    found = incident_queries.api_recent_incidents(db.session, audience_ids=ids)
    return _private(_json({"page": fmt.page_dict(), "incidents": _incidents(fmt, found)}))
