"""Public pages for channel subscriptions: subscribe a webhook URL, and the manage page that
its secret link opens (change components, rotate the signing secret, unsubscribe). Thin
views over `notifications.channel_subscriptions`.

The signing secret and the manage link are shown once, on the page that answers the form;
pages reached by the token are not cached and send no Referer. The subscribe form shares the
email form's per-IP limit. A refused URL (not https, or an address the SSRF rules refuse) is
a form error, never a stored row.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, URLField
from wtforms.validators import InputRequired, Length, Optional

from statuspage.core.db import utcnow
from statuspage.core.errors import DomainError
from statuspage.extensions import db
from statuspage.i18n import refusal_text
from statuspage.notifications import channel_subscriptions
from statuspage.notifications.models import ChannelStatus, ChannelSubscription
from statuspage.notifications.netguard import MAX_URL_LENGTH, NetworkPolicy
from statuspage.public.blueprint import bp
from statuspage.public.subscriptions import (
    ChoicesForm,
    UnsubscribeForm,
    _field_error,
    _layout,
    _limiter,
    _private,
    _setting,
)

logger = logging.getLogger(__name__)


class WebhookSubscribeForm(ChoicesForm):
    url = URLField(_l("Webhook URL"), validators=[InputRequired(), Length(max=MAX_URL_LENGTH)])
    owner_email = EmailField(
        _l("Email for problems (optional)"), validators=[Optional(), Length(max=254)]
    )


class ChannelManageForm(ChoicesForm):
    pass


class RotateForm(FlaskForm):
    """The manage page's "new secret" button: carries the CSRF token."""


def _enqueue_due() -> None:
    from statuspage.worker.channels import send_due_channels_task

    try:
        send_due_channels_task()
    except Exception:
        # Committed; the every-minute sweep sends it.
        logger.exception("Could not enqueue channel deliveries; the sweep will")


def _subscription_or_404(token: str) -> ChannelSubscription:
    subscription = channel_subscriptions.from_manage_token(db.session, token)
    if subscription is None:
        abort(404, description=_("This subscription link is not valid."))
    return subscription


@bp.route("/subscribe/webhook", methods=["GET", "POST"])
def subscribe_webhook() -> Any:
    layout = _layout()
    form = WebhookSubscribeForm()
    form.fill(layout)
    if request.method == "GET":
        return render_template("public/webhook_subscribe.html", form=form, layout=layout)
    if not _limiter().hit(
        f"subscribe:ip:{request.remote_addr}",
        _setting("SUBSCRIBE_IP_LIMIT", 10),
        _setting("SUBSCRIBE_IP_WINDOW", 3600),
    ):
        response = current_app.make_response(
            (render_template("public/subscribe_limited.html"), 429)
        )
        response.headers["Retry-After"] = str(_setting("SUBSCRIBE_IP_WINDOW", 3600))
        return response
    if form.validate():
        try:
            created = channel_subscriptions.subscribe_webhook(
                db.session,
                form.url.data or "",
                **form.chosen(),
                owner_email=form.owner_email.data or "",
                policy=NetworkPolicy.from_config(current_app.config),
                now=utcnow(),
            )
        except DomainError as error:
            db.session.rollback()
            _field_error(form, error)
        else:
            db.session.commit()
            _enqueue_due()
            return _private(
                render_template(
                    "public/webhook_created.html",
                    secret=created.secret,
                    manage_url=url_for(
                        "public.manage_channel", token=created.manage_token, _external=True
                    ),
                )
            )
    return render_template("public/webhook_subscribe.html", form=form, layout=layout), 400


@bp.route("/channel/<token>", methods=["GET", "POST"])
def manage_channel(token: str) -> Response:
    subscription = _subscription_or_404(token)
    layout = _layout()
    form = ChannelManageForm()
    form.fill(layout)
    leave = UnsubscribeForm(prefix="leave")
    rotate = RotateForm(prefix="rotate")
    status = 200
    action = request.form.get("action")
    if request.method == "GET":
        form.scope.data = "all" if subscription.all_components else "some"
        form.components.data = [c.id for c in subscription.components]
        form.groups.data = [g.id for g in subscription.groups]
    elif action in ("unsubscribe", "rotate"):
        guard = leave if action == "unsubscribe" else rotate
        if not guard.validate():
            abort(400, description=_("The form expired. Please reload the page and try again."))
        if action == "unsubscribe":
            channel_subscriptions.unsubscribe(db.session, subscription, now=utcnow())
            db.session.commit()
            flash(_("Unsubscribed. Nothing more will be sent to this URL."))
            return redirect(url_for("public.manage_channel", token=token))
        try:
            secret = channel_subscriptions.rotate_secret(db.session, subscription, now=utcnow())
        except DomainError as error:
            db.session.rollback()
            abort(409, description=refusal_text(error))
        db.session.commit()
        return _private(render_template("public/webhook_secret.html", secret=secret, token=token))
    elif form.validate():
        try:
            channel_subscriptions.update_choices(
                db.session, subscription, **form.chosen(), now=utcnow()
            )
        except DomainError as error:
            db.session.rollback()
            _field_error(form, error)
            status = 409 if subscription.status == ChannelStatus.UNSUBSCRIBED else 400
        else:
            db.session.commit()
            flash(_("Your choices are saved."))
            return redirect(url_for("public.manage_channel", token=token))
    else:
        status = 400
    return _private(
        render_template(
            "public/channel_manage.html",
            form=form,
            leave=leave,
            rotate=rotate,
            layout=layout,
            subscription=subscription,
            token=token,
        ),
        status,
    )
