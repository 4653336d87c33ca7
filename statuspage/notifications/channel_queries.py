"""What the staff channel pages show: subscriptions with their latest delivery, and one
subscription's recent deliveries. A fixed number of statements per page."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.paging import Paged, clamp_page
from statuspage.notifications.channel_emails import target_host
from statuspage.notifications.models import (
    ChannelDelivery,
    ChannelStatus,
    ChannelSubscription,
)

PER_PAGE = 50
RECENT_DELIVERIES = 25


@dataclass(frozen=True)
class ChannelRow:
    subscription: ChannelSubscription
    host: str
    last: ChannelDelivery | None


@dataclass(frozen=True)
class ChannelPage(Paged):
    page: int
    per_page: int
    total: int
    rows: list[ChannelRow]


def channel_page(
    session: Session, *, status: ChannelStatus | None, page: int, per_page: int = PER_PAGE
) -> ChannelPage:
    """Subscriptions (newest first) with each one's latest delivery: three statements."""
    where = [ChannelSubscription.status == status] if status else []
    total = session.scalar(sa.select(sa.func.count(ChannelSubscription.id)).where(*where)) or 0
    page = clamp_page(page, total, per_page)
    subscriptions = list(
        session.scalars(
            sa.select(ChannelSubscription)
            .where(*where)
            .order_by(ChannelSubscription.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    latest = latest_deliveries(session, [s.id for s in subscriptions])
    rows = [ChannelRow(s, target_host(s), latest.get(s.id)) for s in subscriptions]
    return ChannelPage(page=page, per_page=per_page, total=total, rows=rows)


def latest_deliveries(session: Session, ids: list[int]) -> dict[int, ChannelDelivery]:
    """Each subscription's latest delivery, by subscription id: one statement."""
    latest: dict[int, ChannelDelivery] = {}
    if ids:
        newest = (
            sa.select(sa.func.max(ChannelDelivery.id))
            .where(ChannelDelivery.subscription_id.in_(ids))
            .group_by(ChannelDelivery.subscription_id)
        )
        for delivery in session.scalars(
            sa.select(ChannelDelivery).where(ChannelDelivery.id.in_(newest))
        ):
            latest[delivery.subscription_id] = delivery
    return latest


def recent_deliveries(
    session: Session, subscription_id: int, *, limit: int = RECENT_DELIVERIES
) -> list[ChannelDelivery]:
    return list(
        session.scalars(
            sa.select(ChannelDelivery)
            .where(ChannelDelivery.subscription_id == subscription_id)
            .order_by(ChannelDelivery.id.desc())
            .limit(limit)
        )
    )
