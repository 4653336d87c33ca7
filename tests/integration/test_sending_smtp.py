"""The SMTP batch transport against a real local SMTP server (aiosmtpd), messages parsed back."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from statuspage.mail.transports import (
    MANAGE_URL_TOKEN,
    DeliveryError,
    OutgoingBatch,
    Recipient,
    SmtpTransport,
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def recipients(count: int) -> list[Recipient]:
    return [
        Recipient(
            email=f"user{number}@example.com",
            manage_url=f"https://status.example.com/subscription/tok{number}",
            unsubscribe_url=f"https://status.example.com/unsubscribe/tok{number}",
        )
        for number in range(count)
    ]


def batch_of(people: list[Recipient], **overrides: str) -> OutgoingBatch:
    fields = {
        "sender": "Example Status <status@example.com>",
        "subject": "[Investigating] API errors",
        "text": f"We are looking into it.\nManage your subscription: {MANAGE_URL_TOKEN}\n",
        "html": f'<p>We are looking into it.</p><p><a href="{MANAGE_URL_TOKEN}">Manage</a></p>',
    }
    fields.update(overrides)
    return OutgoingBatch(recipients=people, **fields)


class Sink:
    """Keeps every message; answers RCPT for chosen addresses with a chosen refusal."""

    def __init__(self, refuse: dict[str, str] | None = None, data_answers: list[str] | None = None):
        self.refuse = refuse or {}
        # Answers to DATA, in order, before the usual "250": e.g. a temporary failure part-way.
        self.data_answers = list(data_answers or [])
        self.envelopes: list[Any] = []
        self.peers: list[Any] = []

    async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.data_answers:
            answer = self.data_answers.pop(0)
            if answer == "hang up":  # took the message, then the connection dies unanswered
                self.envelopes.append(envelope)
                server.transport.close()
                return "250 never heard"
            if not answer.startswith("250"):
                return answer
        self.envelopes.append(envelope)
        self.peers.append(session.peer)
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        return [
            message_from_bytes(envelope.original_content, policy=policy.default)
            for envelope in self.envelopes
        ]


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[Sink, int]]]:
    from aiosmtpd.controller import Controller

    controllers: list[Any] = []

    def start(sink: Sink | None = None, **options: Any) -> tuple[Sink, int]:
        sink = sink or Sink()
        port = free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return sink, port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server, client) contexts: a certificate for 127.0.0.1 from a test authority."""
    import trustme

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    return server_context, client_context


def plain(port: int, **options: Any) -> SmtpTransport:
    return SmtpTransport(host="127.0.0.1", port=port, starttls=False, timeout=5, **options)


def test_one_message_per_recipient_over_starttls_and_login(
    smtp_server: Callable[..., tuple[Sink, int]], tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    server_context, client_context = tls

    def authenticate(server, session, envelope, mechanism, data):  # type: ignore[no-untyped-def]
        good = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"status",
            b"s3cret-password",
        )
        return AuthResult(success=good and session.ssl is not None)

    sink, port = smtp_server(
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=True,
    )
    transport = SmtpTransport(
        host="127.0.0.1",
        port=port,
        username="status",
        password="s3cret-password",
        starttls=True,
        timeout=5,
        ssl_context=client_context,
    )
    people = recipients(3)
    result = transport.send_batch(
        batch_of(people, subject="[Investigating] API\r\nBcc: evil@example.net errors")
    )

    assert result.sent == 3 and result.message_id
    assert len(set(sink.peers)) == 1  # one connection for the whole batch
    assert [envelope.rcpt_tos for envelope in sink.envelopes] == [[p.email] for p in people]
    message_ids = set()
    for person, message in zip(people, sink.messages(), strict=True):
        assert [address.addr_spec for address in message["To"].addresses] == [person.email]
        assert message["Cc"] is None and message["Bcc"] is None
        assert message["From"] == "Example Status <status@example.com>"
        assert message["Subject"] == "[Investigating] API Bcc: evil@example.net errors"
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["List-Unsubscribe"] == f"<{person.unsubscribe_url}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.get_content_type() == "multipart/alternative"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert f"Manage your subscription: {person.manage_url}" in text
        assert f'<a href="{person.manage_url}">Manage</a>' in html
        assert MANAGE_URL_TOKEN not in text and MANAGE_URL_TOKEN not in html
        assert result.message_id in message["Message-ID"]
        message_ids.add(message["Message-ID"])
    assert len(message_ids) == 3


def test_a_temporary_refusal_part_way_reports_what_was_delivered(
    smtp_server: Callable[..., tuple[Sink, int]],
) -> None:
    people = recipients(5)
    sink, port = smtp_server(Sink(refuse={people[2].email: "451 4.3.0 Try again later"}))
    with pytest.raises(DeliveryError) as caught:
        plain(port).send_batch(batch_of(people))
    error = caught.value
    assert (error.retryable, error.status, error.delivered) == (True, 451, 2)
    assert "Try again later" in error.reason
    assert [envelope.rcpt_tos for envelope in sink.envelopes] == [
        [people[0].email],
        [people[1].email],
    ]

    # The caller resumes at `delivered`: nobody gets the message twice.
    sink.refuse.clear()
    rest = plain(port).send_batch(batch_of(people[error.delivered :]))
    assert rest.sent == 3
    received = [envelope.rcpt_tos[0] for envelope in sink.envelopes]
    assert received == [person.email for person in people]


def test_a_temporary_failure_at_data_stops_the_batch(
    smtp_server: Callable[..., tuple[Sink, int]],
) -> None:
    people = recipients(4)
    sink, port = smtp_server(Sink(data_answers=["250", "421 4.3.2 Shutting down"]))
    with pytest.raises(DeliveryError) as caught:
        plain(port).send_batch(batch_of(people))
    assert (caught.value.retryable, caught.value.status, caught.value.delivered) == (True, 421, 1)
    assert len(sink.envelopes) == 1


def test_a_connection_lost_part_way_is_retryable_from_the_unconfirmed_message(
    smtp_server: Callable[..., tuple[Sink, int]],
) -> None:
    people = recipients(4)
    sink, port = smtp_server(Sink(data_answers=["250", "250", "hang up"]))
    with pytest.raises(DeliveryError) as caught:
        plain(port).send_batch(batch_of(people))
    assert (caught.value.retryable, caught.value.delivered) == (True, 2)
    assert "SMTPServerDisconnected" in caught.value.reason
    # The third message arrived but was never confirmed: a retry from `delivered` may send it
    # twice (documented), and never loses it.
    assert len(sink.envelopes) == 3


def test_a_permanent_refusal_skips_that_recipient_only(
    smtp_server: Callable[..., tuple[Sink, int]],
) -> None:
    people = recipients(4)
    sink, port = smtp_server(
        Sink(
            refuse={people[1].email: "550 5.1.1 No such user"},
            data_answers=["250", "250", "554 5.7.1 Rejected"],
        )
    )
    result = plain(port).send_batch(batch_of(people))
    # people[1] refused at RCPT, people[3]'s message refused at DATA (554): both skipped.
    assert result.sent == 2
    assert [envelope.rcpt_tos[0] for envelope in sink.envelopes] == [
        people[0].email,
        people[2].email,
    ]


def test_a_batch_everyone_refuses_fails_for_good(
    smtp_server: Callable[..., tuple[Sink, int]],
) -> None:
    people = recipients(2)
    sink, port = smtp_server(Sink(refuse={p.email: "550 5.1.1 No such user" for p in people}))
    with pytest.raises(DeliveryError) as caught:
        plain(port).send_batch(batch_of(people))
    assert (caught.value.retryable, caught.value.delivered) == (False, 2)
    assert "2 refused" in caught.value.reason
    assert sink.envelopes == []


def test_a_refused_connection_is_retryable_with_nothing_delivered() -> None:
    with pytest.raises(DeliveryError) as caught:
        plain(free_port()).send_batch(batch_of(recipients(2)))
    assert (caught.value.retryable, caught.value.delivered, caught.value.status) == (True, 0, None)
    assert "ConnectionRefusedError" in caught.value.reason


def test_a_wrong_password_is_not_retryable(
    smtp_server: Callable[..., tuple[Sink, int]], tls: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    from aiosmtpd.smtp import AuthResult

    sink, port = smtp_server(
        tls_context=tls[0],
        require_starttls=True,
        authenticator=lambda *args: AuthResult(success=False, handled=False),
        auth_required=True,
        auth_require_tls=True,
    )
    transport = SmtpTransport(
        host="127.0.0.1",
        port=port,
        username="status",
        password="wrong-password",
        timeout=5,
        ssl_context=tls[1],
    )
    with pytest.raises(DeliveryError) as caught:
        transport.send_batch(batch_of(recipients(2)))
    assert (caught.value.retryable, caught.value.status, caught.value.delivered) == (False, 535, 0)
    assert "wrong-password" not in caught.value.reason and "wrong-password" not in repr(transport)
    assert sink.envelopes == []


def test_a_server_without_starttls_is_refused_for_good(
    smtp_server: Callable[..., tuple[Sink, int]],
) -> None:
    sink, port = smtp_server()  # no TLS context: no STARTTLS offered
    transport = SmtpTransport(host="127.0.0.1", port=port, starttls=True, timeout=5)
    with pytest.raises(DeliveryError) as caught:
        transport.send_batch(batch_of(recipients(1)))
    assert (caught.value.retryable, caught.value.delivered) == (False, 0)
    assert "STARTTLS" in caught.value.reason
    assert sink.envelopes == []


def test_batches_are_limited(smtp_server: Callable[..., tuple[Sink, int]]) -> None:
    sink, port = smtp_server()
    transport = plain(port)
    assert transport.max_batch == 100
    with pytest.raises(ValueError):
        transport.send_batch(batch_of(recipients(101)))
    assert sink.envelopes == []
