"""Subscriber email through the whole pipeline to a real local SMTP server (aiosmtpd).

Publish, deliver with the SMTP transport, parse what the server received, and use the message's
own one-click unsubscribe link against the site.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from statuspage.incidents.models import PublicStatus
from statuspage.incidents.operations import post_update
from statuspage.notifications.models import Subscriber
from statuspage.worker.delivery import run_delivery
from tests.integration.test_sending_smtp import Sink, smtp_server  # noqa: F401 - the fixture


def test_published_update_reaches_smtp_and_its_unsubscribe_link_works(
    app,
    session,
    make_component,
    make_incident,
    now,
    smtp_server,  # noqa: F811
):
    sink, port = smtp_server(Sink())
    app.config.update(
        MAIL_TRANSPORT="smtp",
        MAIL_SMTP_HOST="127.0.0.1",
        MAIL_SMTP_PORT=port,
        MAIL_SMTP_STARTTLS="false",
        MAIL_FROM="Test Status <status@example.com>",
    )
    api = make_component("API")
    incident = make_incident("API errors", components={api.id: "partial_outage"})
    for address in ("one@example.com", "two@example.com"):
        session.add(
            Subscriber(email=address, all_components=True, confirmed_at=now - timedelta(hours=1))
        )
    session.flush()
    post_update(
        session,
        incident,
        status=PublicStatus.IDENTIFIED,
        body="We found the **cause**.",
        actor_id=None,
        now=now,
    )
    session.commit()

    with app.app_context():
        report = run_delivery()
    assert report.recipients_sent == 4  # the incident's first update and this one, to both

    received = sink.messages()
    assert sorted(m["To"] for m in received) == ["one@example.com"] * 2 + ["two@example.com"] * 2
    message = next(
        m for m in received if m["To"] == "one@example.com" and "Identified" in m["Subject"]
    )
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == "[Identified] API errors"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "We found the **cause**." in text and "<strong>cause</strong>" in html
    assert "-manage_url-" not in text + html  # each reader's own manage link is in
    assert "http://localhost/subscription/" in text

    url = message["List-Unsubscribe"].strip().strip("<>")
    mail_program = app.test_client(use_cookies=False)
    answer = mail_program.post(urlsplit(url).path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    session.expire_all()
    one = session.scalar(sa.select(Subscriber).where(Subscriber.email == "one@example.com"))
    two = session.scalar(sa.select(Subscriber).where(Subscriber.email == "two@example.com"))
    assert one.unsubscribed_at is not None and two.unsubscribed_at is None

    post_update(
        session,
        incident,
        status=PublicStatus.RESOLVED,
        body="All good.",
        actor_id=None,
        now=now + timedelta(minutes=5),
    )
    session.commit()
    with app.app_context():
        run_delivery()
    later = sink.messages()[4:]
    assert [m["To"] for m in later] == ["two@example.com"]
