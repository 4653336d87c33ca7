"""Admin views: the logged-in user's API tokens (/api/v1). Every role may manage its own.

A new token's secret is shown once, on the page that answers the creating POST, and never
again: only its SHA-256 and first characters are kept. Admins may revoke anyone's token.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from statuspage.account.forms import EmptyForm
from statuspage.admin import actor_id, bp, require
from statuspage.admin.settings_forms import show_domain_error
from statuspage.auth.permissions import Permission, has_permission
from statuspage.auth.tokens import NAME_MAX, create_token, revoke_token, tokens_of
from statuspage.core.db import utcnow
from statuspage.core.errors import DomainError, NotFound
from statuspage.extensions import db


class NewTokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)])


def _render(form: NewTokenForm, status: int = 200, secret: str | None = None) -> Response:
    response = Response(
        render_template(
            "admin/tokens/list.html",
            tokens=tokens_of(db.session, actor_id()),
            form=form,
            button_form=EmptyForm(),
            secret=secret,
        ),
        status=status,
        mimetype="text/html",
    )
    # The page may carry a secret: keep it out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/tokens")
def tokens() -> Response:
    require(Permission.VIEW)
    return _render(NewTokenForm())


@bp.post("/tokens")
def create_api_token() -> Response:
    require(Permission.VIEW)
    form = NewTokenForm()
    if form.validate_on_submit():
        try:
            token, secret = create_token(
                db.session, current_user, form.name.data or "", actor_id=actor_id(), now=utcnow()
            )
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error, "name")
        else:
            db.session.commit()
            return _render(NewTokenForm(formdata=None), 201, secret=secret)
    return _render(form, 400)


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_api_token(token_id: int) -> Response:
    require(Permission.VIEW)
    if not EmptyForm().validate_on_submit():
        abort(400)
    owner = None if has_permission(current_user.role, Permission.MANAGE_USERS) else actor_id()
    try:
        revoke_token(db.session, token_id, actor_id=actor_id(), now=utcnow(), owner_id=owner)
    except NotFound:
        db.session.rollback()
        abort(404)
    db.session.commit()
    flash(gettext("Token revoked; it no longer works."))
    return redirect(url_for("admin.tokens"))
