"""The staff area. Every route here needs a logged-in user: the guard is the blueprint's
`before_request`, not a decorator each route has to remember. What a user may do is checked
per action against the role table in `statuspage.auth.permissions`.

The route modules import `bp` from here and add their routes to it; `routes.py` imports them
all, and `create_app` registers `bp` from there."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext
from flask_login import current_user
from werkzeug.wrappers import Response

from statuspage.account.two_factor import enrolment_required
from statuspage.auth.permissions import Permission, has_permission

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def require_login() -> Response | None:
    if not current_user.is_authenticated:
        if request.method == "GET":
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(401)
    # REQUIRE_2FA_FOR_ADMINS: an admin without two-factor sets it up before anything else.
    if enrolment_required():
        if request.method == "GET":
            flash(gettext("Set up two-factor authentication first: it is required for admins."))
            return redirect(url_for("auth.two_factor"))
        abort(403, description="Set up two-factor authentication first: required for admins.")
    return None


def require(permission: Permission) -> None:
    """Stop the request with 403 unless the current user's role allows `permission`."""
    if not has_permission(current_user.role, permission):
        abort(403, description="Your role does not allow this action.")


def actor_id() -> int:
    return int(current_user.id)


@bp.app_context_processor
def permissions() -> dict[str, Any]:
    def can(permission: str) -> bool:
        return bool(
            current_user
            and current_user.is_authenticated
            and has_permission(current_user.role, Permission(permission))
        )

    return {"can": can}
