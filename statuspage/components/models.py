"""Components and their groups, and the history of every status change."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from statuspage.audiences.models import Audience, component_audience
from statuspage.core.db import Base, enum_column, utcnow


class ComponentStatus(enum.StrEnum):
    """Statuspage's component vocabulary, worst last but for maintenance."""

    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"

    @property
    def label(self) -> str:
        return COMPONENT_STATUS_LABELS[self]


COMPONENT_STATUS_LABELS = {
    ComponentStatus.OPERATIONAL: "Operational",
    ComponentStatus.DEGRADED_PERFORMANCE: "Degraded performance",
    ComponentStatus.PARTIAL_OUTAGE: "Partial outage",
    ComponentStatus.MAJOR_OUTAGE: "Major outage",
    ComponentStatus.UNDER_MAINTENANCE: "Under maintenance",
}


# From best to worst: maintenance ranks below any real trouble, as in the overall rollup.
SEVERITY_ORDER = (
    ComponentStatus.OPERATIONAL,
    ComponentStatus.UNDER_MAINTENANCE,
    ComponentStatus.DEGRADED_PERFORMANCE,
    ComponentStatus.PARTIAL_OUTAGE,
    ComponentStatus.MAJOR_OUTAGE,
)


def worst_status(statuses: Iterable[ComponentStatus]) -> ComponentStatus:
    """The most severe of `statuses`; operational when there are none."""
    return max(statuses, key=SEVERITY_ORDER.index, default=ComponentStatus.OPERATIONAL)


class ComponentGroup(Base):
    __tablename__ = "component_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    components: Mapped[list[Component]] = relationship(
        back_populates="group", order_by="Component.position"
    )

    def __repr__(self) -> str:
        return f"<ComponentGroup {self.id} {self.name!r}>"


class Component(Base):
    __tablename__ = "component"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("component_group.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    status: Mapped[ComponentStatus] = mapped_column(
        enum_column(ComponentStatus, "component_status"), default=ComponentStatus.OPERATIONAL
    )
    # Statuspage's words: `showcase` shows the uptime bar; `only_show_if_degraded` lists the
    # component only while it is not operational.
    showcase: Mapped[bool] = mapped_column(default=True)
    only_show_if_degraded: Mapped[bool] = mapped_column(default=False)
    start_date: Mapped[date | None] = mapped_column(sa.Date)  # uptime counts from this day
    # Listed on the public page, feeds and JSON; staff see every component.
    is_public: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # Archived: kept with its history, listed nowhere.
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    group: Mapped[ComponentGroup | None] = relationship(back_populates="components")
    # A private component (not `is_public`) is shown to these audiences' members.
    audiences: Mapped[list[Audience]] = relationship(
        secondary=component_audience, order_by="Audience.name"
    )

    @property
    def listed(self) -> bool:
        """Shown to the public: on the page, in feeds, JSON, badges and subscriptions."""
        return self.is_public and self.archived_at is None

    @classmethod
    def listed_clause(cls) -> sa.ColumnElement[bool]:
        """`listed`, as a WHERE condition."""
        return sa.and_(cls.is_public.is_(True), cls.archived_at.is_(None))

    def __repr__(self) -> str:
        return f"<Component {self.id} {self.name!r} {self.status}>"


class ComponentStatusChange(Base):
    """One row per change of a component's status: when, to what, and what caused it."""

    __tablename__ = "component_status_change"
    __table_args__ = (
        sa.Index("ix_component_status_change_component_changed", "component_id", "changed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    component_id: Mapped[int] = mapped_column(sa.ForeignKey("component.id", ondelete="CASCADE"))
    old_status: Mapped[ComponentStatus | None] = mapped_column(
        enum_column(ComponentStatus, "component_status_old")
    )
    status: Mapped[ComponentStatus] = mapped_column(
        enum_column(ComponentStatus, "component_status")
    )
    changed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    incident_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="SET NULL"), index=True
    )
    maintenance_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("maintenance.id", ondelete="SET NULL"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    component: Mapped[Component] = relationship()
