"""Login and logout."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from statuspage.auth import login_limits
from statuspage.auth.forms import EmptyForm, LoginForm
from statuspage.auth.models import User
from statuspage.auth.sessions import authenticate, end_session, start_session
from statuspage.core.db import utcnow
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
    # Browsers drop tabs and newlines inside a URL ("/\t/evil.example" becomes
    # "//evil.example"): refuse control characters and spaces altogether.
    if any(ord(character) <= 0x20 or ord(character) == 0x7F for character in target):
        return url_for("admin.incidents")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        # Brute-force limits per account and per IP (auth/login_limits.py), counted before
        # the password is checked.
        refused = login_limits.refuse_if_limited(form.email.data or "")
        if refused is not None:
            return refused
        user = authenticate(db.session, form.email.data or "", form.password.data or "")
        if user is None:
            form.password.errors.append("That email and password do not match an active account.")
        else:
            # Two-factor (auth/two_factor.py): a right password only leads to the code page.
            if user.has_two_factor:
                return two_factor.begin_pending_login(user)
            return complete_login(user)
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 400


def complete_login(user: User) -> Response:
    """The real login, after the password (and the code, with two-factor on)."""
    session.clear()  # a new session at login: nothing from before carries over
    token = start_session(db.session, user, now=utcnow())
    db.session.commit()
    session[SESSION_TOKEN_KEY] = token
    login_user(user)
    return redirect(safe_next(request.args.get("next")))


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


# The two-factor pages register themselves on `bp` when imported.
from statuspage.auth import two_factor  # noqa: E402
