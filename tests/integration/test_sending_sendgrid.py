"""The SendGrid batch transport, through the official client, against a loopback fake of v3."""

from __future__ import annotations

import json
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
from sendgrid import SendGridAPIClient

from statuspage.mail.sendgrid import RATE_LIMIT_MAX_WAIT_SECONDS, SendGridTransport
from statuspage.mail.transports import (
    MANAGE_URL_TOKEN,
    DeliveryError,
    OutgoingBatch,
    Recipient,
    transport_from_config,
)
from tests.fakes.sendgrid_server import FakeSendGrid

NOW = 1_780_000_000.0  # the transport's clock in these tests (a Unix time)


def recipients(count: int, start: int = 0) -> list[Recipient]:
    return [
        Recipient(
            email=f"user{number}@example.com",
            manage_url=f"https://status.example.com/subscription/tok{number}",
            unsubscribe_url=f"https://status.example.com/unsubscribe/tok{number}",
        )
        for number in range(start, start + count)
    ]


def batch_of(people: list[Recipient], **overrides: str) -> OutgoingBatch:
    fields = {
        "sender": "Example Status <status@example.com>",
        "subject": "[Investigating] API errors",
        "text": f"We are looking into it.\nManage: {MANAGE_URL_TOKEN}\n",
        "html": f'<p>We are looking into it.</p><a href="{MANAGE_URL_TOKEN}">Manage</a>',
    }
    fields.update(overrides)
    return OutgoingBatch(recipients=people, **fields)


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as fake:
        yield fake


def transport_for(fake: FakeSendGrid, **options: float) -> SendGridTransport:
    return SendGridTransport(
        fake.api_key, host=fake.url, timeout=options.pop("timeout", 5.0), clock=lambda: NOW
    )


def refused_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_one_request_with_one_personalization_per_recipient(sendgrid: FakeSendGrid) -> None:
    people = recipients(3)
    result = transport_for(sendgrid).send_batch(
        batch_of(people, subject="[Investigating] API\r\nBcc: evil@example.net errors")
    )

    (request,) = sendgrid.requests
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.headers["Authorization"] == f"Bearer {sendgrid.api_key}"
    assert result.sent == 3
    assert result.message_id == request.message_id and result.message_id
    body = request.body
    assert body["from"] == {"email": "status@example.com", "name": "Example Status"}
    assert body["subject"] == "[Investigating] API Bcc: evil@example.net errors"
    assert [part["type"] for part in body["content"]] == ["text/plain", "text/html"]
    assert MANAGE_URL_TOKEN in body["content"][0]["value"]
    assert MANAGE_URL_TOKEN in body["content"][1]["value"]
    # SendGrid must not rewrite our links nor add its own unsubscribe header.
    tracking = body["tracking_settings"]
    assert tracking["click_tracking"]["enable"] is False
    assert tracking["subscription_tracking"]["enable"] is False
    assert len(request.personalizations) == 3
    for person, personalization in zip(people, request.personalizations, strict=True):
        assert personalization["to"] == [{"email": person.email}]
        assert personalization["substitutions"] == {MANAGE_URL_TOKEN: person.manage_url}
        assert personalization["headers"] == {
            "List-Unsubscribe": f"<{person.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }


def test_a_full_batch_is_one_request_and_a_larger_one_is_refused(sendgrid: FakeSendGrid) -> None:
    transport = transport_for(sendgrid)
    assert transport.max_batch == 1000

    result = transport.send_batch(batch_of(recipients(1000)))
    assert result.sent == 1000
    (request,) = sendgrid.requests
    assert request.status == 202
    assert len(request.recipients) == len(set(request.recipients)) == 1000
    assert all(len(p["to"]) == 1 for p in request.personalizations)

    with pytest.raises(ValueError, match="1001"):
        transport.send_batch(batch_of(recipients(1001)))
    with pytest.raises(ValueError):
        transport.send_batch(batch_of([]))
    assert len(sendgrid.requests) == 1


def test_unusable_addresses_are_left_out_not_sent_to(sendgrid: FakeSendGrid) -> None:
    good = recipients(2)
    bad = Recipient(
        email="two words@example.com",
        manage_url="https://status.example.com/subscription/x",
        unsubscribe_url="https://status.example.com/unsubscribe/x",
    )
    result = transport_for(sendgrid).send_batch(batch_of([good[0], bad, good[1]]))
    assert result.sent == 2
    assert sendgrid.requests[0].recipients == (good[0].email, good[1].email)

    with pytest.raises(DeliveryError) as caught:
        transport_for(sendgrid).send_batch(batch_of([bad]))
    assert caught.value.retryable is False
    assert len(sendgrid.requests) == 1  # nothing was sent for the hopeless batch


@pytest.mark.parametrize(
    "url",
    [
        "https://status.example.com/x>, <https://evil.example.net/",
        "https://status.example.com/x\r\nBcc: evil@example.net",
        'https://status.example.com/x"onclick="alert(1)',
        "javascript:alert(1)",
    ],
)
def test_recipient_links_must_be_plain_urls(url: str) -> None:
    with pytest.raises(ValueError):
        Recipient(email="a@example.com", manage_url=url, unsubscribe_url="https://e.com/u")
    with pytest.raises(ValueError):
        Recipient(email="a@example.com", manage_url="https://e.com/m", unsubscribe_url=url)


def test_a_wrong_key_gets_401_and_the_reason_never_holds_a_key(sendgrid: FakeSendGrid) -> None:
    wrong_key = "SG.wrong-key-that-must-stay-secret"
    transport = SendGridTransport(wrong_key, host=sendgrid.url, timeout=5)
    with pytest.raises(DeliveryError) as caught:
        transport.send_batch(batch_of(recipients(2)))
    error = caught.value
    assert (error.status, error.retryable, error.delivered) == (401, False, 0)
    assert "authorization grant is invalid" in error.reason
    assert wrong_key not in error.reason and wrong_key not in repr(error)
    assert wrong_key not in repr(transport)
    (request,) = sendgrid.requests
    assert request.status == 401
    assert request.headers["Authorization"] == f"Bearer {wrong_key}"


def test_a_request_sendgrid_finds_invalid_is_a_400_with_its_reason(
    sendgrid: FakeSendGrid,
) -> None:
    # A subject of nothing but line breaks is empty once made safe: SendGrid refuses it.
    with pytest.raises(DeliveryError) as caught:
        transport_for(sendgrid).send_batch(batch_of(recipients(1), subject="\r\n"))
    error = caught.value
    assert (error.status, error.retryable, error.retry_after) == (400, False, None)
    assert "The subject is required." in error.reason
    assert "(field: subject)" in error.reason
    assert sendgrid.requests[0].status == 400


@pytest.mark.parametrize("status", [400, 403])
def test_scripted_client_errors_are_not_retryable(sendgrid: FakeSendGrid, status: int) -> None:
    sendgrid.respond_with(
        status,
        {
            "errors": [
                {
                    "message": "The from address does not match a verified Sender Identity.",
                    "field": "from",
                    "help": None,
                },
                {"message": "Second problem", "field": None, "help": None},
            ]
        },
    )
    with pytest.raises(DeliveryError) as caught:
        transport_for(sendgrid).send_batch(batch_of(recipients(2)))
    error = caught.value
    assert (error.status, error.retryable, error.delivered) == (status, False, 0)
    assert "does not match a verified Sender Identity. (field: from)" in error.reason
    assert "Second problem" in error.reason
    # The request did arrive whole: the refusal was SendGrid's decision, not a transport fault.
    assert len(sendgrid.requests[0].personalizations) == 2


def test_a_body_over_the_size_limit_is_413_and_not_retried() -> None:
    with FakeSendGrid(max_body_bytes=4_000) as sendgrid:
        with pytest.raises(DeliveryError) as caught:
            transport_for(sendgrid).send_batch(batch_of(recipients(50)))
        (request,) = sendgrid.requests
    error = caught.value
    assert (error.status, error.retryable) == (413, False)
    assert "payload you have included in your request is too large" in error.reason
    assert request.status == 413 and request.size > 4_000


@pytest.mark.parametrize(
    ("reset", "expected"),
    [
        (str(int(NOW) + 7), 7.0),
        (str(int(NOW) - 30), 0.0),  # already past: try again now
        (str(int(NOW) + 86_400), RATE_LIMIT_MAX_WAIT_SECONDS),  # absurd: capped
        ("soon", None),  # unreadable: delivery backs off on its own
        (None, None),
    ],
)
def test_429_is_retryable_after_the_rate_limit_reset(
    sendgrid: FakeSendGrid, reset: str | None, expected: float | None
) -> None:
    headers = {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0"}
    if reset is not None:
        headers["X-RateLimit-Reset"] = reset
    sendgrid.respond_with(
        429, {"errors": [{"field": None, "message": "too many requests"}]}, headers
    )
    with pytest.raises(DeliveryError) as caught:
        transport_for(sendgrid).send_batch(batch_of(recipients(3)))
    error = caught.value
    assert (error.status, error.retryable, error.retry_after) == (429, True, expected)
    assert "too many requests" in error.reason


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (429, {"Retry-After": "2"}, 2.0),
        # Retry-After wins over the reset time.
        (429, {"Retry-After": "2", "X-RateLimit-Reset": str(int(NOW) + 60)}, 2.0),
        (503, {"Retry-After": "120"}, 120.0),
        (503, {"Retry-After": formatdate(NOW + 30, usegmt=True)}, 30.0),  # an HTTP date
        (503, {"Retry-After": formatdate(NOW - 30, usegmt=True)}, 0.0),
        (503, {"Retry-After": "86400"}, RATE_LIMIT_MAX_WAIT_SECONDS),
        (503, {"Retry-After": "tomorrow"}, None),
        (502, {"X-RateLimit-Reset": str(int(NOW) + 5)}, 5.0),
    ],
)
def test_retry_after_names_the_wait_in_seconds_or_as_a_date(
    sendgrid: FakeSendGrid, status: int, headers: dict[str, str], expected: float | None
) -> None:
    sendgrid.respond_with(status, {"errors": [{"message": "busy"}]}, headers)
    with pytest.raises(DeliveryError) as caught:
        transport_for(sendgrid).send_batch(batch_of(recipients(1)))
    error = caught.value
    assert (error.status, error.retryable) == (status, True)
    assert error.retry_after == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(sendgrid: FakeSendGrid, status: int) -> None:
    sendgrid.respond_with(status, "<html>upstream trouble</html>")
    with pytest.raises(DeliveryError) as caught:
        transport_for(sendgrid).send_batch(batch_of(recipients(2)))
    error = caught.value
    assert (error.status, error.retryable, error.retry_after) == (status, True, None)
    assert "upstream trouble" in error.reason
    # The next request goes through as usual: the scripted answer was used once.
    assert transport_for(sendgrid).send_batch(batch_of(recipients(2))).sent == 2


def test_a_slow_answer_past_the_timeout_is_retryable(sendgrid: FakeSendGrid) -> None:
    sendgrid.respond_with(202, delay=1.0)
    transport = transport_for(sendgrid, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        transport.send_batch(batch_of(recipients(2)))
    elapsed = time.monotonic() - started
    error = caught.value
    assert (error.retryable, error.status, error.delivered) == (True, None, 0)
    assert "did not answer within 0.3 s" in error.reason
    assert 0.25 <= elapsed < 0.9
    assert len(sendgrid.requests) == 1


def test_a_default_delay_slows_every_answer() -> None:
    with FakeSendGrid(delay=0.2) as sendgrid:
        started = time.monotonic()
        transport_for(sendgrid).send_batch(batch_of(recipients(1)))
        assert time.monotonic() - started >= 0.2


def test_a_refused_connection_is_retryable() -> None:
    transport = SendGridTransport(
        "SG.some-key", host=f"http://127.0.0.1:{refused_port()}", timeout=2
    )
    with pytest.raises(DeliveryError) as caught:
        transport.send_batch(batch_of(recipients(1)))
    error = caught.value
    assert (error.retryable, error.status, error.delivered) == (True, None, 0)
    assert "could not reach SendGrid" in error.reason
    assert "SG.some-key" not in error.reason


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(
            f"{record.name} {record.levelname} {record.getMessage()} {record.args!r}"
            for record in self.records
        )


@pytest.fixture
def debug_logging() -> Iterator[Capture]:
    """The root logger at DEBUG with a capturing handler; the HTTP client's logger reset."""
    root = logging.getLogger()
    http_logger = logging.getLogger("python_http_client.client")
    saved = (root.level, http_logger.level, list(http_logger.filters), http_logger.disabled)
    capture = Capture()
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    # DEBUG explicitly: an ancestor logger may have been set to INFO by an earlier test.
    http_logger.setLevel(logging.DEBUG)
    # Alembic's fileConfig (run by the migration tests) disables loggers that exist already.
    http_logger.disabled = False
    for existing in list(http_logger.filters):
        http_logger.removeFilter(existing)
    yield capture
    root.removeHandler(capture)
    root.setLevel(saved[0])
    http_logger.setLevel(saved[1])
    for existing in list(http_logger.filters):
        http_logger.removeFilter(existing)
    for kept in saved[2]:
        http_logger.addFilter(kept)
    http_logger.disabled = saved[3]


def test_the_api_key_never_reaches_the_logs(sendgrid: FakeSendGrid, debug_logging: Capture) -> None:
    # The hazard is real: the bare client, left alone, logs the Authorization header.
    SendGridAPIClient(sendgrid.api_key, host=sendgrid.url).send(
        {
            "from": {"email": "status@example.com"},
            "subject": "x",
            "personalizations": [{"to": [{"email": "a@example.com"}]}],
            "content": [{"type": "text/plain", "value": "x"}],
        }
    )
    assert sendgrid.api_key in debug_logging.text()
    debug_logging.records.clear()

    transport = transport_for(sendgrid)
    http_logger = logging.getLogger("python_http_client.client")
    assert http_logger.getEffectiveLevel() >= logging.INFO
    transport.send_batch(batch_of(recipients(2)))
    # Even a logging configuration loaded later that lowers the level again lets nothing out.
    http_logger.setLevel(logging.DEBUG)
    sendgrid.respond_with(400, {"errors": [{"message": "nope", "field": None}]})
    with pytest.raises(DeliveryError):
        transport.send_batch(batch_of(recipients(2)))
    wrong = SendGridTransport("SG.another-secret-key", host=sendgrid.url, timeout=5)
    with pytest.raises(DeliveryError):
        wrong.send_batch(batch_of(recipients(1)))

    logged = debug_logging.text()
    assert "SendGrid accepted 2 message(s)" in logged  # the capture does see our records
    assert sendgrid.api_key not in logged
    assert "SG.another-secret-key" not in logged
    assert "Authorization" not in logged
    assert not [r for r in debug_logging.records if r.name.startswith("python_http_client")]
    assert len(sendgrid.requests) == 4


def test_configuration_picks_sendgrid_and_needs_a_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SENDGRID_API_KEY"):
        transport_from_config({"MAIL_TRANSPORT": "sendgrid"}, instance_path=tmp_path)
    transport = transport_from_config(
        {
            "MAIL_TRANSPORT": "sendgrid",
            "SENDGRID_API_KEY": "SG.configured-key",
            "SENDGRID_TIMEOUT": "2.5",
        },
        instance_path=tmp_path,
    )
    assert isinstance(transport, SendGridTransport)
    assert (transport.host, transport.timeout) == ("https://api.sendgrid.com", 2.5)
    assert transport._client.client.timeout == 2.5
    assert "SG.configured-key" not in repr(transport)
    for bad in ({"SENDGRID_TIMEOUT": "soon"}, {"SENDGRID_TIMEOUT": "0"}):
        with pytest.raises(ValueError, match="SENDGRID_TIMEOUT"):
            transport_from_config(
                {"MAIL_TRANSPORT": "sendgrid", "SENDGRID_API_KEY": "k", **bad},
                instance_path=tmp_path,
            )
    # The key would cross the network in clear text.
    with pytest.raises(ValueError, match="https"):
        transport_from_config(
            {
                "MAIL_TRANSPORT": "sendgrid",
                "SENDGRID_API_KEY": "k",
                "SENDGRID_API_HOST": "http://sendgrid.example.com",
            },
            instance_path=tmp_path,
        )


def post_raw(fake: FakeSendGrid, data: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - the loopback fake
        fake.url + "/v3/mail/send",
        data=data,
        headers={"Authorization": f"Bearer {fake.api_key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, {}
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_the_fake_refuses_what_sendgrid_refuses(sendgrid: FakeSendGrid) -> None:
    status, body = post_raw(sendgrid, b"{not json")
    assert status == 400 and body["errors"][0]["message"]
    too_many = {
        "from": {"email": "status@example.com"},
        "subject": "x",
        "content": [{"type": "text/plain", "value": "x"}],
        "personalizations": [{"to": [{"email": f"u{n}@example.com"}]} for n in range(1001)],
    }
    status, body = post_raw(sendgrid, json.dumps(too_many).encode())
    assert status == 400 and body["errors"][0]["field"] == "personalizations"
    too_many["personalizations"] = []
    status, body = post_raw(sendgrid, json.dumps(too_many).encode())
    assert status == 400 and body["errors"][0]["field"] == "personalizations"
    assert [request.status for request in sendgrid.requests] == [400, 400, 400]


def test_single_messages_go_through_sendgrid_one_personalization_each(
    sendgrid: FakeSendGrid, tmp_path: Path
) -> None:
    from statuspage.mail.mailer import Mailer
    from statuspage.mail.message import build_message
    from statuspage.mail.transports import transport_from_config

    transport = transport_from_config(
        {
            "MAIL_TRANSPORT": "sendgrid",
            "SENDGRID_API_KEY": sendgrid.api_key,
            "SENDGRID_API_HOST": sendgrid.url,
        },
        instance_path=tmp_path,
    )
    mailer = Mailer(transport, sender="Status <status@example.com>", site_url="https://s.example")
    message = build_message(
        sender=mailer.sender,
        to=["a@example.com", "b@example.com"],
        subject="Confirm\r\nBcc: x@example.com",
        text="plain words",
        html="<p>html words</p>",
        automatic=True,
    )
    message["List-Unsubscribe"] = "<https://s.example/unsubscribe/t>"
    mailer.send(message)

    [request] = sendgrid.requests
    body = request.body
    assert [p["to"] for p in body["personalizations"]] == [
        [{"email": "a@example.com"}],
        [{"email": "b@example.com"}],
    ]
    headers = body["personalizations"][0]["headers"]
    assert headers["List-Unsubscribe"] == "<https://s.example/unsubscribe/t>"
    assert headers["Auto-Submitted"] == "auto-generated"
    assert body["subject"] == "Confirm Bcc: x@example.com"
    assert body["from"] == {"email": "status@example.com", "name": "Status"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert "plain words" in body["content"][0]["value"]

    sendgrid.respond_with(401, {"errors": [{"message": "bad key", "field": None}]})
    with pytest.raises(DeliveryError) as refused:
        mailer.send(message)
    assert refused.value.retryable is False and refused.value.status == 401
