"""Admin views: audiences (who may read what beyond the public), their members' ways in and
their feed tokens. CONFIGURE permission.

A feed token's secret is shown once, on the page that answers the creating POST; only its
SHA-256 is kept. Revoking ends every address that holds it at once.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from statuspage.account.forms import EmptyForm
from statuspage.admin import actor_id, bp, require
from statuspage.admin.actions import run_domain
from statuspage.audiences import manage
from statuspage.audiences.models import Audience
from statuspage.auth.permissions import Permission
from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.public.readers import forget_networks


class AudienceForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    slug = StringField(
        _l("Short name (letters, digits, dashes)"), validators=[Optional(), Length(max=60)]
    )
    description = TextAreaField(
        _l("Description (staff only)"), validators=[Optional(), Length(max=2000)]
    )
    allowed_emails = TextAreaField(
        _l("Email addresses that may sign in"), validators=[Optional(), Length(max=50_000)]
    )
    allowed_domains = TextAreaField(
        _l("Email domains that may sign in"), validators=[Optional(), Length(max=20_000)]
    )
    ip_ranges = TextAreaField(_l("IP ranges (CIDR)"), validators=[Optional(), Length(max=20_000)])
    oidc_group = StringField(_l("OpenID Connect group"), validators=[Optional(), Length(max=200)])


class FeedTokenForm(FlaskForm):
    label = StringField(_l("Label"), validators=[Optional(), Length(max=120)])


def _fields(form: AudienceForm) -> manage.AudienceFields:
    return manage.AudienceFields(
        name=form.name.data or "",
        slug=form.slug.data or "",
        description=form.description.data or "",
        allowed_emails=manage.split_entries(form.allowed_emails.data),
        allowed_domains=manage.split_entries(form.allowed_domains.data),
        ip_ranges=manage.split_entries(form.ip_ranges.data),
        oidc_group=form.oidc_group.data or None,
    )


def _fill(form: AudienceForm, audience: Audience) -> None:
    form.name.data = audience.name
    form.slug.data = audience.slug
    form.description.data = audience.description
    form.allowed_emails.data = "\n".join(audience.allowed_emails or [])
    form.allowed_domains.data = "\n".join(audience.allowed_domains or [])
    form.ip_ranges.data = "\n".join(audience.ip_ranges or [])
    form.oidc_group.data = audience.oidc_group or ""


def _page(template: str, status: int = 200, **context: Any) -> Response:
    response = current_app.make_response((render_template(template, **context), status))
    response.headers["Cache-Control"] = "no-store"  # may show a feed token once
    return response


def _audience_or_404(audience_id: int) -> Audience:
    audience = db.session.get(Audience, audience_id)
    if audience is None:
        abort(404)
    return audience


@bp.get("/audiences")
def audiences() -> Response:
    require(Permission.CONFIGURE)
    return _page(
        "admin/audiences/list.html",
        audiences=manage.list_audiences(db.session),
        form=AudienceForm(formdata=None),
    )


@bp.post("/audiences")
def create_audience() -> Response:
    require(Permission.CONFIGURE)
    form = AudienceForm()
    if form.validate_on_submit():
        outcome = run_domain(
            lambda: manage.create_audience(
                db.session, _fields(form), actor_id=actor_id(), now=utcnow()
            ),
            form=form,
            fallback="name",
        )
        if not outcome.refused and outcome.value is not None:
            forget_networks()
            flash(gettext("Audience “%(name)s” added.", name=outcome.value.name))
            return redirect(url_for("admin.audience", audience_id=outcome.value.id))
    return _page(
        "admin/audiences/list.html", 400, audiences=manage.list_audiences(db.session), form=form
    )


def _detail(
    audience: Audience,
    form: AudienceForm,
    status: int = 200,
    *,
    secret: str | None = None,
    token_form: FeedTokenForm | None = None,
) -> Response:
    return _page(
        "admin/audiences/detail.html",
        status,
        audience=audience,
        form=form,
        token_form=token_form or FeedTokenForm(formdata=None),
        button=EmptyForm(),
        secret=secret,
    )


@bp.route("/audiences/<int:audience_id>", methods=["GET", "POST"])
def audience(audience_id: int) -> Response:
    require(Permission.CONFIGURE)
    found = _audience_or_404(audience_id)
    form = AudienceForm()
    if not form.is_submitted():
        _fill(form, found)
        return _detail(found, form)
    if form.validate_on_submit():
        outcome = run_domain(
            lambda: manage.update_audience(
                db.session, audience_id, _fields(form), actor_id=actor_id(), now=utcnow()
            ),
            form=form,
            fallback="name",
        )
        if not outcome.refused:
            forget_networks()
            flash(gettext("Audience saved."))
            return redirect(url_for("admin.audience", audience_id=audience_id))
    return _detail(_audience_or_404(audience_id), form, 400)


@bp.post("/audiences/<int:audience_id>/delete")
def delete_audience(audience_id: int) -> Response:
    require(Permission.CONFIGURE)
    _audience_or_404(audience_id)
    button = EmptyForm()
    if not button.validate_on_submit():
        abort(400)
    outcome = run_domain(
        lambda: manage.delete_audience(db.session, audience_id, actor_id=actor_id(), now=utcnow()),
        form=button,
    )
    if outcome.refused:
        form = AudienceForm(formdata=None)
        found = _audience_or_404(audience_id)
        _fill(form, found)
        form.form_errors.extend(button.form_errors)
        return _detail(found, form, 409)
    forget_networks()
    flash(gettext("Audience deleted."))
    return redirect(url_for("admin.audiences"))


@bp.post("/audiences/<int:audience_id>/feed-tokens")
def create_feed_token(audience_id: int) -> Response:
    require(Permission.CONFIGURE)
    found = _audience_or_404(audience_id)
    token_form = FeedTokenForm()
    form = AudienceForm(formdata=None)
    _fill(form, found)
    if not token_form.validate_on_submit():
        return _detail(found, form, 400, token_form=token_form)
    outcome = run_domain(
        lambda: manage.create_feed_token(
            db.session,
            audience_id,
            label=token_form.label.data or "",
            actor_id=actor_id(),
            now=utcnow(),
        ),
        form=token_form,
    )
    if outcome.refused or outcome.value is None:
        return _detail(found, form, 400, token_form=token_form)
    _, secret = outcome.value
    return _detail(_audience_or_404(audience_id), form, 201, secret=secret)


@bp.post("/audiences/<int:audience_id>/feed-tokens/<int:token_id>/revoke")
def revoke_feed_token(audience_id: int, token_id: int) -> Response:
    require(Permission.CONFIGURE)
    if not EmptyForm().validate_on_submit():
        abort(400)
    run_domain(
        lambda: manage.revoke_feed_token(
            db.session, audience_id, token_id, actor_id=actor_id(), now=utcnow()
        )
    )
    flash(gettext("Feed token revoked: its addresses stop working now."))
    return redirect(url_for("admin.audience", audience_id=audience_id))
