"""The loopback webhook consumer (tests/fakes/webhook_receiver.py) tells a request cut off
mid-body (its sender died between the headers and the body) from one it processed."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator

import pytest

from statuspage.notifications.webhooks import new_secret, signed_headers
from tests.fakes.webhook_receiver import Action, WebhookReceiver

BODY = json.dumps(
    {
        "meta": {"message_id": "msg_1"},
        "page": {"status_indicator": "none", "status_description": "All good"},
        "component": {"id": "c1"},
        "component_update": {"old_status": "major_outage", "new_status": "operational"},
    }
).encode()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        server.secrets["/hook"] = new_secret()
        yield server


def head(receiver: WebhookReceiver, body: bytes) -> bytes:
    headers = {
        "Host": f"127.0.0.1:{receiver.port}",
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        **signed_headers(receiver.secrets["/hook"], "msg_1", body),
    }
    lines = ["POST /hook HTTP/1.1", *(f"{key}: {value}" for key, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def post(receiver: WebhookReceiver, body: bytes) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    try:
        headers = signed_headers(receiver.secrets["/hook"], "msg_1", body)
        connection.request("POST", "/hook", body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_request_cut_off_mid_body_is_recorded_truncated_unanswered_and_not_accepted(
    receiver: WebhookReceiver,
) -> None:
    receiver.script("/hook", Action(201))
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sender:
        sender.sendall(head(receiver, BODY) + BODY[:10])
        sender.shutdown(socket.SHUT_WR)  # the sender is gone before the rest of its body
        assert sender.recv(1024) == b""  # closed without an answer

    [cut] = receiver.received("/hook")
    assert cut.answered == "truncated" and not cut.verified
    assert cut.problems == [f"truncated: 10 of {len(BODY)} bytes"]
    assert receiver.accepted("/hook") == []

    # The repeat comes complete: it verifies, takes the first scripted answer, is accepted.
    assert post(receiver, BODY) == 201
    cut, complete = receiver.received("/hook")
    assert complete.verified and complete.problems == [] and complete.answered == 201
    assert receiver.accepted("/hook") == [complete]


def test_a_complete_request_with_a_wrong_signature_is_still_unverified(
    receiver: WebhookReceiver,
) -> None:
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sender:
        tampered = BODY.replace(b"All good", b"All bad!")
        sender.sendall(head(receiver, BODY) + tampered)  # signed for other bytes, same length
        assert sender.recv(1024).startswith(b"HTTP/1.1 200")

    [request] = receiver.received("/hook")
    assert request.answered == 200 and not request.verified
    assert request.problems == ["signature: No matching signature found"]
