"""Hostile text in every public field comes out inert on the pages, in the feeds, in the JSON
and in the email bodies.

Fields: component name, incident title, update body, closure report, review sections and action
items, maintenance title and message. Everything is written through the domain functions the
admin area and the API use, so the notifications are the ones the outbox really holds.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import timedelta

import sqlalchemy as sa

from statuspage.core.outbox import Notification, NotificationKind
from statuspage.incidents import reviews
from statuspage.incidents.closure import ClosureReportText, write_closure_report
from statuspage.incidents.maintenance import NewMaintenance, schedule_maintenance
from statuspage.incidents.models import Priority, PublicStatus, ReviewStatus
from statuspage.incidents.operations import NewIncident, open_incident, post_update
from statuspage.notifications.compose import compose_notification
from tests.hostile import HOSTILE_BODY, HOSTILE_TITLE, TagCollector, assert_inert

NAME = "API <img src=x onerror=alert(8)>"


def _start_tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Tags(TagCollector):
        def handle_starttag(self, tag, attrs) -> None:  # type: ignore[no-untyped-def]
            tags.append((tag, attrs))

    Tags().feed(html)
    return tags


def assert_page_inert(html: str) -> None:
    """Pages carry the site's own script file; anything else that runs is a failure."""
    collector = TagCollector()
    collector.feed(html)
    scripts = [tag for tag in collector.tags if tag == "script"]
    sources = [value for name, value in collector.attributes if name == "src"]
    assert len(scripts) <= len(sources)
    assert all(source.startswith("/static/") for source in sources), sources
    # The only SVG is the page's own: the uptime bars and their stripes, with no script.
    svg_classes = [
        dict(attrs).get("class") or "" for tag, attrs in _start_tags(html) if tag == "svg"
    ]
    assert all(c.startswith(("uptime-bar", "uptime-patterns")) for c in svg_classes), svg_classes
    # The page's own forms, scripts and bars.
    assert_inert(html, allowed=frozenset({"script", "form", "svg"}))
    assert "<script>alert" not in html


def test_hostile_text_is_inert_everywhere_it_is_published(client, session, make_component, now):
    component = make_component(NAME)
    incident = open_incident(
        session,
        NewIncident(title=HOSTILE_TITLE, component_ids=[component.id]),
        actor_id=None,
        now=now - timedelta(hours=2),
    )
    for status in (PublicStatus.INVESTIGATING, PublicStatus.RESOLVED):
        post_update(
            session,
            incident,
            status=status,
            body=HOSTILE_BODY,
            component_statuses={component.id: "major_outage"},
            actor_id=None,
            now=now - timedelta(hours=1),
        )
    write_closure_report(
        session,
        incident,
        ClosureReportText(*([HOSTILE_BODY] * 5)),
        actor_id=None,
        now=now,
    )
    review = reviews.start_review(session, incident, actor_id=None, now=now)
    reviews.update_review(
        session,
        review,
        reviews.ReviewText(
            **{name: HOSTILE_BODY for name in reviews.REVIEW_TEXT_FIELDS}  # every section
        ),
        [{"at": now.isoformat(), "text": HOSTILE_BODY}],
        actor_id=None,
        now=now,
    )
    reviews.add_action_item(
        session,
        incident,
        review,
        reviews.ActionItemInput(title=HOSTILE_TITLE, priority=Priority.P2),
        actor_id=None,
        now=now,
    )
    for target in (ReviewStatus.IN_REVIEW, ReviewStatus.APPROVED):
        reviews.move_review(session, incident, review, target, actor_id=None, now=now)
    reviews.publish_review(session, incident, review, publish_publicly=True, actor_id=None, now=now)
    maintenance = schedule_maintenance(
        session,
        NewMaintenance(
            title=HOSTILE_TITLE,
            scheduled_for=now + timedelta(hours=1),
            scheduled_until=now + timedelta(hours=2),
            body=HOSTILE_BODY,
            component_ids=[component.id],
        ),
        actor_id=None,
        now=now,
    )
    session.commit()

    # Pages.
    for path in (
        "/",
        f"/incidents/{incident.id}",
        "/history",
        f"/maintenance/{maintenance.id}",
        f"/components/{component.id}/uptime",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert_page_inert(html)
        assert "&lt;script&gt;" in html or path == "/history", path
    page = client.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert "Outage &lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text

    # Feeds: the XML parses, and each entry's HTML is inert once unescaped.
    for path in ("/history.rss", "/history.atom"):
        root = ET.fromstring(client.get(path).get_data())  # noqa: S314 - our own feed
        bodies = [
            element.text or ""
            for element in root.iter()
            if element.tag.rsplit("}", 1)[-1] in ("description", "content", "summary")
        ]
        assert bodies, path
        for body in bodies:
            assert_inert(body)

    # JSON: valid, the text carried as data.
    data = json.loads(client.get("/api/v2/incidents.json").get_data())
    assert data["incidents"][0]["name"] == HOSTILE_TITLE

    # Calendar: the title stays one line of text.
    calendar = client.get("/maintenance.ics").get_data(as_text=True)
    assert "\r\nBEGIN:VEVENT" in calendar and calendar.count("BEGIN:VEVENT") == 1

    # Email: every notification the domain wrote, composed as the worker would.
    # (Component events are the webhook, chat and SMS channels' only: no email.)
    notifications = list(
        session.scalars(
            sa.select(Notification)
            .where(Notification.kind != NotificationKind.COMPONENT_STATUS)
            .order_by(Notification.id)
        )
    )
    assert {n.kind for n in notifications} >= {
        NotificationKind.INCIDENT_UPDATE,
        NotificationKind.CLOSURE_REPORT,
        NotificationKind.REVIEW_PUBLISHED,
        NotificationKind.MAINTENANCE_SCHEDULED,
    }
    for notification in notifications:
        email = compose_notification(
            session, notification, site_name="Status", url=lambda path: "https://s.example" + path
        )
        assert_inert(email.html)
        assert "\n" not in email.subject and "\r" not in email.subject
