"""Stakeholder lists, their members, and the messages written for them."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from statuspage.core import vocabulary
from statuspage.core.db import Base, enum_column, utcnow


class StakeholderEvent(enum.StrEnum):
    """What in an incident's life may tell a list (its rules choose among these)."""

    DECLARED = "declared"  # the incident got its first priority
    PRIORITY_RAISED = "priority_raised"  # its priority became more severe
    STATUS_CHANGED = "status_changed"  # any other move in the lifecycle
    SLA_BREACHED = "sla_breached"
    RESOLVED = "resolved"
    REVIEW_PUBLISHED = "review_published"
    MANUAL = "manual"  # a stakeholder update sent by hand (never a rule)

    @property
    def label(self) -> str:
        """Its English words: the staff vocabulary's (the msgid other languages translate)."""
        return vocabulary.STAKEHOLDER_EVENT[self.value]


# The events a list's rules may name.
RULE_EVENTS = tuple(event for event in StakeholderEvent if event != StakeholderEvent.MANUAL)


class StakeholderList(Base):
    __tablename__ = "stakeholder_list"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    # Rules: the priorities ("P1".."P4") and the events (StakeholderEvent values) that tell it.
    priorities: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    events: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    members: Mapped[list[StakeholderMember]] = relationship(
        back_populates="stakeholder_list",
        cascade="all, delete-orphan",
        order_by="StakeholderMember.id",
    )

    def __repr__(self) -> str:
        return f"<StakeholderList {self.id} {self.name!r}>"


class StakeholderMember(Base):
    """A staff account (its current address is used) or a plain email address."""

    __tablename__ = "stakeholder_member"
    __table_args__ = (
        sa.UniqueConstraint("list_id", "user_id", name="uq_stakeholder_member_user"),
        sa.UniqueConstraint("list_id", "email", name="uq_stakeholder_member_email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(
        sa.ForeignKey("stakeholder_list.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str | None] = mapped_column(sa.String(254))  # stored lower-cased

    stakeholder_list: Mapped[StakeholderList] = relationship(back_populates="members")


class StakeholderTemplate(Base):
    """A starting text for a stakeholder update sent by hand."""

    __tablename__ = "stakeholder_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    body: Mapped[str] = mapped_column(sa.Text, default="")  # Markdown
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The lists a message tells, by id (its `list_names` keep the names as they were): the
# channels staff attached to these lists receive the message's summary.
stakeholder_message_list = sa.Table(
    "stakeholder_message_list",
    Base.metadata,
    sa.Column(
        "message_id",
        sa.ForeignKey("stakeholder_message.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "list_id",
        sa.ForeignKey("stakeholder_list.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)


class StakeholderMessage(Base):
    """One telling of stakeholders: which event, which lists, whom (fixed when written), and
    the outbox row that delivers it."""

    __tablename__ = "stakeholder_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    notification_id: Mapped[int] = mapped_column(
        sa.ForeignKey("notification.id", ondelete="CASCADE"), unique=True
    )
    event: Mapped[StakeholderEvent] = mapped_column(
        enum_column(StakeholderEvent, "stakeholder_event")
    )
    detail: Mapped[str] = mapped_column(sa.Text, default="")  # "P2 -> P1", "investigating -> ..."
    body: Mapped[str] = mapped_column(sa.Text, default="")  # a manual update's text (Markdown)
    list_names: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    recipients: Mapped[list[StakeholderRecipient]] = relationship(
        cascade="all, delete-orphan", order_by="StakeholderRecipient.id"
    )
    lists: Mapped[list[StakeholderList]] = relationship(secondary=stakeholder_message_list)


class StakeholderRecipient(Base):
    """One address of a message. Delivery walks these by id, as it walks subscribers."""

    __tablename__ = "stakeholder_recipient"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        sa.ForeignKey("stakeholder_message.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(sa.String(254))
