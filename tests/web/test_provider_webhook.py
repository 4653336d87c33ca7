"""The SendGrid Event Webhook: signed like SendGrid signs it, with a real ECDSA P-256 key pair."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from statuspage.core.models import AuditEntry
from statuspage.notifications.models import ProviderEvent, Subscriber

URL = "/webhooks/sendgrid/events"


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_key_text(key: ec.EllipticCurvePrivateKey) -> str:
    """The verification key as SendGrid shows it: base64 of the DER SubjectPublicKeyInfo."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def sign(key: ec.EllipticCurvePrivateKey, timestamp: str, payload: bytes) -> str:
    return base64.b64encode(
        key.sign(timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
    ).decode()


@pytest.fixture
def key(app: Any) -> ec.EllipticCurvePrivateKey:
    private = new_key()
    app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"] = public_key_text(private)
    return private


@pytest.fixture
def subscriber(session: Any, now: datetime) -> Subscriber:
    row = Subscriber(email="reader@example.com", confirmed_at=now - timedelta(days=1))
    session.add(row)
    session.commit()
    return row


def post(
    client: Any,
    key: ec.EllipticCurvePrivateKey,
    events: Any,
    *,
    timestamp: str | None = None,
    body: bytes | None = None,
    signature: str | None = None,
) -> Any:
    payload = body if body is not None else json.dumps(events).encode()
    stamp = timestamp or str(int(time.time()))
    return client.post(
        URL,
        data=payload,
        content_type="application/json",
        headers={
            "X-Twilio-Email-Event-Webhook-Signature": signature or sign(key, stamp, payload),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        },
    )


def event(kind: str, event_id: str, email: str = "Reader@Example.com", **extra: Any) -> dict:
    return {"email": email, "event": kind, "sg_event_id": event_id, "timestamp": 1, **extra}


def suppressed(session: Any, subscriber: Subscriber) -> tuple[Any, str]:
    session.expire_all()
    row = session.get(Subscriber, subscriber.id)
    return row.suppressed_at, row.suppressed_reason


@pytest.mark.parametrize("kind", ["bounce", "dropped", "spamreport", "unsubscribe"])
def test_a_signed_event_suppresses_the_subscriber(
    client: Any, session: Any, key: Any, subscriber: Subscriber, kind: str
) -> None:
    response = post(client, key, [event(kind, f"ev-{kind}")])
    assert response.status_code == 200, response.get_data(as_text=True)
    at, reason = suppressed(session, subscriber)
    assert at is not None and reason == kind
    assert session.scalar(sa.select(ProviderEvent.subscriber_id)) == subscriber.id
    audit = session.scalar(sa.select(AuditEntry).where(AuditEntry.entity_type == "subscriber"))
    assert audit.action == "suppressed" and audit.entity_id == subscriber.id


def test_a_signed_key_given_as_pem_works_too(
    app: Any, client: Any, session: Any, subscriber: Subscriber
) -> None:
    private = new_key()
    app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"] = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert post(client, private, [event("bounce", "pem-1")]).status_code == 200
    assert suppressed(session, subscriber)[0] is not None


def test_a_repeated_event_is_applied_once(
    client: Any, session: Any, key: Any, subscriber: Subscriber
) -> None:
    assert post(client, key, [event("bounce", "same-id")]).status_code == 200
    first_at, _ = suppressed(session, subscriber)
    # The subscriber is reactivated by hand; SendGrid redelivers the same event.
    session.get(Subscriber, subscriber.id).suppressed_at = None
    session.commit()
    again = post(client, key, [event("bounce", "same-id"), event("bounce", "same-id")])
    assert again.status_code == 200
    assert again.get_json() == {"suppressed": 0, "repeated": 2}
    assert suppressed(session, subscriber)[0] is None  # the repeat did nothing
    assert session.scalar(sa.select(sa.func.count(ProviderEvent.id))) == 1
    assert first_at is not None


def test_other_events_and_unknown_addresses_are_accepted_and_ignored(
    client: Any, session: Any, key: Any, subscriber: Subscriber
) -> None:
    response = post(
        client,
        key,
        [
            event("delivered", "d-1"),
            event("open", "o-1"),
            event("bounce", "b-blocked", type="blocked"),  # temporary: not suppressed
            event("bounce", "b-other", email="stranger@example.com"),
        ],
    )
    assert response.status_code == 200
    assert suppressed(session, subscriber)[0] is None
    assert session.scalars(sa.select(ProviderEvent.event_id)).all() == ["b-other"]


def test_a_tampered_body_is_refused_and_nothing_written(
    client: Any, session: Any, key: Any, subscriber: Subscriber
) -> None:
    stamp = str(int(time.time()))
    signed = json.dumps([event("delivered", "x-1")]).encode()
    tampered = json.dumps([event("bounce", "x-1")]).encode()
    response = post(
        client, key, None, timestamp=stamp, body=tampered, signature=sign(key, stamp, signed)
    )
    assert response.status_code == 403
    assert suppressed(session, subscriber)[0] is None
    assert session.scalar(sa.select(sa.func.count(ProviderEvent.id))) == 0


def test_a_signature_from_another_key_is_refused(
    client: Any, session: Any, key: Any, subscriber: Subscriber
) -> None:
    response = post(client, new_key(), [event("bounce", "w-1")])
    assert response.status_code == 403
    assert suppressed(session, subscriber)[0] is None


@pytest.mark.parametrize(
    "signature",
    ["not base64 at all!!", "AAAA", base64.b64encode(b"\x30\x02\x01").decode(), "=="],
)
def test_a_malformed_signature_is_refused_not_a_server_error(
    client: Any, session: Any, key: Any, subscriber: Subscriber, signature: str
) -> None:
    response = post(client, key, [event("bounce", "m-1")], signature=signature)
    assert response.status_code == 403
    assert suppressed(session, subscriber)[0] is None


@pytest.mark.parametrize("age", [timedelta(minutes=11), timedelta(minutes=-6)])
def test_a_stale_or_future_timestamp_is_refused_even_with_a_valid_signature(
    client: Any, session: Any, key: Any, subscriber: Subscriber, age: timedelta
) -> None:
    stamp = str(int(time.time() - age.total_seconds()))
    response = post(client, key, [event("bounce", "s-1")], timestamp=stamp)
    assert response.status_code == 403
    assert suppressed(session, subscriber)[0] is None


def test_missing_headers_or_key_are_refused(app: Any, client: Any, key: Any) -> None:
    assert client.post(URL, data=b"[]", content_type="application/json").status_code == 403
    stamp = str(int(time.time()))
    no_stamp = client.post(
        URL,
        data=b"[]",
        headers={"X-Twilio-Email-Event-Webhook-Signature": sign(key, stamp, b"[]")},
    )
    assert no_stamp.status_code == 403
    assert post(client, key, [], timestamp="yesterday").status_code == 403
    app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"] = ""
    assert post(client, key, []).status_code == 403
    app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"] = "bm90IGEga2V5"  # base64 of "not a key"
    assert post(client, key, []).status_code == 403


@pytest.mark.parametrize(
    "body", [b"{not json", b'{"event": "bounce"}', b'["a string"]', b"\xff\xfe"]
)
def test_a_signed_body_that_is_not_a_list_of_events_is_a_400(
    client: Any, session: Any, key: Any, body: bytes
) -> None:
    response = post(client, key, None, body=body)
    assert response.status_code == 400
    assert session.scalar(sa.select(sa.func.count(ProviderEvent.id))) == 0


def test_the_webhook_needs_no_csrf_token(csrf_client: Any, app: Any) -> None:
    private = new_key()
    csrf_client.application.config["SENDGRID_WEBHOOK_PUBLIC_KEY"] = public_key_text(private)
    assert post(csrf_client, private, [event("open", "c-1")]).status_code == 200
