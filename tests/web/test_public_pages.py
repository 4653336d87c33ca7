"""The public pages through the test client, on SQLite and PostgreSQL."""

import re
from datetime import timedelta

import pytest

from statuspage.incidents.closure import ClosureReportText, write_closure_report
from statuspage.incidents.maintenance import (
    NewMaintenance,
    advance_maintenance,
    schedule_maintenance,
)
from statuspage.incidents.models import MaintenanceStatus
from statuspage.incidents.operations import (
    NewIncident,
    open_incident,
)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_empty_site_says_all_operational(client):
    response = client.get("/")
    assert response.status_code == 200
    page = text(response)
    assert "All Systems Operational" in page
    assert "No components are listed yet." in page


def test_front_page_shows_overall_status_components_and_active_incident(
    client, session, make_component, make_incident
):
    api = make_component("REST API", group="API")
    make_component("Webhooks", group="API")
    make_component("Website", group="Customer-facing")
    make_incident(
        "Elevated error rates",
        components={api.id: "partial_outage"},
        body="Some requests **fail**.",
    )
    session.commit()

    page = text(client.get("/"))
    assert "Partial System Outage" in page
    assert "Active incidents" in page
    assert "Elevated error rates" in page
    assert "Some requests <strong>fail</strong>." in page
    # Status in words next to each component, never colour alone.
    assert re.search(
        r"REST API</h3> ?<span class=\"status status--partial_outage\">"
        r"<span class=\"status-icon\" aria-hidden=\"true\">.</span> Partial outage",
        page,
    )
    assert "Operational" in page
    # Groups are collapsible without JavaScript and say their worst status.
    assert '<details class="group" open>' in page
    assert page.index("API") < page.index("Customer-facing")
    # The uptime method is written on the page.
    assert "How uptime is counted" in page and "30% downtime" in page


def test_uptime_bar_has_ninety_days_and_explains_incident_days(
    client, session, make_component, make_incident, now
):
    api = make_component("REST API")
    # Noon three days ago: 45 minutes that never cross a midnight, whenever the test runs.
    started = (now - timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    incident = make_incident(
        "Database failover",
        components={api.id: "major_outage"},
        started=started,
        resolved_after=timedelta(minutes=45),
    )
    session.commit()

    page = text(client.get("/"))
    # One picture per bar, said in words: its outage day counted, the days a path per kind.
    bar = re.search(r'<svg class="uptime-bar[^"]*"([^>]*)>(.*?)</svg>', page)
    assert 'viewBox="0 0 900 32"' in bar.group(1) and 'role="img"' in bar.group(1)
    label = re.search(r'aria-label="([^"]+)"', bar.group(1)).group(1)
    assert (
        label.startswith("REST API: daily uptime, ") and "over 90 days; 1 day with outages" in label
    )
    paths = dict(re.findall(r'<path class="day--(\w+)" d="([^"]+)"/>', bar.group(2)))
    assert sum(d.count("z") for d in paths.values()) == 90
    assert paths["major"].count("z") == 1  # 45 minutes down: a long outage day
    assert re.search(r"\d+\.\d\d% uptime", page)

    # Each day's minutes and incidents: one link away, a plain link (keyboard, no script).
    link = f'href="/components/{api.id}/uptime"'
    assert link in page
    days = text(client.get(f"/components/{api.id}/uptime"))
    assert "REST API: uptime day by day" in days
    rows = re.findall(r"<tr>(.*?)</tr>", days.split("<tbody>")[1], re.DOTALL)
    assert len(rows) == 90
    outage_day = started.date()
    row = next(r for r in rows if f'datetime="{outage_day.isoformat()}"' in r)
    assert "45 min" in row and "30 minutes or more down" in row
    assert f'/incidents/{incident.id}">Database failover</a>' in row
    assert "Days are calendar days in UTC" in days


def test_day_by_day_page_of_an_unlisted_component_is_not_found(client, session, make_component):
    hidden = make_component("Internal", is_public=False)
    session.commit()
    assert client.get(f"/components/{hidden.id}/uptime").status_code == 404
    assert client.get("/components/999999/uptime").status_code == 404


def test_times_carry_iso_attribute_and_name_utc(client, session, make_component, make_incident):
    make_incident("Slow", components={make_component("API").id: "degraded_performance"})
    session.commit()
    page = text(client.get("/"))
    times = re.findall(r'<time datetime="([^"]+)" data-localize="datetime">([^<]+)</time>', page)
    assert times
    for iso, shown in times:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", iso)
        assert shown.endswith(" UTC")


def test_past_fourteen_days_with_quiet_days(client, session, make_component, make_incident, now):
    api = make_component("API")
    make_incident(
        "Two days ago",
        components={api.id: "partial_outage"},
        started=now - timedelta(days=2),
        resolved_after=timedelta(hours=1),
    )
    make_incident(
        "Too old for the list",
        components={api.id: "partial_outage"},
        started=now - timedelta(days=20),
        resolved_after=timedelta(hours=1),
    )
    session.commit()
    page = text(client.get("/"))
    past = page[page.index("Past incidents") :]
    assert past.count('<div class="past-day">') == 14
    assert "Two days ago" in past
    assert "Too old for the list" not in past
    assert past.count("No incidents reported.") == 13


def test_non_public_incident_is_invisible(client, session, make_incident):
    incident = make_incident("Internal only", public=False)
    session.commit()
    assert "Internal only" not in text(client.get("/"))
    assert client.get(f"/incidents/{incident.id}").status_code == 404
    assert "Internal only" not in text(client.get("/history"))


def test_maintenance_in_progress_and_upcoming(client, session, make_component, now):
    database = make_component("Database")
    running = schedule_maintenance(
        session,
        NewMaintenance(
            title="Database upgrade",
            scheduled_for=now - timedelta(minutes=10),
            scheduled_until=now + timedelta(hours=1),
            component_ids=[database.id],
        ),
        actor_id=None,
        now=now - timedelta(days=2),
    )
    advance_maintenance(
        session,
        running,
        MaintenanceStatus.IN_PROGRESS,
        actor_id=None,
        now=now - timedelta(minutes=10),
    )
    schedule_maintenance(
        session,
        NewMaintenance(
            title="Network work",
            scheduled_for=now + timedelta(days=2),
            scheduled_until=now + timedelta(days=2, hours=2),
        ),
        actor_id=None,
        now=now,
    )
    session.commit()
    page = text(client.get("/"))
    assert "Service Under Maintenance" in page
    assert "Database upgrade" in page and "In progress" in page
    assert "Network work" in page and "Scheduled" in page
    detail = text(client.get(f"/maintenance/{running.id}"))
    assert "Database upgrade" in detail and "Database" in detail


def test_incident_page_shows_updates_newest_first_duration_and_report(
    client, session, make_component, make_incident, now
):
    api = make_component("API")
    started = now - timedelta(hours=5)
    incident = make_incident(
        "Checkout errors",
        components={api.id: "major_outage"},
        started=started,
        resolved_after=timedelta(hours=2, minutes=5),
        body="First we saw errors.",
    )
    write_closure_report(
        session,
        incident,
        ClosureReportText(
            summary="Checkout failed.",
            impact="All buyers.",
            cause="A bad deploy.",
            resolution="Rolled back.",
            prevention="Canary deploys.",
        ),
        actor_id=None,
        now=now,
    )
    session.commit()
    page = text(client.get(f"/incidents/{incident.id}"))
    assert page.index("Resolved.") < page.index("First we saw errors.")
    assert "2 h 5 min" in page
    assert 'API: <span class="status status--major_outage">' in page
    assert "A bad deploy." in page and "Canary deploys." in page
    assert "Post-incident review" in page


def test_markdown_from_staff_is_sanitized(client, session, make_component, make_incident):
    incident = make_incident(
        "XSS attempt",
        body="<script>alert(1)</script> [link](javascript:alert(2)) <img src=x onerror=alert(3)>",
    )
    session.commit()
    for url in ("/", f"/incidents/{incident.id}"):
        page = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in page
        assert 'href="javascript' not in page
        assert "<img" not in page  # shown as text at most, never as a tag
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_history_groups_by_month_and_paginates(
    app, client, session, make_component, make_incident, now
):
    api = make_component("API")
    for day in range(30):
        make_incident(
            f"Old incident {day}",
            components={api.id: "partial_outage"},
            started=now - timedelta(days=10 + day * 3),
            resolved_after=timedelta(hours=1),
        )
    session.commit()
    first = text(client.get("/history"))
    assert first.count('class="impact-border--') == app.config["HISTORY_PAGE_SIZE"]
    assert "Page 1" in first and 'rel="next"' in first
    assert "<h2><time datetime=" in first
    second = text(client.get("/history?page=2"))
    assert second.count('class="impact-border--') == 30 - app.config["HISTORY_PAGE_SIZE"]
    assert "Old incident 29" in second
    beyond = client.get("/history?page=99")
    assert beyond.status_code == 200
    assert "No incidents or maintenance" in text(beyond)


def test_history_filters_by_component(client, session, make_component, make_incident, now):
    api = make_component("API")
    web = make_component("Website")
    make_incident(
        "API trouble",
        components={api.id: "major_outage"},
        started=now - timedelta(days=3),
        resolved_after=timedelta(hours=1),
    )
    make_incident(
        "Website trouble",
        components={web.id: "major_outage"},
        started=now - timedelta(days=4),
        resolved_after=timedelta(hours=1),
    )
    session.commit()
    page = text(client.get(f"/history?component={web.id}"))
    assert "Website trouble" in page and "API trouble" not in page
    assert f'<option value="{web.id}" selected>' in page


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/history?page=-1", 200),
        ("/history?page=0", 200),
        ("/history?page=abc", 400),
        ("/history?component=abc", 400),
        ("/history?component=424242", 400),
        ("/history?page=1e9", 400),
        ("/incidents/424242", 404),
        ("/maintenance/424242", 404),
        ("/incidents/abc", 404),
        ("/no-such-page", 404),
    ],
)
def test_bad_input_gets_a_clear_answer_never_a_500(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    body = response.get_data(as_text=True)
    assert "Traceback" not in body
    assert "Go to the current status" in body or status == 200


def test_bad_parameter_message_names_the_parameter(client):
    body = client.get("/history?component=abc").get_data(as_text=True)
    assert "component" in body and "whole number" in body


def test_front_page_and_history_run_a_bounded_number_of_queries(
    client, session, make_component, make_incident, count_queries, now
):
    api = make_component("API", group="G")
    web = make_component("Web", group="G")

    def add(count: int, offset: int) -> None:
        for index in range(count):
            make_incident(
                f"Incident {offset + index}",
                components={api.id: "partial_outage", web.id: "degraded_performance"},
                started=now - timedelta(days=1 + (offset + index) % 80, hours=index),
                resolved_after=timedelta(minutes=30),
            )
        session.commit()

    add(3, 0)
    few_front = count_queries(lambda: client.get("/"))
    few_history = count_queries(lambda: client.get("/history"))
    add(40, 3)
    many_front = count_queries(lambda: client.get("/"))
    many_history = count_queries(lambda: client.get("/history"))
    assert many_front == few_front
    assert many_history == few_history
    assert many_front < 25


def test_unpublished_incident_without_updates_does_not_change_overall_status(client, session, now):
    open_incident(session, NewIncident(title="Quiet"), actor_id=None, now=now)
    session.commit()
    assert "All Systems Operational" in text(client.get("/"))


def test_a_resolved_incident_labels_the_worst_status_as_past(
    client, session, make_component, make_incident, now
):
    """The incident header lists each component's worst status during the incident; once the
    incident is resolved it must not read as the component's current status."""
    checkout = make_component("Checkout")
    resolved = make_incident(
        "Payments failing",
        components={checkout.id: "partial_outage"},
        started=now - timedelta(hours=3),
        resolved_after=timedelta(hours=1),
    )
    ongoing = make_incident("Slow search", components={checkout.id: "degraded_performance"})
    session.commit()

    page = text(client.get(f"/incidents/{resolved.id}"))
    facts = page.split('<dl class="facts">', 1)[1].split("</dl>", 1)[0]
    assert re.search(r"Checkout: <span class=\"status status--partial_outage\">.*?</span>", facts)
    assert "worst during the incident" in facts
    # and what it is now: degraded, by the other incident still open
    assert "worst during the incident; Degraded performance now" in facts

    current = text(client.get(f"/incidents/{ongoing.id}"))
    facts = current.split('<dl class="facts">', 1)[1].split("</dl>", 1)[0]
    assert "worst so far" in facts and "worst during the incident" not in facts
    assert " now" not in facts.split("worst so far", 1)[1].split("</li>", 1)[0]  # same as now


CHANNELS = {
    "/subscribe": "Email",
    "/history.rss": "RSS",
    "/history.atom": "Atom",
    "/maintenance.ics": "calendar",
    "/badge.svg": "badge",
    "/api/v2/summary.json": "JSON",
}


def get_updates_area(html: str) -> str:
    match = re.search(
        r'<section class="get-updates" aria-labelledby="get-updates-heading">(.*?)</section>',
        html,
        re.S,
    )
    assert match, "no Get updates area"
    assert '<h2 id="get-updates-heading">Get updates</h2>' in match.group(1)
    return match.group(1)


def test_every_public_page_shows_every_way_to_get_updates(
    client, session, make_component, make_incident, now
):
    """Feeds, the calendar, the badge and the JSON API were only in <link rel=alternate>,
    which no reader sees: each page lists every channel as a plain link (no script needed)."""
    api = make_component("API")
    incident = make_incident("Errors", components={api.id: "partial_outage"})
    window = schedule_maintenance(
        session,
        NewMaintenance(
            title="Upgrade",
            scheduled_for=now + timedelta(days=1),
            scheduled_until=now + timedelta(days=1, hours=1),
        ),
        actor_id=None,
        now=now,
    )
    session.commit()
    for path in ("/", "/history", f"/incidents/{incident.id}", f"/maintenance/{window.id}"):
        area = get_updates_area(client.get(path).get_data(as_text=True))
        for href, words in CHANNELS.items():
            link = re.search(rf'<a href="{re.escape(href)}"[^>]*>([^<]+)</a>', area)
            assert link, (path, href)
            assert words.lower() in link.group(1).lower(), (path, href, link.group(1))

    # Filtered by a component, its own feeds and badge are offered too.
    area = get_updates_area(client.get(f"/history?component={api.id}").get_data(as_text=True))
    for href in ("history.rss", "history.atom", "badge.svg"):
        assert f'href="/components/{api.id}/{href}"' in area


def test_the_staff_area_has_no_get_updates_area(client, make_user, login):
    login(make_user("admin"))
    assert "get-updates" not in client.get("/admin/incidents").get_data(as_text=True)
