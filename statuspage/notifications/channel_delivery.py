"""Delivering outbox notifications to channel subscriptions (webhook, Slack, Teams, Discord,
SMS): the same outbox as email, its own rows, its own worker task.

1. **Expand** (`expand_channels`): a notification's audience among active channel
   subscriptions (confirmed before it was written, all components or one it concerns) is
   walked by subscription id from the cursor in `channel_fanout`, 1,000 at a time; each step
   inserts one `channel_delivery` per subscription (the pair is unique: a repeated step inserts
   nothing) and moves the cursor in the same transaction.
2. **Claim** (`claim_due`): a due delivery (pending, `next_attempt_at` passed, no live claim)
   is taken with `UPDATE ... WHERE still due` and a lease (`claimed_until`), committed before
   anything is sent. A worker that dies loses its claims when the lease ends; what it had in
   flight is sent again, with the same `message_id` (the `webhook-id`), so receivers can drop
   the repeat. Nothing else is repeated, nothing lost.
3. **Send** (`deliver_due`): a thread pool sends claimed deliveries, at most
   `concurrency` at once and at most `per_host` at once to one host and port (in this
   process), each request with its timeout; a slow receiver holds only its own slots.
4. **Record** (`record_result`): 2xx -> delivered (a verification activates the
   subscription). Retryable (429, 5xx, 408, timeouts, resets) -> pending again at the time the
   receiver asked for (Retry-After, rate-limit headers; the subscription's other pending
   deliveries wait too), else after exponential backoff with full jitter; `gave_up` after
   `max_attempts`. A permanent refusal -> failed. Every failed attempt counts against the
   subscription: after `disable_after_failures` failures in a row, or failing for
   `disable_after` since the last success, or at once on 410 Gone, the subscription is
   disabled, its open deliveries give up, and its owner is told by email (the worker
   enqueues it).

Flask-free: the worker passes a session factory and `ChannelSettings.from_config(config)`.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.components.models import Component
from statuspage.core.languages import SOURCE_LANGUAGE, normalize
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.core.records import record_audit
from statuspage.notifications import channel_events, netguard
from statuspage.notifications.channels import ChannelEvent, Sender, SendResult
from statuspage.notifications.compose import NothingToSend
from statuspage.notifications.models import (
    ChannelDelivery,
    ChannelDeliveryState,
    ChannelFanout,
    ChannelKind,
    ChannelStatus,
    ChannelSubscription,
    channel_subscription_component,
    channel_subscription_group,
)
from statuspage.notifications.webhooks import (
    VERIFICATION,
    new_message_id,
    verification_payload,
)
from statuspage.stakeholders.models import StakeholderMessage, stakeholder_message_list

logger = logging.getLogger(__name__)

S = ChannelDeliveryState
EXPAND_CHUNK = 1000
# Notifications older than this are not looked at by the sweep (they were expanded long ago,
# or they predate every channel subscription).
SWEEP_WINDOW = timedelta(days=2)


@dataclass(frozen=True)
class ChannelSettings:
    page: channel_events.PageInfo
    network: netguard.NetworkPolicy = field(default_factory=netguard.NetworkPolicy)
    max_attempts: int = 15
    backoff_base: float = 10.0
    backoff_cap: float = 3600.0
    lease: timedelta = timedelta(seconds=120)
    concurrency: int = 32
    per_host: int = 4
    disable_after_failures: int = 50
    disable_after: timedelta = timedelta(days=5)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ChannelSettings:
        """CHANNEL_MAX_ATTEMPTS, CHANNEL_BACKOFF_BASE, CHANNEL_BACKOFF_CAP,
        CHANNEL_LEASE_SECONDS, CHANNEL_CONCURRENCY, CHANNEL_PER_HOST_LIMIT,
        CHANNEL_DISABLE_AFTER_FAILURES, CHANNEL_DISABLE_AFTER_DAYS, and the network policy's
        (see `netguard.NetworkPolicy.from_config`)."""
        site_name = str(config.get("SITE_NAME") or "Status")

        def number(name: str, default: float) -> float:
            value = config.get(name)
            return default if value is None else float(value)

        return cls(
            page=channel_events.PageInfo(
                id=str(config.get("PAGE_ID") or channel_events.default_page_id(site_name)),
                name=str(config.get("PAGE_NAME") or site_name),
                url=str(config.get("SITE_URL") or "").rstrip("/"),
                time_zone=str(config.get("SITE_TIME_ZONE") or "UTC"),
                default_language=normalize(config.get("DEFAULT_LANGUAGE")) or SOURCE_LANGUAGE,
                sender_settings={
                    key: value
                    for key, value in config.items()
                    if key.startswith(("TWILIO_", "SMS_"))
                },
            ),
            network=netguard.NetworkPolicy.from_config(config),
            max_attempts=int(number("CHANNEL_MAX_ATTEMPTS", 15)),
            backoff_base=number("CHANNEL_BACKOFF_BASE", 10.0),
            backoff_cap=number("CHANNEL_BACKOFF_CAP", 3600.0),
            lease=timedelta(seconds=number("CHANNEL_LEASE_SECONDS", 120)),
            concurrency=max(1, int(number("CHANNEL_CONCURRENCY", 32))),
            per_host=max(1, int(number("CHANNEL_PER_HOST_LIMIT", 4))),
            disable_after_failures=max(1, int(number("CHANNEL_DISABLE_AFTER_FAILURES", 50))),
            disable_after=timedelta(days=number("CHANNEL_DISABLE_AFTER_DAYS", 5)),
        )


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _insert_ignore(
    session: Session, table: Any, rows: list[dict[str, Any]], keys: list[str]
) -> None:
    if not rows:
        return
    if _is_postgres(session):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(table).values(rows).on_conflict_do_nothing(index_elements=keys))


# --- 1. expansion ---


def _summary_audience(notification: Notification) -> sa.Select[tuple[int]]:
    """A stakeholder summary's channels: the active ones staff attached to the lists its
    message tells, confirmed at or before it was written. Never a public subscription."""
    told = (
        sa.select(stakeholder_message_list.c.list_id)
        .join(StakeholderMessage, StakeholderMessage.id == stakeholder_message_list.c.message_id)
        .where(StakeholderMessage.notification_id == notification.id)
    )
    return (
        sa.select(ChannelSubscription.id)
        .where(
            ChannelSubscription.status == ChannelStatus.ACTIVE,
            ChannelSubscription.confirmed_at <= notification.created_at,
            ChannelSubscription.stakeholder_list_id.in_(told),
        )
        .order_by(ChannelSubscription.id)
    )


def audience_query(notification: Notification) -> sa.Select[tuple[int]]:
    """Ids of the active channel subscriptions, confirmed at or before the notification was
    written, that chose all components, one of its components or a group holding one.

    Two audiences never meet: a stakeholder summary goes only to its lists' channels, and
    every other notification only to public subscriptions (no stakeholder list)."""
    if notification.kind == NotificationKind.STAKEHOLDER_SUMMARY:
        return _summary_audience(notification)
    component_ids = sorted(set(notification.component_ids or []))
    chose: list[sa.ColumnElement[bool]] = [ChannelSubscription.all_components.is_(True)]
    if component_ids:
        chose.append(
            sa.exists().where(
                channel_subscription_component.c.subscription_id == ChannelSubscription.id,
                channel_subscription_component.c.component_id.in_(component_ids),
            )
        )
        chose.append(
            sa.exists().where(
                channel_subscription_group.c.subscription_id == ChannelSubscription.id,
                channel_subscription_group.c.group_id.in_(
                    sa.select(Component.group_id).where(
                        Component.id.in_(component_ids), Component.group_id.is_not(None)
                    )
                ),
            )
        )
    query = (
        sa.select(ChannelSubscription.id)
        .where(
            ChannelSubscription.status == ChannelStatus.ACTIVE,
            ChannelSubscription.confirmed_at <= notification.created_at,
            ChannelSubscription.stakeholder_list_id.is_(None),
            sa.or_(*chose),
        )
        .order_by(ChannelSubscription.id)
    )
    if notification.audience_ids or notification.kind not in channel_events.EVENT_TYPES:
        # Webhook, chat and SMS subscriptions are the public's: what is addressed to
        # audiences only never goes to them, nor a kind they have no event for.
        query = query.where(sa.false())
    return query


def expand_step(
    session: Session, notification_id: int, *, now: datetime, chunk: int = EXPAND_CHUNK
) -> bool:
    """Write the next chunk of deliveries for a notification and move the cursor; flushes,
    the caller commits. True when more remain."""
    notification = session.get(Notification, notification_id)
    if notification is None:
        return False
    _insert_ignore(
        session,
        ChannelFanout.__table__,
        [{"notification_id": notification_id, "expanded_through_id": 0}],
        ["notification_id"],
    )
    fanout = session.get(ChannelFanout, notification_id, populate_existing=True)
    if fanout is None or fanout.expanded_at is not None:
        return False
    cursor = fanout.expanded_through_id
    ids = list(
        session.scalars(
            audience_query(notification).where(ChannelSubscription.id > cursor).limit(chunk)
        )
    )
    event_type = channel_events.EVENT_TYPES.get(notification.kind, "")
    _insert_ignore(
        session,
        ChannelDelivery.__table__,
        [
            {
                "subscription_id": sid,
                "notification_id": notification_id,
                "event_type": event_type,
                "message_id": new_message_id(),
                "state": S.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "last_response_excerpt": "",
                "last_error": "",
                "created_at": now,
            }
            for sid in ids
        ],
        ["subscription_id", "notification_id"],
    )
    done = len(ids) < chunk
    moved = session.execute(
        sa.update(ChannelFanout)
        .where(
            ChannelFanout.notification_id == notification_id,
            ChannelFanout.expanded_through_id == cursor,
            ChannelFanout.expanded_at.is_(None),
        )
        .values(expanded_through_id=ids[-1] if ids else cursor, expanded_at=now if done else None)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        session.rollback()  # another worker moved it first and carries on
        return False
    session.flush()
    return not done


def expand_channels(
    session: Session, notification_id: int, *, clock: Callable[[], datetime]
) -> None:
    """Expand one notification to the end, committing after each chunk."""
    while True:
        try:
            more = expand_step(session, notification_id, now=clock())
            session.commit()
        except BaseException:
            session.rollback()
            raise
        if not more:
            return


def unexpanded_notification_ids(session: Session, *, now: datetime, limit: int = 50) -> list[int]:
    done = sa.select(ChannelFanout.notification_id).where(ChannelFanout.expanded_at.is_not(None))
    return list(
        session.scalars(
            sa.select(Notification.id)
            .where(Notification.created_at >= now - SWEEP_WINDOW, Notification.id.not_in(done))
            .order_by(Notification.id)
            .limit(limit)
        )
    )


def add_verification(
    session: Session, subscription: ChannelSubscription, *, now: datetime
) -> ChannelDelivery:
    """The first delivery of a new (or re-verified) subscription; flushes."""
    delivery = ChannelDelivery(
        subscription_id=subscription.id,
        notification_id=None,
        event_type=VERIFICATION,
        message_id=new_message_id(),
        state=S.PENDING,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery


# --- 2. claiming ---


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    subscription_id: int
    notification_id: int | None
    message_id: str
    target: str
    claimed_until: datetime
    attempts: int

    @property
    def origin(self) -> tuple[str, int] | str:
        try:
            return netguard.parse_url(self.target, netguard.NetworkPolicy(allow_http=True)).origin
        except netguard.UnsafeTarget:
            return self.target


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        ChannelDelivery.state == S.PENDING,
        ChannelDelivery.next_attempt_at <= now,
        sa.or_(ChannelDelivery.claimed_until.is_(None), ChannelDelivery.claimed_until < now),
    )


def claim_due(
    session: Session,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    busy: Counter[Any] | None = None,
    per_host: int = 1_000_000,
) -> list[Claim]:
    """Claim up to `limit` due deliveries, leaving out hosts already at `per_host` (counted
    in `busy`, which this updates); commit."""
    busy = busy if busy is not None else Counter()
    rows = session.execute(
        sa.select(
            ChannelDelivery.id,
            ChannelDelivery.subscription_id,
            ChannelDelivery.notification_id,
            ChannelDelivery.message_id,
            ChannelDelivery.attempts,
            ChannelSubscription.target,
        )
        .join(ChannelSubscription, ChannelSubscription.id == ChannelDelivery.subscription_id)
        .where(_due(now))
        .order_by(ChannelDelivery.next_attempt_at, ChannelDelivery.id)
        .limit(limit * 8)
    ).all()
    until = now + lease
    chosen: dict[int, Claim] = {}
    planned: Counter[Any] = Counter()
    for row in rows:
        if len(chosen) >= limit:
            break
        claim = Claim(row[0], row[1], row[2], row[3], row[5], until, row[4])
        if busy[claim.origin] + planned[claim.origin] >= per_host:
            continue
        planned[claim.origin] += 1
        chosen[claim.delivery_id] = claim
    claims: list[Claim] = []
    try:
        if chosen:
            # The condition is checked again as part of the write: what another worker
            # claimed since the read is not returned (SQLite has no row locks).
            won = session.scalars(
                sa.update(ChannelDelivery)
                .where(ChannelDelivery.id.in_(list(chosen)), _due(now))
                .values(claimed_until=until)
                .returning(ChannelDelivery.id)
                .execution_options(synchronize_session=False)
            ).all()
            for delivery_id in won:
                claim = chosen[delivery_id]
                busy[claim.origin] += 1
                claims.append(claim)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return claims


# --- 3 and 4. sending and recording ---

# Requests in flight per (host, port) in this process, shared by every run (the worker's
# threads may run several at once): what `per_host` limits.
_IN_FLIGHT: Counter[Any] = Counter()
_IN_FLIGHT_LOCK = threading.Lock()


def backoff_seconds(attempts: int, *, rng: random.Random, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempts)]."""
    return rng.uniform(0, min(cap, base * 2 ** min(attempts, 30)))


@dataclass
class ChannelReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    gave_up: int = 0
    expanded: int = 0
    disabled: list[int] = field(default_factory=list)  # subscriptions to tell the owner about
    retry_at: datetime | None = None

    def retry_due(self, moment: datetime) -> None:
        if self.retry_at is None or moment < self.retry_at:
            self.retry_at = moment


def disable_subscription(
    session: Session,
    subscription: ChannelSubscription,
    reason: str,
    *,
    now: datetime,
    actor_id: int | None = None,
) -> bool:
    """Disable it, give up its open deliveries; flushes. True if it was not disabled yet."""
    if subscription.status in (ChannelStatus.DISABLED, ChannelStatus.UNSUBSCRIBED):
        return False
    subscription.status = ChannelStatus.DISABLED
    subscription.disabled_at = now
    subscription.disabled_reason = reason[:300]
    session.execute(
        sa.update(ChannelDelivery)
        .where(
            ChannelDelivery.subscription_id == subscription.id, ChannelDelivery.state == S.PENDING
        )
        .values(
            state=S.GAVE_UP,
            last_error=f"subscription disabled: {reason}"[:1000],
            claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    record_audit(
        session,
        "channel_subscription",
        subscription.id,
        "disabled",
        {"reason": reason[:300]},
        actor_id=actor_id,
        now=now,
    )
    logger.warning("Channel subscription %d disabled: %s", subscription.id, reason)
    return True


def record_result(
    session: Session,
    claim: Claim,
    result: SendResult,
    settings: ChannelSettings,
    *,
    now: datetime,
    rng: random.Random,
    report: ChannelReport,
    commit: bool = True,
) -> ChannelDeliveryState | None:
    """Store what one attempt gave, if this worker still holds the claim; commit (or leave
    the commit to the caller, who records several results in one transaction)."""
    attempts = claim.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "claimed_until": None,
        "last_attempt_at": now,
        "last_status_code": result.status_code,
        "last_latency_ms": result.latency_ms,
        "last_response_excerpt": (result.response_excerpt or "")[:500],
        "last_error": (result.error or "")[:1000],
    }
    retry_at: datetime | None = None
    if result.ok:
        state = S.DELIVERED
        values["delivered_at"] = now
    elif result.permanent:
        state = S.FAILED
    elif attempts >= settings.max_attempts:
        state = S.GAVE_UP
        values["last_error"] = f"gave up after {attempts} attempts: {result.error}"[:1000]
    else:
        state = S.PENDING
        wait = (
            result.retry_after
            if result.retry_after is not None
            else backoff_seconds(
                attempts, rng=rng, base=settings.backoff_base, cap=settings.backoff_cap
            )
        )
        retry_at = now + timedelta(seconds=min(max(0.0, wait), settings.backoff_cap))
        values["next_attempt_at"] = retry_at
    values["state"] = state
    try:
        won = session.execute(
            sa.update(ChannelDelivery)
            .where(
                ChannelDelivery.id == claim.delivery_id,
                ChannelDelivery.state == S.PENDING,
                ChannelDelivery.claimed_until == claim.claimed_until,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:
            # Another worker took it over (our lease ran out): its result counts, not ours.
            logger.warning("Channel delivery %d: claim lost before the result", claim.delivery_id)
            if commit:
                session.commit()
            return None
        subscription = session.get(ChannelSubscription, claim.subscription_id)
        if subscription is not None:
            _count(session, subscription, claim, result, settings, now=now, report=report)
            if retry_at is not None and result.retry_after is not None:
                # The receiver named a time: its other pending deliveries wait for it too.
                session.execute(
                    sa.update(ChannelDelivery)
                    .where(
                        ChannelDelivery.subscription_id == subscription.id,
                        ChannelDelivery.state == S.PENDING,
                        ChannelDelivery.next_attempt_at < retry_at,
                    )
                    .values(next_attempt_at=retry_at)
                    .execution_options(synchronize_session=False)
                )
        session.flush()
        if commit:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    if state == S.DELIVERED:
        report.delivered += 1
    elif state == S.FAILED:
        report.failed += 1
    elif state == S.GAVE_UP:
        report.gave_up += 1
    else:
        report.retrying += 1
        if retry_at is not None:
            report.retry_due(retry_at)
    return state


def _count(
    session: Session,
    subscription: ChannelSubscription,
    claim: Claim,
    result: SendResult,
    settings: ChannelSettings,
    *,
    now: datetime,
    report: ChannelReport,
) -> None:
    if result.ok:
        subscription.consecutive_failures = 0
        subscription.failing_since = None
        if claim.notification_id is None and subscription.status == ChannelStatus.PENDING:
            subscription.status = ChannelStatus.ACTIVE
            subscription.confirmed_at = now
            logger.info("Channel subscription %d verified and active", subscription.id)
        return
    subscription.consecutive_failures += 1
    if subscription.failing_since is None:
        subscription.failing_since = now
    if subscription.status != ChannelStatus.ACTIVE:
        return  # a pending one is never "disabled": it was never on
    reason = ""
    if result.gone:
        reason = f"the receiver answered {result.error or 'gone'}"
    elif subscription.consecutive_failures >= settings.disable_after_failures:
        reason = f"{subscription.consecutive_failures} failed deliveries in a row"
    elif now - subscription.failing_since >= settings.disable_after:
        reason = f"failing since {subscription.failing_since:%Y-%m-%d %H:%M} UTC"
    if reason and disable_subscription(session, subscription, reason, now=now):
        report.disabled.append(subscription.id)


def _skip_reason(claim: Claim, subscription: ChannelSubscription | None) -> str:
    """Why a claimed delivery is not sent at all ("" when it is)."""
    if subscription is None:
        return "the subscription is gone"
    wanted = ChannelStatus.PENDING if claim.notification_id is None else ChannelStatus.ACTIVE
    if subscription.status != wanted:
        return f"the subscription is {subscription.status.value}"
    return ""


def _give_up(
    session: Session, claim: Claim, reason: str, *, now: datetime, report: ChannelReport
) -> None:
    session.execute(
        sa.update(ChannelDelivery)
        .where(
            ChannelDelivery.id == claim.delivery_id,
            ChannelDelivery.claimed_until == claim.claimed_until,
        )
        .values(state=S.GAVE_UP, claimed_until=None, last_error=reason[:1000])
        .execution_options(synchronize_session=False)
    )
    session.commit()
    report.gave_up += 1


def _attempt(
    sender: Sender | None,
    subscription: ChannelSubscription,
    event: ChannelEvent | None,
    error: str,
) -> SendResult:
    if sender is None or event is None:
        return SendResult(ok=False, error=error, permanent=True)
    try:
        return sender(subscription, event)
    except Exception as raised:  # a sender must not take the worker down; retried
        logger.exception("Channel sender for %s raised", subscription.kind)
        return SendResult(ok=False, error=f"{type(raised).__name__}: {raised}"[:1000])


def deliver_due(
    session_factory: Callable[[], Session],
    settings: ChannelSettings,
    senders: Mapping[ChannelKind, Sender],
    *,
    clock: Callable[[], datetime],
    rng: random.Random | None = None,
    max_deliveries: int = 10_000,
    report: ChannelReport | None = None,
) -> ChannelReport:
    """Claim and send due deliveries through a thread pool until none is due (or
    `max_deliveries`). Safe to run in several workers at once."""
    rng = rng or random.Random()
    report = report or ChannelReport()
    busy = _IN_FLIGHT
    # One event per notification and language: chat and SMS are written in the subscription's
    # language; a webhook's body is the default language's whatever it chose.
    templates: dict[tuple[int, str], ChannelEvent | str] = {}
    handled = 0
    main = session_factory()

    def job(
        claim: Claim, subscription: ChannelSubscription, event: ChannelEvent | None, error: str
    ) -> SendResult:
        sender = senders.get(ChannelKind(subscription.kind))
        return _attempt(sender, subscription, event, error or f"no sender for {subscription.kind}")

    def record(done: list[tuple[Claim, SendResult]]) -> None:
        with session_factory() as own:
            ids = {claim.subscription_id for claim, _ in done}
            list(own.scalars(sa.select(ChannelSubscription).where(ChannelSubscription.id.in_(ids))))
            for claim, result in done:
                record_result(
                    own, claim, result, settings, now=clock(), rng=rng, report=report, commit=False
                )
            own.commit()

    def event_for(
        claim: Claim, subscription: ChannelSubscription
    ) -> tuple[ChannelEvent | None, str]:
        if claim.notification_id is None:
            payload = verification_payload(subscription.secret, claim.message_id, settings.page.id)
            return (
                ChannelEvent(
                    message_id=claim.message_id,
                    event_type=VERIFICATION,
                    occurred_at=clock(),
                    payload=payload,
                    page_name=settings.page.name,
                    page_url=settings.page.url,
                    title="Subscription verification",
                    network=settings.network,
                    language=subscription.language,
                ),
                "",
            )
        language = (
            ""
            if subscription.kind == ChannelKind.WEBHOOK
            else normalize(subscription.language) or ""
        )
        key = (claim.notification_id, language)
        template = templates.get(key)
        if template is None:
            notification = main.get(Notification, claim.notification_id)
            try:
                if notification is None:
                    raise NothingToSend("the notification is gone")
                template = channel_events.notification_event(
                    main, notification, settings.page, settings.network, language=language
                )
            except NothingToSend as gone:
                template = str(gone)
            templates[key] = template
        if isinstance(template, str):
            return None, template
        return channel_events.for_delivery(template, claim.message_id), ""

    with ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="channel") as pool:
        running: dict[Future[SendResult], Claim] = {}
        try:
            while True:
                room = min(settings.concurrency - len(running), max_deliveries - handled)
                claims: list[Claim] = []
                if room > 0:
                    with _IN_FLIGHT_LOCK:
                        claims = claim_due(
                            main,
                            now=clock(),
                            limit=room,
                            lease=settings.lease,
                            busy=busy,
                            per_host=settings.per_host,
                        )
                loaded = (
                    {
                        sub.id: sub
                        for sub in main.scalars(
                            sa.select(ChannelSubscription).where(
                                ChannelSubscription.id.in_({c.subscription_id for c in claims})
                            )
                        )
                    }
                    if claims
                    else {}
                )
                for sub in loaded.values():
                    main.expunge(sub)
                for claim in claims:
                    subscription = loaded.get(claim.subscription_id)
                    skip = _skip_reason(claim, subscription)
                    event, error = None, ""
                    if skip or subscription is None:
                        _give_up(main, claim, skip, now=clock(), report=report)
                        with _IN_FLIGHT_LOCK:
                            busy[claim.origin] -= 1
                        continue
                    event, error = event_for(claim, subscription)
                    handled += 1
                    running[pool.submit(job, claim, subscription, event, error)] = claim
                main.rollback()  # nothing held open while the requests run
                if not running:
                    break
                finished, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
                done = []
                for future in finished:
                    claim = running.pop(future)
                    with _IN_FLIGHT_LOCK:
                        busy[claim.origin] -= 1
                    done.append((claim, future.result()))
                if done:
                    record(done)
        finally:
            # Stopped by an error: what is in flight finishes and is recorded if it can be.
            leftover = []
            for future, claim in list(running.items()):
                try:
                    leftover.append((claim, future.result()))
                finally:
                    with _IN_FLIGHT_LOCK:
                        busy[claim.origin] -= 1
            if leftover:
                record(leftover)
            main.close()
    # When the next retry is due, for the worker to run again then.
    with session_factory() as session:
        # A delivery still claimed (by a worker that may have died) is due when its lease ends.
        due_at = sa.case(
            (
                sa.and_(
                    ChannelDelivery.claimed_until.is_not(None),
                    ChannelDelivery.claimed_until > ChannelDelivery.next_attempt_at,
                ),
                ChannelDelivery.claimed_until,
            ),
            else_=ChannelDelivery.next_attempt_at,
        )
        earliest = session.scalar(
            sa.select(sa.func.min(due_at)).where(ChannelDelivery.state == S.PENDING)
        )
        if earliest is not None:
            report.retry_due(earliest)
    return report


def expand_and_deliver(
    session_factory: Callable[[], Session],
    settings: ChannelSettings,
    senders: Mapping[ChannelKind, Sender],
    *,
    clock: Callable[[], datetime],
    notification_ids: Iterable[int] | None = None,
    rng: random.Random | None = None,
    max_deliveries: int = 10_000,
) -> ChannelReport:
    report = ChannelReport()
    with session_factory() as session:
        ids = (
            list(notification_ids)
            if notification_ids is not None
            else unexpanded_notification_ids(session, now=clock())
        )
        session.rollback()
        for notification_id in ids:
            expand_channels(session, notification_id, clock=clock)
            report.expanded += 1
    return deliver_due(
        session_factory,
        settings,
        senders,
        clock=clock,
        rng=rng,
        max_deliveries=max_deliveries,
        report=report,
    )


def replay(
    session: Session, delivery: ChannelDelivery, *, now: datetime, actor_id: int | None
) -> None:
    """Send a delivery again (staff): same `message_id`, attempts counted afresh; flushes."""
    delivery.state = S.PENDING
    delivery.next_attempt_at = now
    delivery.claimed_until = None
    delivery.attempts = 0
    record_audit(
        session,
        "channel_delivery",
        delivery.id,
        "replayed",
        {"message_id": delivery.message_id, "subscription_id": delivery.subscription_id},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
