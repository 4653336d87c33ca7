"""Channels staff attach to a stakeholder list: a signed webhook, Slack, Microsoft Teams or
Discord. Flask-free.

Such a channel is a `ChannelSubscription` with `stakeholder_list_id` set. It rides the one
channel outbox (claims, retries at the receiver's time, per-host limit, disabling, delivery
log, replay) but its audience is separate: it receives only the internal summaries of the
stakeholder messages that tell its list, and never a public notification
(`channel_delivery.audience_query`). SMS is not offered: the summaries are too long for a
text, and a number's opt-in belongs to its owner, not to staff.

The URL is checked as a reader's would be (the SSRF rules in `netguard`, the chat service's
host in `chat.targets`), and again by the worker before every request. A webhook gets its own
Standard Webhooks secret, returned once for the page to show, and is active only after its
verification event is answered 2xx; a chat URL is active at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.errors import DomainError, NotFound
from statuspage.core.records import record_audit
from statuspage.core.translation import N_
from statuspage.notifications import netguard
from statuspage.notifications.channel_delivery import add_verification, disable_subscription
from statuspage.notifications.channel_emails import target_host
from statuspage.notifications.channel_subscriptions import hash_token, new_manage_token
from statuspage.notifications.chat.targets import check_chat_url
from statuspage.notifications.models import ChannelKind, ChannelStatus, ChannelSubscription
from statuspage.notifications.webhooks import new_secret
from statuspage.stakeholders.models import StakeholderList

logger = logging.getLogger(__name__)

LIST_CHANNEL_KINDS = (
    ChannelKind.WEBHOOK,
    ChannelKind.SLACK,
    ChannelKind.TEAMS,
    ChannelKind.DISCORD,
)
MAX_LIST_CHANNELS = 10


@dataclass(frozen=True)
class NewListChannel:
    subscription_id: int
    kind: ChannelKind
    host: str
    secret: str  # a webhook's signing secret, to show once ("" for chat)


def _list_or_404(session: Session, list_id: int) -> StakeholderList:
    stakeholder_list = session.get(StakeholderList, list_id)
    if stakeholder_list is None:
        raise NotFound(N_("No such stakeholder list."))
    return stakeholder_list


def list_channels(session: Session, list_id: int) -> list[ChannelSubscription]:
    """The list's channels that were not removed, oldest first."""
    return list(
        session.scalars(
            sa.select(ChannelSubscription)
            .where(
                ChannelSubscription.stakeholder_list_id == list_id,
                ChannelSubscription.status != ChannelStatus.UNSUBSCRIBED,
            )
            .order_by(ChannelSubscription.id)
        )
    )


def add_list_channel(
    session: Session,
    list_id: int,
    kind: ChannelKind | str,
    url: str,
    *,
    policy: netguard.NetworkPolicy,
    owner_email: str = "",
    actor_id: int | None,
    now: datetime,
) -> NewListChannel:
    """Attach a channel to the list; flushes. DomainError on `kind` or `url` when refused.
    `owner_email` (the staff member who adds it) is told if the channel is ever disabled."""
    stakeholder_list = _list_or_404(session, list_id)
    try:
        kind = ChannelKind(kind)
    except ValueError:
        kind = None  # type: ignore[assignment]
    if kind not in LIST_CHANNEL_KINDS:
        raise DomainError(N_("Choose a webhook, Slack, Microsoft Teams or Discord."), field="kind")
    if len(list_channels(session, list_id)) >= MAX_LIST_CHANNELS:
        raise DomainError(
            N_("A list has at most %(max)s channels; remove one first."),
            field="url",
            max=MAX_LIST_CHANNELS,
        )
    if kind == ChannelKind.WEBHOOK:
        target = (url or "").strip()
        netguard.check_url(target, policy)
    else:
        target = check_chat_url(kind, url, policy)
    webhook = kind == ChannelKind.WEBHOOK
    subscription = ChannelSubscription(
        kind=kind,
        target=target,
        secret=new_secret() if webhook else "",
        # The verification event activates a webhook; a chat URL works at once.
        status=ChannelStatus.PENDING if webhook else ChannelStatus.ACTIVE,
        # Never shown: a list's channel is managed on the list's page, not by a link.
        manage_token_hash=hash_token(new_manage_token()),
        all_components=True,
        owner_email=(owner_email or "").strip().lower()[:254],
        stakeholder_list_id=stakeholder_list.id,
        created_at=now,
        confirmed_at=None if webhook else now,
    )
    session.add(subscription)
    session.flush()
    if webhook:
        add_verification(session, subscription, now=now)
    host = target_host(subscription)
    record_audit(
        session,
        "stakeholder_list",
        stakeholder_list.id,
        "channel_added",
        {"kind": kind.value, "channel_id": subscription.id, "host": host},
        actor_id=actor_id,
        now=now,
    )
    logger.info(
        "Stakeholder list %d: %s channel %d added by %s",
        stakeholder_list.id,
        kind.value,
        subscription.id,
        actor_id,
    )
    return NewListChannel(subscription.id, kind, host, subscription.secret)


def remove_list_channel(
    session: Session, list_id: int, subscription_id: int, *, actor_id: int | None, now: datetime
) -> ChannelSubscription:
    """Detach it: it ends (kept with its delivery log) and its open deliveries give up."""
    stakeholder_list = _list_or_404(session, list_id)
    subscription = session.get(ChannelSubscription, subscription_id)
    if (
        subscription is None
        or subscription.stakeholder_list_id != stakeholder_list.id
        or subscription.status == ChannelStatus.UNSUBSCRIBED
    ):
        raise NotFound(N_("This list has no such channel."))
    disable_subscription(session, subscription, "removed by staff", now=now, actor_id=actor_id)
    subscription.status = ChannelStatus.UNSUBSCRIBED
    subscription.unsubscribed_at = now
    record_audit(
        session,
        "stakeholder_list",
        stakeholder_list.id,
        "channel_removed",
        {"kind": subscription.kind.value, "channel_id": subscription.id},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return subscription
