"""Property: no text typed by staff or visitors ever reaches an email header as a line break.

Incident titles become subjects, visitors type their address (and could type a name), and
every message carries the recipient's own unsubscribe link. For arbitrary Unicode, with every
character that ends a line somewhere (CR, LF, VT, FF, the file/group/record separators,
NEL, U+2028/2029) mixed in, the raw message a transport sends has exactly the headers we
wrote, each starting its own CRLF line, with no bare CR or LF anywhere in the header block;
the SendGrid request carries none in its subject or per-recipient headers. `tests/unit/
test_mail.py` has the hand-picked examples; this explores the rest.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statuspage.mail.message import InvalidAddress, build_message, format_address
from statuspage.mail.sendgrid import SendGridTransport
from statuspage.mail.transports import OutgoingBatch, Recipient, personal_message

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BREAKS = ["\r\n", "\r", "\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
INJECTIONS = [
    "Bcc: attacker@example.net",
    "\r\nBcc: attacker@example.net",
    "\nContent-Type: text/html",
    "\r\n\r\n<html>body</html>",
    " =?utf-8?q?=0D=0ABcc:_x@example.net?=",
    "\x00",
    ":",
    ";",
    ",",
    "<",
    ">",
    '"',
    "@",
    "\t",
    " ",
]
hostile = st.lists(
    st.one_of(
        st.sampled_from(BREAKS + INJECTIONS),
        st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20),
    ),
    max_size=12,
).map("".join)

PROPERTY = settings(max_examples=150, deadline=None, database=None)
HEADER_NAME = re.compile(rb"^[A-Za-z][A-Za-z0-9-]*:")
UNSAFE_IN_HEADER = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def header_names(raw: bytes) -> list[str]:
    """The header names of a raw message, checking its header block line by line."""
    block, separator, _ = raw.partition(b"\r\n\r\n")
    assert separator, "no blank line between headers and body"
    assert b"\r" not in block.replace(b"\r\n", b""), "a bare CR in the headers"
    assert b"\n" not in block.replace(b"\r\n", b""), "a bare LF in the headers"
    names = []
    for line in block.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            continue  # folded continuation of the header above
        assert HEADER_NAME.match(line), line
        names.append(line.split(b":", 1)[0].decode("ascii").lower())
    return names


EXPECTED = {
    "subject",
    "from",
    "to",
    "date",
    "message-id",
    "auto-submitted",
    "mime-version",
    "content-type",
}


@PROPERTY
@given(subject=hostile, text=hostile)
def test_a_subject_can_never_start_a_header(subject: str, text: str) -> None:
    message = build_message(
        sender="Status <status@example.com>",
        to=["reader@example.com"],
        subject=subject,
        text=text,
        html="<p>x</p>",
        now=NOW,
        automatic=True,
    )
    raw = message.as_bytes()
    names = header_names(raw)
    assert sorted(names) == sorted(EXPECTED)  # each once, nothing added
    parsed = message_from_bytes(raw, policy=policy.default)
    assert not UNSAFE_IN_HEADER.search(str(parsed["Subject"]))
    assert [a.addr_spec for a in parsed["To"].addresses] == ["reader@example.com"]


@PROPERTY
@given(name=hostile, local=hostile, domain=st.sampled_from(["example.com", "ex\r\nample.com"]))
def test_a_typed_address_is_one_address_or_refused(name: str, local: str, domain: str) -> None:
    typed = f"{name} <{local}@{domain}>"
    try:
        formatted = format_address(typed)
    except InvalidAddress:
        return
    assert not UNSAFE_IN_HEADER.search(formatted)
    message = build_message(
        sender="status@example.com", to=[formatted], subject="Hello", text="x", now=NOW
    )
    raw = message.as_bytes()
    assert "bcc" not in header_names(raw)
    parsed = message_from_bytes(raw, policy=policy.default)
    assert len(parsed["To"].addresses) == 1


def batch_for(subject: str, link: str) -> OutgoingBatch:
    recipient = Recipient(
        email="reader@example.com",
        manage_url="http://status.test/subscription/token",
        unsubscribe_url=link,
    )
    return OutgoingBatch(
        sender="Status <status@example.com>",
        subject=f"[Investigating] {subject}",
        text="Manage: -manage_url-",
        html="<p>-manage_url-</p>",
        recipients=[recipient],
    )


@PROPERTY
@given(subject=hostile, tail=hostile)
def test_each_subscribers_message_keeps_its_headers_whole(subject: str, tail: str) -> None:
    link = "http://status.test/unsubscribe/" + tail
    try:
        batch = batch_for(subject, link)
    except ValueError:
        # Links are built by the site from tokens; anything but a plain URL is refused.
        assert UNSAFE_IN_HEADER.search(tail) or re.search(r"[\s<>\"'&\\]", tail)
        return
    (recipient,) = batch.recipients
    message = personal_message(
        batch, recipient, address=recipient.email, message_id="<1.0@example.com>", now=NOW
    )
    raw = message.as_bytes()
    names = header_names(raw)
    assert sorted(names) == sorted(EXPECTED | {"list-unsubscribe", "list-unsubscribe-post"})
    parsed = message_from_bytes(raw, policy=policy.default)
    assert str(parsed["List-Unsubscribe"]) == f"<{link}>"


@pytest.fixture(scope="module")
def sendgrid() -> SendGridTransport:
    return SendGridTransport("SG.not-a-real-key", host="http://127.0.0.1:9")


@PROPERTY
@given(subject=hostile)
def test_the_sendgrid_request_carries_no_line_break_in_a_header(
    sendgrid: SendGridTransport, subject: str
) -> None:
    body, count = sendgrid.request_body(batch_for(subject, "http://status.test/unsubscribe/t"))
    assert count == 1
    assert not UNSAFE_IN_HEADER.search(body["subject"])
    for personalization in body["personalizations"]:
        for name, value in personalization.get("headers", {}).items():
            assert not UNSAFE_IN_HEADER.search(name + value)
    json.dumps(body, ensure_ascii=False).encode("utf-8")  # what goes on the wire
