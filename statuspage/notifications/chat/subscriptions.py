"""Subscribing a Slack, Teams or Discord webhook URL or a phone number, Flask-free.

Chat URLs: checked against the service's host (`targets`) and the SSRF rules before anything
is stored, then active at once (the reader pasted the URL from their own workspace; a
webhook's verification handshake has no equivalent there).

SMS: a pending subscription and a six-digit code (`sms_optin`); the code is texted by the
caller after the commit, and the subscription becomes active only when the code comes back
on the confirmation page. We store the code's keyed hash and the tries left as
"<tries>$<hash>" in `optin_code_hash`. A number has at most one active subscription: a newly
confirmed one replaces the old. At most `CODES_PER_NUMBER` codes go to one number per hour,
so the form cannot be used to text a stranger again and again.

STOP from Twilio's inbound webhook ends every subscription of the number at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.errors import DomainError
from statuspage.core.records import record_audit
from statuspage.core.translation import N_
from statuspage.notifications import netguard
from statuspage.notifications.channel_subscriptions import (
    _set_choices,
    hash_token,
    new_manage_token,
    unsubscribe,
)
from statuspage.notifications.chat import sms_optin
from statuspage.notifications.chat.targets import check_chat_url
from statuspage.notifications.models import ChannelKind, ChannelStatus, ChannelSubscription

logger = logging.getLogger(__name__)

CHAT_KINDS = (ChannelKind.SLACK, ChannelKind.TEAMS, ChannelKind.DISCORD)
CODES_PER_NUMBER = 3
CODE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class NewChatSubscription:
    subscription_id: int
    manage_token: str


@dataclass(frozen=True)
class NewSmsSubscription:
    subscription_id: int
    manage_token: str
    number: str
    code: str  # to text to `number`; never stored


def _create(
    session: Session,
    kind: ChannelKind,
    target: str,
    status: ChannelStatus,
    *,
    all_components: bool,
    component_ids: Sequence[int],
    group_ids: Sequence[int],
    now: datetime,
    language: str = "",
) -> tuple[ChannelSubscription, str]:
    token = new_manage_token()
    subscription = ChannelSubscription(
        kind=kind,
        target=target,
        status=status,
        language=language[:16],
        manage_token_hash=hash_token(token),
        created_at=now,
        confirmed_at=now if status == ChannelStatus.ACTIVE else None,
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
    record_audit(
        session,
        "channel_subscription",
        subscription.id,
        "created",
        {"kind": kind.value, "all_components": all_components},
        actor_id=None,
        now=now,
    )
    return subscription, token


def subscribe_chat(
    session: Session,
    kind: ChannelKind,
    url: str,
    *,
    all_components: bool,
    component_ids: Sequence[int] = (),
    group_ids: Sequence[int] = (),
    policy: netguard.NetworkPolicy,
    now: datetime,
    language: str = "",
) -> NewChatSubscription:
    """An active Slack, Teams or Discord subscription; flushes. UnsafeTarget (a DomainError
    on `url`) when the URL is not the service's or may not be called."""
    kind = ChannelKind(kind)
    if kind not in CHAT_KINDS:
        raise DomainError(N_("Choose Slack, Microsoft Teams or Discord."), field="url")
    target = check_chat_url(kind, url, policy)
    subscription, token = _create(
        session,
        kind,
        target,
        ChannelStatus.ACTIVE,
        all_components=all_components,
        component_ids=component_ids,
        group_ids=group_ids,
        now=now,
        language=language,
    )
    logger.info("%s subscription %d created", kind.value, subscription.id)
    return NewChatSubscription(subscription.id, token)


# --- SMS ---


def _stored(challenge: sms_optin.OptInChallenge) -> str:
    return f"{challenge.attempts_left}${challenge.code_hash}"


def _challenge(subscription: ChannelSubscription) -> sms_optin.OptInChallenge | None:
    tries, _, code_hash = (subscription.optin_code_hash or "").partition("$")
    if not code_hash or not tries.isdigit() or subscription.optin_expires_at is None:
        return None
    return sms_optin.OptInChallenge(code_hash, subscription.optin_expires_at, int(tries))


def _codes_sent_recently(session: Session, number: str, now: datetime) -> int:
    return (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(ChannelSubscription)
            .where(
                ChannelSubscription.kind == ChannelKind.SMS,
                ChannelSubscription.target == number,
                ChannelSubscription.created_at > now - CODE_WINDOW,
            )
        )
        or 0
    )


def subscribe_sms(
    session: Session,
    phone: str,
    *,
    secret_key: str,
    all_components: bool,
    component_ids: Sequence[int] = (),
    group_ids: Sequence[int] = (),
    now: datetime,
    language: str = "",
) -> NewSmsSubscription:
    """A pending SMS subscription and its opt-in code (to be texted by the caller); flushes.
    DomainError on `phone` for a number we cannot use or one sent too many codes."""
    number = sms_optin.normalise_number(phone)
    if number is None:
        raise DomainError(
            N_("Give the mobile number with its country code, for example +44 7700 900123."),
            field="phone",
        )
    if _codes_sent_recently(session, number, now) >= CODES_PER_NUMBER:
        raise DomainError(
            N_("Several codes were sent to this number in the last hour. Try again later."),
            field="phone",
        )
    subscription, token = _create(
        session,
        ChannelKind.SMS,
        number,
        ChannelStatus.PENDING,
        all_components=all_components,
        component_ids=component_ids,
        group_ids=group_ids,
        now=now,
        language=language,
    )
    code, challenge = sms_optin.new_code(secret_key, number, now=now)
    subscription.optin_code_hash = _stored(challenge)
    subscription.optin_expires_at = challenge.expires_at
    session.flush()
    logger.info("SMS subscription %d created (code sent)", subscription.id)
    return NewSmsSubscription(subscription.id, token, number, code)


def confirm_sms(
    session: Session,
    subscription: ChannelSubscription,
    typed: str,
    *,
    secret_key: str,
    now: datetime,
) -> sms_optin.CodeCheck:
    """Check a typed code; on success the subscription is active (and replaces any other
    active one of the number). Flushes the tries left either way."""
    if subscription.kind != ChannelKind.SMS or subscription.status != ChannelStatus.PENDING:
        raise DomainError(N_("This subscription is not waiting for a code."), field="code")
    challenge = _challenge(subscription)
    if challenge is None:
        return sms_optin.CodeCheck.LOCKED
    verdict, after = sms_optin.check_code(
        secret_key, subscription.target, challenge, typed, now=now
    )
    subscription.optin_code_hash = _stored(after)
    if verdict == sms_optin.CodeCheck.OK:
        subscription.optin_code_hash = ""
        subscription.optin_expires_at = None
        others = session.scalars(
            sa.select(ChannelSubscription).where(
                ChannelSubscription.kind == ChannelKind.SMS,
                ChannelSubscription.target == subscription.target,
                ChannelSubscription.status == ChannelStatus.ACTIVE,
                ChannelSubscription.id != subscription.id,
            )
        ).all()
        for other in others:
            unsubscribe(session, other, now=now)
        subscription.status = ChannelStatus.ACTIVE
        subscription.confirmed_at = now
        record_audit(
            session,
            "channel_subscription",
            subscription.id,
            "confirmed",
            {"kind": "sms", "replaced": [other.id for other in others]},
            actor_id=None,
            now=now,
        )
    session.flush()
    return verdict


def stop_number(session: Session, phone: str, *, now: datetime) -> int:
    """STOP from the number: end all its subscriptions; how many were running."""
    number = sms_optin.normalise_number(phone)
    if number is None:
        return 0
    subscriptions = session.scalars(
        sa.select(ChannelSubscription).where(
            ChannelSubscription.kind == ChannelKind.SMS,
            ChannelSubscription.target == number,
            ChannelSubscription.status != ChannelStatus.UNSUBSCRIBED,
        )
    ).all()
    ended = [s for s in subscriptions if unsubscribe(session, s, now=now)]
    for subscription in ended:
        record_audit(
            session,
            "channel_subscription",
            subscription.id,
            "stopped_by_sms",
            {},
            actor_id=None,
            now=now,
        )
    logger.info("STOP by SMS ended %d subscription(s)", len(ended))
    return len(ended)
