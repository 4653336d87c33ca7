"""Admin views: the delivery log of subscriber notifications (read-only, every staff role).

The list shows each notification with what it announces, its state and its batches counted
by state; the detail page shows every batch with its attempts, provider message id and the
reason it failed or waits for a retry.
"""

from __future__ import annotations

from flask import abort, render_template, request

from statuspage.admin import bp, require
from statuspage.admin.forms import lazy_term
from statuspage.auth.permissions import Permission
from statuspage.core.outbox import Notification, NotificationKind, NotificationState
from statuspage.extensions import db
from statuspage.notifications import queries
from statuspage.notifications.models import BatchState
from statuspage.web_converters import page_arg

# Words from core/vocabulary.py, in the staff member's language when shown.
KIND_LABELS = {kind: lazy_term(kind) for kind in NotificationKind}
STATE_LABELS = {state: lazy_term(state) for state in NotificationState}
BATCH_LABELS = {state: lazy_term(state) for state in BatchState}


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
