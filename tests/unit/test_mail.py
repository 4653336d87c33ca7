"""Composing email and choosing a transport: no app, no network."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from types import SimpleNamespace

import pytest

from statuspage.mail.mailer import mailer_from_config
from statuspage.mail.message import InvalidAddress, build_message, format_address, header_text
from statuspage.mail.templates import render_email
from statuspage.mail.transports import (
    FileTransport,
    MailConfigError,
    SmtpTransport,
    transport_from_config,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def parse(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=policy.default)


@pytest.mark.parametrize(
    "hostile",
    [
        "Down\r\nBcc: attacker@example.net",
        "Down\nBcc: attacker@example.net",
        "Down\rBcc: attacker@example.net",
        "Down\u2028Bcc: attacker@example.net",
        "Down\x85Bcc: attacker@example.net",
    ],
)
def test_line_breaks_in_a_subject_never_make_a_header(hostile: str) -> None:
    message = build_message(
        sender="status@example.com", to=["ops@example.com"], subject=hostile, text="x"
    )
    raw = message.as_bytes()
    parsed = parse(raw)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Down Bcc: attacker@example.net"
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert not any(line.startswith(b"Bcc") for line in header_block.split(b"\r\n"))


def test_header_text_flattens_whitespace_and_controls() -> None:
    assert header_text("  a\r\n\tb\x00c  ") == "a b c"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ops@example.com", "ops@example.com"),
        (" Ops Team <ops@example.com> ", "Ops Team <ops@example.com>"),
        ('"Ops, Team" <ops@example.com>', '"Ops, Team" <ops@example.com>'),
    ],
)
def test_format_address(given: str, expected: str) -> None:
    formatted = format_address(given)
    assert formatted == expected
    parsed = parse(f"To: {formatted}\r\n\r\n".encode())["To"]
    assert [address.addr_spec for address in parsed.addresses] == ["ops@example.com"]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "no-at-sign",
        "a@b@c",
        "x y@example.com",
        "ops@example.com, evil@example.net",
        "Ops\r\nBcc: x@example.net <ops@example.com>",
    ],
)
def test_format_address_refuses_what_is_not_one_address(bad: str) -> None:
    with pytest.raises(InvalidAddress):
        format_address(bad)


def test_a_message_has_text_and_html_parts_and_the_usual_headers() -> None:
    message = build_message(
        sender="Example Status <status@example.com>",
        to=["a@example.com", "b@example.com"],
        subject="Hello",
        text="Plain words",
        html="<p>Rich words</p>",
        now=NOW,
        automatic=True,
    )
    parsed = parse(message.as_bytes())
    assert parsed["From"] == "Example Status <status@example.com>"
    assert [a.addr_spec for a in parsed["To"].addresses] == ["a@example.com", "b@example.com"]
    assert parsed["Date"].datetime == NOW
    assert parsed["Message-ID"].endswith("@example.com>")
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed.get_body(("plain",)).get_content().strip() == "Plain words"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Rich words</p>"


def test_a_message_needs_a_recipient() -> None:
    with pytest.raises(InvalidAddress):
        build_message(sender="s@example.com", to=[], subject="x", text="x")


def test_file_transport_writes_one_eml_per_message(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path / "mail")
    message = build_message(sender="s@example.com", to=["a@example.com"], subject="x", text="y")
    path = transport.write(message)
    transport.send(message)
    files = sorted((tmp_path / "mail").iterdir())
    assert len(files) == 2 and path in files
    assert all(f.suffix == ".eml" for f in files)  # no temporary files left behind
    assert parse(path.read_bytes())["Subject"] == "x"


def test_transport_defaults_follow_the_environment(tmp_path: Path) -> None:
    development = transport_from_config({"APP_ENV": "development"}, instance_path=tmp_path)
    assert isinstance(development, FileTransport)
    assert development.directory == tmp_path / "mail"
    production = transport_from_config({"APP_ENV": "production"}, instance_path=tmp_path)
    assert isinstance(production, SmtpTransport)
    assert (production.host, production.port, production.starttls) == ("localhost", 587, True)


def test_smtp_settings_are_read_and_the_password_is_not_shown(tmp_path: Path) -> None:
    transport = transport_from_config(
        {
            "MAIL_TRANSPORT": "smtp",
            "MAIL_SMTP_HOST": "smtp.example.com",
            "MAIL_SMTP_PORT": "2525",
            "MAIL_SMTP_USERNAME": "status",
            "MAIL_SMTP_PASSWORD": "hunter2-secret",
            "MAIL_SMTP_STARTTLS": "true",
            "MAIL_SMTP_TIMEOUT": "3",
        },
        instance_path=tmp_path,
    )
    assert isinstance(transport, SmtpTransport)
    assert (transport.host, transport.port, transport.timeout) == ("smtp.example.com", 2525, 3.0)
    assert "hunter2-secret" not in repr(transport)


def test_smtp_refuses_to_send_a_password_without_tls_to_another_host(tmp_path: Path) -> None:
    config = {
        "MAIL_TRANSPORT": "smtp",
        "MAIL_SMTP_HOST": "smtp.example.com",
        "MAIL_SMTP_USERNAME": "status",
        "MAIL_SMTP_PASSWORD": "x",
        "MAIL_SMTP_STARTTLS": False,
    }
    with pytest.raises(MailConfigError, match="STARTTLS"):
        transport_from_config(config, instance_path=tmp_path)


def test_unknown_transport_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(MailConfigError, match="MAIL_TRANSPORT"):
        transport_from_config({"MAIL_TRANSPORT": "pigeon"}, instance_path=tmp_path)


def test_mailer_from_config_uses_mail_from_and_site_url(tmp_path: Path) -> None:
    mailer = mailer_from_config(
        {"APP_ENV": "testing", "SITE_URL": "https://status.example.com/", "MAIL_FROM": ""},
        instance_path=tmp_path,
    )
    assert mailer.sender == "status@localhost"
    assert mailer.url("/admin/incidents/3") == "https://status.example.com/admin/incidents/3"


def test_a_single_message_is_sent_as_a_batch_of_one(tmp_path: Path) -> None:
    """Its To addresses stay together in one message; its id, date and headers are kept."""
    transport = FileTransport(tmp_path / "mail")
    message = build_message(
        sender="Status <status@example.com>",
        to=["a@example.com", "Ops <b@example.com>"],
        subject="Escalation",
        text="Plain words",
        html="<p>Rich words</p>",
        now=NOW,
        automatic=True,
    )
    message["List-Unsubscribe"] = "<https://status.example.com/unsubscribe/t>"
    result = transport.send(message)

    assert result.sent == 1
    [path] = sorted((tmp_path / "mail").iterdir())
    written = parse(path.read_bytes())
    assert [a.addr_spec for a in written["To"].addresses] == ["a@example.com", "b@example.com"]
    assert written["Message-ID"] == message["Message-ID"]
    assert written["Date"].datetime == NOW
    assert written["Auto-Submitted"] == "auto-generated"
    assert written["List-Unsubscribe"] == "<https://status.example.com/unsubscribe/t>"
    assert written["List-Unsubscribe-Post"] is None  # only what the message had
    assert written.get_body(("plain",)).get_content().strip() == "Plain words"
    assert written.get_body(("html",)).get_content().strip() == "<p>Rich words</p>"


@pytest.mark.parametrize(
    ("name", "context"),
    [
        (
            "sla_escalation",
            {
                "label": "acknowledge target",
                "priority": "P1",
                "policy_name": "<i>Gold</i>",
                "status": "investigating",
                "target": "acknowledge within 60 minutes",
                "started": "2026-03-02 08:00 UTC",
                "due": "2026-03-02 09:00 UTC",
            },
        ),
        ("next_update_reminder", {"promised": "2026-03-02 08:30 UTC", "who": "assignee"}),
    ],
)
def test_staff_emails_are_rendered_from_the_templates(name: str, context: dict) -> None:
    incident = SimpleNamespace(id=7, title='<script>alert(1)</script>\r\nBcc: x@example.net "q"')
    email = render_email(
        name,
        "subject",
        {"incident": incident, "link": "https://status.example.com/admin/x", **context},
    )
    assert email.html.startswith("<!DOCTYPE html>")  # templates/email/_layout.html
    assert '<a href="https://status.example.com/admin/x">' in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Bcc: x@example.net &#34;q&#34;" in email.html
    assert "<script>" not in email.html and "<i>" not in email.html
    # Plain text keeps the title as typed, on one line.
    assert '#7 <script>alert(1)</script> Bcc: x@example.net "q"' in email.text
    assert "https://status.example.com/admin/x" in email.text
