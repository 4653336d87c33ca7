"""Staff views: the channels of a stakeholder list (webhook, Slack, Teams, Discord), on the
list's own page.

Who may: CONFIGURE, the permission that manages stakeholder lists. Adding checks the URL
(SSRF rules, the chat service's host) in `notifications.list_channels`; a webhook's signing
secret is shown once, on the page that answers the form (never stored in a flash message or
a log), with `Cache-Control: no-store`. Removing is a button form with its CSRF token. A
channel's delivery log, replay, disable and enable are the shared channel pages
(`admin/channels.py`).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, current_app, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from statuspage.account.forms import EmptyForm
from statuspage.admin import actor_id, bp, require
from statuspage.admin.actions import run_domain
from statuspage.admin.forms import options
from statuspage.auth.permissions import Permission
from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.notifications import list_channels, netguard
from statuspage.notifications.channel_emails import target_host
from statuspage.notifications.channel_queries import latest_deliveries
from statuspage.notifications.models import ChannelKind, ChannelStatus
from statuspage.stakeholders.models import StakeholderList

logger = logging.getLogger(__name__)

STATUS_LABELS = {
    ChannelStatus.PENDING: _l("Waiting for verification"),
    ChannelStatus.ACTIVE: _l("Active"),
    ChannelStatus.DISABLED: _l("Disabled"),
}
KIND_LABELS = {
    ChannelKind.WEBHOOK: _l("Webhook (signed)"),
    ChannelKind.SLACK: _l("Slack"),
    ChannelKind.TEAMS: _l("Microsoft Teams"),
    ChannelKind.DISCORD: _l("Discord"),
}


class ListChannelForm(FlaskForm):
    kind = SelectField(
        _l("Channel"),
        choices=options(
            (kind.value, KIND_LABELS[kind]) for kind in list_channels.LIST_CHANNEL_KINDS
        ),
        validators=[DataRequired()],
    )
    url = StringField(_l("Webhook URL"), validators=[DataRequired(), Length(max=2048)])


def channel_context(list_id: int, channel_form: ListChannelForm | None = None) -> dict[str, Any]:
    """What the list's page shows of its channels: each with its host, status and latest
    delivery, the form to add one, and the remove buttons' form."""
    channels = list_channels.list_channels(db.session, list_id)
    latest = latest_deliveries(db.session, [channel.id for channel in channels])
    return {
        "channels": [
            {
                "subscription": channel,
                "kind": KIND_LABELS.get(channel.kind, channel.kind.value),
                "host": target_host(channel),
                "status": STATUS_LABELS.get(channel.status, channel.status.value),
                "last": latest.get(channel.id),
            }
            for channel in channels
        ],
        "channel_form": channel_form or ListChannelForm(prefix="channel"),
        "channel_button_form": EmptyForm(),
        "max_channels": list_channels.MAX_LIST_CHANNELS,
    }


def _list_or_404(list_id: int) -> StakeholderList:
    stakeholder_list = db.session.get(StakeholderList, list_id)
    if stakeholder_list is None:
        abort(404)
    return stakeholder_list


def _enqueue_due() -> None:
    from statuspage.worker.channels import send_due_channels_task

    try:
        send_due_channels_task()
    except Exception:
        logger.exception("Could not enqueue channel deliveries; the sweep will")


@bp.post("/stakeholders/<int:list_id>/channels")
def add_stakeholder_channel(list_id: int) -> str | Response | tuple[str, int]:
    require(Permission.CONFIGURE)
    stakeholder_list = _list_or_404(list_id)
    form = ListChannelForm(prefix="channel")
    if form.validate_on_submit():
        outcome = run_domain(
            lambda: list_channels.add_list_channel(
                db.session,
                list_id,
                form.kind.data or "",
                form.url.data or "",
                policy=netguard.NetworkPolicy.from_config(current_app.config),
                owner_email=current_user.email or "",
                actor_id=actor_id(),
                now=utcnow(),
            ),
            form=form,
            fallback="url",
        )
        if not outcome.refused and outcome.value is not None:
            added = outcome.value
            if added.kind != ChannelKind.WEBHOOK:
                flash(
                    gettext(
                        "%(kind)s channel added (%(host)s).",
                        kind=KIND_LABELS[added.kind],
                        host=added.host,
                    )
                )
                return redirect(
                    url_for("admin.edit_stakeholder_list", list_id=list_id) + "#channels"
                )
            _enqueue_due()  # the verification event
            response = make_response(
                render_template(
                    "admin/stakeholders/channel_added.html",
                    stakeholder_list=stakeholder_list,
                    added=added,
                )
            )
            response.headers["Cache-Control"] = "no-store"
            return response
    from statuspage.admin.stakeholders import render_list_page

    return render_list_page(stakeholder_list, channel_form=form, status=400)


@bp.post("/stakeholders/<int:list_id>/channels/<int:subscription_id>/remove")
def remove_stakeholder_channel(list_id: int, subscription_id: int) -> Response:
    require(Permission.CONFIGURE)
    _list_or_404(list_id)
    if not EmptyForm().validate_on_submit():
        abort(400, description=gettext("The form expired. Reload the page and try again."))
    run_domain(
        lambda: list_channels.remove_list_channel(
            db.session, list_id, subscription_id, actor_id=actor_id(), now=utcnow()
        )
    )
    flash(gettext("Channel removed: it receives nothing more."))
    return redirect(url_for("admin.edit_stakeholder_list", list_id=list_id) + "#channels")
