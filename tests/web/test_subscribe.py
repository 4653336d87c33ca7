"""The public subscription flows through the test client: subscribe, the confirmation email,
confirm, manage, one-click unsubscribe; no enumeration, expiry, bad tokens, rate limits.

Emails are sent by the real Huey task, run in immediate mode, and written by the file
transport; the tests read the .eml files and follow the links in them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from statuspage.core.models import AuditEntry
from statuspage.notifications import subscriptions
from statuspage.notifications.models import Subscriber
from tests.conftest import csrf_token_from

SECRET = "test-secret-key-not-for-production"
ADDRESS = "Reader@Example.com"


def use_mail_dir(application: Flask, directory: Path) -> Path:
    application.config.update(MAIL_TRANSPORT="file", MAIL_FILE_DIR=str(directory))
    return directory


@pytest.fixture
def mail_dir(app: Flask, tmp_path: Path, immediate_huey: Any) -> Path:
    return use_mail_dir(app, tmp_path / "mail")


def mails(directory: Path) -> list[EmailMessage]:
    if not directory.exists():
        return []
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for path in sorted(directory.glob("*.eml"))
    ]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return part.get_content()


def link_path(text: str, kind: str) -> str:
    """The site path of the first `kind` link (`subscribe/confirm`, `subscription`, ...)."""
    match = re.search(rf"http://localhost(/{kind}/[A-Za-z0-9_.\-]+)", text)
    assert match, f"no {kind} link in:\n{text}"
    return match.group(1)


@pytest.fixture
def components(make_component: Callable[..., Any], session: Session) -> dict[str, Any]:
    made = {
        "api": make_component("API", group="Core"),
        "db": make_component("Database", group="Core"),
        "web": make_component("Website"),
        "hidden": make_component("Internal queue", is_public=False),
    }
    session.commit()
    return made


def subscriber_by_email(session: Session, address: str) -> Subscriber | None:
    session.expire_all()
    return session.scalar(sa.select(Subscriber).where(Subscriber.email == address.lower()))


def subscriber_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count(Subscriber.id))) or 0


def make_subscriber(
    session: Session,
    address: str = "confirmed@example.com",
    *,
    confirmed: datetime | None,
    **fields: Any,
) -> Subscriber:
    subscriber = Subscriber(email=address, confirmed_at=confirmed, **fields)
    session.add(subscriber)
    session.commit()
    return subscriber


def test_the_subscribe_page_lists_shown_components_by_group(
    client: FlaskClient, components: dict[str, Any]
) -> None:
    response = client.get("/subscribe")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<legend>Core</legend>" in page
    assert "All of Core" in page
    assert "<legend>Other components</legend>" in page
    for name in ("API", "Database", "Website"):
        assert f">{name}</label>" in page
    assert "Internal queue" not in page


def test_subscribe_confirm_manage_and_unsubscribe_the_whole_way(
    app: Flask,
    client: FlaskClient,
    session: Session,
    components: dict[str, Any],
    mail_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.post(
        "/subscribe",
        data={"email": f"  {ADDRESS} ", "scope": "some", "components": [components["web"].id]},
    )
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    subscriber = subscriber_by_email(session, ADDRESS)
    assert subscriber is not None and subscriber.confirmed_at is None
    assert subscriber.email == "reader@example.com"
    assert not subscriber.all_components
    assert [c.name for c in subscriber.components] == ["Website"]
    assert subscriber.confirmation_sent_at is not None

    [confirmation] = mails(mail_dir)
    assert confirmation["To"] == "reader@example.com"
    assert confirmation["Subject"] == "Confirm your subscription to Test Status"
    assert "List-Unsubscribe" not in confirmation  # nobody is subscribed yet
    assert "Website" in text_of(confirmation)
    confirm_path = link_path(text_of(confirmation), "subscribe/confirm")
    assert confirm_path == link_path(html_of(confirmation), "subscribe/confirm")

    # Following the link only shows a button: mail scanners follow links too.
    ask = client.get(confirm_path)
    assert ask.status_code == 200
    assert ask.headers["Cache-Control"] == "no-store"
    assert ask.headers["Referrer-Policy"] == "no-referrer"
    assert re.search(
        rf'<form method="post" action="{re.escape(confirm_path)}">',
        ask.get_data(as_text=True),
    )
    assert "Confirm my subscription</button>" in ask.get_data(as_text=True)
    assert subscriber_by_email(session, ADDRESS).confirmed_at is None

    page = client.post(confirm_path)
    assert page.status_code == 200
    assert "Your subscription is confirmed" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    confirmed_at = subscriber_by_email(session, ADDRESS).confirmed_at
    assert confirmed_at is not None

    again = client.post(confirm_path)  # idempotent: the button pressed twice
    assert again.status_code == 200
    assert "You are already subscribed" in again.get_data(as_text=True)
    assert subscriber_by_email(session, ADDRESS).confirmed_at == confirmed_at
    followed = client.get(confirm_path)  # and the link opened again says so, with no button
    assert "You are already subscribed" in followed.get_data(as_text=True)
    assert "<button" not in followed.get_data(as_text=True).split("<main", 1)[-1]

    found = re.search(r'href="(/subscription/[^"]+)"', page.get_data(as_text=True))
    assert found, "no manage link on the confirmation page"
    manage_path = found.group(1)
    manage = client.get(manage_path)
    assert manage.status_code == 200
    manage_page = manage.get_data(as_text=True)
    assert "r***@example.com" in manage_page
    assert "reader@example.com" not in manage_page
    assert re.search(rf'value="{components["web"].id}" checked', manage_page)

    saved = client.post(
        manage_path,
        data={
            "action": "save",
            "scope": "some",
            "groups": [components["api"].group_id],
            "components": [],
        },
    )
    assert saved.status_code == 302
    subscriber = subscriber_by_email(session, ADDRESS)
    assert [g.name for g in subscriber.groups] == ["Core"]
    assert subscriber.components == []
    assert "Your choices are saved." in client.get(manage_path).get_data(as_text=True)

    token = manage_path.rsplit("/", 1)[1]
    left = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert left.status_code == 200
    assert "You are unsubscribed" in left.get_data(as_text=True)
    assert subscriber_by_email(session, ADDRESS).unsubscribed_at is not None

    actions = session.scalars(
        sa.select(AuditEntry.action)
        .where(AuditEntry.entity_type == "subscriber", AuditEntry.entity_id == subscriber.id)
        .order_by(AuditEntry.id)
    ).all()
    assert actions == ["subscribed", "confirmed", "choices_changed", "unsubscribed"]
    # Log lines name subscribers by id, never by address.
    assert f"Subscriber {subscriber.id} confirmed" in caplog.text
    assert "reader@example.com" not in caplog.text.lower()


def test_one_click_unsubscribe_needs_no_cookie_nor_csrf_token_and_is_idempotent(
    csrf_client: FlaskClient, session: Session, now: datetime
) -> None:
    subscriber = make_subscriber(session, confirmed=now - timedelta(days=1))
    token = subscriptions.manage_token(SECRET, subscriber.id)
    # A mail client: no cookies at all, CSRF protection on in the app.
    mail_client = csrf_client.application.test_client(use_cookies=False)
    assert csrf_client.application.config["WTF_CSRF_ENABLED"] is True

    first = mail_client.post(
        f"/unsubscribe/{token}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert first.status_code == 200
    assert "Location" not in first.headers
    assert "Set-Cookie" not in first.headers
    session.expire_all()
    unsubscribed_at = session.get(Subscriber, subscriber.id).unsubscribed_at
    assert unsubscribed_at is not None

    second = mail_client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert second.status_code == 200
    assert "Set-Cookie" not in second.headers
    session.expire_all()
    assert session.get(Subscriber, subscriber.id).unsubscribed_at == unsubscribed_at


def test_get_on_the_unsubscribe_link_only_asks(
    client: FlaskClient, session: Session, now: datetime
) -> None:
    subscriber = make_subscriber(session, confirmed=now - timedelta(days=1))
    token = subscriptions.manage_token(SECRET, subscriber.id)
    for _ in range(2):  # a link scanner, then the reader
        page = client.get(f"/unsubscribe/{token}")
        assert page.status_code == 200
        assert f'action="/unsubscribe/{token}"' in page.get_data(as_text=True)
        assert 'method="post"' in page.get_data(as_text=True)
    session.expire_all()
    assert session.get(Subscriber, subscriber.id).active


def test_following_the_confirmation_link_only_asks_and_its_button_confirms(
    csrf_client: FlaskClient, session: Session, now: datetime
) -> None:
    """Mail scanners follow (GET, HEAD) every link in an email: that confirms nothing. The
    button posts to the same address; the signed token in it is the credential, so the POST
    needs no cookie nor CSRF token (the page may be opened in another browser than the one
    that subscribed)."""
    subscriber = make_subscriber(session, "asked@example.com", confirmed=None)
    path = f"/subscribe/confirm/{subscriptions.confirmation_token(SECRET, subscriber.id)}"
    scanner = csrf_client.application.test_client(use_cookies=False)
    for _ in range(3):
        assert scanner.get(path).status_code == 200
        assert scanner.head(path).status_code == 200
    session.expire_all()
    assert session.get(Subscriber, subscriber.id).confirmed_at is None
    assert not session.scalars(
        sa.select(AuditEntry).where(AuditEntry.entity_type == "subscriber")
    ).all()

    page = scanner.get(path).get_data(as_text=True)
    assert "Confirm your subscription" in page
    assert f'<form method="post" action="{path}">' in page

    confirmed = scanner.post(path)
    assert confirmed.status_code == 200
    assert "Your subscription is confirmed" in confirmed.get_data(as_text=True)
    assert "Set-Cookie" not in confirmed.headers
    session.expire_all()
    assert session.get(Subscriber, subscriber.id).confirmed_at is not None


def bad_token(kind: str, subscriber_id: int) -> str:
    return {
        "garbage": "not-a-token",
        "other secret": subscriptions.manage_token("some other secret", subscriber_id),
        "confirmation": subscriptions.confirmation_token(SECRET, subscriber_id),
        "manage": subscriptions.manage_token(SECRET, subscriber_id),
        "missing": subscriptions.manage_token(SECRET, subscriber_id + 1000),
        "other secret confirmation": subscriptions.confirmation_token("other", subscriber_id),
        "missing confirmation": subscriptions.confirmation_token(SECRET, subscriber_id + 1000),
    }[kind]


@pytest.mark.parametrize("kind", ["garbage", "other secret", "confirmation", "missing"])
def test_bad_manage_and_unsubscribe_tokens_are_404(
    client: FlaskClient, csrf_client: FlaskClient, session: Session, now: datetime, kind: str
) -> None:
    subscriber = make_subscriber(session, confirmed=now)
    token = bad_token(kind, subscriber.id)
    mail_client = csrf_client.application.test_client(use_cookies=False)
    assert mail_client.get(f"/unsubscribe/{token}").status_code == 404
    assert mail_client.post(f"/unsubscribe/{token}").status_code == 404
    assert client.get(f"/subscription/{token}").status_code == 404
    assert client.post(f"/subscription/{token}", data={"action": "unsubscribe"}).status_code == 404
    session.expire_all()
    assert session.get(Subscriber, subscriber.id).active


def test_the_manage_forms_need_their_csrf_token(
    csrf_client: FlaskClient, session: Session, now: datetime, components: dict[str, Any]
) -> None:
    subscriber = make_subscriber(session, confirmed=now - timedelta(days=1))
    path = f"/subscription/{subscriptions.manage_token(SECRET, subscriber.id)}"
    refused = csrf_client.post(path, data={"action": "unsubscribe"})
    assert refused.status_code == 400
    refused = csrf_client.post(path, data={"action": "save", "scope": "some"})
    assert refused.status_code == 400
    session.expire_all()
    assert session.get(Subscriber, subscriber.id).active
    assert session.get(Subscriber, subscriber.id).all_components

    page = csrf_client.get(path).get_data(as_text=True)
    token = csrf_token_from(page)
    saved = csrf_client.post(
        path,
        data={
            "csrf_token": token,
            "action": "save",
            "scope": "some",
            "components": [components["api"].id],
        },
    )
    assert saved.status_code == 302
    left = csrf_client.post(path, data={"leave-csrf_token": token, "action": "unsubscribe"})
    assert left.status_code == 302
    session.expire_all()
    subscriber = session.get(Subscriber, subscriber.id)
    assert [c.name for c in subscriber.components] == ["API"]
    assert subscriber.unsubscribed_at is not None
    after = csrf_client.get(path).get_data(as_text=True)
    assert "You are unsubscribed" in after
    assert "Save my choices" not in after


def test_the_subscribe_form_needs_its_csrf_token(
    csrf_client: FlaskClient, session: Session, components: dict[str, Any], tmp_path: Path
) -> None:
    use_mail_dir(csrf_client.application, tmp_path / "mail")
    refused = csrf_client.post("/subscribe", data={"email": "a@example.com", "scope": "all"})
    assert refused.status_code == 400
    assert subscriber_count(session) == 0
    token = csrf_token_from(csrf_client.get("/subscribe").get_data(as_text=True))
    accepted = csrf_client.post(
        "/subscribe", data={"email": "a@example.com", "scope": "all", "csrf_token": token}
    )
    assert accepted.status_code == 200
    assert subscriber_count(session) == 1


def test_the_page_is_the_same_for_new_and_confirmed_addresses(
    client: FlaskClient,
    session: Session,
    components: dict[str, Any],
    mail_dir: Path,
    now: datetime,
) -> None:
    known = make_subscriber(session, "known@example.com", confirmed=now - timedelta(days=3))
    known.all_components = True
    session.commit()
    choice = {"scope": "some", "components": [components["api"].id]}

    new = client.post("/subscribe", data={"email": "new@example.com", **choice})
    confirmed = client.post("/subscribe", data={"email": "KNOWN@example.com", **choice})
    assert new.status_code == confirmed.status_code == 200
    assert new.get_data() == confirmed.get_data()
    for response in (new, confirmed):
        body = response.get_data(as_text=True)
        assert "new@example.com" not in body and "known@example.com" not in body

    by_recipient = {message["To"]: message for message in mails(mail_dir)}
    assert set(by_recipient) == {"new@example.com", "known@example.com"}
    already = by_recipient["known@example.com"]
    assert already["Subject"] == "You are already subscribed to Test Status"
    assert "subscribe/confirm" not in text_of(already)
    manage_path = link_path(text_of(already), "subscription")
    token = manage_path.rsplit("/", 1)[1]
    # (Long header values are folded onto a continuation line: compare them unfolded.)
    assert already["List-Unsubscribe"].strip() == f"<http://localhost/unsubscribe/{token}>"
    assert already["List-Unsubscribe-Post"].strip() == "List-Unsubscribe=One-Click"
    # Whoever typed the address cannot change a confirmed subscription's choices.
    session.expire_all()
    known = session.get(Subscriber, known.id)
    assert known.all_components and known.components == []
    assert known.confirmed_at == now - timedelta(days=3)
    assert client.get(manage_path).status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "", "scope": "all"}, "This field is required."),
        ({"email": "not an address", "scope": "all"}, "Enter an email address"),
        ({"email": "a@localhost", "scope": "all"}, "Enter an email address"),
        ({"email": "Name <a@example.com>", "scope": "all"}, "Enter an email address"),
        ({"email": "a@example.com\r\nBcc: b@example.com", "scope": "all"}, "Enter an email"),
        ({"email": "ä@example.com", "scope": "all"}, "no accents"),
        ({"email": "a" * 250 + "@example.com", "scope": "all"}, "Field cannot be longer"),
        ({"email": "a@example.com", "scope": "some"}, "Choose all components, or at least"),
        ({"email": "a@example.com", "scope": "some", "components": ["x"]}, "Invalid choice"),
        ({"email": "a@example.com", "scope": "some", "components": ["424242"]}, "not a valid"),
        ({"email": "a@example.com", "scope": "everything"}, "Not a valid choice"),
    ],
)
def test_bad_input_is_refused_with_400_and_nothing_written(
    client: FlaskClient,
    session: Session,
    components: dict[str, Any],
    mail_dir: Path,
    data: dict[str, Any],
    message: str,
) -> None:
    response = client.post("/subscribe", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert subscriber_count(session) == 0
    assert mails(mail_dir) == []


def test_a_hidden_component_cannot_be_chosen(
    client: FlaskClient, session: Session, components: dict[str, Any]
) -> None:
    response = client.post(
        "/subscribe",
        data={"email": "a@example.com", "scope": "some", "components": components["hidden"].id},
    )
    assert response.status_code == 400
    assert subscriber_count(session) == 0


def test_an_expired_confirmation_link_asks_to_subscribe_again(
    client: FlaskClient, session: Session, now: datetime
) -> None:
    subscriber = make_subscriber(session, "late@example.com", confirmed=None)
    old = subscriptions.confirmation_token(
        SECRET, subscriber.id, now=now - timedelta(days=7, minutes=1)
    )
    for method in ("GET", "POST"):
        response = client.open(f"/subscribe/confirm/{old}", method=method)
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "This link has expired" in page
        assert "Subscribe again" in page
    session.expire_all()
    assert session.get(Subscriber, subscriber.id).confirmed_at is None

    recent = subscriptions.confirmation_token(SECRET, subscriber.id, now=now - timedelta(days=6))
    assert client.get(f"/subscribe/confirm/{recent}").status_code == 200
    session.expire_all()
    assert session.get(Subscriber, subscriber.id).confirmed_at is None
    assert client.post(f"/subscribe/confirm/{recent}").status_code == 200
    session.expire_all()
    assert session.get(Subscriber, subscriber.id).confirmed_at is not None


def test_the_confirmation_lifetime_comes_from_the_settings(
    app: Flask, client: FlaskClient, session: Session, now: datetime
) -> None:
    app.config["SUBSCRIPTION_CONFIRM_MAX_AGE"] = 3600
    subscriber = make_subscriber(session, "late@example.com", confirmed=None)
    token = subscriptions.confirmation_token(SECRET, subscriber.id, now=now - timedelta(hours=2))
    assert client.get(f"/subscribe/confirm/{token}").status_code == 400


@pytest.mark.parametrize(
    "kind", ["garbage", "manage", "other secret confirmation", "missing confirmation"]
)
def test_invalid_confirmation_links_are_400(
    client: FlaskClient, session: Session, kind: str
) -> None:
    subscriber = make_subscriber(session, "one@example.com", confirmed=None)
    for method in ("GET", "POST"):
        response = client.open(
            f"/subscribe/confirm/{bad_token(kind, subscriber.id)}", method=method
        )
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "This link is not valid" in page
        assert "Subscribe again" in page
    session.expire_all()
    assert session.get(Subscriber, subscriber.id).confirmed_at is None


def test_coming_back_after_unsubscribing_needs_a_new_confirmation(
    client: FlaskClient, session: Session, components: dict[str, Any], mail_dir: Path, now: datetime
) -> None:
    subscriber = make_subscriber(
        session, "back@example.com", confirmed=now - timedelta(days=30),
        unsubscribed_at=now - timedelta(days=2),
    )  # fmt: skip
    # A confirmation link from before the unsubscribe does not bring them back.
    stale = subscriptions.confirmation_token(SECRET, subscriber.id, now=now - timedelta(days=3))
    assert client.get(f"/subscribe/confirm/{stale}").status_code == 400
    assert client.post(f"/subscribe/confirm/{stale}").status_code == 400

    response = client.post("/subscribe", data={"email": "back@example.com", "scope": "all"})
    assert response.status_code == 200
    session.expire_all()
    assert not session.get(Subscriber, subscriber.id).active
    [confirmation] = mails(mail_dir)
    assert confirmation["Subject"].startswith("Confirm")
    assert client.post(link_path(text_of(confirmation), "subscribe/confirm")).status_code == 200
    session.expire_all()
    subscriber = session.get(Subscriber, subscriber.id)
    assert subscriber.active
    assert subscriber.confirmed_at > now - timedelta(minutes=5)  # a new confirmation time


def test_too_many_requests_from_one_ip_get_429(
    app: Flask, client: FlaskClient, session: Session, components: dict[str, Any], mail_dir: Path
) -> None:
    app.config["SUBSCRIBE_IP_LIMIT"] = 2
    for n in range(2):
        ok = client.post("/subscribe", data={"email": f"a{n}@example.com", "scope": "all"})
        assert ok.status_code == 200
    limited = client.post("/subscribe", data={"email": "a9@example.com", "scope": "all"})
    assert limited.status_code == 429
    assert "Too many attempts" in limited.get_data(as_text=True)
    assert limited.headers["Retry-After"] == "3600"
    assert subscriber_count(session) == 2
    assert len(mails(mail_dir)) == 2
    # Another client address is not held back.
    other = client.post(
        "/subscribe",
        data={"email": "b@example.com", "scope": "all"},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert other.status_code == 200


def test_too_many_requests_for_one_address_send_no_more_email_but_look_the_same(
    app: Flask, client: FlaskClient, session: Session, components: dict[str, Any], mail_dir: Path
) -> None:
    app.config["SUBSCRIBE_ADDRESS_LIMIT"] = 2
    answers = [
        client.post(
            "/subscribe",
            data={"email": "victim@example.com", "scope": "all"},
            environ_base={"REMOTE_ADDR": f"192.0.2.{n}"},
        )
        for n in range(4)
    ]
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.get_data() for answer in answers}) == 1
    assert len(mails(mail_dir)) == 2
    assert subscriber_count(session) == 1


def test_the_request_only_queues_the_email(
    client: FlaskClient,
    session: Session,
    components: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The page never waits for a mail server: the email is a task for the worker."""
    from statuspage.worker import subscriptions as subscription_tasks

    queued: list[tuple[int, str]] = []
    monkeypatch.setattr(
        subscription_tasks,
        "send_subscription_email_task",
        lambda subscriber_id, kind: queued.append((subscriber_id, kind)),
    )
    response = client.post("/subscribe", data={"email": "q@example.com", "scope": "all"})
    assert response.status_code == 200
    subscriber = subscriber_by_email(session, "q@example.com")
    assert queued == [(subscriber.id, "confirm")]
    assert subscriber.confirmation_sent_at is None  # not sent in the request


def test_the_manage_page_refuses_an_empty_choice_and_keeps_the_old_one(
    client: FlaskClient, session: Session, now: datetime, components: dict[str, Any]
) -> None:
    subscriber = make_subscriber(session, confirmed=now - timedelta(days=1))
    path = f"/subscription/{subscriptions.manage_token(SECRET, subscriber.id)}"
    response = client.post(path, data={"action": "save", "scope": "some"})
    assert response.status_code == 400
    assert "Choose all components, or at least one component or group." in response.get_data(
        as_text=True
    )
    session.expire_all()
    assert session.get(Subscriber, subscriber.id).all_components


def test_behind_a_proxy_the_limit_counts_the_forwarded_client_address(
    components: dict[str, Any], database_url: str, mail_dir: Path, tmp_path: Path
) -> None:
    from tests.conftest import make_app

    proxied = make_app(
        database_url,
        PROXY_FIX_X_FOR=1,
        SUBSCRIBE_IP_LIMIT=1,
        RATELIMIT_PREFIX=f"proxy-test-{tmp_path.name}",
    )
    try:
        use_mail_dir(proxied, tmp_path / "proxied-mail")
        client = proxied.test_client()

        def subscribe(address: str, client_ip: str) -> int:
            return client.post(
                "/subscribe",
                data={"email": address, "scope": "all"},
                headers={"X-Forwarded-For": client_ip},
            ).status_code

        assert subscribe("a@example.com", "198.51.100.1") == 200
        assert subscribe("b@example.com", "198.51.100.2") == 200  # another client
        assert subscribe("c@example.com", "198.51.100.1") == 429  # the first one, again
    finally:
        from statuspage.extensions import db

        with proxied.app_context():
            db.engine.dispose()
