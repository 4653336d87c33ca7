"""Audiences: named groups of readers, and what is addressed to them.

The public is the audience everyone is in; it has no row. A named audience (Employees,
Enterprise customers, Acme Corp) has members (who get in by an email link, OpenID Connect or
an IP range), private components, and incidents and updates addressed to it.

The link tables name the other packages' tables by name only, so this module imports nothing
but `core`: components, incidents and notifications declare their `audiences` relationships
over these tables, and the import graph keeps pointing down.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from statuspage.core.db import Base, utcnow


def _link(name: str, left: str, left_table: str) -> sa.Table:
    return sa.Table(
        name,
        Base.metadata,
        sa.Column(left, sa.ForeignKey(f"{left_table}.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "audience_id",
            sa.ForeignKey("audience.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        ),
    )


# A private component (is_public False) is shown to these audiences.
component_audience = _link("component_audience", "component_id", "component")
# An update with no row here is public; with rows, only those audiences see it.
incident_update_audience = _link("incident_update_audience", "update_id", "incident_update")
# An incident that is not public is shown to these audiences (set by publishing to them).
incident_audience = _link("incident_audience", "incident_id", "incident")
# A subscriber also hears what is addressed to these audiences.
subscriber_audience = _link("subscriber_audience", "subscriber_id", "subscriber")


class Audience(Base):
    __tablename__ = "audience"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    slug: Mapped[str] = mapped_column(sa.String(60), unique=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    # Who may ask for a sign-in link: whole addresses and domains, lower-cased.
    allowed_emails: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    allowed_domains: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Requests from these networks (CIDR) are members without signing in.
    ip_ranges: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # An OpenID Connect group (or claim value) whose holders are members.
    oidc_group: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    feed_tokens: Mapped[list[AudienceFeedToken]] = relationship(
        back_populates="audience",
        cascade="all, delete-orphan",
        order_by="AudienceFeedToken.id",
    )

    def __repr__(self) -> str:
        return f"<Audience {self.id} {self.slug!r}>"


class AudienceFeedToken(Base):
    """A secret in a feed or JSON address that reads as one audience. Only its SHA-256 is
    stored; revoking keeps the row (who made it and when) and ends the address."""

    __tablename__ = "audience_feed_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    audience_id: Mapped[int] = mapped_column(
        sa.ForeignKey("audience.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(sa.String(120), default="")
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    audience: Mapped[Audience] = relationship(back_populates="feed_tokens")


class ReaderSignInToken(Base):
    """A single-use sign-in link for a reader's address (only its SHA-256 is stored)."""

    __tablename__ = "reader_sign_in_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
