"""The site's own error pages: plain words, no stack traces, no half-written records.

When the database does not answer (refused or dropped connection, a lock that did not come
free, no pooled connection within the pool timeout), the request ends in a 503 with
`Retry-After` instead of a 500: an HTML page, or the APIs' JSON error under `/api/`. The
session is rolled back first, so whatever the request had flushed is gone with the failed
transaction; nothing is half written. Every other database error stays a 500.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable
from werkzeug.wrappers import Response

from statuspage.core.translation import N_
from statuspage.core.vocabulary import ERROR_DESCRIPTIONS, ERROR_NAMES
from statuspage.database import ThrottledLog
from statuspage.extensions import db

logger = logging.getLogger(__name__)
_unavailable_log = ThrottledLog(logger)

DATABASE_UNAVAILABLE = N_("The status database is not answering. Please try again shortly.")
# Seconds a client (or a CDN honouring stale-if-error) is asked to wait before trying again.
RETRY_AFTER_SECONDS = 30
API_PREFIX = "/api/"


def is_database_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database could not be reached or used, not that the request
    or the code was wrong (an integrity error, a bad statement: those stay 500s)."""
    if isinstance(error, OperationalError | PoolTimeout):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _render(error: HTTPException) -> tuple[str, int]:
    """The error page in the reader's language: the status's name and, unless the code gave
    its own words (`abort(404, description=...)`, marked for translation there), ours."""
    code = error.code or 500
    default = type(error).description
    description = error.description if error.description and error.description != default else None
    return (
        render_template(
            "errors/error.html",
            code=code,
            name=ERROR_NAMES.get(code, error.name),
            description=description or ERROR_DESCRIPTIONS.get(code) or error.description,
        ),
        code,
    )


def _roll_back() -> None:
    """Roll the request's session back; on a dead connection even that may fail, and then the
    connection is thrown away (the database rolls back what it never saw committed)."""
    try:
        db.session.rollback()
    except Exception as error:  # nothing more can be done with this session
        logger.warning("rollback after a database failure failed too: %s", type(error).__name__)
        db.session.close()


def _service_unavailable() -> Response:
    error = ServiceUnavailable(DATABASE_UNAVAILABLE)
    if request.path.startswith(API_PREFIX):
        response = jsonify({"error": {"code": 503, "message": DATABASE_UNAVAILABLE}})
    else:
        try:
            body, _ = _render(error)
        except Exception:  # the page itself needed what is down
            logger.exception("could not render the 503 page")
            body = f"<!doctype html><title>503</title><p>{DATABASE_UNAVAILABLE}</p>"
        response = make_response(body, 503)
    response.status_code = 503
    return response  # `retry_after` below adds the headers every 503 gets


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        if error.code and error.code < 400:
            return error
        response = make_response(*_render(error))
        # Headers the error carries, such as `Allow` on a 405 and `Retry-After` on a 429.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def database_error(error: Exception) -> Response:
        if not is_database_unavailable(error):
            raise error  # a bug, not an outage: the 500 handler below, logged with its trace
        _roll_back()
        # At most one line a minute (with the count of the others): an outage is not a
        # reason to write a line per request.
        _unavailable_log.log(
            logging.ERROR,
            "database unavailable (%s), answering 503",
            type(getattr(error, "orig", None) or error).__name__,
        )
        return _service_unavailable()

    @app.errorhandler(InternalServerError)
    def internal_error(error: InternalServerError) -> tuple[str, int]:
        _roll_back()
        return _render(InternalServerError("Something went wrong on our side. It has been logged."))

    @app.after_request
    def retry_after(response: Response) -> Response:
        # Also the APIs' own 503 answers (api/v2, the alert webhooks): a hint when to come
        # back, and no shared cache keeps the error in place of the page.
        if response.status_code == 503:
            response.headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
            response.headers["Cache-Control"] = "no-store"
        return response
