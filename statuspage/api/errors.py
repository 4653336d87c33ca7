"""Every error of the write API as JSON: {"error": {"code", "message", "field"?, "changes"?}}.

Routing failures (unknown path, method, an id beyond 32 bits), refused tokens, bodies that are
not a JSON object, pydantic's validation errors and the domain's refusals all end here, roll the
session back and answer with the shape of `models.Error`.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from statuspage.api.auth import json_error
from statuspage.core.errors import ConflictError, DomainError, InvalidTransition, NotFound
from statuspage.extensions import db

logger = logging.getLogger(__name__)


class ApiError(HTTPException):
    """An HTTP error with the request field it is about, and for conflicts what changed."""

    def __init__(
        self, code: int, message: str, *, field: str | None = None, changes: list[str] | None = None
    ) -> None:
        self.code = code
        super().__init__(message)
        self.field = field
        self.changes = changes


def invalid(name: str, message: str) -> ApiError:
    return ApiError(422, f"{name}: {message}", field=name)


def from_validation_error(error: ValidationError) -> ApiError:
    """pydantic's first complaint as a 422 about the request field it names."""
    first = error.errors(include_url=False, include_input=False, include_context=False)[0]
    message = first["msg"].removeprefix("Value error, ")
    if not first["loc"]:
        return ApiError(422, message)
    return invalid(str(first["loc"][0]), message)


def _answer(error: HTTPException) -> Response:
    response, code = json_error(error)
    extra = {
        key: getattr(error, key, None)
        for key in ("field", "changes")
        if getattr(error, key, None) is not None
    }
    if extra:
        body = response.get_json()
        body["error"].update(extra)
        response.set_data(json.dumps(body))
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    response.status_code = code
    return response


def register_error_handlers(bp: Blueprint, url_prefix: str) -> None:
    """JSON answers for every failure under `url_prefix`, the blueprint's own and routing's."""

    @bp.before_app_request
    def unknown_api_path() -> Response | None:
        # Routing failures happen before any blueprint is known: answer them here.
        failure = request.routing_exception
        if not isinstance(failure, HTTPException) or (failure.code or 0) < 400:
            return None
        if request.path != url_prefix and not request.path.startswith(url_prefix + "/"):
            return None
        return _answer(failure)

    @bp.errorhandler(DomainError)
    def domain_error(error: DomainError) -> Response:
        db.session.rollback()
        if isinstance(error, ConflictError):
            return _answer(ApiError(409, error.message, changes=error.changes))
        if isinstance(error, InvalidTransition):
            return _answer(ApiError(409, error.message))
        if isinstance(error, NotFound) and error.field is None:
            return _answer(ApiError(404, error.message))
        return _answer(ApiError(422, error.message, field=error.field))

    @bp.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | HTTPException:
        if error.code and error.code < 400:
            return error
        db.session.rollback()
        if isinstance(error, InternalServerError):
            logger.error("API error: %r", getattr(error, "original_exception", error))
            error = InternalServerError("Something went wrong on our side. It has been logged.")
        return _answer(error)
