"""Delivering outbox notifications: expansion into batches, sending, retries, provider events.

The worker runs these steps (see `statuspage.worker.delivery`), each in its own short transaction:

1. **Expand** (`expand_notification`): walk the notification's audience by subscriber id from
   the cursor `expanded_through_id`, at most `batch_size` subscribers a step, and write one
   `DeliveryBatch` per step together with the advanced cursor, in the same transaction. A crash
   resumes at the cursor; a step is never written twice (the cursor moves by compare-and-swap,
   and `(notification_id, seq)` is unique). Subscribers are streamed, never all loaded.
2. **Claim** (`claim_due_batches`): due batches (pending and `next_attempt_at` passed, or
   sending with an expired lease: the worker that claimed them died) become `sending` with a
   lease, and the claim is committed before anything is sent. Several workers may claim at
   once: `FOR UPDATE SKIP LOCKED` on PostgreSQL, and on every database the claim is an
   `UPDATE ... WHERE <still due>` whose row count says who won. `send_due_batches` claims ONE
   batch at a time, and claims the next only after the result of the last is committed.
3. **Send** (`send_batch`): outside any open transaction. Subscribers who unsubscribed or were
   suppressed since expansion drop out; the email is composed once per batch with a placeholder
   for each recipient's manage link. Accepted -> `sent` and committed at once (a batch the
   provider accepted is never sent again). Refused for good (400, 401, 403, 413, a sender the
   mail stack cannot encode) -> `failed` with the reason. Temporary trouble (429, 5xx,
   timeouts, refused connections) -> `pending` again at the time the provider asked for
   (`DeliveryError.retry_after`: Retry-After or X-RateLimit-Reset), else at `now + backoff`
   (exponential with full jitter and a cap); `failed` after `max_attempts`. The run reports
   the earliest retry (`DeliveryReport.retry_at`) and the worker enqueues itself for then.
   When the provider named the time, every pending batch due before it waits until then
   too, and the run stops: no worker sends into a refusal.

   What a crash can repeat: SendGrid has no idempotency key, so a request whose answer never
   came back (the worker was killed, or timed out, after SendGrid accepted it) cannot be told
   from one SendGrid never saw. That batch is sent again once its lease is over. Because a
   worker holds one claim at a time, that is at most ONE batch per crash (at most 1000
   recipients with SendGrid; with SMTP, whose progress is saved after every request of up to
   100 messages, at most 100), and nothing is ever lost: every batch not recorded as sent is
   sent again.
4. **Finish** (`finish_notification`): a fully expanded notification with no open batch is
   `done` (failed batches are counted in `last_error`).

Nothing here imports Flask: `DeliverySettings.from_config` takes any mapping.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.languages import SOURCE_LANGUAGE, normalize
from statuspage.core.outbox import Notification, NotificationKind, NotificationState
from statuspage.mail.mailer import DEFAULT_SENDER
from statuspage.mail.transports import (
    MANAGE_URL_TOKEN,
    BatchTransport,
    DeliveryError,
    OutgoingBatch,
    Recipient,
)
from statuspage.notifications import stakeholder_email, subscriptions
from statuspage.notifications.compose import NothingToSend, compose_notification
from statuspage.notifications.models import BatchState, DeliveryBatch, ProviderEvent, Subscriber
from statuspage.stakeholders.models import StakeholderRecipient

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000  # SendGrid's limit of personalizations per request
DEFAULT_LEASE_SECONDS = 300
DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_BACKOFF_BASE = 10.0  # seconds
DEFAULT_BACKOFF_CAP = 30 * 60.0  # seconds
ERROR_MAX = 2000

OPEN_BATCH_STATES = (BatchState.PENDING, BatchState.SENDING)
OPEN_NOTIFICATION_STATES = (NotificationState.PENDING, NotificationState.SENDING)


def _int_setting(config: Mapping[str, Any], name: str, default: int, minimum: int = 1) -> int:
    try:
        value = int(config.get(name, default))
    except (TypeError, ValueError):
        return default
    return max(minimum, value)


@dataclass(frozen=True)
class DeliverySettings:
    """What delivery needs from the configuration (see `from_config` for the names)."""

    site_name: str
    site_url: str
    secret_key: str = field(repr=False)
    sender: str = DEFAULT_SENDER
    batch_size: int = DEFAULT_BATCH_SIZE
    lease: timedelta = timedelta(seconds=DEFAULT_LEASE_SECONDS)
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_base: float = DEFAULT_BACKOFF_BASE
    backoff_cap: float = DEFAULT_BACKOFF_CAP
    default_language: str = SOURCE_LANGUAGE  # what a subscriber's "" language means

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DeliverySettings:
        """`SITE_NAME`, `SITE_URL`, `SECRET_KEY`, `MAIL_FROM`, `DELIVERY_BATCH_SIZE` (at most
        1000), `DELIVERY_LEASE_SECONDS` (how long a claimed batch is left to its worker; keep
        it well above the transport's timeout), `DELIVERY_MAX_ATTEMPTS`."""
        return cls(
            site_name=str(config.get("SITE_NAME", "Status")),
            site_url=str(config.get("SITE_URL", "")).rstrip("/"),
            secret_key=str(config.get("SECRET_KEY") or ""),
            sender=str(config.get("MAIL_FROM") or DEFAULT_SENDER),
            batch_size=min(
                DEFAULT_BATCH_SIZE,
                _int_setting(config, "DELIVERY_BATCH_SIZE", DEFAULT_BATCH_SIZE),
            ),
            lease=timedelta(
                seconds=_int_setting(config, "DELIVERY_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)
            ),
            max_attempts=_int_setting(config, "DELIVERY_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS),
            default_language=normalize(config.get("DEFAULT_LANGUAGE")) or SOURCE_LANGUAGE,
        )


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _clip(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


# --- 1. expansion ---


def claim_notification(session: Session, notification_id: int) -> Notification | None:
    """The notification, locked for expansion (PostgreSQL: skipped when another worker holds
    it), or None when it is locked, finished, fully expanded or gone."""
    query = sa.select(Notification).where(
        Notification.id == notification_id,
        Notification.state.in_(OPEN_NOTIFICATION_STATES),
        Notification.expanded_at.is_(None),
    )
    if _is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return session.scalar(query.execution_options(populate_existing=True))


def _audience_rows(
    session: Session, notification: Notification, cursor: int, language: str, limit: int
) -> tuple[list[Any], bool]:
    """The next step's recipients (id, email, language) after the cursor, all of one language,
    and whether they are the audience's last.

    Subscribers are walked by (language, id), so that each batch holds one language: the rest
    of the cursor's language by id, else the start of the next language. Both are seeks on
    `ix_subscriber_language_id` (an OR of the two made SQLite scan and sort the audience every
    step). A stakeholder summary's recipients are walked by id (language "", the default)."""
    if notification.kind == NotificationKind.STAKEHOLDER_SUMMARY:
        query = (
            stakeholder_email.recipient_query(notification.id)
            .add_columns(sa.literal(""))
            .where(StakeholderRecipient.id > cursor)
        )
        rows = list(session.execute(query.limit(limit)).all())
        return rows, len(rows) < limit
    audience = subscriptions.audience_query(notification).add_columns(Subscriber.language)
    rows = list(
        session.execute(
            audience.where(Subscriber.language == language, Subscriber.id > cursor)
            .order_by(None)
            .order_by(Subscriber.id)
            .limit(limit)
        ).all()
    )
    if not rows:
        following = list(
            session.execute(
                audience.where(Subscriber.language > language)
                .order_by(None)
                .order_by(Subscriber.language, Subscriber.id)
                .limit(limit)
            ).all()
        )
        first = following[0][2] if following else language
        rows = [row for row in following if row[2] == first]
        if len(rows) < len(following):
            return rows, False
        language = first
    if len(rows) == limit:
        return rows, False
    later = session.execute(
        audience.with_only_columns(Subscriber.id)
        .where(Subscriber.language > language)
        .order_by(None)
        .limit(1)
    ).first()
    return rows, later is None


def expand_notification(
    session: Session,
    notification: Notification,
    *,
    now: datetime,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> DeliveryBatch | None:
    """Write the next batch of the notification's audience (one step); flushes, the caller
    commits. Returns the batch, or None when no subscriber was left (or another worker moved
    the cursor first: then nothing is written). Sets `expanded_at` after the last step.

    A batch holds recipients of one language (see `_audience_rows`), so each language costs
    ceil(its recipients / 1000) provider requests."""
    cursor = notification.expanded_through_id
    cursor_language = notification.expanded_through_language or ""
    rows, done = _audience_rows(session, notification, cursor, cursor_language, batch_size)
    language = str(rows[0][2] or "") if rows else cursor_language
    ids = [int(row[0]) for row in rows]
    new_cursor = ids[-1] if ids else cursor
    # Compare-and-swap on the cursor: only one worker can move it from `cursor`, whatever the
    # database's locking, so two workers never write overlapping batches.
    moved = session.execute(
        sa.update(Notification)
        .where(
            Notification.id == notification.id,
            Notification.expanded_through_id == cursor,
            Notification.expanded_through_language == cursor_language,
            Notification.state.in_(OPEN_NOTIFICATION_STATES),
        )
        .values(
            expanded_through_id=new_cursor,
            expanded_through_language=language,
            recipient_count=Notification.recipient_count + len(ids),
            expanded_at=now if done else None,
            state=NotificationState.SENDING,
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        session.expire(notification)
        return None
    session.expire(notification)
    if not ids:
        return None
    seq = (
        session.scalar(
            sa.select(sa.func.max(DeliveryBatch.seq)).where(
                DeliveryBatch.notification_id == notification.id
            )
        )
        or 0
    ) + 1
    batch = DeliveryBatch(
        notification_id=notification.id,
        seq=seq,
        subscriber_ids=ids,
        language=language,
        state=BatchState.PENDING,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(batch)
    session.flush()
    return batch


def expand_fully(
    session: Session,
    notification_id: int,
    *,
    clock: Callable[[], datetime],
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """Expand one notification to the end, committing after each batch. Returns the number
    of batches written by this call (0 when another worker has it or it was done)."""
    written = 0
    while True:
        notification = claim_notification(session, notification_id)
        if notification is None:
            session.rollback()
            return written
        try:
            batch = expand_notification(session, notification, now=clock(), batch_size=batch_size)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        if batch is None:
            # The end of the audience, or another worker moved the cursor first and carries on.
            return written
        written += 1


def unexpanded_notification_ids(session: Session, *, limit: int = 100) -> list[int]:
    return list(
        session.scalars(
            sa.select(Notification.id)
            .where(
                Notification.state.in_(OPEN_NOTIFICATION_STATES),
                Notification.expanded_at.is_(None),
            )
            .order_by(Notification.created_at, Notification.id)
            .limit(limit)
        )
    )


# --- 2. claiming ---


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(DeliveryBatch.state == BatchState.PENDING, DeliveryBatch.next_attempt_at <= now),
        sa.and_(DeliveryBatch.state == BatchState.SENDING, DeliveryBatch.claimed_until < now),
    )


@dataclass(frozen=True)
class Claim:
    batch_id: int
    claimed_until: datetime


def claim_due_batches(
    session: Session,
    *,
    now: datetime,
    limit: int,
    lease: timedelta = timedelta(seconds=DEFAULT_LEASE_SECONDS),
    notification_id: int | None = None,
) -> list[Claim]:
    """Claim up to `limit` due batches for this worker until `now + lease`, and COMMIT, so
    that the claim is visible to every other worker before anything is sent."""
    query = sa.select(DeliveryBatch.id).where(_due(now))
    if notification_id is not None:
        query = query.where(DeliveryBatch.notification_id == notification_id)
    query = query.order_by(DeliveryBatch.next_attempt_at, DeliveryBatch.id).limit(limit)
    if _is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    claims: list[Claim] = []
    try:
        candidates = list(session.scalars(query))
        until = now + lease
        for batch_id in candidates:
            # The condition is checked again as part of the write: a worker that read the same
            # candidate (SQLite has no row locks) updates nothing and moves on.
            won = session.execute(
                sa.update(DeliveryBatch)
                .where(DeliveryBatch.id == batch_id, _due(now))
                .values(state=BatchState.SENDING, claimed_until=until)
                .execution_options(synchronize_session=False)
            )
            if won.rowcount == 1:
                claims.append(Claim(batch_id, until))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return claims


# --- 3. sending ---


def backoff_seconds(
    attempts: int,
    *,
    rng: random.Random,
    base: float = DEFAULT_BACKOFF_BASE,
    cap: float = DEFAULT_BACKOFF_CAP,
) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempts)]."""
    return rng.uniform(0, min(cap, base * 2 ** min(attempts, 30)))


@dataclass
class SendOutcome:
    batch_id: int
    state: BatchState
    sent: int = 0
    error: str = ""
    # A batch to retry: when, and whether the provider named that time (it is busy: the run
    # stops, and every other due batch waits for the same moment).
    retry_at: datetime | None = None
    provider_asked: bool = False


def _update_claimed(
    session: Session, claim: Claim, values: dict[str, Any], *, release: bool = True
) -> bool:
    """Write `values` to the batch if this worker still holds its claim; commit."""
    if release:
        values = {"claimed_until": None, **values}
    result = session.execute(
        sa.update(DeliveryBatch)
        .where(
            DeliveryBatch.id == claim.batch_id,
            DeliveryBatch.state == BatchState.SENDING,
            DeliveryBatch.claimed_until == claim.claimed_until,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if result.rowcount != 1:
        logger.warning(
            "Delivery batch %d: the claim was lost before the result was saved", claim.batch_id
        )
        return False
    return True


def _hold_due_batches(session: Session, *, until: datetime) -> None:
    """The provider said it is busy until `until`: every pending batch due before then waits
    until then (no attempt counted), so that no worker sends into the refusal; commit."""
    session.execute(
        sa.update(DeliveryBatch)
        .where(DeliveryBatch.state == BatchState.PENDING, DeliveryBatch.next_attempt_at < until)
        .values(next_attempt_at=until)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _recipients(
    session: Session,
    notification: Notification,
    subscriber_ids: Sequence[int],
    settings: DeliverySettings,
) -> list[tuple[int, Recipient]]:
    if notification.kind == NotificationKind.STAKEHOLDER_SUMMARY:
        # Staff and the addresses they listed: no subscription to manage, no unsubscribe link.
        return [
            (recipient_id, Recipient(email=email))
            for recipient_id, email in stakeholder_email.recipients(session, subscriber_ids)
        ]
    active = subscriptions.is_active_id_set(session, subscriber_ids)
    wanted = [sid for sid in subscriber_ids if sid in active]
    emails = dict(
        session.execute(
            sa.select(Subscriber.id, Subscriber.email).where(Subscriber.id.in_(wanted))
        ).all()
    )
    recipients = []
    for sid in wanted:
        email = emails.get(sid)
        if not email:
            continue  # deleted since
        token = subscriptions.manage_token(settings.secret_key, sid)
        recipients.append(
            (
                sid,
                Recipient(
                    email=email,
                    manage_url=subscriptions.manage_url(settings.site_url, token),
                    unsubscribe_url=subscriptions.unsubscribe_url(settings.site_url, token),
                ),
            )
        )
    return recipients


def send_batch(
    session: Session,
    claim: Claim,
    transport: BatchTransport,
    settings: DeliverySettings,
    *,
    now: datetime,
    rng: random.Random,
) -> SendOutcome:
    """Send one claimed batch and record what happened (committed before returning)."""
    batch = session.get(DeliveryBatch, claim.batch_id, populate_existing=True)
    if batch is None or batch.claimed_until != claim.claimed_until:
        session.rollback()
        return SendOutcome(claim.batch_id, BatchState.SENDING, error="claim lost")
    notification = session.get(Notification, batch.notification_id)
    assert notification is not None  # the batch's foreign key cascades
    subscriber_ids = list(batch.subscriber_ids)
    sent_before = batch.sent_count
    attempts = batch.attempts
    try:
        email = compose_notification(
            session,
            notification,
            site_name=settings.site_name,
            url=lambda path: f"{settings.site_url}{path}",
            manage_url=MANAGE_URL_TOKEN,
            language=batch.language or "",
            default_language=settings.default_language,
        )
    except NothingToSend as error:
        session.rollback()
        fail_notification(session, notification.id, str(error), now=now)
        return SendOutcome(claim.batch_id, BatchState.FAILED, error=str(error))
    step = max(1, min(int(getattr(transport, "max_batch", DEFAULT_BATCH_SIZE)), DEFAULT_BATCH_SIZE))
    # Subscribers' email says its language; internal stakeholder summaries carry no extra header.
    language_header = (
        {}
        if notification.kind == NotificationKind.STAKEHOLDER_SUMMARY
        else {"Content-Language": email.language}
    )
    sent = 0
    message_id = ""
    position = 0  # how many of `recipients` are delivered
    recipients: list[tuple[int, Recipient]] = []
    try:
        recipients = _recipients(session, notification, subscriber_ids, settings)
        session.rollback()  # nothing is held while the provider is talked to
        while position < len(recipients):
            chunk = recipients[position : position + step]
            result = transport.send_batch(
                OutgoingBatch(
                    sender=settings.sender,
                    subject=email.subject,
                    text=email.text,
                    html=email.html,
                    recipients=[recipient for _, recipient in chunk],
                    headers=language_header,
                )
            )
            position += len(chunk)
            sent += result.sent
            message_id = message_id or result.message_id
            if position < len(recipients):
                # Save progress between the transport's smaller requests (SMTP), so that a
                # crash re-sends at most one of them.
                remaining = [sid for sid, _ in recipients[position:]]
                if not _update_claimed(
                    session,
                    claim,
                    {"subscriber_ids": remaining, "sent_count": sent_before + sent},
                    release=False,
                ):
                    return SendOutcome(claim.batch_id, BatchState.SENDING, sent, "claim lost")
    except Exception as raised:
        session.rollback()
        if isinstance(raised, DeliveryError):
            error = raised
        else:
            # A transport should only raise DeliveryError; anything else is retried (and
            # counted) rather than leaving the batch to wait for its lease.
            logger.exception("Delivery batch %d: unexpected error from the transport", batch.id)
            error = DeliveryError(
                f"unexpected error: {type(raised).__name__}: {raised}", retryable=True
            )
        delivered = max(
            0, min(int(getattr(error, "delivered", 0) or 0), len(recipients) - position)
        )
        position += delivered
        sent += delivered
        remaining = [sid for sid, _ in recipients[position:]]
        reason = _clip(getattr(error, "reason", "") or str(error))
        attempts += 1
        if not error.retryable:
            state = BatchState.FAILED
            values: dict[str, Any] = {"state": state, "last_error": reason}
        elif attempts >= settings.max_attempts:
            state = BatchState.FAILED
            reason = _clip(f"gave up after {attempts} attempts: {reason}")
            values = {"state": state, "last_error": reason}
        else:
            state = BatchState.PENDING
            provider_wait = getattr(error, "retry_after", None)
            if provider_wait is not None:
                # The time the provider asked for (Retry-After, X-RateLimit-Reset), no later.
                wait = max(0.0, float(provider_wait))
            else:
                wait = backoff_seconds(
                    attempts, rng=rng, base=settings.backoff_base, cap=settings.backoff_cap
                )
            retry_at = now + timedelta(seconds=wait)
            values = {"state": state, "last_error": reason, "next_attempt_at": retry_at}
        values |= {
            "attempts": attempts,
            "subscriber_ids": remaining,
            "sent_count": sent_before + sent,
        }
        _update_claimed(session, claim, values)
        if state == BatchState.PENDING and provider_wait is not None:
            _hold_due_batches(session, until=retry_at)
        logger.warning(
            "Delivery batch %d of notification %d: %s (%s, attempt %d, %d sent before the error)",
            claim.batch_id,
            notification.id,
            reason,
            state.value,
            attempts,
            sent,
        )
        if state == BatchState.FAILED:
            finish_notification(session, notification.id, now=now)
            return SendOutcome(claim.batch_id, state, sent, reason)
        return SendOutcome(
            claim.batch_id,
            state,
            sent,
            reason,
            retry_at=retry_at,
            provider_asked=provider_wait is not None,
        )

    _update_claimed(
        session,
        claim,
        {
            "state": BatchState.SENT,
            "sent_at": now,
            "sent_count": sent_before + sent,
            "provider_message_id": message_id[:200],
            "attempts": attempts + 1,
            "last_error": "",
        },
    )
    logger.info(
        "Delivery batch %d of notification %d sent to %d recipient(s)",
        claim.batch_id,
        notification.id,
        sent,
    )
    finish_notification(session, notification.id, now=now)
    return SendOutcome(claim.batch_id, BatchState.SENT, sent)


# --- 4. finishing ---


def fail_notification(
    session: Session, notification_id: int, reason: str, *, now: datetime
) -> None:
    """What the notification announces is gone: it and its open batches fail, with the reason."""
    reason = _clip(reason)
    session.execute(
        sa.update(DeliveryBatch)
        .where(
            DeliveryBatch.notification_id == notification_id,
            DeliveryBatch.state.in_(OPEN_BATCH_STATES),
        )
        .values(state=BatchState.FAILED, last_error=reason, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        sa.update(Notification)
        .where(Notification.id == notification_id)
        .values(state=NotificationState.FAILED, last_error=reason, completed_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    logger.warning("Notification %d failed: %s", notification_id, reason)


def finish_notification(session: Session, notification_id: int, *, now: datetime) -> bool:
    """Mark a fully expanded notification with no open batch done; commit. True if it was."""
    open_batches = (
        sa.select(DeliveryBatch.id)
        .where(
            DeliveryBatch.notification_id == notification_id,
            DeliveryBatch.state.in_(OPEN_BATCH_STATES),
        )
        .exists()
    )
    failed = session.scalar(
        sa.select(sa.func.count(DeliveryBatch.id)).where(
            DeliveryBatch.notification_id == notification_id,
            DeliveryBatch.state == BatchState.FAILED,
        )
    )
    result = session.execute(
        sa.update(Notification)
        .where(
            Notification.id == notification_id,
            Notification.state.in_(OPEN_NOTIFICATION_STATES),
            Notification.expanded_at.is_not(None),
            ~open_batches,
        )
        .values(
            state=NotificationState.DONE,
            completed_at=now,
            last_error=f"{failed} batch(es) failed" if failed else "",
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def finish_completed(session: Session, *, now: datetime, limit: int = 100) -> int:
    """Finish every notification that is complete but still marked sending (two workers that
    sent its last batches at once may each have seen the other's still open)."""
    ids = list(
        session.scalars(
            sa.select(Notification.id)
            .where(
                Notification.state == NotificationState.SENDING,
                Notification.expanded_at.is_not(None),
            )
            .order_by(Notification.id)
            .limit(limit)
        )
    )
    session.rollback()
    return sum(
        1 for notification_id in ids if finish_notification(session, notification_id, now=now)
    )


# --- the whole run ---


@dataclass
class DeliveryReport:
    batches_written: int = 0
    batches_sent: int = 0
    batches_failed: int = 0
    batches_retrying: int = 0
    recipients_sent: int = 0
    notifications_finished: int = 0
    # The earliest retry this run scheduled: the worker enqueues a run for then, so a retry
    # does not wait for the every-minute sweep.
    retry_at: datetime | None = None

    def __bool__(self) -> bool:
        return any(vars(self).values())

    def retry_due(self, moment: datetime) -> None:
        if self.retry_at is None or moment < self.retry_at:
            self.retry_at = moment


def send_due_batches(
    session: Session,
    transport: BatchTransport,
    settings: DeliverySettings,
    *,
    clock: Callable[[], datetime],
    rng: random.Random,
    report: DeliveryReport,
    max_batches: int = 10_000,
    notification_id: int | None = None,
) -> DeliveryReport:
    """Claim and send due batches one at a time, until none is due (or `max_batches`, or the
    provider asked to wait).

    One at a time: a worker never holds more than the one claim it is sending, so a worker
    killed mid-request leaves exactly one batch to be sent again after its lease (the only
    repeat a crash can cause), and other workers take the next batches meanwhile instead of
    waiting behind claims this worker has not got to yet."""
    handled = 0
    while handled < max_batches:
        claims = claim_due_batches(
            session,
            now=clock(),
            limit=1,
            lease=settings.lease,
            notification_id=notification_id,
        )
        if not claims:
            break
        for claim in claims:
            outcome = send_batch(session, claim, transport, settings, now=clock(), rng=rng)
            handled += 1
            report.recipients_sent += outcome.sent
            if outcome.state == BatchState.SENT:
                report.batches_sent += 1
            elif outcome.state == BatchState.FAILED:
                report.batches_failed += 1
            elif outcome.state == BatchState.PENDING:
                report.batches_retrying += 1
            if outcome.retry_at is not None:
                report.retry_due(outcome.retry_at)
            if outcome.provider_asked:
                # The provider said it is busy until then (429, 503 with Retry-After): the
                # other due batches would only be refused too. They were held until
                # `report.retry_at`, when the worker runs again.
                return report
    return report


def deliver(
    session: Session,
    transport: BatchTransport,
    settings: DeliverySettings,
    *,
    clock: Callable[[], datetime],
    rng: random.Random | None = None,
    notification_ids: Iterable[int] | None = None,
    max_batches: int = 10_000,
) -> DeliveryReport:
    """Expand the given notifications (or every unexpanded one), then send what is due and
    finish what is complete. Safe to run in several workers at once."""
    rng = rng or random.Random()
    report = DeliveryReport()
    ids = (
        list(notification_ids)
        if notification_ids is not None
        else unexpanded_notification_ids(session)
    )
    session.rollback()
    for notification_id in ids:
        report.batches_written += expand_fully(
            session, notification_id, clock=clock, batch_size=settings.batch_size
        )
    send_due_batches(
        session, transport, settings, clock=clock, rng=rng, report=report, max_batches=max_batches
    )
    report.notifications_finished += finish_completed(session, now=clock())
    return report


# --- provider events (the SendGrid Event Webhook) ---

SUPPRESSING_EVENTS = frozenset(
    {"bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"}
)


@dataclass
class EventReport:
    suppressed: int = 0
    repeated: int = 0
    ignored: int = 0


def _insert_ignoring_duplicate(session: Session, values: dict[str, Any]) -> bool:
    """Record a provider event once: True if this call recorded it, False if it was there."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the project runs on SQLite and PostgreSQL only
        if session.scalar(
            sa.select(ProviderEvent.id).where(ProviderEvent.event_id == values["event_id"])
        ):
            return False
        session.add(ProviderEvent(**values))
        session.flush()
        return True
    inserted = session.scalar(
        insert(ProviderEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(ProviderEvent.id)
    )
    return inserted is not None


def apply_provider_events(
    session: Session, events: Sequence[Mapping[str, Any]], *, now: datetime
) -> EventReport:
    """Suppress the subscribers that bounced, were dropped, reported spam or unsubscribed at
    the provider. Each `sg_event_id` counts once, even when two deliveries of it race (the
    insert does nothing on conflict). Flushes; the caller commits."""
    from statuspage.core.records import record_audit

    report = EventReport()
    for event in events:
        kind = str(event.get("event") or "")
        if kind not in SUPPRESSING_EVENTS or (kind == "bounce" and event.get("type") == "blocked"):
            # A "blocked" bounce is temporary (the receiving server refused for now).
            report.ignored += 1
            continue
        email = str(event.get("email") or "").strip().lower()
        subscriber = (
            session.scalar(sa.select(Subscriber).where(Subscriber.email == email))
            if email
            else None
        )
        event_id = str(event.get("sg_event_id") or "")[:200]
        if event_id and not _insert_ignoring_duplicate(
            session,
            {
                "event_id": event_id,
                "kind": kind[:40],
                "subscriber_id": subscriber.id if subscriber else None,
                "received_at": now,
            },
        ):
            report.repeated += 1
            continue
        if subscriber is None or subscriber.suppressed_at is not None:
            report.ignored += 1
            continue
        subscriber.suppressed_at = now
        subscriber.suppressed_reason = kind[:40]
        record_audit(
            session,
            "subscriber",
            subscriber.id,
            "suppressed",
            {"reason": kind, "event_id": event_id},
            actor_id=None,
            now=now,
        )
        report.suppressed += 1
        logger.info("Subscriber %d suppressed: %s", subscriber.id, kind)
    session.flush()
    return report
