"""Readers' sign-in by email link, and sign-out (`public.readers` keeps who is signed in).

- `GET/POST /sign-in`: the reader gives an address. The answer is the same page whatever the
  address (allowed for an audience or not, known or not): the worker decides and sends the
  link (`worker.readers`), so neither the page nor its timing tells. Rate-limited per IP and
  per address (`READER_LINK_LIMIT` an hour).
- `GET /sign-in/<token>` shows a button (mail scanners open every link), its `POST` signs in:
  the link works once, for `READER_LINK_MAX_AGE` seconds; only its SHA-256 is stored.
- `POST /sign-out` ends the reader's session.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField
from wtforms.validators import InputRequired, Length

from statuspage.audiences import access, manage
from statuspage.core.db import utcnow
from statuspage.core.errors import DomainError
from statuspage.core.ratelimit import RateLimiter, limiter_from_config
from statuspage.extensions import csrf, db
from statuspage.i18n import refusal_text
from statuspage.notifications.subscriptions import normalize_email
from statuspage.public.blueprint import bp
from statuspage.public.readers import current_reader, sign_in_reader, sign_out_reader

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 3600


class SignInForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[InputRequired(), Length(max=254)])


class EmptyForm(FlaskForm):
    pass


def _limiter() -> RateLimiter:
    extensions = current_app.extensions
    if "statuspage.ratelimit" not in extensions:
        extensions["statuspage.ratelimit"] = limiter_from_config(current_app.config)
    return extensions["statuspage.ratelimit"]


def _private(body: Any, status: int = 200, *, token: bool = False) -> Response:
    response = current_app.make_response((body, status))
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    if token:  # the address holds the link's secret: send it nowhere
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _enqueue(email: str) -> None:
    from statuspage.worker.readers import send_reader_link_task

    try:
        send_reader_link_task(email)
    except Exception:
        logger.exception("Reader sign-in: could not queue the link email")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response:
    form = SignInForm()
    if request.method == "GET" or not form.validate():
        status = 200 if request.method == "GET" else 400
        return _private(render_template("public/sign_in.html", form=form), status)
    limit = int(current_app.config.get("READER_LINK_LIMIT") or 5)
    try:
        address = normalize_email(form.email.data or "")
    except DomainError as error:
        form.email.errors = [*form.email.errors, refusal_text(error)]
        return _private(render_template("public/sign_in.html", form=form), 400)
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]
    if not _limiter().hit(f"reader-link:ip:{request.remote_addr}", limit * 4, WINDOW_SECONDS):
        response = _private(render_template("public/subscribe_limited.html"), 429)
        response.headers["Retry-After"] = str(WINDOW_SECONDS)
        return response
    if _limiter().hit(f"reader-link:address:{digest}", limit, WINDOW_SECONDS):
        _enqueue(address)
    else:
        logger.info("Reader sign-in: per-address limit reached, no email")
    return _private(render_template("public/sign_in_sent.html"))


@bp.route("/sign-in/<token>", methods=["GET", "POST"])
@csrf.exempt  # the token in the address is the credential, as for subscription links
def sign_in_link(token: str) -> Response:
    if request.method == "GET":
        return _private(render_template("public/sign_in_confirm.html", token=token), token=True)
    email = manage.redeem_sign_in_token(db.session, token, now=utcnow())
    ids = access.audiences_for_email(db.session, email) if email else []
    if not email or not ids:
        db.session.rollback()
        return _private(render_template("public/sign_in_invalid.html"), 400, token=True)
    db.session.commit()
    sign_in_reader(email=email, audience_ids=ids, via="email")
    flash(_("You are signed in. Private status for your organisation is shown and marked."))
    return redirect(url_for("public.index"), 303)


@bp.post("/sign-out")
def sign_out() -> Response:
    form = EmptyForm()
    if not form.validate():
        return _private(_("The form expired; go back and sign out again."), 400)
    if current_reader().signed_in:
        sign_out_reader()
    return redirect(url_for("public.index"), 303)
