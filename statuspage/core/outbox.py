"""Writing to the outbox: called by the domain functions that publish something.

The caller's transaction commits the notification together with the change it announces.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from statuspage.core.db import Base, enum_column, utcnow


class NotificationKind(enum.StrEnum):
    INCIDENT_UPDATE = "incident_update"
    CLOSURE_REPORT = "closure_report"
    REVIEW_PUBLISHED = "review_published"
    MAINTENANCE_SCHEDULED = "maintenance_scheduled"
    MAINTENANCE_REMINDER = "maintenance_reminder"
    MAINTENANCE_STARTED = "maintenance_started"
    MAINTENANCE_COMPLETED = "maintenance_completed"
    # An internal summary for stakeholder lists (`statuspage.stakeholders`): its recipients
    # are the message's own addresses, not subscribers.
    STAKEHOLDER_SUMMARY = "stakeholder_summary"
    # A listed component's status changed (`status_change_id`): for the webhook,
    # chat and SMS channels only (Statuspage's component events); email does not send it.
    COMPONENT_STATUS = "component_status"


# Kinds only the channels send (webhook, chat, SMS): written already done for email, so the
# email pipeline (its sweep takes the oldest 100 open rows a run) never spends a turn on them;
# the channels keep their own cursor (`channel_fanout`).
CHANNEL_ONLY_KINDS = frozenset({NotificationKind.COMPONENT_STATUS})


class NotificationState(enum.StrEnum):
    PENDING = "pending"  # written, not yet taken by a worker
    SENDING = "sending"  # being expanded and sent
    DONE = "done"
    FAILED = "failed"


class Notification(Base):
    __tablename__ = "notification"
    __table_args__ = (sa.Index("ix_notification_state_created", "state", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[NotificationKind] = mapped_column(
        enum_column(NotificationKind, "notification_kind")
    )
    incident_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    incident_update_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("incident_update.id", ondelete="CASCADE")
    )
    maintenance_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("maintenance.id", ondelete="CASCADE"), index=True
    )
    maintenance_update_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("maintenance_update.id", ondelete="CASCADE")
    )
    # COMPONENT_STATUS: the status change it announces (its old and new status).
    status_change_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("component_status_change.id", ondelete="CASCADE")
    )
    # The components it concerns, fixed when written: their subscribers (and those who chose
    # everything) are its audience.
    component_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    # Empty: for every subscriber. Otherwise only for subscribers of these audiences.
    audience_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    state: Mapped[NotificationState] = mapped_column(
        enum_column(NotificationState, "notification_state"), default=NotificationState.PENDING
    )
    # Subscribers who confirmed after this moment do not get it.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    # Expansion into batches walks subscribers by id; the cursor makes it resumable.
    expanded_through_id: Mapped[int] = mapped_column(default=0)
    # Subscribers are walked by (language, id), so each batch holds one language.
    expanded_through_language: Mapped[str] = mapped_column(
        sa.String(8), default="", server_default=""
    )
    expanded_at: Mapped[datetime | None]  # every batch written
    recipient_count: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind}>"


def queue_notification(
    session: Session,
    kind: NotificationKind,
    *,
    now: datetime,
    component_ids: Iterable[int] = (),
    incident_id: int | None = None,
    incident_update_id: int | None = None,
    maintenance_id: int | None = None,
    maintenance_update_id: int | None = None,
    status_change_id: int | None = None,
    audience_ids: Iterable[int] = (),
) -> Notification:
    notification = Notification(
        kind=NotificationKind(kind),
        incident_id=incident_id,
        incident_update_id=incident_update_id,
        maintenance_id=maintenance_id,
        maintenance_update_id=maintenance_update_id,
        status_change_id=status_change_id,
        component_ids=sorted(set(component_ids)),
        audience_ids=sorted(set(audience_ids)),
        created_at=now,
    )
    if notification.kind in CHANNEL_ONLY_KINDS:
        notification.state = NotificationState.DONE
        notification.expanded_at = notification.completed_at = now
    session.add(notification)
    return notification
