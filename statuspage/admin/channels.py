"""Admin views: channel subscriptions (webhook, chat, SMS) and their delivery log.

Who may: PUBLISH, as for email subscribers (who hears about what is the comms side's
business, and the rows are readers' data). Targets are shown by host only: a webhook or
Slack URL's path is often the receiver's own secret. Staff can disable and enable a
subscription and replay one delivery: the same `webhook-id` goes out again, so a receiver
that already had it can drop it. Button forms carry CSRF tokens; each writes through
`run_domain` (one commit, or a rollback and the refusal).
"""

from __future__ import annotations

import logging

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from statuspage.account.forms import EmptyForm
from statuspage.admin import actor_id, bp, require
from statuspage.admin.actions import run_domain
from statuspage.admin.forms import lazy_term
from statuspage.auth.permissions import Permission
from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.notifications import channel_queries, channel_subscriptions
from statuspage.notifications.channel_delivery import replay
from statuspage.notifications.models import (
    ChannelDelivery,
    ChannelDeliveryState,
    ChannelStatus,
    ChannelSubscription,
)
from statuspage.web_converters import page_arg

logger = logging.getLogger(__name__)

# Words from core/vocabulary.py, in the staff member's language when shown.
STATUS_LABELS = {status: lazy_term(status) for status in ChannelStatus}
DELIVERY_LABELS = {state: lazy_term(state) for state in ChannelDeliveryState}


def _status_filter() -> ChannelStatus | None:
    value = request.args.get("status", "")
    if not value:
        return None
    try:
        return ChannelStatus(value)
    except ValueError:
        abort(400, description="Filter by pending, active, disabled or unsubscribed.")


def _enqueue_due() -> None:
    from statuspage.worker.channels import send_due_channels_task

    try:
        send_due_channels_task()
    except Exception:
        logger.exception("Could not enqueue channel deliveries; the sweep will")


@bp.get("/channels")
def channels() -> str:
    require(Permission.PUBLISH)
    status = _status_filter()
    result = channel_queries.channel_page(db.session, status=status, page=page_arg())
    return render_template(
        "admin/channels/list.html",
        result=result,
        statuses=STATUS_LABELS,
        delivery_states=DELIVERY_LABELS,
        status_filter=status.value if status else "",
        query_args={"status": status.value} if status else {},
    )


def _subscription_or_404(subscription_id: int) -> ChannelSubscription:
    subscription = db.session.get(ChannelSubscription, subscription_id)
    if subscription is None:
        abort(404)
    return subscription


@bp.get("/channels/<int:subscription_id>")
def channel(subscription_id: int) -> str:
    require(Permission.PUBLISH)
    subscription = _subscription_or_404(subscription_id)
    return render_template(
        "admin/channels/detail.html",
        subscription=subscription,
        host=channel_queries.target_host(subscription),
        deliveries=channel_queries.recent_deliveries(db.session, subscription.id),
        limit=channel_queries.RECENT_DELIVERIES,
        statuses=STATUS_LABELS,
        delivery_states=DELIVERY_LABELS,
        form=EmptyForm(),
    )


@bp.post("/channels/<int:subscription_id>/disable")
def disable_channel(subscription_id: int) -> Response:
    require(Permission.PUBLISH)
    subscription = _subscription_or_404(subscription_id)
    if not EmptyForm().validate_on_submit():
        abort(400, description="The form expired. Reload the page and try again.")
    outcome = run_domain(
        lambda: channel_subscriptions.staff_disable(
            db.session, subscription, actor_id=actor_id(), now=utcnow()
        )
    )
    if not outcome.refused:
        flash(
            gettext("Subscription disabled.") if outcome.value else gettext("It was not running.")
        )
    return redirect(url_for("admin.channel", subscription_id=subscription_id))


@bp.post("/channels/<int:subscription_id>/enable")
def enable_channel(subscription_id: int) -> Response:
    require(Permission.PUBLISH)
    subscription = _subscription_or_404(subscription_id)
    if not EmptyForm().validate_on_submit():
        abort(400, description="The form expired. Reload the page and try again.")
    outcome = run_domain(
        lambda: channel_subscriptions.staff_enable(
            db.session, subscription, actor_id=actor_id(), now=utcnow()
        )
    )
    if not outcome.refused:
        _enqueue_due()
        flash(gettext("Subscription enabled."))
    return redirect(url_for("admin.channel", subscription_id=subscription_id))


@bp.post("/channels/deliveries/<int:delivery_id>/replay")
def replay_channel_delivery(delivery_id: int) -> Response:
    require(Permission.PUBLISH)
    delivery = db.session.get(ChannelDelivery, delivery_id)
    if delivery is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400, description="The form expired. Reload the page and try again.")
    subscription_id = delivery.subscription_id
    outcome = run_domain(lambda: replay(db.session, delivery, now=utcnow(), actor_id=actor_id()))
    if not outcome.refused:
        _enqueue_due()
        flash(
            gettext(
                "Delivery %(id)s queued again with the same webhook-id.", id=delivery.message_id
            )
        )
    return redirect(url_for("admin.channel", subscription_id=subscription_id))
