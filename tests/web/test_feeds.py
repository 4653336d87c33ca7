"""RSS and Atom feeds of the public history: parsed back, validated as XML, on both databases."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from xml.dom import minidom

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import statuspage.models  # noqa: F401 - every mapper, for objects built without a database
from statuspage.components.models import Component
from statuspage.core.rendering import render_markdown
from statuspage.incidents.closure import ClosureReportText, write_closure_report
from statuspage.incidents.maintenance import NewMaintenance, advance_maintenance
from statuspage.incidents.maintenance import schedule_maintenance as schedule
from statuspage.incidents.models import (
    ClosureReport,
    Incident,
    IncidentComponent,
    IncidentUpdate,
    Maintenance,
    MaintenanceStatus,
    MaintenanceUpdate,
    PublicStatus,
)
from statuspage.incidents.operations import post_update
from statuspage.public import feeds

KINDS = {"rss": "application/rss+xml", "atom": "application/atom+xml"}
SITE = "http://localhost"


def parse_xml(data: bytes) -> minidom.Document:
    """Strict XML 1.0 parsing (expat): raises on anything that is not well-formed."""
    return minidom.parseString(data)  # noqa: S318 - our own feed under test, not foreign input


def fetch(client, path: str) -> tuple[bytes, feedparser.FeedParserDict]:
    """Get a feed, check it is well-formed XML of the right type, and parse it as a reader would."""
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    kind = path.rsplit(".", 1)[1]
    assert response.mimetype == KINDS[kind]
    assert response.mimetype_params.get("charset") == "utf-8"
    parse_xml(response.data)
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return response.data, parsed


def raw_contents(xml: bytes) -> dict[str, str]:
    """Entry id -> the HTML content exactly as the feed carries it (feedparser would clean it)."""
    document = parse_xml(xml)
    found = {}
    for entry in [*document.getElementsByTagName("entry"), *document.getElementsByTagName("item")]:
        id_tag = "id" if entry.tagName == "entry" else "guid"
        content_tag = "content" if entry.tagName == "entry" else "description"
        entry_id = entry.getElementsByTagName(id_tag)[0].firstChild.data
        node = entry.getElementsByTagName(content_tag)[0]
        found[entry_id] = "".join(child.data for child in node.childNodes)
    return found


def raw_titles(xml: bytes) -> list[str]:
    document = parse_xml(xml)
    entries = [*document.getElementsByTagName("entry"), *document.getElementsByTagName("item")]
    return [
        "".join(c.data for c in entry.getElementsByTagName("title")[0].childNodes)
        for entry in entries
    ]


def timestamp(parsed_time) -> int:
    return calendar.timegm(parsed_time)


def self_link(parsed) -> dict:
    links = [link for link in parsed.feed.links if link.get("rel") == "self"]
    assert len(links) == 1
    return links[0]


class TagCollector(HTMLParser):
    """Every tag and attribute in a piece of HTML, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


def assert_inert(html: str) -> None:
    collector = TagCollector()
    collector.feed(html)
    assert not {"script", "img", "iframe", "svg", "object", "embed"} & set(collector.tags)
    for name, value in collector.attributes:
        assert not name.startswith("on"), (name, value)
        assert not value.strip().lower().startswith("javascript:"), (name, value)


@pytest.fixture
def story(session, make_component, make_incident, now):
    """An incident with three updates and a closure report, a planned maintenance, and things
    that must stay out of the feeds: a private incident and a draft update."""
    api = make_component("API")
    incident = make_incident(
        "Elevated errors",
        components={api.id: "partial_outage"},
        started=now - timedelta(hours=3),
        body="First **look**.",
    )
    post_update(
        session,
        incident,
        status=PublicStatus.IDENTIFIED,
        body="Found the _cause_.",
        actor_id=None,
        now=now - timedelta(hours=2),
    )
    post_update(
        session,
        incident,
        status=PublicStatus.RESOLVED,
        body="All fixed.",
        component_statuses={api.id: "operational"},
        actor_id=None,
        now=now - timedelta(hours=1),
    )
    write_closure_report(
        session,
        incident,
        ClosureReportText(
            summary="Summary of it all.",
            impact="Some requests failed.",
            cause="A bad deploy.",
            resolution="Rolled back.",
            prevention="Canary deploys.",
        ),
        actor_id=None,
        now=now - timedelta(minutes=30),
    )
    session.add(
        IncidentUpdate(
            incident_id=incident.id,
            status=PublicStatus.MONITORING,
            body="Draft words nobody may read yet",
            created_at=now,
        )
    )
    maintenance = schedule(
        session,
        NewMaintenance(
            title="Database upgrade",
            scheduled_for=now + timedelta(days=1),
            scheduled_until=now + timedelta(days=1, hours=2),
            body="A short **pause**.",
            component_ids=[api.id],
        ),
        actor_id=None,
        now=now - timedelta(minutes=10),
    )
    make_incident("Secret internal thing", public=False)
    session.commit()
    return {"api": api, "incident": incident, "maintenance": maintenance}


def test_history_feeds_list_public_incidents_and_maintenance(client, story, now):
    for kind in KINDS:
        check_history_feed(client, story, now, kind)
        # Same data, same bytes: a reader polling with the ETag gets a 304.
        first = client.get(f"/history.{kind}")
        assert first.headers["Cache-Control"] == (
            "public, max-age=15, stale-while-revalidate=60, stale-if-error=86400"
        )
        again = client.get(f"/history.{kind}", headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304


def check_history_feed(client, story, now, kind: str) -> None:
    incident, maintenance = story["incident"], story["maintenance"]
    xml, parsed = fetch(client, f"/history.{kind}")

    assert [entry.title for entry in parsed.entries] == [
        "Maintenance: Database upgrade",  # announced 10 minutes ago
        "Elevated errors",  # first public 3 hours ago
    ]
    maintenance_entry, incident_entry = parsed.entries
    assert incident_entry.link == f"{SITE}/incidents/{incident.id}"
    assert maintenance_entry.link == f"{SITE}/maintenance/{maintenance.id}"
    assert incident_entry.id.startswith("tag:localhost,")
    assert incident_entry.id.endswith(f":incident:{incident.id}")
    assert maintenance_entry.id.endswith(f":maintenance:{maintenance.id}")

    # Published: the first public update; updated: the closure report, the latest public change.
    assert timestamp(incident_entry.published_parsed) == (now - timedelta(hours=3)).timestamp()
    assert timestamp(incident_entry.updated_parsed) == (now - timedelta(minutes=30)).timestamp()
    assert (
        timestamp(maintenance_entry.published_parsed) == (now - timedelta(minutes=10)).timestamp()
    )
    # Dates carry their zone in the XML itself.
    text = xml.decode()
    if kind == "atom":
        assert re.search(r"<published>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00</published>", text)
        assert timestamp(parsed.feed.updated_parsed) == (now - timedelta(minutes=10)).timestamp()
    else:
        assert re.search(r"<pubDate>\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000</pubDate>", text)
        assert "<atom:updated>" in text

    link = self_link(parsed)
    assert link["href"] == f"{SITE}/history.{kind}"
    assert link["type"] == KINDS[kind]

    contents = raw_contents(xml)
    content = contents[incident_entry.id]
    first = content.index(str(render_markdown("All fixed.")))
    second = content.index(str(render_markdown("Found the _cause_.")))
    third = content.index(str(render_markdown("First **look**.")))
    assert first < second < third  # newest first
    assert "Closure report" in content
    for part in ("Summary of it all.", "A bad deploy.", "Rolled back.", "Canary deploys."):
        assert str(render_markdown(part)) in content
    assert "Affected components: API" in content
    assert str(render_markdown("A short **pause**.")) in contents[maintenance_entry.id]

    assert "Draft words" not in text
    assert "Secret internal thing" not in text


def test_entry_keeps_its_id_when_the_incident_changes(client, session, make_incident, now):
    incident = make_incident("Slow logins", started=now - timedelta(hours=2))
    session.commit()
    before = {kind: fetch(client, f"/history.{kind}")[1] for kind in KINDS}

    incident.title = "Slow logins for some customers"
    post_update(
        session,
        incident,
        status=PublicStatus.MONITORING,
        body="A fix is out; watching.",
        actor_id=None,
        now=now - timedelta(minutes=5),
    )
    session.commit()
    for kind in KINDS:
        xml, after = fetch(client, f"/history.{kind}")
        old, new = before[kind].entries[0], after.entries[0]
        assert len(after.entries) == 1
        assert new.id == old.id
        assert new.title == "Slow logins for some customers"
        assert new.published_parsed == old.published_parsed
        assert timestamp(new.updated_parsed) == (now - timedelta(minutes=5)).timestamp()
        assert "A fix is out; watching." in raw_contents(xml)[new.id]


HOSTILE_TITLE = "Outage <script>alert(1)</script>\x00\x0b\x1f & more"
HOSTILE_BODY = (
    "<script>alert(1)</script>\n\n"
    '[click me](javascript:alert(2)) and <img src=x onerror="alert(3)">\n\n'
    '<a href="#" onclick="alert(4)">x</a> [ok](JaVaScRiPt:alert(5))\n\n'
    "nul\x00 vt\x0b us\x1f ff\x0c end\ufffe"
)


def test_hostile_input_stays_inert_and_the_feed_valid(
    client, session, make_component, make_incident, now
):
    def stored(text: str) -> str:
        # PostgreSQL refuses NUL in text outright; SQLite keeps it, and the property test
        # below feeds it to the builder directly.
        return text.replace("\x00", "") if session.get_bind().dialect.name == "postgresql" else text

    component = make_component(stored("API\x00 <b>bold</b>"))
    incident = make_incident(
        "placeholder", components={component.id: "major_outage"}, body=stored(HOSTILE_BODY)
    )
    incident.title = stored(HOSTILE_TITLE)  # past the form, as if typed into the database
    write_closure_report(
        session,
        incident,
        ClosureReportText(
            summary=stored(HOSTILE_BODY),
            impact="<iframe src=//evil.example>",
            cause=stored("a cause\x1f\x00"),
            resolution="[x](javascript:alert(6))",
            prevention="<svg onload=alert(7)>",
        ),
        actor_id=None,
        now=now,
    )
    schedule(
        session,
        NewMaintenance(
            title=stored(HOSTILE_TITLE),
            scheduled_for=now + timedelta(hours=1),
            scheduled_until=now + timedelta(hours=2),
            body=stored(HOSTILE_BODY),
            component_ids=[component.id],
        ),
        actor_id=None,
        now=now,
    )
    session.commit()

    for path in [
        f"{prefix}history.{kind}"
        for prefix in ("/", f"/components/{component.id}/")
        for kind in KINDS
    ]:
        xml, parsed = fetch(client, path)
        assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", xml)
        assert "\ufffe" not in xml.decode()
        titles = raw_titles(xml)
        assert "Outage <script>alert(1)</script> & more" in titles
        assert "Maintenance: Outage <script>alert(1)</script> & more" in titles
        for content in raw_contents(xml).values():
            assert_inert(content)
        assert len(parsed.entries) == 2


# A property test on the pure builder: no database, so it can try many texts quickly.

_WHEN = datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)
_INFO = feeds.FeedInfo(
    title="Example Status history",
    description="Incidents and maintenance",
    home_url="https://status.example.com/history",
    rss_url="https://status.example.com/history.rss",
    atom_url="https://status.example.com/history.atom",
    author="Example Status",
)


def _incident(title: str, body: str) -> Incident:
    return Incident(
        id=1,
        title=title,
        created_at=_WHEN,
        published_at=_WHEN,
        affected=[IncidentComponent(component=Component(name=title))],
        updates=[
            IncidentUpdate(
                status=PublicStatus.RESOLVED,
                body=body,
                published_at=_WHEN + timedelta(hours=1),
                edited_at=_WHEN + timedelta(hours=2),
            ),
            IncidentUpdate(status=PublicStatus.INVESTIGATING, body=body, published_at=_WHEN),
        ],
        closure_report=ClosureReport(
            summary=body,
            impact=title,
            cause=body,
            resolution=body,
            prevention=body,
            published_at=_WHEN + timedelta(hours=3),
        ),
    )


def _maintenance(title: str, body: str) -> Maintenance:
    return Maintenance(
        id=1,
        title=title,
        body=body,
        status=MaintenanceStatus.IN_PROGRESS,
        scheduled_for=_WHEN,
        scheduled_until=_WHEN + timedelta(hours=1),
        created_at=_WHEN - timedelta(days=1),
        updated_at=_WHEN,
        components=[Component(name=body)],
        updates=[
            MaintenanceUpdate(status=MaintenanceStatus.IN_PROGRESS, body=body, created_at=_WHEN),
            MaintenanceUpdate(
                status=MaintenanceStatus.SCHEDULED, body=title, created_at=_WHEN - timedelta(1)
            ),
        ],
    )


@settings(max_examples=25, deadline=None, database=None)
@given(title=st.text(max_size=120), body=st.text(max_size=400), site=st.text(max_size=40))
def test_any_text_keeps_both_feeds_valid_xml(title, body, site):
    info = feeds.FeedInfo(**{**_INFO.__dict__, "title": site, "author": site})
    items = [
        feeds.incident_item(
            _incident(title, body), url=f"{_INFO.home_url}/1", authority="status.example.com"
        ),
        feeds.maintenance_item(
            _maintenance(title, body), url=f"{_INFO.home_url}/m1", authority="status.example.com"
        ),
    ]
    for kind in ("rss", "atom"):
        xml = feeds.render_feed(info, items, kind, now=_WHEN)
        parse_xml(xml)
        parsed = feedparser.parse(xml)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert len(parsed.entries) == 2
        for content in raw_contents(xml).values():
            assert_inert(content)


def test_empty_feeds_are_valid(client):
    for kind in ("rss", "atom"):
        _, parsed = fetch(client, f"/history.{kind}")
        assert parsed.entries == []
        assert parsed.feed.title == "Test Status history"


def test_component_feed_has_only_that_components_history(
    client, session, make_component, make_incident, now
):
    api = make_component("API")
    web = make_component("Website")
    make_incident("API is slow", components={api.id: "degraded_performance"})
    make_incident("Website is down", components={web.id: "major_outage"})
    maintenance = schedule(
        session,
        NewMaintenance(
            title="Website move",
            scheduled_for=now - timedelta(hours=1),
            scheduled_until=now + timedelta(hours=1),
            component_ids=[web.id],
        ),
        actor_id=None,
        now=now - timedelta(days=1),
    )
    advance_maintenance(session, maintenance, MaintenanceStatus.IN_PROGRESS, actor_id=None, now=now)
    session.commit()

    for kind in KINDS:
        _, parsed = fetch(client, f"/components/{api.id}/history.{kind}")
        assert [entry.title for entry in parsed.entries] == ["API is slow"]
        assert self_link(parsed)["href"] == f"{SITE}/components/{api.id}/history.{kind}"
        assert parsed.feed.title == "Test Status: API history"

        _, parsed = fetch(client, f"/components/{web.id}/history.{kind}")
        assert sorted(entry.title for entry in parsed.entries) == [
            "Maintenance: Website move",
            "Website is down",
        ]

        _, parsed = fetch(client, f"/history.{kind}")
        assert len(parsed.entries) == 3


def test_unknown_or_hidden_component_feed_is_the_sites_404(client, session, make_component):
    hidden = make_component("Internal", is_public=False)
    session.commit()
    for component_id, kind in [(i, k) for i in (hidden.id, hidden.id + 1000) for k in KINDS]:
        response = client.get(f"/components/{component_id}/history.{kind}")
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert "Go to the current status" in response.get_data(as_text=True)


def test_public_pages_advertise_the_feeds(client, session, make_component):
    api = make_component("API")
    session.commit()
    page = client.get("/").get_data(as_text=True)
    assert re.search(
        r'<link rel="alternate" type="application/rss\+xml" title="Test Status history \(RSS\)"'
        r' href="/history.rss">',
        page,
    )
    assert re.search(
        r'<link rel="alternate" type="application/atom\+xml" title="Test Status history \(Atom\)"'
        r' href="/history.atom">',
        page,
    )
    # The history of one component offers that component's feeds as well.
    page = client.get(f"/history?component={api.id}").get_data(as_text=True)
    assert f'href="/components/{api.id}/history.atom"' in page
    assert f'href="/components/{api.id}/history.rss"' in page


def test_feed_runs_the_same_number_of_statements_for_3_and_20_incidents(
    client, session, make_component, make_incident, now, count_queries
):
    api = make_component("API")

    def add_incidents(count: int, offset: int) -> None:
        for number in range(count):
            incident = make_incident(
                f"Incident {offset + number}",
                components={api.id: "degraded_performance"},
                started=now - timedelta(hours=offset + number + 1),
                resolved_after=timedelta(minutes=20),
            )
            if number == 0:
                write_closure_report(
                    session,
                    incident,
                    ClosureReportText("s", "i", "c", "r", "p"),
                    actor_id=None,
                    now=now,
                )
        schedule(
            session,
            NewMaintenance(
                title=f"Maintenance {offset}",
                scheduled_for=now + timedelta(days=1),
                scheduled_until=now + timedelta(days=1, hours=1),
                component_ids=[api.id],
            ),
            actor_id=None,
            now=now - timedelta(minutes=offset),
        )
        session.commit()

    add_incidents(3, 0)
    few = count_queries(lambda: fetch(client, "/history.atom"))
    add_incidents(17, 3)
    many = count_queries(lambda: fetch(client, "/history.atom"))
    assert few == many
    _, parsed = fetch(client, "/history.atom")
    assert len(parsed.entries) == 22


def test_feed_holds_only_the_newest_entries(client, session, make_incident, now, monkeypatch):
    monkeypatch.setattr(feeds, "FEED_LIMIT", 2)
    for hours in (3, 1, 2):
        make_incident(f"{hours} hours ago", started=now - timedelta(hours=hours))
    session.commit()
    _, parsed = fetch(client, "/history.rss")
    assert [entry.title for entry in parsed.entries] == ["1 hours ago", "2 hours ago"]
