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
from statuspage.stakeholders.models import StakeholderList

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
    # Delivery walks an announcement's subscribers by (language, id), a batch per language.
    __table_args__ = (sa.Index("ix_subscriber_language_id", "language", "id"),)

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
    # The language the subscriber reads email in; "" is the page's default language.
    language: Mapped[str] = mapped_column(sa.String(8), default="", server_default="")

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
    # Every recipient of a batch reads one language ("" the default): one email per batch.
    language: Mapped[str] = mapped_column(sa.String(8), default="", server_default="")


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


# --- channels other than email (webhook, slack, teams, discord, sms) ---

channel_subscription_component = sa.Table(
    "channel_subscription_component",
    Base.metadata,
    sa.Column(
        "subscription_id",
        sa.ForeignKey("channel_subscription.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "component_id",
        sa.ForeignKey("component.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)

channel_subscription_group = sa.Table(
    "channel_subscription_group",
    Base.metadata,
    sa.Column(
        "subscription_id",
        sa.ForeignKey("channel_subscription.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "group_id",
        sa.ForeignKey("component_group.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class ChannelKind(enum.StrEnum):
    WEBHOOK = "webhook"
    SLACK = "slack"
    TEAMS = "teams"
    DISCORD = "discord"
    SMS = "sms"


class ChannelStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for the verification (webhook) or the opt-in code (SMS)
    ACTIVE = "active"  # receives deliveries
    DISABLED = "disabled"  # kept failing, answered 410 Gone, or staff disabled it
    UNSUBSCRIBED = "unsubscribed"


class ChannelSubscription(Base):
    """A subscription on a channel other than email: a webhook URL, a chat webhook URL or a
    phone number (`target`). Receives deliveries only while `active`; `all_components` or the
    chosen components and groups, as an email `Subscriber`."""

    __tablename__ = "channel_subscription"
    __table_args__ = (sa.Index("ix_channel_subscription_kind_status", "kind", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ChannelKind] = mapped_column(enum_column(ChannelKind, "channel_kind"))
    # A URL (webhook, slack, teams, discord) or an E.164 phone number (sms).
    target: Mapped[str] = mapped_column(sa.String(2048))
    # Webhook signing secret, Standard Webhooks format (`whsec_` + base64); shown once.
    secret: Mapped[str] = mapped_column(sa.String(200), default="")
    status: Mapped[ChannelStatus] = mapped_column(
        enum_column(ChannelStatus, "channel_status"), default=ChannelStatus.PENDING
    )
    # SHA-256 (hex) of the manage page's secret URL token; the token itself is shown once.
    manage_token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    all_components: Mapped[bool] = mapped_column(default=True)
    owner_email: Mapped[str] = mapped_column(sa.String(254), default="")  # told when disabled
    # Set: staff attached it to this stakeholder list (webhook or chat). It then receives
    # only that list's internal summaries, never a public notification; a public
    # subscription (None) never receives a summary. See `channel_delivery.audience_query`.
    stakeholder_list_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("stakeholder_list.id", ondelete="CASCADE"), index=True
    )
    language: Mapped[str] = mapped_column(sa.String(16), default="")  # "" = the page's
    optin_code_hash: Mapped[str] = mapped_column(sa.String(128), default="")  # SMS
    optin_expires_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    failing_since: Mapped[datetime | None]
    disabled_reason: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]

    components: Mapped[list[Component]] = relationship(secondary=channel_subscription_component)
    groups: Mapped[list[ComponentGroup]] = relationship(secondary=channel_subscription_group)
    stakeholder_list: Mapped[StakeholderList | None] = relationship()

    @property
    def active(self) -> bool:
        return self.status == ChannelStatus.ACTIVE


class ChannelDeliveryState(enum.StrEnum):
    PENDING = "pending"  # due at `next_attempt_at` (or claimed until `claimed_until`)
    DELIVERED = "delivered"  # the receiver answered 2xx: never sent again (except a replay)
    FAILED = "failed"  # refused for good (4xx other than 408/409/425/429, 410 disables)
    GAVE_UP = "gave_up"  # out of attempts, or the subscription was disabled meanwhile


class ChannelDelivery(Base):
    """One notification (or the verification event, `notification_id` None) for one channel
    subscription. `message_id` is the stable `webhook-id`: every attempt and every replay of
    this delivery carries it, so a receiver can drop repeats."""

    __tablename__ = "channel_delivery"
    __table_args__ = (
        sa.UniqueConstraint(
            "subscription_id", "notification_id", name="uq_channel_delivery_subscription_id"
        ),
        sa.Index("ix_channel_delivery_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        sa.ForeignKey("channel_subscription.id", ondelete="CASCADE"), index=True
    )
    notification_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("notification.id", ondelete="CASCADE"), index=True
    )
    # The event type (`verification`, `incident.update`, `component.update`, ...).
    event_type: Mapped[str] = mapped_column(sa.String(40), default="")
    message_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    state: Mapped[ChannelDeliveryState] = mapped_column(
        enum_column(ChannelDeliveryState, "channel_delivery_state"),
        default=ChannelDeliveryState.PENDING,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_latency_ms: Mapped[int | None]
    last_response_excerpt: Mapped[str] = mapped_column(sa.String(500), default="")
    last_error: Mapped[str] = mapped_column(sa.String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class ChannelFanout(Base):
    """How far a notification's expansion into channel deliveries got (resumable, as the email
    expansion's cursor on the notification): subscriptions are walked by id."""

    __tablename__ = "channel_fanout"

    notification_id: Mapped[int] = mapped_column(
        sa.ForeignKey("notification.id", ondelete="CASCADE"), primary_key=True
    )
    expanded_through_id: Mapped[int] = mapped_column(default=0)
    expanded_at: Mapped[datetime | None]
