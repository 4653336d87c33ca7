"""Email subscriptions: subscribing, confirming, changing choices, unsubscribing; who receives
a notification.

Double opt-in. `subscribe` records the address and its choices and tells the caller which
email to send: a confirmation for a new or unconfirmed address, "you are already subscribed"
for a confirmed one (its choices are left alone: only the mailbox owner may change them, from
the manage link), or none when that address has had enough email today. The caller shows the
same page whatever happened, so the form never reveals whether an address is subscribed.

Tokens (itsdangerous, signed with the site's SECRET_KEY; each kind with its own salt, so one
can never be used as the other):

- confirmation token: the subscriber id and when it was signed; expires after
  `SUBSCRIPTION_CONFIRM_MAX_AGE` seconds (7 days by default);
- manage token: the subscriber id only, no expiry; it is in every email, for the manage page
  (`/subscription/<token>`) and the RFC 8058 one-click unsubscribe (`/unsubscribe/<token>`).

Neither holds the address. Log lines name subscribers by id, never by address.

Addresses are stored lower-cased and must be plain ASCII `local@domain.tld` (the mail layer's
header rules, plus a sane domain): internationalized addresses need SMTPUTF8, which not every
transport offers.

Flask-free: the views, the worker and the admin area call these functions.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from itsdangerous import BadData, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from statuspage.audiences.models import Audience, subscriber_audience
from statuspage.components.models import Component, ComponentGroup
from statuspage.core.errors import DomainError
from statuspage.core.languages import normalize
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.core.ratelimit import RateLimiter
from statuspage.core.records import record_audit
from statuspage.core.translation import N_
from statuspage.mail.message import InvalidAddress, format_address
from statuspage.notifications.models import Subscriber, subscriber_component, subscriber_group

logger = logging.getLogger(__name__)

CONFIRM_SALT = "statuspage.subscription.confirm"
MANAGE_SALT = "statuspage.subscription.manage"
DEFAULT_CONFIRM_MAX_AGE = 7 * 24 * 60 * 60
# Confirmation and "already subscribed" emails one address may receive per window.
DEFAULT_ADDRESS_LIMIT = 3
DEFAULT_ADDRESS_WINDOW = 24 * 60 * 60

MAX_ADDRESS_LENGTH = 254
MAX_LOCAL_LENGTH = 64
_LOCAL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class SubscriptionEmail(enum.StrEnum):
    CONFIRM = "confirm"  # please confirm (new, unconfirmed, or coming back)
    ALREADY = "already"  # you are already subscribed; here is your manage link


@dataclass(frozen=True)
class SubscribeOutcome:
    subscriber_id: int
    email: SubscriptionEmail | None  # what to send; None when the address's limit is reached
    created: bool


@dataclass(frozen=True)
class ConfirmOutcome:
    subscriber: Subscriber
    newly_confirmed: bool  # False when it was confirmed already (the link clicked again)


class TokenError(DomainError):
    """A confirmation or manage link that is not (or no longer) valid."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message, field="token")
        self.expired = expired


# Addresses


def normalize_email(value: str) -> str:
    """The address lower-cased, or DomainError(field="email") saying what is wrong with it."""
    address = (value or "").strip()
    if not address:
        raise DomainError(N_("Enter your email address."), field="email")
    if len(address) > MAX_ADDRESS_LENGTH:
        raise DomainError(
            N_("An email address has at most %(max)s characters."),
            field="email",
            max=MAX_ADDRESS_LENGTH,
        )
    if not address.isascii():
        raise DomainError(
            N_("Enter an address made of plain letters, digits and punctuation (no accents)."),
            field="email",
        )
    address = address.lower()
    invalid = DomainError(N_("Enter an email address such as name@example.com."), field="email")
    try:
        if format_address(address) != address:  # a display name or anything rewritten
            raise invalid
    except InvalidAddress:
        raise invalid from None
    local, _, domain = address.rpartition("@")
    if (
        len(local) > MAX_LOCAL_LENGTH
        or not _LOCAL.fullmatch(local)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
    ):
        raise invalid
    labels = domain.split(".")
    if (
        len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise invalid
    return address


def mask_email(address: str) -> str:
    """`j***@example.com`: enough for its owner to recognize, little for anyone else."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


# Tokens


def _timed_serializer(secret_key: str, now: datetime | None) -> URLSafeTimedSerializer:
    if now is None:
        return URLSafeTimedSerializer(secret_key, salt=CONFIRM_SALT)
    stamp = int(now.timestamp())

    class _SignerAt(TimestampSigner):
        # Signs and checks ages at `now`: the domain's clock, not the machine's.
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(secret_key, salt=CONFIRM_SALT, signer=_SignerAt)


def confirmation_token(secret_key: str, subscriber_id: int, *, now: datetime | None = None) -> str:
    return _timed_serializer(secret_key, now).dumps(subscriber_id)


def read_confirmation_token(
    secret_key: str, token: str, *, max_age: int, now: datetime | None = None
) -> tuple[int, datetime]:
    """(subscriber id, when the token was signed), or TokenError (`expired` when too old)."""
    try:
        value, signed_at = _timed_serializer(secret_key, now).loads(
            token, max_age=max_age, return_timestamp=True
        )
    except SignatureExpired:
        raise TokenError(
            N_("This confirmation link has expired. Please subscribe again."), expired=True
        ) from None
    except BadData:
        raise TokenError(
            N_("This confirmation link is not valid. Please subscribe again.")
        ) from None
    if not _is_id(value):
        raise TokenError(N_("This confirmation link is not valid. Please subscribe again."))
    return value, signed_at


def manage_token(secret_key: str, subscriber_id: int) -> str:
    """Signed, holds only the id, never expires."""
    return URLSafeSerializer(secret_key, salt=MANAGE_SALT).dumps(subscriber_id)


def subscriber_id_from_manage_token(secret_key: str, token: str) -> int | None:
    try:
        value = URLSafeSerializer(secret_key, salt=MANAGE_SALT).loads(token)
    except BadData:
        return None
    return value if _is_id(value) else None


def subscriber_from_manage_token(
    session: Session, secret_key: str, token: str
) -> Subscriber | None:
    subscriber_id = subscriber_id_from_manage_token(secret_key, token)
    return session.get(Subscriber, subscriber_id) if subscriber_id is not None else None


def manage_url(site_url: str, token: str) -> str:
    return f"{site_url.rstrip('/')}/subscription/{token}"


def unsubscribe_url(site_url: str, token: str) -> str:
    """The RFC 8058 one-click target: POST unsubscribes, GET shows a confirmation page."""
    return f"{site_url.rstrip('/')}/unsubscribe/{token}"


def confirm_url(site_url: str, token: str) -> str:
    return f"{site_url.rstrip('/')}/subscribe/confirm/{token}"


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


# Choices


def _resolve_choices(
    session: Session,
    *,
    all_components: bool,
    component_ids: Iterable[int],
    group_ids: Iterable[int],
) -> tuple[list[Component], list[ComponentGroup]]:
    """The publicly shown components and groups chosen; DomainError if none or unknown."""
    if all_components:
        return [], []
    wanted_components = sorted(set(component_ids))
    wanted_groups = sorted(set(group_ids))
    components = (
        list(
            session.scalars(
                sa.select(Component).where(
                    Component.id.in_(wanted_components), Component.listed_clause()
                )
            )
        )
        if wanted_components
        else []
    )
    groups = (
        list(
            session.scalars(
                sa.select(ComponentGroup).where(
                    ComponentGroup.id.in_(wanted_groups),
                    sa.exists().where(
                        Component.group_id == ComponentGroup.id, Component.listed_clause()
                    ),
                )
            )
        )
        if wanted_groups
        else []
    )
    if len(components) != len(wanted_components) or len(groups) != len(wanted_groups):
        raise DomainError(
            N_("One of the chosen components or groups is not on the status page."),
            field="components",
        )
    if not components and not groups:
        raise DomainError(
            N_("Choose all components, or at least one component or group."), field="components"
        )
    return components, groups


def _set_choices(
    subscriber: Subscriber,
    all_components: bool,
    components: list[Component],
    groups: list[ComponentGroup],
) -> None:
    subscriber.all_components = all_components
    subscriber.components = components
    subscriber.groups = groups


def email_language(value: str) -> str:
    """A subscriber's email language: one of the page's languages, or "" (the default)."""
    if not value:
        return ""
    code = normalize(value)
    if code is None or code != value:
        raise DomainError(N_("Choose one of the languages offered."), field="language")
    return code


def _choices_record(subscriber: Subscriber) -> dict[str, object]:
    return {
        "all_components": subscriber.all_components,
        "components": sorted(c.id for c in subscriber.components),
        "groups": sorted(g.id for g in subscriber.groups),
        "language": subscriber.language,
    }


# Operations


def subscribe(
    session: Session,
    email: str,
    *,
    all_components: bool,
    component_ids: Sequence[int] = (),
    group_ids: Sequence[int] = (),
    now: datetime,
    limiter: RateLimiter | None = None,
    address_limit: int = DEFAULT_ADDRESS_LIMIT,
    address_window: int = DEFAULT_ADDRESS_WINDOW,
    language: str = "",
) -> SubscribeOutcome:
    """Record a subscription request; say which email the caller should send (see module doc).

    A confirmed subscriber's choices are not changed here: whoever typed the address has not
    shown they own it. An unconfirmed, unsubscribed or suppressed one takes the new choices and
    becomes active only when a confirmation link sent from now on is followed.
    """
    address = normalize_email(email)
    language = email_language(language)
    components, groups = _resolve_choices(
        session, all_components=all_components, component_ids=component_ids, group_ids=group_ids
    )
    created = False
    subscriber = session.scalar(sa.select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        subscriber = Subscriber(email=address, created_at=now, language=language)
        _set_choices(subscriber, all_components, components, groups)
        try:
            # Two requests for the same new address at once: the second finds the first's row.
            with session.begin_nested():
                session.add(subscriber)
            created = True
        except IntegrityError:
            subscriber = session.scalar(sa.select(Subscriber).where(Subscriber.email == address))
            if subscriber is None:
                raise
    if subscriber.active:
        kind = SubscriptionEmail.ALREADY
    else:
        kind = SubscriptionEmail.CONFIRM
        if not created:
            _set_choices(subscriber, all_components, components, groups)
            subscriber.language = language
        session.flush()
        record_audit(
            session,
            "subscriber",
            subscriber.id,
            "subscribed" if created else "subscribed_again",
            _choices_record(subscriber),
            actor_id=None,
            now=now,
        )
    email_kind: SubscriptionEmail | None = kind
    if limiter is not None and not limiter.hit(
        f"subscribe:address:{subscriber.id}", address_limit, address_window
    ):
        logger.info("Subscriber %d: email limit reached, no %s email", subscriber.id, kind)
        email_kind = None
    session.flush()
    logger.info(
        "Subscriber %d: subscribe request (%s), email %s",
        subscriber.id,
        "new" if created else "existing",
        email_kind or "none",
    )
    return SubscribeOutcome(subscriber_id=subscriber.id, email=email_kind, created=created)


def add_audiences(
    session: Session, subscriber_id: int, audience_ids: Iterable[int], *, now: datetime
) -> list[int]:
    """Let the subscriber also hear what is addressed to these audiences (a member
    subscribing). The caller decides who may: only audiences the address belongs to.
    Returns the ids newly added."""
    subscriber = session.get(Subscriber, subscriber_id)
    wanted = sorted({int(i) for i in audience_ids})
    if subscriber is None or not wanted:
        return []
    have = {audience.id for audience in subscriber.audiences}
    new = [i for i in wanted if i not in have]
    if not new:
        return []
    subscriber.audiences.extend(
        session.scalars(sa.select(Audience).where(Audience.id.in_(new)).order_by(Audience.id))
    )
    record_audit(
        session,
        "subscriber",
        subscriber.id,
        "audiences_added",
        {"audiences": new},
        actor_id=None,
        now=now,
    )
    session.flush()
    logger.info("Subscriber %d: %d audience(s) added", subscriber.id, len(new))
    return new


def check_confirmation(
    session: Session,
    secret_key: str,
    token: str,
    *,
    max_age: int = DEFAULT_CONFIRM_MAX_AGE,
    now: datetime,
) -> ConfirmOutcome:
    """What `confirm` would do with this link, changing nothing (`newly_confirmed` False
    when it is already confirmed); TokenError when it would refuse. For the page a GET of the
    link shows: mail scanners follow links, so only its button confirms."""
    subscriber_id, signed_at = read_confirmation_token(secret_key, token, max_age=max_age, now=now)
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise TokenError(N_("This confirmation link is not valid. Please subscribe again."))
    if subscriber.active:
        return ConfirmOutcome(subscriber=subscriber, newly_confirmed=False)
    ended = max(
        (moment for moment in (subscriber.unsubscribed_at, subscriber.suppressed_at) if moment),
        default=None,
    )
    # Token times have whole seconds: a link signed in the same second still counts as later.
    if ended is not None and signed_at < ended.astimezone(UTC).replace(microsecond=0):
        raise TokenError(
            N_(
                "This confirmation link was sent before the subscription ended. "
                "Please subscribe again."
            )
        )
    return ConfirmOutcome(subscriber=subscriber, newly_confirmed=True)


def confirm(
    session: Session,
    secret_key: str,
    token: str,
    *,
    max_age: int = DEFAULT_CONFIRM_MAX_AGE,
    now: datetime,
) -> ConfirmOutcome:
    """Confirm from a confirmation link; following it again changes nothing.

    A link signed before the subscriber unsubscribed (or was suppressed) does not bring them
    back: only one sent after they subscribed again does.
    """
    checked = check_confirmation(session, secret_key, token, max_age=max_age, now=now)
    if not checked.newly_confirmed:
        return checked
    subscriber = checked.subscriber
    subscriber.confirmed_at = now
    subscriber.unsubscribed_at = None
    subscriber.suppressed_at = None
    subscriber.suppressed_reason = ""
    record_audit(
        session,
        "subscriber",
        subscriber.id,
        "confirmed",
        {"confirmed_at": now},
        actor_id=None,
        now=now,
    )
    session.flush()
    logger.info("Subscriber %d confirmed", subscriber.id)
    return ConfirmOutcome(subscriber=subscriber, newly_confirmed=True)


def update_choices(
    session: Session,
    subscriber: Subscriber,
    *,
    all_components: bool,
    component_ids: Sequence[int] = (),
    group_ids: Sequence[int] = (),
    now: datetime,
    language: str | None = None,
) -> None:
    """Change what the subscriber hears about (from their manage page), and the language
    their emails are written in (None: unchanged)."""
    if subscriber.unsubscribed_at is not None:
        raise DomainError(
            N_("This subscription has ended. Subscribe again to choose components."),
            field="components",
        )
    components, groups = _resolve_choices(
        session, all_components=all_components, component_ids=component_ids, group_ids=group_ids
    )
    before = _choices_record(subscriber)
    _set_choices(subscriber, all_components, components, groups)
    if language is not None:
        subscriber.language = email_language(language)
    after = _choices_record(subscriber)
    if after != before:
        record_audit(
            session,
            "subscriber",
            subscriber.id,
            "choices_changed",
            {key: [before[key], after[key]] for key in after if before[key] != after[key]},
            actor_id=None,
            now=now,
        )
        logger.info("Subscriber %d changed their choices", subscriber.id)
    session.flush()


def unsubscribe(session: Session, subscriber: Subscriber, *, now: datetime) -> bool:
    """End the subscription; True if it was running. Doing it again changes nothing."""
    if subscriber.unsubscribed_at is not None:
        return False
    subscriber.unsubscribed_at = now
    record_audit(
        session,
        "subscriber",
        subscriber.id,
        "unsubscribed",
        {"unsubscribed_at": now},
        actor_id=None,
        now=now,
    )
    session.flush()
    logger.info("Subscriber %d unsubscribed", subscriber.id)
    return True


# Audience


def _active() -> sa.ColumnElement[bool]:
    return sa.and_(
        Subscriber.confirmed_at.is_not(None),
        Subscriber.unsubscribed_at.is_(None),
        Subscriber.suppressed_at.is_(None),
    )


def audience_query(notification: Notification) -> sa.Select[tuple[int, str]]:
    """(id, email) of the active subscribers, confirmed at or before the notification was
    written, who chose all components, one of its components, or a group holding one of them,
    and, when it is addressed to audiences, who subscribed as a member of one of them; by id.
    The delivery adds `Subscriber.id > cursor` and a limit to walk it in batches."""
    component_ids = sorted(set(notification.component_ids or []))
    chose: list[sa.ColumnElement[bool]] = [Subscriber.all_components.is_(True)]
    if component_ids:
        chose.append(
            sa.exists().where(
                subscriber_component.c.subscriber_id == Subscriber.id,
                subscriber_component.c.component_id.in_(component_ids),
            )
        )
        chose.append(
            sa.exists().where(
                subscriber_group.c.subscriber_id == Subscriber.id,
                subscriber_group.c.group_id.in_(
                    sa.select(Component.group_id).where(
                        Component.id.in_(component_ids), Component.group_id.is_not(None)
                    )
                ),
            )
        )
    query = sa.select(Subscriber.id, Subscriber.email).where(
        _active(),
        Subscriber.confirmed_at <= notification.created_at,
        sa.or_(*chose),
    )
    if notification.kind == NotificationKind.COMPONENT_STATUS:
        # A component's status change alone is the channels' event (webhook, chat, SMS): the
        # email subscribers hear of it in the incident or maintenance update that made it.
        query = query.where(sa.false())
    audience_ids = sorted(set(notification.audience_ids or []))
    if audience_ids:
        # Addressed to chosen audiences: only their subscribers, never the public's.
        query = query.where(
            sa.exists().where(
                subscriber_audience.c.subscriber_id == Subscriber.id,
                subscriber_audience.c.audience_id.in_(audience_ids),
            )
        )
    return query.order_by(Subscriber.id)


def is_active_id_set(session: Session, ids: Iterable[int]) -> set[int]:
    """The ids among `ids` whose subscription is still running now."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    return set(
        session.scalars(sa.select(Subscriber.id).where(Subscriber.id.in_(wanted), _active()))
    )
