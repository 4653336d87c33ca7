"""Staff sign-in with the OpenID Connect provider: a button on the login page, the redirect
to the provider, and the callback. Thin views over `statuspage.oidc` (the protocol, Authlib)
and `statuspage.auth.sso` (who gets which account and role).

The end is the password login's end: `login_steps.complete_login` (a new session, a login
row, Flask-Login's user), or, for an account with two-factor on, the same code step
(`begin_pending_login`). Both routes answer 404 while single sign-on for staff is off
(`OIDC_ISSUER` unset or no `OIDC_STAFF_ROLES`).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, current_app, make_response, redirect, render_template, request, session
from flask_babel import gettext
from flask_login import current_user
from werkzeug.wrappers import Response

from statuspage import oidc
from statuspage.account.blueprint import bp
from statuspage.account.forms import LoginForm
from statuspage.account.login_steps import begin_pending_login, complete_login, safe_next
from statuspage.auth.sso import SignInRefused, identity_from_claims, sign_in_staff
from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.i18n import refusal_text

logger = logging.getLogger(__name__)

NEXT_KEY = "oidc_next"


@bp.context_processor
def single_sign_on_button() -> dict[str, Any]:
    """The login page's "Sign in with ..." button, when staff single sign-on is on."""
    return {"staff_sso_provider": oidc.provider_name() if oidc.staff_enabled() else None}


def _refused(message: str, status: int) -> Response:
    """The login page again, with the reason; never cached."""
    page = render_template("auth/login.html", form=LoginForm(), sso_error=message)
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/login/oidc")
def login_oidc() -> Response:
    if not oidc.staff_enabled():
        abort(404)
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    session[NEXT_KEY] = safe_next(request.args.get("next"))
    try:
        return oidc.redirect_to_provider("auth.login_oidc_callback")
    except oidc.SignInFailed as failure:
        return _refused(gettext(failure.message), failure.status)


@bp.get("/login/oidc/callback")
def login_oidc_callback() -> Response:
    if not oidc.staff_enabled():
        abort(404)
    next_page = session.pop(NEXT_KEY, None)
    try:
        claims = oidc.verified_claims("auth.login_oidc_callback")
        identity = identity_from_claims(claims, groups_claim=oidc.groups_claim())
        user = sign_in_staff(
            db.session,
            identity,
            group_roles=current_app.config["OIDC_STAFF_ROLES"],
            now=utcnow(),
        )
    except oidc.SignInFailed as failure:
        return _refused(gettext(failure.message), failure.status)
    except SignInRefused as refusal:
        db.session.rollback()
        return _refused(refusal_text(refusal), 403)
    if user.has_two_factor:
        # The account asked for a code at every login: single sign-on does not skip it.
        db.session.commit()
        return begin_pending_login(user, next_page)
    return complete_login(user, next_page)  # commits the account changes with the login
