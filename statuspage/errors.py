"""The site's own error pages: plain words, no stack traces, no half-written records."""

from __future__ import annotations

import logging

from flask import Flask, render_template
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from statuspage.extensions import db

logger = logging.getLogger(__name__)


def _render(error: HTTPException) -> tuple[str, int]:
    return (
        render_template(
            "errors/error.html", code=error.code, name=error.name, description=error.description
        ),
        error.code or 500,
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        if error.code and error.code < 400:
            return error
        return _render(error)

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError) -> tuple[str, int]:
        db.session.rollback()
        logger.error("database unavailable: %s", error.__class__.__name__)
        return _render(
            ServiceUnavailable("The status database is not answering. Please try again shortly.")
        )

    @app.errorhandler(InternalServerError)
    def internal_error(error: InternalServerError) -> tuple[str, int]:
        db.session.rollback()
        return _render(InternalServerError("Something went wrong on our side. It has been logged."))
