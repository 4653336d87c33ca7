"""The outbox: one row per thing subscribers must hear about.

A notification is written in the same transaction as the change it announces (a published
update, a closure report, a maintenance step), so a change can never be committed without its
notification, nor a notification without its change. Delivery (expanding it into batches of
recipients and sending them) reads these rows later, in the worker.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from statuspage.audiences.models import Audience, subscriber_audience
from statuspage.components.models import Component, ComponentGroup
from statuspage.core.db import Base, enum_column, utcnow

subscriber_component = sa.Table(
    "subscriber_component",
    Base.metadata,
    sa.Column(
        "subscriber_id", sa.ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "component_id",
        sa.ForeignKey("component.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)

subscriber_group = sa.Table(
    "subscriber_group",
    Base.metadata,
    sa.Column(
        "subscriber_id", sa.ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "group_id",
        sa.ForeignKey("component_group.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class Subscriber(Base):
    """An email subscription. Receives mail only while confirmed, not unsubscribed and not
    suppressed. `all_components` or the chosen components and groups (a group includes the
    components added to it later)."""

    __tablename__ = "subscriber"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)  # stored lower-cased
    all_components: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmation_sent_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None] = mapped_column(index=True)
    # Set when an admin imported the address as already confirmed (recorded, never silent).
    confirmed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    imported: Mapped[bool] = mapped_column(default=False)
    unsubscribed_at: Mapped[datetime | None]
    # bounce, dropped, spamreport, unsubscribe (from the provider's event webhook)
    suppressed_reason: Mapped[str] = mapped_column(sa.String(40), default="")
    suppressed_at: Mapped[datetime | None]

    components: Mapped[list[Component]] = relationship(secondary=subscriber_component)
    groups: Mapped[list[ComponentGroup]] = relationship(secondary=subscriber_group)
    # Also told what is addressed to these audiences (set when a member subscribes).
    audiences: Mapped[list[Audience]] = relationship(secondary=subscriber_audience)

    @property
    def active(self) -> bool:
        return (
            self.confirmed_at is not None
            and self.unsubscribed_at is None
            and self.suppressed_at is None
        )


class BatchState(enum.StrEnum):
    PENDING = "pending"  # waiting to be sent (or to be retried at `next_attempt_at`)
    SENDING = "sending"  # claimed by a worker until `claimed_until`
    SENT = "sent"  # accepted by the provider: never sent again
    FAILED = "failed"  # refused for good (400, 401, 403, 413) or out of retries


class DeliveryBatch(Base):
    """Up to 1,000 recipients of one notification, sent in one provider request."""

    __tablename__ = "delivery_batch"
    __table_args__ = (
        sa.UniqueConstraint("notification_id", "seq", name="uq_delivery_batch_seq"),
        sa.Index("ix_delivery_batch_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        sa.ForeignKey("notification.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    subscriber_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    state: Mapped[BatchState] = mapped_column(
        enum_column(BatchState, "batch_state"), default=BatchState.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    sent_count: Mapped[int] = mapped_column(default=0)  # recipients actually sent to
    provider_message_id: Mapped[str] = mapped_column(sa.String(200), default="")
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class ProviderEvent(Base):
    """An event-webhook event already handled, by the provider's id: repeats are ignored."""

    __tablename__ = "provider_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    subscriber_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("subscriber.id", ondelete="SET NULL")
    )
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
