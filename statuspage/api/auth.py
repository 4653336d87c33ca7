"""Bearer-token authentication and JSON errors shared by the machine APIs."""

from __future__ import annotations

from typing import Any

from flask import abort, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from statuspage.auth.models import User
from statuspage.auth.permissions import Permission, has_permission
from statuspage.auth.tokens import user_for_token
from statuspage.core.db import utcnow
from statuspage.extensions import db


def token_user() -> User:
    """The user behind the request's `Authorization: Bearer <token>`; 401 otherwise."""
    cached = g.get("api_user")
    if cached is not None:
        return cached
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    user = None
    if scheme.lower() == "bearer":
        user = user_for_token(db.session, secret.strip(), now=utcnow())
    if user is None:
        abort(401, description="Send a valid API token as 'Authorization: Bearer <token>'.")
    g.api_user = user
    return user


def require_token(permission: Permission) -> User:
    """The token's user, if their role allows `permission`; 401 or 403 otherwise."""
    user = token_user()
    if not has_permission(user.role, permission):
        abort(403, description="The token's account role does not allow this action.")
    return user


def json_error(error: HTTPException) -> tuple[Response, int]:
    """Every error of a machine API as JSON: {"error": {"code": ..., "message": ...}}."""
    body: dict[str, Any] = {"error": {"code": error.code, "message": error.description}}
    response = jsonify(body)
    if error.code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="statuspage"'
    return response, error.code or 500
