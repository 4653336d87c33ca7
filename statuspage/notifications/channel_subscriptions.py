"""Channel subscriptions: a reader subscribes a webhook URL, manages it by a secret link,
rotates its signing secret or ends it; staff disable, enable and replay.

The manage link's token and the signing secret are shown once, on the page that answers the
subscribe form; we keep only the token's SHA-256 (the secret must stay readable: the worker
signs with it). URLs are checked against SSRF rules before anything is stored
(`netguard.check_url`), and again by the worker before every request. Flask-free.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.errors import DomainError
from statuspage.core.records import record_audit
from statuspage.core.translation import N_
from statuspage.notifications import netguard
from statuspage.notifications.channel_delivery import add_verification, disable_subscription
from statuspage.notifications.models import (
    ChannelKind,
    ChannelStatus,
    ChannelSubscription,
)
from statuspage.notifications.subscriptions import _resolve_choices, normalize_email
from statuspage.notifications.webhooks import new_secret

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 100


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_manage_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True)
class NewChannelSubscription:
    """What the subscribe page shows once: the manage token and the signing secret."""

    subscription_id: int
    manage_token: str
    secret: str


def _set_choices(
    session: Session,
    subscription: ChannelSubscription,
    *,
    all_components: bool,
    component_ids: Sequence[int],
    group_ids: Sequence[int],
) -> None:
    components, groups = _resolve_choices(
        session, all_components=all_components, component_ids=component_ids, group_ids=group_ids
    )
    subscription.all_components = all_components
    subscription.components = components
    subscription.groups = groups


def subscribe_webhook(
    session: Session,
    url: str,
    *,
    all_components: bool,
    component_ids: Sequence[int] = (),
    group_ids: Sequence[int] = (),
    owner_email: str = "",
    language: str = "",
    policy: netguard.NetworkPolicy,
    now: datetime,
) -> NewChannelSubscription:
    """A pending webhook subscription and its verification delivery; flushes. UnsafeTarget
    (a DomainError on the `url` field) when the URL may not be called."""
    target = (url or "").strip()
    netguard.check_url(target, policy)
    try:
        owner = normalize_email(owner_email) if (owner_email or "").strip() else ""
    except DomainError as error:
        raise DomainError(error.msgid, field="owner_email", **error.params) from None
    token = new_manage_token()
    secret = new_secret()
    subscription = ChannelSubscription(
        kind=ChannelKind.WEBHOOK,
        target=target,
        secret=secret,
        status=ChannelStatus.PENDING,
        manage_token_hash=hash_token(token),
        owner_email=owner,
        language=language[:16],
        created_at=now,
    )
    _set_choices(
        session,
        subscription,
        all_components=all_components,
        component_ids=component_ids,
        group_ids=group_ids,
    )
    session.add(subscription)
    session.flush()
    add_verification(session, subscription, now=now)
    record_audit(
        session,
        "channel_subscription",
        subscription.id,
        "created",
        {"kind": "webhook", "all_components": all_components},
        actor_id=None,
        now=now,
    )
    logger.info("Webhook subscription %d created (pending verification)", subscription.id)
    return NewChannelSubscription(subscription.id, token, secret)


def from_manage_token(session: Session, token: str) -> ChannelSubscription | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return session.scalar(
        sa.select(ChannelSubscription).where(
            ChannelSubscription.manage_token_hash == hash_token(token)
        )
    )


def _running(subscription: ChannelSubscription) -> None:
    if subscription.status == ChannelStatus.UNSUBSCRIBED:
        raise DomainError(N_("This subscription has ended. Subscribe again."), field="components")


def update_choices(
    session: Session,
    subscription: ChannelSubscription,
    *,
    all_components: bool,
    component_ids: Sequence[int] = (),
    group_ids: Sequence[int] = (),
    now: datetime,
) -> None:
    _running(subscription)
    _set_choices(
        session,
        subscription,
        all_components=all_components,
        component_ids=component_ids,
        group_ids=group_ids,
    )
    record_audit(
        session,
        "channel_subscription",
        subscription.id,
        "choices_changed",
        {"all_components": all_components},
        actor_id=None,
        now=now,
    )
    session.flush()


def rotate_secret(session: Session, subscription: ChannelSubscription, *, now: datetime) -> str:
    """A new signing secret (the old one stops at once); returned to be shown once."""
    _running(subscription)
    subscription.secret = new_secret()
    record_audit(
        session,
        "channel_subscription",
        subscription.id,
        "secret_rotated",
        {},
        actor_id=None,
        now=now,
    )
    session.flush()
    return subscription.secret


def unsubscribe(session: Session, subscription: ChannelSubscription, *, now: datetime) -> bool:
    """End it; True if it was running. Its open deliveries give up."""
    if subscription.status == ChannelStatus.UNSUBSCRIBED:
        return False
    disable_subscription(session, subscription, "unsubscribed", now=now)
    subscription.status = ChannelStatus.UNSUBSCRIBED
    subscription.unsubscribed_at = now
    session.flush()
    logger.info("Channel subscription %d unsubscribed", subscription.id)
    return True


def staff_disable(
    session: Session, subscription: ChannelSubscription, *, actor_id: int, now: datetime
) -> bool:
    if subscription.status != ChannelStatus.UNSUBSCRIBED:
        changed = disable_subscription(
            session, subscription, "disabled by staff", now=now, actor_id=actor_id
        )
        session.flush()
        return changed
    return False


def staff_enable(
    session: Session, subscription: ChannelSubscription, *, actor_id: int, now: datetime
) -> None:
    """Enable a disabled subscription: active again if it was ever verified, else pending
    with a new verification. An unsubscribed one stays ended (the reader chose that)."""
    if subscription.status != ChannelStatus.DISABLED:
        raise DomainError(N_("Only a disabled subscription can be enabled."))
    subscription.consecutive_failures = 0
    subscription.failing_since = None
    subscription.disabled_at = None
    subscription.disabled_reason = ""
    if subscription.confirmed_at is not None:
        subscription.status = ChannelStatus.ACTIVE
    else:
        subscription.status = ChannelStatus.PENDING
        add_verification(session, subscription, now=now)
    record_audit(
        session, "channel_subscription", subscription.id, "enabled", {}, actor_id=actor_id, now=now
    )
    session.flush()
