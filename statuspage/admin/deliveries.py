"""Admin views: the delivery log of subscriber notifications (read-only, every staff role).

The list shows each notification with what it announces, its state and its batches counted
by state; the detail page shows every batch with its attempts, provider message id and the
reason it failed or waits for a retry.
"""

from __future__ import annotations

from flask import abort, render_template, request
from flask_babel import lazy_gettext as _l

from statuspage.admin import bp, require
from statuspage.auth.permissions import Permission
from statuspage.core.outbox import Notification, NotificationKind, NotificationState
from statuspage.extensions import db
from statuspage.notifications import queries
from statuspage.notifications.models import BatchState
from statuspage.web_converters import page_arg

KIND_LABELS = {
    NotificationKind.INCIDENT_UPDATE: _l("Incident update"),
    NotificationKind.CLOSURE_REPORT: _l("Closure report"),
    NotificationKind.REVIEW_PUBLISHED: _l("Post-incident review"),
    NotificationKind.MAINTENANCE_SCHEDULED: _l("Maintenance scheduled"),
    NotificationKind.MAINTENANCE_REMINDER: _l("Maintenance reminder"),
    NotificationKind.MAINTENANCE_STARTED: _l("Maintenance started"),
    NotificationKind.MAINTENANCE_COMPLETED: _l("Maintenance completed"),
    NotificationKind.STAKEHOLDER_SUMMARY: _l("Stakeholder summary (internal)"),
    NotificationKind.COMPONENT_STATUS: _l("Component status (webhook, chat, SMS)"),
}
STATE_LABELS = {
    NotificationState.PENDING: _l("Queued"),
    NotificationState.SENDING: _l("Sending"),
    NotificationState.DONE: _l("Done"),
    NotificationState.FAILED: _l("Failed"),
}
BATCH_LABELS = {
    BatchState.PENDING: _l("Queued"),
    BatchState.SENDING: _l("Sending"),
    BatchState.SENT: _l("Sent"),
    BatchState.FAILED: _l("Failed"),
}


def _state_filter() -> NotificationState | None:
    value = request.args.get("state", "")
    if not value:
        return None
    try:
        return NotificationState(value)
    except ValueError:
        abort(400, description="Filter by pending, sending, done or failed.")


def _page_number() -> int:
    return page_arg()


@bp.get("/deliveries")
def deliveries() -> str:
    require(Permission.VIEW)
    state = _state_filter()
    result = queries.notification_page(db.session, state=state, page=_page_number())
    incidents, maintenance = queries.subjects(db.session, result.notifications)
    return render_template(
        "admin/deliveries/list.html",
        notifications=result.notifications,
        counts=queries.batch_counts(db.session, [n.id for n in result.notifications]),
        incidents=incidents,
        maintenance=maintenance,
        kinds=KIND_LABELS,
        states=STATE_LABELS,
        batch_states=BATCH_LABELS,
        state_filter=state.value if state else "",
        pager=result,
        total=result.total,
    )


@bp.get("/deliveries/<int:notification_id>")
def delivery(notification_id: int) -> str:
    require(Permission.VIEW)
    notification = db.session.get(Notification, notification_id)
    if notification is None:
        abort(404)
    incidents, maintenance = queries.subjects(db.session, [notification])
    return render_template(
        "admin/deliveries/detail.html",
        notification=notification,
        batches=queries.batches_of(db.session, notification.id),
        counts=queries.batch_counts(db.session, [notification.id])[notification.id],
        incidents=incidents,
        maintenance=maintenance,
        kinds=KIND_LABELS,
        states=STATE_LABELS,
        batch_states=BATCH_LABELS,
        batch_limit=queries.BATCH_LIMIT,
    )
