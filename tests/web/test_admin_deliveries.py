"""The delivery log in the admin area: notifications, their batches, counts and reasons."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage.core.outbox import Notification, NotificationState
from statuspage.notifications.models import BatchState, DeliveryBatch


@pytest.fixture
def logged(session: Any, make_component: Any, make_incident: Any, now: datetime) -> Notification:
    """A notification with three batches: sent, failed with a reason, waiting for a retry."""
    component = make_component("API")
    incident = make_incident("Checkout errors", components={component.id: "major_outage"})
    session.flush()
    notification = session.scalar(
        sa.select(Notification).where(Notification.incident_id == incident.id)
    )
    notification.state = NotificationState.SENDING
    notification.recipient_count = 2500
    notification.expanded_at = now
    session.add_all(
        [
            DeliveryBatch(
                notification_id=notification.id,
                seq=1,
                subscriber_ids=list(range(1, 1001)),
                state=BatchState.SENT,
                attempts=1,
                sent_count=998,
                provider_message_id="msg-abc123",
                sent_at=now,
            ),
            DeliveryBatch(
                notification_id=notification.id,
                seq=2,
                subscriber_ids=list(range(1001, 2001)),
                state=BatchState.FAILED,
                attempts=1,
                last_error="SendGrid answered 413 Payload Too Large: too big",
            ),
            DeliveryBatch(
                notification_id=notification.id,
                seq=3,
                subscriber_ids=list(range(2001, 2501)),
                state=BatchState.PENDING,
                attempts=2,
                next_attempt_at=now + timedelta(minutes=3),
                last_error="SendGrid answered 503 Service Unavailable",
            ),
        ]
    )
    session.commit()
    return notification


@pytest.mark.parametrize("role", ["viewer", "responder", "communicator", "manager", "admin"])
def test_every_staff_role_sees_the_log_with_counts(
    client: Any, make_user: Any, login: Any, logged: Notification, role: str
) -> None:
    login(make_user(role))
    page = client.get("/admin/deliveries")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Delivery log" in html
    assert "Incident update" in html
    assert "Checkout errors" in html
    assert f'href="/admin/incidents/{logged.incident_id}"' in html
    assert "Sending" in html
    row = html.split(f'href="/admin/deliveries/{logged.id}"', 1)[1].split("</tr>", 1)[0]
    cells = [cell.split(">", 1)[1] for cell in row.split("<td")[1:]]
    # recipients, sent to, batches queued, sent, failed
    assert [c.replace("</td>", "").strip() for c in cells[-5:]] == ["2500", "998", "1", "1", "1"]


def test_the_detail_shows_each_batch_with_its_state_and_reason(
    client: Any, make_user: Any, login: Any, logged: Notification
) -> None:
    login(make_user("viewer"))
    page = client.get(f"/admin/deliveries/{logged.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "msg-abc123" in html
    assert "SendGrid answered 413 Payload Too Large: too big" in html
    assert "SendGrid answered 503 Service Unavailable" in html
    assert "3: 1 queued, 1 sent, 1 failed" in html
    # States are words (with an icon), not colour alone.
    for word in ("Sent", "Failed", "Queued"):
        assert f"</span> {word}</span>" in html
    assert ">1000<" in html and ">500<" in html  # recipients listed per batch
    assert "<time datetime=" in html


def test_the_log_filters_by_state_and_refuses_nonsense(
    client: Any, make_user: Any, login: Any, logged: Notification
) -> None:
    login(make_user("viewer"))
    done = client.get("/admin/deliveries?state=done").get_data(as_text=True)
    assert "No notifications in this state." in done
    sending = client.get("/admin/deliveries?state=sending").get_data(as_text=True)
    assert "Checkout errors" in sending
    assert client.get("/admin/deliveries?state=bogus").status_code == 400
    assert client.get("/admin/deliveries?page=x").status_code == 400


def test_an_unknown_notification_is_a_404(client: Any, make_user: Any, login: Any) -> None:
    login(make_user("viewer"))
    assert client.get("/admin/deliveries/999999").status_code == 404


def test_anonymous_visitors_are_sent_to_the_login_page(client: Any, logged: Notification) -> None:
    for url in ("/admin/deliveries", f"/admin/deliveries/{logged.id}"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_the_nav_links_to_the_log(client: Any, make_user: Any, login: Any) -> None:
    login(make_user("viewer"))
    html = client.get("/admin/incidents").get_data(as_text=True)
    assert 'href="/admin/deliveries"' in html
