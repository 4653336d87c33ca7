"""Login and logout. The two-factor step and the account page are in `two_factor`."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from statuspage.account import login_limits
from statuspage.account.blueprint import bp
from statuspage.account.forms import EmptyForm, LoginForm
from statuspage.account.login_steps import (
    SESSION_TOKEN_KEY,
    begin_pending_login,
    complete_login,
    safe_next,
)
from statuspage.auth.sessions import authenticate, end_session
from statuspage.core.db import utcnow
from statuspage.extensions import db


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        # Brute-force limits per account and per IP (account/login_limits.py), counted before
        # the password is checked.
        refused = login_limits.refuse_if_limited(form.email.data or "")
        if refused is not None:
            return refused
        user = authenticate(db.session, form.email.data or "", form.password.data or "")
        if user is None:
            form.password.errors.append(
                gettext("That email and password do not match an active account.")
            )
        else:
            # Two-factor (account/two_factor.py): a right password only leads to the code page.
            if user.has_two_factor:
                return begin_pending_login(user)
            return complete_login(user)
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 400


@bp.post("/logout")
def logout() -> Response:
    form = EmptyForm()
    if form.validate_on_submit():
        end_session(db.session, session.get(SESSION_TOKEN_KEY), now=utcnow())
        db.session.commit()
        logout_user()
        session.clear()
        flash(gettext("You are logged out."))
    return redirect(url_for("public.index"))
