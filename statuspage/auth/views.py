"""Login and logout."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from statuspage.auth.forms import EmptyForm, LoginForm
from statuspage.auth.sessions import authenticate, end_session, start_session
from statuspage.db import utcnow
from statuspage.extensions import db

bp = Blueprint("auth", __name__)

SESSION_TOKEN_KEY = "sid"  # noqa: S105 - a session key name, not a secret


def safe_next(target: str | None) -> str:
    """Only same-site paths: never an open redirect."""
    if not target:
        return url_for("admin.incidents")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("admin.incidents")
    if "\\" in target:
        return url_for("admin.incidents")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session, form.email.data or "", form.password.data or "")
        if user is None:
            form.password.errors.append("That email and password do not match an active account.")
        else:
            session.clear()  # a new session at login: nothing from before carries over
            token = start_session(db.session, user, now=utcnow())
            db.session.commit()
            session[SESSION_TOKEN_KEY] = token
            login_user(user)
            return redirect(safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 400


@bp.post("/logout")
def logout() -> Response:
    form = EmptyForm()
    if form.validate_on_submit():
        end_session(db.session, session.get(SESSION_TOKEN_KEY), now=utcnow())
        db.session.commit()
        logout_user()
        session.clear()
        flash("You are logged out.")
    return redirect(url_for("public.index"))
