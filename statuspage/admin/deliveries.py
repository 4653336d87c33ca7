"""Admin views: the delivery log of subscriber notifications (read-only, every staff role).

The list shows each notification with what it announces, its state and its batches counted
by state; the detail page shows every batch with its attempts, provider message id and the
reason it failed or waits for a retry.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import abort, render_template, request
from sqlalchemy.orm import defer

from statuspage.admin import bp, require
from statuspage.auth.permissions import Permission
from statuspage.core.outbox import Notification, NotificationKind, NotificationState
from statuspage.extensions import db
from statuspage.incidents.models import Incident, Maintenance
from statuspage.notifications.models import BatchState, DeliveryBatch
from statuspage.web_converters import page_arg

PER_PAGE = 50
BATCH_LIMIT = 1000

KIND_LABELS = {
    NotificationKind.INCIDENT_UPDATE: "Incident update",
    NotificationKind.CLOSURE_REPORT: "Closure report",
    NotificationKind.REVIEW_PUBLISHED: "Post-incident review",
    NotificationKind.MAINTENANCE_SCHEDULED: "Maintenance scheduled",
    NotificationKind.MAINTENANCE_REMINDER: "Maintenance reminder",
    NotificationKind.MAINTENANCE_STARTED: "Maintenance started",
    NotificationKind.MAINTENANCE_COMPLETED: "Maintenance completed",
}
STATE_LABELS = {
    NotificationState.PENDING: "Queued",
    NotificationState.SENDING: "Sending",
    NotificationState.DONE: "Done",
    NotificationState.FAILED: "Failed",
}
BATCH_LABELS = {
    BatchState.PENDING: "Queued",
    BatchState.SENDING: "Sending",
    BatchState.SENT: "Sent",
    BatchState.FAILED: "Failed",
}


@dataclass
class Counts:
    """Batches of one notification by state, and recipients sent to."""

    batches: dict[BatchState, int] = field(default_factory=lambda: defaultdict(int))
    sent: int = 0

    @property
    def total(self) -> int:
        return sum(self.batches.values())


@dataclass(frozen=True)
class Pager:
    page: int
    pages: int

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _counts(notification_ids: list[int]) -> dict[int, Counts]:
    counts: dict[int, Counts] = defaultdict(Counts)
    if not notification_ids:
        return counts
    rows = db.session.execute(
        sa.select(
            DeliveryBatch.notification_id,
            DeliveryBatch.state,
            sa.func.count(DeliveryBatch.id),
            sa.func.coalesce(sa.func.sum(DeliveryBatch.sent_count), 0),
        )
        .where(DeliveryBatch.notification_id.in_(notification_ids))
        .group_by(DeliveryBatch.notification_id, DeliveryBatch.state)
    ).all()
    for notification_id, state, number, sent in rows:
        counts[notification_id].batches[BatchState(state)] += int(number)
        counts[notification_id].sent += int(sent)
    return counts


def _subjects(
    notifications: list[Notification],
) -> tuple[dict[int, str], dict[int, str]]:
    """Titles of the incidents and maintenance the notifications announce (two queries)."""
    incident_ids = {n.incident_id for n in notifications if n.incident_id}
    maintenance_ids = {n.maintenance_id for n in notifications if n.maintenance_id}
    incidents = dict(
        db.session.execute(
            sa.select(Incident.id, Incident.title).where(Incident.id.in_(incident_ids))
        ).all()
        if incident_ids
        else []
    )
    maintenance = dict(
        db.session.execute(
            sa.select(Maintenance.id, Maintenance.title).where(Maintenance.id.in_(maintenance_ids))
        ).all()
        if maintenance_ids
        else []
    )
    return incidents, maintenance


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
    page = _page_number()
    where = [Notification.state == state] if state else []
    total = db.session.scalar(sa.select(sa.func.count(Notification.id)).where(*where)) or 0
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(page, pages)
    notifications = list(
        db.session.scalars(
            sa.select(Notification)
            .where(*where)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        )
    )
    incidents, maintenance = _subjects(notifications)
    return render_template(
        "admin/deliveries/list.html",
        notifications=notifications,
        counts=_counts([n.id for n in notifications]),
        incidents=incidents,
        maintenance=maintenance,
        kinds=KIND_LABELS,
        states=STATE_LABELS,
        batch_states=BATCH_LABELS,
        state_filter=state.value if state else "",
        pager=Pager(page=page, pages=pages),
        total=total,
    )


@bp.get("/deliveries/<int:notification_id>")
def delivery(notification_id: int) -> str:
    require(Permission.VIEW)
    notification = db.session.get(Notification, notification_id)
    if notification is None:
        abort(404)
    # The id lists themselves stay in the database: only their lengths are shown.
    batches = db.session.execute(
        sa.select(
            DeliveryBatch,
            sa.func.json_array_length(DeliveryBatch.subscriber_ids).label("listed"),
        )
        .where(DeliveryBatch.notification_id == notification.id)
        .order_by(DeliveryBatch.seq)
        .limit(BATCH_LIMIT)
        .options(defer(DeliveryBatch.subscriber_ids))
    ).all()
    incidents, maintenance = _subjects([notification])
    return render_template(
        "admin/deliveries/detail.html",
        notification=notification,
        batches=batches,
        counts=_counts([notification.id])[notification.id],
        incidents=incidents,
        maintenance=maintenance,
        kinds=KIND_LABELS,
        states=STATE_LABELS,
        batch_states=BATCH_LABELS,
        batch_limit=BATCH_LIMIT,
    )
