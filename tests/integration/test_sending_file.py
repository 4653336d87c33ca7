"""The file batch transport (the development default) and choosing a transport from settings."""

from __future__ import annotations

import logging
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from statuspage.mail.sendgrid import SendGridTransport
from statuspage.mail.transports import (
    MANAGE_URL_TOKEN,
    DeliveryError,
    FileTransport,
    OutgoingBatch,
    Recipient,
    SmtpTransport,
    transport_from_config,
)


def recipients(count: int) -> list[Recipient]:
    return [
        Recipient(
            email=f"user{number}@example.com",
            manage_url=f"https://status.example.com/subscription/tok{number}",
            unsubscribe_url=f"https://status.example.com/unsubscribe/tok{number}",
        )
        for number in range(count)
    ]


def batch_of(people: list[Recipient]) -> OutgoingBatch:
    return OutgoingBatch(
        sender="status@example.com",
        subject="[Scheduled] Database upgrade",
        text=f"Planned work.\nManage: {MANAGE_URL_TOKEN}\n",
        html=f'<p>Planned work.</p><a href="{MANAGE_URL_TOKEN}">Manage</a>',
        recipients=people,
    )


def test_one_eml_per_recipient_with_the_same_headers_and_each_path_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    transport = FileTransport(tmp_path / "mail")
    people = recipients(3)
    with caplog.at_level(logging.INFO, logger="statuspage.mail.transports"):
        result = transport.send_batch(batch_of(people))

    files = sorted((tmp_path / "mail").iterdir())
    assert result.sent == 3 and len(files) == 3
    assert all(path.suffix == ".eml" for path in files)
    logged = caplog.text
    assert all(str(path) in logged for path in files)
    by_recipient = {}
    for path in files:
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        (address,) = [a.addr_spec for a in message["To"].addresses]
        by_recipient[address] = message
    assert sorted(by_recipient) == sorted(person.email for person in people)
    for person in people:
        message = by_recipient[person.email]
        assert message["Subject"] == "[Scheduled] Database upgrade"
        assert message["List-Unsubscribe"] == f"<{person.unsubscribe_url}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.get_content_type() == "multipart/alternative"
        assert person.manage_url in message.get_body(("plain",)).get_content()
        assert f'href="{person.manage_url}"' in message.get_body(("html",)).get_content()
        assert result.message_id in message["Message-ID"]


def test_an_unwritable_directory_is_a_retryable_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    with pytest.raises(DeliveryError) as caught:
        FileTransport(blocker).send_batch(batch_of(recipients(2)))
    assert (caught.value.retryable, caught.value.delivered) == (True, 0)


def test_the_file_transport_is_the_default_while_developing(tmp_path: Path) -> None:
    transport = transport_from_config({"APP_ENV": "testing"}, instance_path=tmp_path)
    assert isinstance(transport, FileTransport)
    assert transport.directory == tmp_path / "mail"
    chosen = transport_from_config(
        {"MAIL_TRANSPORT": "file", "MAIL_FILE_DIR": str(tmp_path / "elsewhere")},
        instance_path=tmp_path,
    )
    assert isinstance(chosen, FileTransport)
    assert chosen.directory == tmp_path / "elsewhere"


def test_smtp_settings_are_read(tmp_path: Path) -> None:
    transport = transport_from_config(
        {
            "MAIL_TRANSPORT": "SMTP",
            "MAIL_SMTP_HOST": "smtp.example.com",
            "MAIL_SMTP_PORT": "2525",
            "MAIL_SMTP_USERNAME": "status",
            "MAIL_SMTP_PASSWORD": "hunter2-secret",
            "MAIL_SMTP_TIMEOUT": "3",
        },
        instance_path=tmp_path,
    )
    assert isinstance(transport, SmtpTransport)
    assert (transport.host, transport.port, transport.timeout) == ("smtp.example.com", 2525, 3.0)
    assert (transport.username, transport.starttls, transport.max_batch) == ("status", True, 100)
    assert "hunter2-secret" not in repr(transport)


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        ({"MAIL_TRANSPORT": "pigeon"}, "MAIL_TRANSPORT"),
        ({"MAIL_TRANSPORT": "smtp", "MAIL_SMTP_PORT": "many"}, "MAIL_SMTP_PORT"),
        (
            {
                "MAIL_TRANSPORT": "smtp",
                "MAIL_SMTP_HOST": "smtp.example.com",
                "MAIL_SMTP_USERNAME": "status",
                "MAIL_SMTP_STARTTLS": "false",
            },
            "STARTTLS",
        ),
        ({"MAIL_TRANSPORT": "sendgrid", "SENDGRID_API_KEY": "  "}, "SENDGRID_API_KEY"),
    ],
)
def test_settings_that_cannot_work_are_refused_clearly(
    tmp_path: Path, config: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        transport_from_config(config, instance_path=tmp_path)


def test_sendgrid_is_chosen_by_name(tmp_path: Path) -> None:
    transport = transport_from_config(
        {"MAIL_TRANSPORT": "sendgrid", "SENDGRID_API_KEY": "SG.k"}, instance_path=tmp_path
    )
    assert isinstance(transport, SendGridTransport)
    assert transport.timeout == 10.0 and transport.max_batch == 1000
