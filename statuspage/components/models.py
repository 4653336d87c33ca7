"""Components and their groups, and the history of every status change."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
        # id last: "the last change before a moment" (changed_at, then id, descending) is one
        # backward step on this index, with no sort (components/queries.py:status_points).
        sa.Index(
            "ix_component_status_change_component_changed", "component_id", "changed_at", "id"
        ),
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


class UptimeDay(Base):
    """One closed calendar day of a component's uptime, counted once and kept
    (components/uptime_days.py). `zone` is the page's time zone the day belongs to; `ends_at`
    its last moment (exclusive) in UTC, so a status change recorded for an earlier moment finds
    the days it alters whatever their zone. Minutes are stored as computed (doubles), so a
    stored day adds up exactly as the live count of the same day."""

    __tablename__ = "uptime_day"
    __table_args__ = (sa.Index("ix_uptime_day_component_ends", "component_id", "ends_at"),)

    component_id: Mapped[int] = mapped_column(
        sa.ForeignKey("component.id", ondelete="CASCADE"), primary_key=True
    )
    zone: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    ends_at: Mapped[datetime]
    has_data: Mapped[bool]
    measured_minutes: Mapped[float] = mapped_column(sa.Double)
    maintenance_minutes: Mapped[float] = mapped_column(sa.Double)
    operational_minutes: Mapped[float] = mapped_column(sa.Double)
    degraded_minutes: Mapped[float] = mapped_column(sa.Double)
    partial_minutes: Mapped[float] = mapped_column(sa.Double)
    major_minutes: Mapped[float] = mapped_column(sa.Double)


class UptimeWindow(Base):
    """A component's closed days of the front page's window, summed once a day from its
    `uptime_day` rows: one row to read per bar instead of one per day. `levels` has a letter
    per day, oldest first (components/uptime_days.py: LEVEL_LETTERS); the totals are the
    in-order sums of the days', which today's figures are then added to."""

    __tablename__ = "uptime_window"

    component_id: Mapped[int] = mapped_column(
        sa.ForeignKey("component.id", ondelete="CASCADE"), primary_key=True
    )
    zone: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    last_day: Mapped[date]
    days: Mapped[int]
    levels: Mapped[str] = mapped_column(sa.String(400))
    measured_minutes: Mapped[float] = mapped_column(sa.Double)
    downtime_minutes: Mapped[float] = mapped_column(sa.Double)


def _forget_uptime_days(session: sa.orm.Session, _context: object, _instances: object) -> None:
    """Stored uptime days are facts about the status history: when a change lands on, moves
    from or leaves an already stored day (an import, a backdated start date, a deletion), the
    days from that moment on are dropped here, in the same transaction, and counted again when
    next needed. Every ORM write of the history passes through a flush; a live change (now)
    finds no stored day to drop, as only closed days are stored."""
    earliest: dict[int, datetime] = {}

    def note(component_id: int | None, moment: datetime | None) -> None:
        if component_id is None or moment is None:
            return
        if component_id not in earliest or moment < earliest[component_id]:
            earliest[component_id] = moment

    gone: set[int] = set()
    for change in (*session.new, *session.dirty, *session.deleted):
        if isinstance(change, Component) and change in session.deleted:
            gone.add(change.id)
        if not isinstance(change, ComponentStatusChange):
            continue
        state = sa.inspect(change)
        moments = [change.changed_at, *state.attrs.changed_at.history.deleted]
        owners = [change.component_id, *state.attrs.component_id.history.deleted]
        for owner in owners:
            for moment in moments:
                note(owner, moment)
    # A change at this moment (a publish) cannot land on a stored day: see `_after_every_day_end`.
    wall_now = datetime.now(UTC)
    earliest = {
        component_id: moment
        for component_id, moment in earliest.items()
        if not _after_every_day_end(_aware(moment), wall_now)
    }
    if not earliest and not gone:
        return
    table, windows = UptimeDay.__table__, UptimeWindow.__table__
    connection = session.connection()
    by_moment: dict[datetime, list[int]] = {}
    for component_id, moment in earliest.items():  # a publish: one moment for every component
        by_moment.setdefault(moment, []).append(component_id)
    for moment, component_ids in by_moment.items():
        connection.execute(
            table.delete().where(table.c.component_id.in_(component_ids), table.c.ends_at > moment)
        )
    # A bar's stored window sums closed days only: a live change (now) leaves it standing, so
    # the next render after a publish reads it instead of summing 89 days again.
    stale = [
        (component_id, zone_name, last_day)
        for component_id, zone_name, last_day in connection.execute(
            sa.select(windows.c.component_id, windows.c.zone, windows.c.last_day).where(
                windows.c.component_id.in_(set(earliest))
            )
        )
        if _window_end(last_day, zone_name) > _aware(earliest[component_id])
    ]
    for component_id, zone_name, _ in stale:
        connection.execute(
            windows.delete().where(
                windows.c.component_id == component_id, windows.c.zone == zone_name
            )
        )
    if gone:
        connection.execute(windows.delete().where(windows.c.component_id.in_(gone)))
    if gone:
        connection.execute(table.delete().where(table.c.component_id.in_(gone)))


# Days end at a local midnight, which in UTC falls on a quarter hour in every IANA zone of
# today (offsets are whole quarter hours: +05:45, +12:45...).
_QUARTER_HOUR = timedelta(minutes=15)
# Room for the clocks of the processes that store days to run ahead of this one.
_CLOCK_MARGIN = timedelta(seconds=60)


def _after_every_day_end(moment: datetime, wall_now: datetime) -> bool:
    """Whether no stored day can end after `moment`: a day is stored once it has ended, so
    its end lies before now (give or take the clocks' margin); when no quarter hour (no
    midnight anywhere) falls between `moment` and then, none lies after `moment`. True for a
    change recorded now, which is what a publish records; the statements that would drop
    stored days are then left out."""
    latest_end = wall_now + _CLOCK_MARGIN
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    quarters = (moment - epoch) // _QUARTER_HOUR
    next_boundary = epoch + (quarters + 1) * _QUARTER_HOUR
    return next_boundary > latest_end


def _aware(moment: datetime) -> datetime:
    # SQLite hands back stored times without their zone; they are UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _window_end(last_day: date, zone_name: str) -> datetime:
    """When the last closed day of a stored window ends; far in the future for a zone name
    that no longer resolves, so that its window is dropped rather than trusted."""
    try:
        zone = UTC if zone_name == "UTC" else ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.max.replace(tzinfo=UTC)
    return datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)


sa.event.listen(sa.orm.Session, "before_flush", _forget_uptime_days)
