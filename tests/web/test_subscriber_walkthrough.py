"""Issue 5's acceptance path, as a new user would try it.

Subscribe on the page, confirm from the email the file transport wrote, receive the emails of an
incident a communicator publishes (through the outbox, the dispatch hook and the real delivery
task), unsubscribe with one click from the email's own header, and hear nothing more.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from statuspage.core.outbox import Notification, NotificationState
from statuspage.incidents.operations import NewIncident, open_incident
from statuspage.notifications.models import DeliveryBatch


def inbox(directory: Path, address: str) -> list[EmailMessage]:
    found = []
    for path in sorted(directory.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"] == address:
            found.append(message)
    return found


def plain(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def site_path(url: str) -> str:
    return urlsplit(url).path


def test_subscribe_confirm_receive_and_unsubscribe(
    app, client, session, make_user, make_component, now, tmp_path, immediate_huey
):
    mail = tmp_path / "mail"
    app.config.update(MAIL_TRANSPORT="file", MAIL_FILE_DIR=str(mail), DELIVERY_ENQUEUE=True)
    api, web = make_component("API"), make_component("Website")
    incident = open_incident(
        session, NewIncident(title="API errors", component_ids=[api.id]), actor_id=None, now=now
    )
    session.commit()

    # Three readers subscribe from the public page and confirm from their inbox.
    choices = {
        "reader@example.com": {"scope": "some", "components": [api.id]},
        "everything@example.com": {"scope": "all"},
        "website@example.com": {"scope": "some", "components": [web.id]},
    }
    for address, choice in choices.items():
        reader = app.test_client()
        assert reader.post("/subscribe", data={"email": address, **choice}).status_code == 200
        [confirmation] = inbox(mail, address)
        link = re.search(r"https?://\S+/subscribe/confirm/\S+", plain(confirmation))
        assert link, plain(confirmation)
        assert "Confirm my subscription" in reader.get(site_path(link.group(0))).get_data(
            as_text=True
        )
        assert reader.post(site_path(link.group(0))).status_code == 200

    # A communicator publishes an update about the API.
    comms = app.test_client()
    user = make_user("communicator")
    comms.post("/login", data={"email": user.email, "password": "a perfectly long password"})
    published = comms.post(
        f"/admin/incidents/{incident.id}/updates",
        data={
            "status": "investigating",
            "body": "Some API calls fail.",
            f"component-{api.id}": "partial_outage",
            "notify": "y",
        },
    )
    assert published.status_code == 302

    [first] = inbox(mail, "reader@example.com")[1:]
    assert first["Subject"] == "[Investigating] API errors"
    assert "Some API calls fail." in plain(first)
    assert f"/incidents/{incident.id}" in plain(first)
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert len(inbox(mail, "everything@example.com")) == 2
    assert len(inbox(mail, "website@example.com")) == 1  # the confirmation only
    manage = re.search(r"https?://\S+/subscription/\S+", plain(first))
    assert manage, "every email carries its manage link"

    # One click, as a mail program does it: no cookie, no CSRF token, no redirect.
    unsubscribe_url = first["List-Unsubscribe"].strip().strip("<>")
    mail_program = app.test_client(use_cookies=False)
    answer = mail_program.post(site_path(unsubscribe_url), data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers

    comms.post(
        f"/admin/incidents/{incident.id}/updates",
        data={
            "status": "identified",
            "body": "A database index was missing.",
            f"component-{api.id}": "partial_outage",
            "notify": "y",
        },
    )
    assert len(inbox(mail, "reader@example.com")) == 2  # nothing after unsubscribing
    everything = inbox(mail, "everything@example.com")
    assert [m["Subject"] for m in everything[1:]] == [
        "[Investigating] API errors",
        "[Identified] API errors",
    ]

    session.expire_all()
    states = set(session.scalars(sa.select(Notification.state)))
    assert states == {NotificationState.DONE}
    assert session.scalar(sa.select(sa.func.sum(DeliveryBatch.sent_count))) == 3
