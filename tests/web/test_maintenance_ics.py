"""The iCalendar feed of scheduled maintenance, read back with the `icalendar` parser."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from statuspage.incidents.maintenance import (
    NewMaintenance,
    advance_maintenance,
    schedule_maintenance,
)
from statuspage.incidents.models import Maintenance, MaintenanceStatus

M = MaintenanceStatus
HOSTILE_TITLE = (
    "Upgrade\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:fake, part; two \\ <script>alert(1)</script>"
)
HOSTILE_BODY = (
    "First line; with, commas\r\nDTSTART:19700101T000000Z\n\n"
    "<script>alert('x')</script> **bold** & [link](https://example.com)"
)


def events(response) -> dict[str, object]:
    calendar = Calendar.from_ical(response.data)
    return {str(event["SUMMARY"]): event for event in calendar.walk("VEVENT")}


def add(session, title, starts, *, now, body="", component_ids=(), allow_past=False):
    return schedule_maintenance(
        session,
        NewMaintenance(
            title=title,
            scheduled_for=starts,
            scheduled_until=starts + timedelta(hours=2),
            body=body,
            component_ids=list(component_ids),
        ),
        actor_id=None,
        now=now,
        allow_past=allow_past,
    )


def complete(session, maintenance, when):
    advance_maintenance(session, maintenance, M.IN_PROGRESS, actor_id=None, now=when)
    advance_maintenance(session, maintenance, M.COMPLETED, actor_id=None, now=when)


def test_the_calendar_lists_planned_running_and_recent_maintenance(
    client, session, make_component, now
):
    api = make_component("API")
    upcoming = add(
        session, "Database upgrade", now + timedelta(days=2), now=now, component_ids=[api.id]
    )
    running = add(session, "Network work", now - timedelta(minutes=5), now=now)
    advance_maintenance(session, running, M.IN_PROGRESS, actor_id=None, now=now)
    recent = add(session, "Old upgrade", now - timedelta(days=30), now=now, allow_past=True)
    complete(session, recent, now - timedelta(days=30))
    ancient = add(session, "Ancient upgrade", now - timedelta(days=100), now=now, allow_past=True)
    complete(session, ancient, now - timedelta(days=100))
    session.commit()

    response = client.get("/maintenance.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.data)
    assert str(calendar["X-WR-CALNAME"]) == "Test Status maintenance"
    assert str(calendar["VERSION"]) == "2.0"
    found = events(response)
    assert set(found) == {"Database upgrade", "Network work", "Old upgrade"}
    event = found["Database upgrade"]
    assert str(event["UID"]) == f"maintenance-{upcoming.id}@localhost"
    assert event.decoded("DTSTART") == upcoming.scheduled_for
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert event.decoded("DTEND") == upcoming.scheduled_until
    assert str(event["URL"]) == f"http://localhost/maintenance/{upcoming.id}"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event.decoded("LAST-MODIFIED") == upcoming.updated_at.astimezone(UTC)
    assert "DTSTAMP" in event
    assert "Affected components: API" in str(event["DESCRIPTION"])
    assert "Status: In progress" in str(found["Network work"]["DESCRIPTION"])
    assert b"\r\n" in response.data and b"\n\n" not in response.data


def test_hostile_text_is_escaped_and_stays_text(client, session, now):
    hostile = add(session, HOSTILE_TITLE, now + timedelta(days=1), now=now, body=HOSTILE_BODY)
    session.commit()
    response = client.get("/maintenance.ics")
    calendar = Calendar.from_ical(response.data)
    [event] = calendar.walk("VEVENT")  # no event was smuggled in
    assert response.data.split(b"\r\n").count(b"BEGIN:VEVENT") == 1
    assert str(event["UID"]) == f"maintenance-{hostile.id}@localhost"
    assert str(event["SUMMARY"]) == (
        "Upgrade END:VEVENT BEGIN:VEVENT SUMMARY:fake, part; two \\ <script>alert(1)</script>"
    )
    description = str(event["DESCRIPTION"])
    assert description.startswith("First line; with, commas\nDTSTART:19700101T000000Z")
    assert "<script>alert('x')</script> bold & link" in description
    assert event.decoded("DTSTART") == hostile.scheduled_for  # not the one in the text
    # Escaped on the wire: commas, semicolons and line breaks never reach a line unescaped.
    unfolded = response.data.replace(b"\r\n ", b"")
    assert b"SUMMARY:Upgrade END:VEVENT BEGIN:VEVENT SUMMARY:fake\\, part\\; two \\\\" in unfolded
    assert b"First line\\; with\\, commas\\nDTSTART" in unfolded
    lines = unfolded.split(b"\r\n")
    assert not any(line.startswith((b"DTSTART:1970", b"<script")) for line in lines)


def test_the_calendar_is_conditional(client, session, now):
    add(session, "Database upgrade", now + timedelta(days=2), now=now)
    session.commit()
    first = client.get("/maintenance.ics")
    etag = first.headers["ETag"]
    assert "max-age" in first.headers["Cache-Control"]
    again = client.get("/maintenance.ics", headers={"If-None-Match": etag})
    assert again.status_code == 304
    maintenance = session.scalar(sa.select(Maintenance))
    advance_maintenance(
        session, maintenance, M.IN_PROGRESS, actor_id=None, now=now + timedelta(seconds=1)
    )
    session.commit()
    changed = client.get("/maintenance.ics", headers={"If-None-Match": etag})
    assert changed.status_code == 200


@pytest.mark.parametrize("site_url", ["https://status.example.com:8443/base"])
def test_uid_and_links_follow_site_url(app, client, session, now, site_url):
    app.config["SITE_URL"] = site_url
    maintenance = add(session, "Database upgrade", now + timedelta(days=2), now=now)
    session.commit()
    [event] = Calendar.from_ical(client.get("/maintenance.ics").data).walk("VEVENT")
    assert str(event["UID"]) == f"maintenance-{maintenance.id}@status.example.com"
    assert str(event["URL"]) == f"{site_url}/maintenance/{maintenance.id}"


def test_the_calendar_runs_a_fixed_number_of_statements(
    client, session, make_component, count_queries, now
):
    api = make_component("API")

    def more(number: int, offset: int) -> None:
        for index in range(offset, offset + number):
            add(
                session,
                f"Window {index}",
                now + timedelta(days=index + 1),
                now=now,
                component_ids=[api.id],
            )
        session.commit()

    more(2, 0)
    few = count_queries(lambda: client.get("/maintenance.ics"))
    more(20, 2)
    many = count_queries(lambda: client.get("/maintenance.ics"))
    assert few == many
    assert len(Calendar.from_ical(client.get("/maintenance.ics").data).walk("VEVENT")) == 22


def test_each_event_has_a_sequence_that_grows_when_the_maintenance_is_moved(client, session, now):
    """RFC 5545: a calendar app replaces its copy of an event only when SEQUENCE grows, so a
    moved window must come with a larger number, or subscribers keep the old time."""
    from statuspage.incidents.maintenance import MaintenanceChanges, update_maintenance

    starts = now + timedelta(days=3)
    window = add(session, "Database upgrade", starts, now=now)
    session.commit()
    first = events(client.get("/maintenance.ics"))["Database upgrade"]
    assert int(first["SEQUENCE"]) == 0

    def move(to, at):
        update_maintenance(
            session,
            window,
            MaintenanceChanges(
                title="Database upgrade", scheduled_for=to, scheduled_until=to + timedelta(hours=2)
            ),
            actor_id=None,
            now=at,
        )
        session.commit()
        return events(client.get("/maintenance.ics"))["Database upgrade"]

    moved = move(starts + timedelta(days=1), now + timedelta(minutes=5))
    assert moved.decoded("DTSTART") == starts + timedelta(days=1)
    assert int(moved["SEQUENCE"]) > int(first["SEQUENCE"])
    again = move(starts + timedelta(days=2), now + timedelta(minutes=6))
    assert int(again["SEQUENCE"]) > int(moved["SEQUENCE"])
    assert int(again["SEQUENCE"]) < 2**31  # an iCalendar INTEGER
    assert str(again["UID"]) == str(first["UID"])


def test_the_calendar_speaks_the_readers_language(client, session, make_component, now):
    """`?lang=fr`: the calendar's own words and status from the French catalog, and the title
    and message staff translated; an untranslated maintenance keeps its English text."""
    from babel.support import Translations

    from statuspage.i18n import TRANSLATIONS
    from statuspage.incidents.translations import set_translation

    french = Translations.load(str(TRANSLATIONS), ["fr"], domain="messages")

    def fr(msgid: str, **values: str) -> str:
        found = french.gettext(msgid)
        assert found != msgid, f"no French for {msgid!r}"
        return found % values if values else found

    api = make_component("API")
    translated = add(
        session,
        "Database upgrade",
        now + timedelta(days=1),
        now=now,
        body="Checkout pauses for ten minutes.",
        component_ids=[api.id],
    )
    add(session, "Network work", now + timedelta(days=2), now=now)
    set_translation(
        session,
        "maintenance",
        translated.id,
        "fr",
        {"title": "Mise à niveau de la base", "body": "Le paiement s'arrête dix minutes."},
        default_language="en",
        actor_id=None,
        now=now,
    )
    session.commit()

    answer = client.get("/maintenance.ics?lang=fr")
    assert answer.status_code == 200
    found = events(answer)
    assert set(found) == {"Mise à niveau de la base", "Network work"}
    description = str(found["Mise à niveau de la base"]["DESCRIPTION"])
    assert "Le paiement s'arrête dix minutes." in description
    assert fr("Status: %(status)s", status=fr("Scheduled")) in description
    assert fr("Affected components: %(names)s", names="API") in description
    calendar = Calendar.from_ical(answer.data)
    site = str(Calendar.from_ical(client.get("/maintenance.ics").data)["X-WR-CALNAME"])
    assert site.endswith(" maintenance")  # "<site name> maintenance" in English
    site_name = site.removesuffix(" maintenance")
    assert str(calendar["X-WR-CALNAME"]) == fr("%(site)s maintenance", site=site_name)

    english = events(client.get("/maintenance.ics"))
    assert set(english) == {"Database upgrade", "Network work"}
    assert "Status: Scheduled" in str(english["Database upgrade"]["DESCRIPTION"])
