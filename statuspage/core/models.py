"""The kernel's tables: the incident timeline, the audit log and the public version.

Every package writes timeline events and audit rows in the same transaction as its change,
and bumps the public version when something customers see changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from statuspage.core.db import Base, utcnow


class TimelineEvent(Base):
    """The curated, human timeline of an incident."""

    __tablename__ = "timeline_event"
    __table_args__ = (sa.Index("ix_timeline_event_incident_at", "incident_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incident.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    summary: Mapped[str] = mapped_column(sa.Text)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class AuditEntry(Base):
    """Append-only record of every field changed by a domain operation."""

    __tablename__ = "audit_entry"
    __table_args__ = (sa.Index("ix_audit_entry_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(sa.String(40))
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(sa.String(40))
    changes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SiteState(Base):
    """One row: the public version every public change bumps (caches and snapshots key on it)."""

    __tablename__ = "site_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_version: Mapped[int] = mapped_column(default=1)
    public_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
