"""The subscription domain: addresses, tokens, subscribe/confirm/unsubscribe, who receives a
notification (`audience_query`, `is_active_id_set`), and the subscription email task."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.errors import DomainError
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.core.ratelimit import MemoryRateLimiter
from statuspage.notifications import subscriptions as subs
from statuspage.notifications.models import Subscriber
from statuspage.notifications.subscriptions import SubscriptionEmail, TokenError

SECRET = "test-secret-key-not-for-production"


# Addresses


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Reader@Example.COM", "reader@example.com"),
        ("  a.b+tag@mail.example.org ", "a.b+tag@mail.example.org"),
        ("o'neil@example.co.uk", "o'neil@example.co.uk"),
    ],
)
def test_addresses_are_normalized(raw: str, expected: str) -> None:
    assert subs.normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "plain",
        "@example.com",
        "a@",
        "a@example",
        "a@@example.com",
        "a b@example.com",
        "Name <a@example.com>",
        "a@example.com, b@example.com",
        "a@example.com\nBcc: b@example.com",
        ".a@example.com",
        "a..b@example.com",
        "a@-example.com",
        "a@example..com",
        "a@127.0.0.1",
        "ü@example.com",
        "a" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
    ],
)
def test_bad_addresses_are_refused_on_the_email_field(raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        subs.normalize_email(raw)
    assert caught.value.field == "email"


def test_masking_keeps_the_first_letter_and_the_domain() -> None:
    assert subs.mask_email("reader@example.com") == "r***@example.com"


# Tokens


def test_manage_tokens_hold_only_the_id_and_do_not_expire() -> None:
    token = subs.manage_token(SECRET, 42)
    assert subs.subscriber_id_from_manage_token(SECRET, token) == 42
    assert "@" not in token
    assert subs.subscriber_id_from_manage_token("another secret", token) is None
    assert subs.subscriber_id_from_manage_token(SECRET, token[:-1] + "A") in (None,)
    assert subs.subscriber_id_from_manage_token(SECRET, "") is None
    # Each kind has its own salt: a confirmation token is no manage token, and back.
    confirmation = subs.confirmation_token(SECRET, 42)
    assert subs.subscriber_id_from_manage_token(SECRET, confirmation) is None
    with pytest.raises(TokenError):
        subs.read_confirmation_token(SECRET, token, max_age=60)


def test_a_signed_token_holding_something_else_than_an_id_is_refused() -> None:
    from itsdangerous import URLSafeSerializer

    for value in ("1", True, -3, [1], {"id": 1}):
        forged = URLSafeSerializer(SECRET, salt=subs.MANAGE_SALT).dumps(value)
        assert subs.subscriber_id_from_manage_token(SECRET, forged) is None


def test_confirmation_tokens_expire(now: datetime) -> None:
    token = subs.confirmation_token(SECRET, 7, now=now)
    assert subs.read_confirmation_token(SECRET, token, max_age=3600, now=now)[0] == 7
    later = now + timedelta(seconds=3599)
    assert subs.read_confirmation_token(SECRET, token, max_age=3600, now=later)[0] == 7
    with pytest.raises(TokenError) as caught:
        subs.read_confirmation_token(SECRET, token, max_age=3600, now=now + timedelta(hours=2))
    assert caught.value.expired


def test_urls() -> None:
    assert subs.manage_url("https://status.example.com/", "t") == (
        "https://status.example.com/subscription/t"
    )
    assert subs.unsubscribe_url("https://status.example.com", "t") == (
        "https://status.example.com/unsubscribe/t"
    )


# Subscribing


@pytest.fixture
def comps(make_component: Callable[..., Any], session: Session) -> dict[str, Any]:
    made = {
        "a": make_component("A", group="G"),
        "b": make_component("B", group="G"),
        "c": make_component("C"),
        "hidden": make_component("Hidden", is_public=False),
    }
    session.flush()
    return made


def test_subscribe_creates_a_pending_subscriber(
    session: Session, comps: dict[str, Any], now: datetime
) -> None:
    outcome = subs.subscribe(
        session,
        "New@Example.com",
        all_components=False,
        component_ids=[comps["c"].id],
        group_ids=[comps["a"].group_id],
        now=now,
    )
    assert outcome.created and outcome.email == SubscriptionEmail.CONFIRM
    subscriber = session.get(Subscriber, outcome.subscriber_id)
    assert subscriber.email == "new@example.com"
    assert not subscriber.active and subscriber.created_at == now
    assert [c.name for c in subscriber.components] == ["C"]
    assert [g.name for g in subscriber.groups] == ["G"]


def test_all_components_ignores_the_chosen_ones(
    session: Session, comps: dict[str, Any], now: datetime
) -> None:
    outcome = subs.subscribe(
        session, "x@example.com", all_components=True, component_ids=[comps["c"].id], now=now
    )
    subscriber = session.get(Subscriber, outcome.subscriber_id)
    assert subscriber.all_components and subscriber.components == []


@pytest.mark.parametrize(
    "choice",
    [
        {"all_components": False},
        {"all_components": False, "component_ids": [999_999]},
        {"all_components": False, "group_ids": [999_999]},
        {"all_components": False, "component_ids": ["hidden"]},
    ],
)
def test_choices_must_name_shown_components_or_groups(
    session: Session, comps: dict[str, Any], now: datetime, choice: dict[str, Any]
) -> None:
    if choice.get("component_ids") == ["hidden"]:
        choice = {**choice, "component_ids": [comps["hidden"].id]}
    with pytest.raises(DomainError) as caught:
        subs.subscribe(session, "x@example.com", now=now, **choice)
    assert caught.value.field == "components"
    assert session.scalar(sa.select(sa.func.count(Subscriber.id))) == 0


def test_a_confirmed_address_keeps_its_choices_and_gets_already(
    session: Session, comps: dict[str, Any], now: datetime
) -> None:
    subscriber = Subscriber(email="known@example.com", all_components=True, confirmed_at=now)
    session.add(subscriber)
    session.flush()
    outcome = subs.subscribe(
        session, "known@example.com", all_components=False, component_ids=[comps["a"].id], now=now
    )
    assert outcome == subs.SubscribeOutcome(subscriber.id, SubscriptionEmail.ALREADY, False)
    assert subscriber.all_components and subscriber.components == []


def test_an_unconfirmed_address_takes_the_new_choices(
    session: Session, comps: dict[str, Any], now: datetime
) -> None:
    first = subs.subscribe(session, "p@example.com", all_components=True, now=now)
    again = subs.subscribe(
        session, "p@example.com", all_components=False, component_ids=[comps["b"].id], now=now
    )
    assert again.subscriber_id == first.subscriber_id and not again.created
    assert again.email == SubscriptionEmail.CONFIRM
    subscriber = session.get(Subscriber, first.subscriber_id)
    assert not subscriber.all_components
    assert [c.name for c in subscriber.components] == ["B"]


def test_the_address_limit_stops_the_email_not_the_answer(
    session: Session, comps: dict[str, Any], now: datetime
) -> None:
    limiter = MemoryRateLimiter()
    kinds = [
        subs.subscribe(
            session, "v@example.com", all_components=True, now=now, limiter=limiter,
            address_limit=2,
        ).email
        for _ in range(3)
    ]  # fmt: skip
    assert kinds == [SubscriptionEmail.CONFIRM, SubscriptionEmail.CONFIRM, None]
    # Another address has its own count.
    other = subs.subscribe(
        session, "w@example.com", all_components=True, now=now, limiter=limiter, address_limit=2
    )
    assert other.email == SubscriptionEmail.CONFIRM


def test_confirm_is_idempotent_and_stamps_once(session: Session, now: datetime) -> None:
    subscriber = Subscriber(email="c@example.com")
    session.add(subscriber)
    session.flush()
    token = subs.confirmation_token(SECRET, subscriber.id, now=now)
    first = subs.confirm(session, SECRET, token, now=now + timedelta(minutes=1))
    assert first.newly_confirmed and subscriber.confirmed_at == now + timedelta(minutes=1)
    second = subs.confirm(session, SECRET, token, now=now + timedelta(minutes=2))
    assert not second.newly_confirmed
    assert subscriber.confirmed_at == now + timedelta(minutes=1)


def test_a_link_from_before_an_unsubscribe_or_suppression_does_not_confirm(
    session: Session, now: datetime
) -> None:
    left = Subscriber(
        email="left@example.com", confirmed_at=now - timedelta(days=5), unsubscribed_at=now
    )
    bounced = Subscriber(
        email="bounced@example.com",
        confirmed_at=now - timedelta(days=5),
        suppressed_at=now,
        suppressed_reason="bounce",
    )
    session.add_all([left, bounced])
    session.flush()
    for subscriber in (left, bounced):
        old = subs.confirmation_token(SECRET, subscriber.id, now=now - timedelta(seconds=1))
        with pytest.raises(TokenError):
            subs.confirm(session, SECRET, old, now=now + timedelta(seconds=5))
        assert not subscriber.active
        fresh = subs.confirmation_token(SECRET, subscriber.id, now=now + timedelta(seconds=2))
        assert subs.confirm(session, SECRET, fresh, now=now + timedelta(seconds=5)).newly_confirmed
        assert subscriber.active and subscriber.suppressed_reason == ""


def test_unsubscribe_is_idempotent(session: Session, now: datetime) -> None:
    subscriber = Subscriber(email="u@example.com", confirmed_at=now)
    session.add(subscriber)
    session.flush()
    assert subs.unsubscribe(session, subscriber, now=now) is True
    assert subs.unsubscribe(session, subscriber, now=now + timedelta(hours=1)) is False
    assert subscriber.unsubscribed_at == now
    with pytest.raises(DomainError):
        subs.update_choices(session, subscriber, all_components=True, now=now)


# Audience


@pytest.fixture
def audience(session: Session, comps: dict[str, Any], now: datetime) -> dict[str, Subscriber]:
    created = now - timedelta(hours=1)
    before = created - timedelta(days=1)

    def add(name: str, **fields: Any) -> Subscriber:
        subscriber = Subscriber(email=f"{name}@example.com", **fields)
        session.add(subscriber)
        return subscriber

    people = {
        "all": add("all", all_components=True, confirmed_at=before),
        "a": add("a", all_components=False, confirmed_at=before, components=[comps["a"]]),
        "c": add("c", all_components=False, confirmed_at=before, components=[comps["c"]]),
        "group": add("group", all_components=False, confirmed_at=before, groups=[comps["a"].group]),
        "at_the_moment": add("moment", all_components=True, confirmed_at=created),
        "pending": add("pending", all_components=True),
        "late": add("late", all_components=True, confirmed_at=created + timedelta(seconds=1)),
        "left": add("left", all_components=True, confirmed_at=before, unsubscribed_at=before),
        "bounced": add(
            "bounced",
            all_components=True,
            confirmed_at=before,
            suppressed_at=before,
            suppressed_reason="bounce",
        ),
    }
    session.flush()
    return people


def notification(session: Session, component_ids: list[int], created_at: datetime) -> Notification:
    row = Notification(
        kind=NotificationKind.INCIDENT_UPDATE, component_ids=component_ids, created_at=created_at
    )
    session.add(row)
    session.flush()
    return row


def names(session: Session, query: sa.Select[Any], people: dict[str, Subscriber]) -> list[str]:
    by_id = {subscriber.id: name for name, subscriber in people.items()}
    rows = session.execute(query).all()
    assert [row.id for row in rows] == sorted(row.id for row in rows)  # ordered by id
    for row in rows:
        assert row.email == people[by_id[row.id]].email
    return sorted(by_id[row.id] for row in rows)


def test_the_audience_of_a_component(
    session: Session, comps: dict[str, Any], audience: dict[str, Subscriber], now: datetime
) -> None:
    created = now - timedelta(hours=1)
    for_a = subs.audience_query(notification(session, [comps["a"].id], created))
    assert names(session, for_a, audience) == ["a", "all", "at_the_moment", "group"]
    # B is in group G too: the group's subscriber hears about it, A's does not.
    for_b = subs.audience_query(notification(session, [comps["b"].id], created))
    assert names(session, for_b, audience) == ["all", "at_the_moment", "group"]
    for_c = subs.audience_query(notification(session, [comps["c"].id], created))
    assert names(session, for_c, audience) == ["all", "at_the_moment", "c"]
    for_a_and_c = subs.audience_query(
        notification(session, [comps["a"].id, comps["c"].id], created)
    )
    assert names(session, for_a_and_c, audience) == ["a", "all", "at_the_moment", "c", "group"]
    # Something about no component in particular: those who chose everything.
    for_none = subs.audience_query(notification(session, [], created))
    assert names(session, for_none, audience) == ["all", "at_the_moment"]


def test_the_audience_query_walks_in_batches(
    session: Session, comps: dict[str, Any], audience: dict[str, Subscriber], now: datetime
) -> None:
    query = subs.audience_query(notification(session, [comps["a"].id], now - timedelta(hours=1)))
    seen: list[int] = []
    cursor = 0
    while True:
        rows = session.execute(query.where(Subscriber.id > cursor).limit(2)).all()
        if not rows:
            break
        seen.extend(row.id for row in rows)
        cursor = rows[-1].id
    assert seen == sorted(audience[name].id for name in ("a", "all", "at_the_moment", "group"))


def test_is_active_id_set(session: Session, audience: dict[str, Subscriber], now: datetime) -> None:
    ids = [subscriber.id for subscriber in audience.values()] + [999_999]
    active = subs.is_active_id_set(session, ids)
    expected = {"all", "a", "c", "group", "at_the_moment", "late"}
    assert active == {audience[name].id for name in expected}
    subs.unsubscribe(session, audience["a"], now=now)
    assert audience["a"].id not in subs.is_active_id_set(session, ids)
    assert subs.is_active_id_set(session, []) == set()


# The email task


def sent(directory: Path) -> list[Any]:
    if not directory.exists():
        return []
    return [
        message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in sorted(directory.glob("*.eml"))
    ]


def test_the_task_sends_a_confirmation_and_stamps_it(
    app: Any, session: Session, mail_dir: Path, now: datetime
) -> None:
    from statuspage.worker.subscriptions import send_subscription_email

    subscriber = Subscriber(email="t@example.com", all_components=True)
    session.add(subscriber)
    session.commit()
    with app.app_context():
        message = send_subscription_email(subscriber.id, "confirm", now=now)
    assert message is not None
    [received] = sent(mail_dir)
    assert received["To"] == "t@example.com"
    assert received["Auto-Submitted"] == "auto-generated"
    body = received.get_body(preferencelist=("plain",)).get_content()
    assert "all components" in body
    assert "7 days" in body
    html = received.get_body(preferencelist=("html",)).get_content()
    assert "http://localhost/subscribe/confirm/" in html
    session.expire_all()
    assert session.get(Subscriber, subscriber.id).confirmation_sent_at == now


def test_the_task_skips_emails_that_no_longer_fit(
    app: Any, session: Session, mail_dir: Path, now: datetime
) -> None:
    from statuspage.worker.subscriptions import send_subscription_email

    confirmed = Subscriber(email="done@example.com", confirmed_at=now)
    left = Subscriber(email="left@example.com", confirmed_at=now, unsubscribed_at=now)
    session.add_all([confirmed, left])
    session.commit()
    with app.app_context():
        assert send_subscription_email(confirmed.id, "confirm") is None
        assert send_subscription_email(left.id, "already") is None
        assert send_subscription_email(999_999, "confirm") is None
    assert sent(mail_dir) == []


def test_the_subscription_modules_load_no_flask() -> None:
    code = (
        "import sys\n"
        "import statuspage.notifications.subscriptions, statuspage.core.ratelimit\n"
        "print(sorted(m for m in sys.modules if m == 'flask' or m.startswith('flask_')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_two_requests_for_one_new_address_at_once_share_the_row(
    session: Session, comps: dict[str, Any], now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other request inserted the address between our look-up and our insert."""
    other = Subscriber(email="race@example.com", all_components=True)
    session.add(other)
    session.flush()
    real_scalar = session.scalar
    looked_up: list[bool] = []

    def scalar(*args: Any, **kwargs: Any) -> Any:
        if not looked_up:  # the first look-up misses: the other row was not committed yet
            looked_up.append(True)
            return None
        return real_scalar(*args, **kwargs)

    monkeypatch.setattr(session, "scalar", scalar)
    outcome = subs.subscribe(session, "race@example.com", all_components=True, now=now)
    assert outcome.subscriber_id == other.id and not outcome.created
    assert outcome.email == SubscriptionEmail.CONFIRM
    assert session.scalar(sa.select(sa.func.count(Subscriber.id))) == 1
