"""What the delivery log shows: notifications, their batches counted by state, and what each
announces. Every function runs a fixed number of statements however many notifications,
batches or subscribers exist."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, defer

from statuspage.core.outbox import CHANNEL_ONLY_KINDS, Notification, NotificationState
from statuspage.core.paging import Paged, clamp_page
from statuspage.incidents.models import Incident, Maintenance
from statuspage.notifications.models import BatchState, DeliveryBatch

PER_PAGE = 50
BATCH_LIMIT = 1000


@dataclass
class Counts:
    """Batches of one notification by state, and recipients sent to."""

    batches: dict[BatchState, int] = field(default_factory=lambda: defaultdict(int))
    sent: int = 0

    @property
    def total(self) -> int:
        return sum(self.batches.values())


@dataclass(frozen=True)
class NotificationPage(Paged):
    page: int
    per_page: int
    total: int
    notifications: list[Notification]


def notification_page(
    session: Session, *, state: NotificationState | None, page: int, per_page: int = PER_PAGE
) -> NotificationPage:
    """One page of notifications (in one state, or all), newest first: two statements."""
    # The email log: a channel-only notification (a component event) sends no email; its
    # deliveries are in each channel subscription's log.
    where = [Notification.kind.not_in(CHANNEL_ONLY_KINDS)]
    if state:
        where.append(Notification.state == state)
    total = session.scalar(sa.select(sa.func.count(Notification.id)).where(*where)) or 0
    page = clamp_page(page, total, per_page)
    notifications = list(
        session.scalars(
            sa.select(Notification)
            .where(*where)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return NotificationPage(page=page, per_page=per_page, total=total, notifications=notifications)


def batch_counts(session: Session, notification_ids: list[int]) -> dict[int, Counts]:
    """Each notification's batches counted by state, and recipients sent to (one statement)."""
    counts: dict[int, Counts] = defaultdict(Counts)
    if not notification_ids:
        return counts
    rows = session.execute(
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


def subjects(
    session: Session, notifications: list[Notification]
) -> tuple[dict[int, str], dict[int, str]]:
    """Titles of the incidents and maintenance the notifications announce (two statements
    at most)."""
    incident_ids = {n.incident_id for n in notifications if n.incident_id}
    maintenance_ids = {n.maintenance_id for n in notifications if n.maintenance_id}
    incidents: dict[int, str] = {}
    maintenance: dict[int, str] = {}
    if incident_ids:
        incidents = {
            incident_id: title
            for incident_id, title in session.execute(
                sa.select(Incident.id, Incident.title).where(Incident.id.in_(incident_ids))
            )
        }
    if maintenance_ids:
        maintenance = {
            maintenance_id: title
            for maintenance_id, title in session.execute(
                sa.select(Maintenance.id, Maintenance.title).where(
                    Maintenance.id.in_(maintenance_ids)
                )
            )
        }
    return incidents, maintenance


def batches_of(session: Session, notification_id: int, *, limit: int = BATCH_LIMIT) -> list[Any]:
    """The notification's batches in order, each with how many subscribers it lists.

    The id lists themselves stay in the database: only their lengths are read.
    """
    return list(
        session.execute(
            sa.select(
                DeliveryBatch,
                sa.func.json_array_length(DeliveryBatch.subscriber_ids).label("listed"),
            )
            .where(DeliveryBatch.notification_id == notification_id)
            .order_by(DeliveryBatch.seq)
            .limit(limit)
            .options(defer(DeliveryBatch.subscriber_ids))
        )
    )
