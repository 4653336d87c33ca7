"""The admin incident list (filters, search, sorting, pages) and the dashboard with its CSV,
through the test client on SQLite and PostgreSQL."""

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from statuspage.auth.models import Role, User
from statuspage.incidents import reports
from statuspage.incidents.casework import assign_incident
from statuspage.incidents.lifecycle import TransitionDetails, transition_incident
from statuspage.incidents.models import (
    Category,
    IncidentStatus,
    Level,
    SlaEvent,
    SlaState,
    SlaTarget,
)
from statuspage.incidents.operations import NewIncident, categorize_incident, open_incident

S = IncidentStatus
RESOLUTION = TransitionDetails(
    resolution_code="fixed", resolution_summary="Fixed.", verification="Checked."
)
PRIORITY_LEVELS = {
    "P1": (Level.HIGH, Level.HIGH),
    "P2": (Level.HIGH, Level.MEDIUM),
    "P3": (Level.MEDIUM, Level.MEDIUM),
    "P4": (Level.LOW, Level.LOW),
}


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def listed_ids(response) -> list[int]:
    """Incident numbers in the order the list shows them."""
    return [int(n) for n in re.findall(r'href="/admin/incidents/(\d+)"', text(response))]


def work(
    session,
    title,
    *,
    start,
    detect=0,
    ack=None,
    resolve=None,
    priority=None,
    category_id=None,
    description="",
    component_ids=(),
    cancel=False,
):
    """An incident taken through the domain functions; milestones in minutes after `start`."""

    def at(offset):
        return start + timedelta(minutes=offset)

    incident = open_incident(
        session,
        NewIncident(
            title=title,
            description=description,
            impact_started_at=start,
            detected_at=at(detect),
            component_ids=list(component_ids),
        ),
        actor_id=None,
        now=at(detect),
    )
    if priority is not None:
        impact, urgency = PRIORITY_LEVELS[priority]
        categorize_incident(
            session,
            incident,
            category_id=category_id,
            subcategory_id=None,
            impact=impact,
            urgency=urgency,
            actor_id=None,
            now=at(detect),
        )
    if cancel:
        transition_incident(
            session,
            incident,
            S.CANCELLED,
            actor_id=None,
            now=at(detect + 1),
            details=TransitionDetails(reason="false alarm"),
        )
    if ack is not None:
        # The first move to investigating stamps acknowledged_at.
        transition_incident(session, incident, S.INVESTIGATING, actor_id=None, now=at(ack))
    if resolve is not None:
        transition_incident(
            session, incident, S.RESOLVED, actor_id=None, now=at(resolve), details=RESOLUTION
        )
    return incident


def staff(session, name):
    """An assignee who never logs in here: no password hashing, which is slow on purpose."""
    user = User(
        email=f"{name.split()[0].lower()}@example.com",
        name=name,
        password_hash="not-a-hash",
        role=Role.RESPONDER,
    )
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def viewer(make_user, login):
    user = make_user("viewer", name="Vic Viewer")
    login(user)
    return user


# --- access -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/incidents", "/admin/dashboard", "/admin/dashboard.csv"]
)
def test_anonymous_visitors_are_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_a_viewer_may_read_the_list_and_the_dashboard(client, viewer):
    for path in ("/admin/", "/admin/incidents", "/admin/dashboard", "/admin/dashboard.csv"):
        assert client.get(path).status_code == 200, path


# --- the list ---------------------------------------------------------------------------


@pytest.fixture
def listed(session, make_component, now):
    """Four incidents, each different in every filter."""
    api = make_component("API")
    web = make_component("Website")
    rita = staff(session, "Rita Responder")
    sam = staff(session, "Sam Second")
    base = now - timedelta(days=2)
    one = work(session, "Checkout fails", start=base, priority="P1", component_ids=[api.id])
    two = work(
        session,
        "Slow search",
        start=base + timedelta(hours=1),
        priority="P3",
        ack=5,
        component_ids=[web.id],
        description="Queries on the PRODUCT index take 100% CPU",
    )
    three = work(
        session,
        "Login errors",
        start=base + timedelta(hours=2),
        priority="P2",
        ack=5,
        resolve=30,
        component_ids=[api.id, web.id],
    )
    four = work(session, "Odd graph", start=base + timedelta(hours=3))
    assign_incident(session, one, rita.id, actor_id=None, now=now)
    assign_incident(session, two, sam.id, actor_id=None, now=now)
    one.sla_state = SlaState.BREACHED  # as the SLA job would have stamped it
    two.sla_state = SlaState.AT_RISK
    session.commit()
    return {
        "incidents": (one, two, three, four),
        "api": api,
        "web": web,
        "rita": rita,
        "sam": sam,
    }


def test_list_shows_each_column(client, viewer, listed):
    page = text(client.get("/admin/incidents"))
    one = listed["incidents"][0]
    assert (
        f'<td data-label="#">{one.id}</td> <td data-label="Title">'
        f'<a href="/admin/incidents/{one.id}">Checkout fails</a></td>'
    ) in page
    # status in words, priority, SLA as a badge with text, assignee, components, logged time;
    # each cell names its column, for the stacked rows on a phone
    assert (
        '<td data-label="Status">New</td> <td data-label="Priority">P1</td> '
        '<td data-label="SLA"><span class="sla sla--breached">Breached</span></td> '
        '<td data-label="Assignee">Rita Responder</td> <td data-label="Components">API</td> '
        '<td data-label="Logged"><time datetime=' in page
    )
    assert '<span class="sla sla--at_risk">At risk</span>' in page
    assert (
        '<td data-label="Components">API, Website</td>' in page
        or '<td data-label="Components">Website, API</td>' in page
    )
    assert "UTC</time>" in page
    assert "4 incidents." in page


def test_newest_first_by_default_on_both_urls(client, viewer, listed):
    one, two, three, four = listed["incidents"]
    expected = [four.id, three.id, two.id, one.id]
    assert listed_ids(client.get("/admin/incidents")) == expected
    assert listed_ids(client.get("/admin/")) == expected


FILTER_CASES = [
    ("status=investigating", [1]),
    ("status=resolved", [2]),
    ("priority=P1", [0]),
    ("priority=P2", [2]),
    ("priority=none", [3]),
    ("sla=breached", [0]),
    ("sla=at_risk", [1]),
    ("sla=ok", [2, 3]),
    ("status=new&priority=P1", [0]),
    ("status=new&priority=P3", []),
]


def test_each_filter_narrows_the_list(client, viewer, listed):
    incidents = listed["incidents"]
    for query, wanted in FILTER_CASES:
        found = sorted(listed_ids(client.get(f"/admin/incidents?{query}")))
        assert found == sorted(incidents[i].id for i in wanted), query


def test_component_and_assignee_filters(client, viewer, listed):
    one, two, three, four = listed["incidents"]

    def ids(query):
        return sorted(listed_ids(client.get(f"/admin/incidents?{query}")))

    assert ids(f"component={listed['api'].id}") == sorted([one.id, three.id])
    assert ids(f"component={listed['web'].id}") == sorted([two.id, three.id])
    assert ids(f"assignee={listed['rita'].id}") == [one.id]
    assert ids(f"assignee={listed['sam'].id}") == [two.id]
    assert ids("assignee=none") == sorted([three.id, four.id])
    assert ids(f"assignee={viewer.id}") == []  # a real user with nothing assigned


def test_filter_form_keeps_the_choices_and_works_without_script(client, viewer, listed):
    page = text(client.get(f"/admin/incidents?status=new&component={listed['api'].id}"))
    assert '<form class="filter" method="get" action="/admin/incidents"' in page
    assert '<option value="new" selected>New</option>' in page
    assert f'<option value="{listed["api"].id}" selected>API</option>' in page
    assert "found with these filters" in page
    assert "Clear filters" in page
    assert "csrf_token" not in page.split('<form class="filter"')[1].split("</form>")[0]

    # With no filters, nothing but the default sort is chosen.
    plain = text(client.get("/admin/incidents"))
    assert re.findall(r'<option value="[^"]*" selected>[^<]*</option>', plain) == [
        '<option value="newest" selected>Newest first</option>'
    ]
    assert "Clear filters" not in plain
    chosen = text(client.get("/admin/incidents?priority=none&assignee=none&sla=at_risk"))
    assert '<option value="none" selected>Not prioritized</option>' in chosen
    assert '<option value="none" selected>Nobody assigned</option>' in chosen
    assert '<option value="at_risk" selected>At risk</option>' in chosen


SEARCH_CASES = [
    ("checkout", [0]),  # title, another case
    ("LOGIN ERR", [2]),
    ("product index", [1]),  # description
    ("100%", [1]),  # % is matched literally, not as a wildcard
    ("1_0", []),  # so is _
    ("nothing like this", []),
]


def test_search_title_and_description_case_insensitive(client, viewer, listed):
    incidents = listed["incidents"]
    for q, wanted in SEARCH_CASES:
        response = client.get("/admin/incidents", query_string={"q": q})
        assert response.status_code == 200, q
        assert sorted(listed_ids(response)) == sorted(incidents[i].id for i in wanted), q


def test_sorting(client, viewer, listed, session):
    one, two, three, four = listed["incidents"]

    def ids(sort):
        return listed_ids(client.get(f"/admin/incidents?sort={sort}"))

    assert ids("newest") == [four.id, three.id, two.id, one.id]
    assert ids("oldest") == [one.id, two.id, three.id, four.id]
    assert ids("priority") == [one.id, three.id, two.id, four.id]  # P1, P2, P3, none last
    # lifecycle order: new (newest first), investigating, resolved
    assert ids("status") == [four.id, one.id, two.id, three.id]
    two.updated_at = datetime.now(UTC) + timedelta(minutes=5)
    session.commit()
    assert ids("updated")[0] == two.id


def test_pages_of_fifty_keep_the_filters(client, viewer, session, now):
    start = now - timedelta(days=3)
    created = [
        work(session, f"Incident {n}", start=start + timedelta(minutes=n), priority="P4")
        for n in range(53)
    ]
    work(session, "Not P4", start=now - timedelta(hours=1), priority="P1")
    session.commit()
    newest_first = [i.id for i in reversed(created)]

    first = client.get("/admin/incidents?priority=P4")
    assert listed_ids(first) == newest_first[:50]
    page = text(first)
    assert "53 incidents found with these filters." in page
    assert "Page 1 of 2" in page
    assert 'href="/admin/incidents?page=2&amp;priority=P4"' in page

    second = client.get("/admin/incidents?priority=P4&page=2")
    assert listed_ids(second) == newest_first[50:]
    assert 'rel="prev" href="/admin/incidents?page=1&amp;priority=P4"' in text(second)

    # Pages past either end are clamped, not errors.
    assert listed_ids(client.get("/admin/incidents?priority=P4&page=99")) == newest_first[50:]
    assert listed_ids(client.get("/admin/incidents?priority=P4&page=0")) == newest_first[:50]
    assert listed_ids(client.get("/admin/incidents?priority=P4&page=-3")) == newest_first[:50]


MALFORMED_LIST_CASES = [
    ("status=exploded", "The filter &#39;status&#39; cannot be &#39;exploded&#39;"),
    ("priority=P9", "use one of: P1, P2, P3, P4, none"),
    ("sla=late", "use one of: ok, at_risk, breached"),
    ("sort=random", "The filter &#39;sort&#39;"),
    ("component=abc", "must be a whole number"),
    ("component=424242", "There is no component 424242"),
    ("assignee=1.5", "must be a whole number"),
    ("assignee=424242", "There is no user 424242"),
    ("page=two", "must be a whole number"),
    ("page=" + "9" * 5000, "must be a whole number"),
]


def test_malformed_parameters_are_400_with_a_message(client, viewer, listed):
    for query, message in MALFORMED_LIST_CASES:
        response = client.get(f"/admin/incidents?{query}")
        assert response.status_code == 400, query
        assert message in response.get_data(as_text=True), query


def test_empty_parameters_mean_no_filter_and_long_searches_are_cut(client, viewer, listed):
    response = client.get("/admin/incidents?status=&priority=&component=&assignee=&sla=&sort=&q=")
    assert response.status_code == 200
    assert len(listed_ids(response)) == 4
    response = client.get("/admin/incidents", query_string={"q": "x" * 5000})
    assert response.status_code == 200
    assert listed_ids(response) == []
    # a NUL byte, which PostgreSQL refuses in text, is dropped rather than a 500
    response = client.get("/admin/incidents", query_string={"q": "check\x00out"})
    assert response.status_code == 200
    assert listed_ids(response) == [listed["incidents"][0].id]


def test_list_runs_the_same_number_of_statements_for_3_and_30_incidents(
    client, viewer, session, make_component, count_queries, now
):
    api = make_component("API")
    web = make_component("Website")
    owner = staff(session, "Owner")

    def add(count):
        for n in range(count):
            incident = work(
                session,
                f"Incident {n}",
                start=now - timedelta(hours=5, minutes=n),
                priority="P2",
                component_ids=[api.id, web.id],
            )
            assign_incident(session, incident, owner.id, actor_id=None, now=now)
        session.commit()

    add(3)
    few = count_queries(lambda: client.get("/admin/incidents?q=incident&sort=priority"))
    add(27)
    many = count_queries(lambda: client.get("/admin/incidents?q=incident&sort=priority"))
    assert few == many
    assert len(listed_ids(client.get("/admin/incidents"))) == 30


# --- the dashboard ----------------------------------------------------------------------

MARCH = {"start": "2025-03-01", "end": "2025-03-31"}


@pytest.fixture
def march(session):
    """Hand-made incidents with known milestones (minutes after the impact started)."""
    network = Category(name="Network")
    database = Category(name="Database")
    session.add_all([network, database])
    session.flush()

    def day(d, hour=10):
        return datetime(2025, 3, d, hour, 0, tzinfo=UTC)

    a = work(
        session,
        "Checkout down",
        start=day(3),
        detect=10,
        ack=15,
        resolve=60,
        priority="P1",
        category_id=network.id,
    )
    b = work(
        session,
        '=HYPERLINK("http://evil.example","click")',
        start=day(10, 12),
        detect=30,
        ack=120,  # 90 minutes after detection: the P1 acknowledge target (60) breached
        resolve=240,
        priority="P1",
        category_id=network.id,
    )
    c = work(
        session,
        "Replica lag",
        start=day(20),
        detect=5,
        ack=10,  # never resolved: its P3 mitigate and resolve clocks ran out long ago
        priority="P3",
        category_id=database.id,
    )
    f = work(session, "Blip", start=day(25), detect=0, ack=10, resolve=30, priority="P1")
    cancelled = work(session, "False alarm", start=day(26), priority="P2", cancel=True)
    work(session, "April fool", start=datetime(2025, 4, 1, 0, 0, tzinfo=UTC), priority="P1")
    work(session, "February", start=datetime(2025, 2, 28, 23, 59, tzinfo=UTC), priority="P1")
    # The SLA job recorded a breach the milestones alone do not show (the policy was stricter
    # then), and an at-risk state that is not a breach.
    session.add_all(
        [
            SlaEvent(
                incident_id=a.id,
                target=SlaTarget.ACKNOWLEDGE,
                state=SlaState.BREACHED,
                due_at=day(3),
                occurred_at=day(3),
            ),
            SlaEvent(
                incident_id=f.id,
                target=SlaTarget.RESOLVE,
                state=SlaState.AT_RISK,
                due_at=day(25),
                occurred_at=day(25),
            ),
        ]
    )
    session.commit()
    return {"a": a, "b": b, "c": c, "f": f, "cancelled": cancelled}


def test_period_report_numbers_for_hand_made_incidents(session, march):
    period = reports.period_of_days(date(2025, 3, 1), date(2025, 3, 31))
    report = reports.period_report(session, period, now=datetime.now(UTC))
    assert (report.total, report.cancelled) == (4, 1)
    # MTTD: 10, 30, 5, 0; MTTA: 5, 90, 5, 10; MTTR: 60, 240, 30 (the open one is not measured)
    assert report.overall.detect == reports.DurationStats(4, 11.25, 7.5)
    assert report.overall.acknowledge == reports.DurationStats(4, 27.5, 7.5)
    assert report.overall.restore == reports.DurationStats(3, 110, 60)
    p1 = report.by_priority[0]
    assert p1.label == "P1"
    assert p1.incidents == 3
    assert p1.detect.mean == pytest.approx(40 / 3)
    assert p1.acknowledge.mean == pytest.approx(35)
    assert p1.restore == reports.DurationStats(3, 110, 60)
    p3 = report.by_priority[2]
    assert (p3.label, p3.incidents, p3.restore.count) == ("P3", 1, 0)
    assert report.volume_by_priority == [("P1", 3), ("P2", 0), ("P3", 1), ("P4", 0)]
    assert report.volume_by_category == [("Network", 2), ("Database", 1), ("Uncategorized", 1)]
    compliance = {item.target: (item.measured, item.breached) for item in report.compliance}
    assert compliance == {
        SlaTarget.ACKNOWLEDGE: (4, 2),  # b from its milestones, a as recorded
        SlaTarget.MITIGATE: (4, 1),  # c
        SlaTarget.RESOLVE: (4, 1),  # c; f's at-risk event is not a breach
        SlaTarget.UPDATE: (0, 0),  # none of them public
        None: (4, 3),
    }
    assert report.compliance_overall.percent == 25.0


def test_dashboard_page_shows_numbers_definitions_and_charts(client, viewer, march):
    response = client.get("/admin/dashboard", query_string=MARCH)
    assert response.status_code == 200
    page = text(response)
    assert "<strong>4</strong> incidents whose impact started" in page
    assert "not counting 1 cancelled" in page
    assert '<time datetime="2025-03-01T00:00:00Z"' in page
    assert '<time datetime="2025-04-01T00:00:00Z"' in page
    # the definitions are on the page
    assert "MTTD, mean time to detect" in page
    assert "MTTA, mean time to acknowledge" in page
    assert "MTTR, mean time to restore" in page
    assert "impact_started_at</code>) to detection (<code>detected_at" in page
    # the table of response times: overall and P1
    assert (
        '<th scope="row">All</th> <td>4</td> <td>11 min</td><td>8 min</td> '
        "<td>28 min</td><td>8 min</td> <td>1 h 50 min</td><td>1 h</td> <td>4 / 4 / 3</td>"
    ) in page
    assert '<th scope="row">P1</th> <td>3</td> <td>13 min</td>' in page
    assert '<th scope="row">Network</th><td>2</td>' in page
    # SLA compliance, rounded down
    assert '<th scope="row">All targets</th> <td>4</td> <td>1</td> <td>3</td> <td>25%</td>' in page
    assert '<th scope="row">Acknowledge</th> <td>4</td> <td>2</td> <td>2</td> <td>50%</td>' in page
    # six inline SVG charts, each named, each bar with its number in words
    assert page.count("<svg ") == 6
    assert page.count('role="img"') == 6
    assert "<title>MTTR (time to restore), mean by priority</title>" in page
    assert 'aria-label="Incidents by category"' in page
    assert ">1 h 50 min</text>" in page
    assert ">25% (1 of 4)</text>" in page
    assert '<desc id="chart-volume-priority-desc">All: 4' not in page  # no 'All' in volume
    assert "P1: 3; P2: 0; P3: 1; P4: 0</desc>" in page
    assert "<script" not in page.split("<main")[1].split("</main>")[0]
    # the CSV link keeps the period
    assert 'href="/admin/dashboard.csv?start=2025-03-01&amp;end=2025-03-31"' in page


def test_dashboard_defaults_to_the_last_30_days(client, viewer):
    response = client.get("/admin/dashboard")
    assert response.status_code == 200
    today = datetime.now(UTC).date()
    page = text(response)
    assert f'name="end" value="{today.isoformat()}"' in page
    assert f'name="start" value="{(today - timedelta(days=29)).isoformat()}"' in page
    assert "<strong>0</strong> incidents" in page
    assert "nothing measured" in page


BAD_DATE_CASES = [
    ("start=2025-13-01", "The start date must be a real date"),
    ("start=2025-02-30", "The start date must be a real date"),
    ("end=yesterday", "The end date must be a real date"),
    ("start=2025-3-1", "written YYYY-MM-DD"),
    ("start=20250301", "written YYYY-MM-DD"),
    ("start=2025-03-31&end=2025-03-01", "The end date comes before the start date."),
    ("start=2020-01-01&end=2025-01-01", "at most 366 days"),
    ("start=9999-12-30&end=9999-12-31", "before 31 December 9999"),
]


@pytest.mark.parametrize("path", ["/admin/dashboard", "/admin/dashboard.csv"])
def test_bad_dates_are_400_with_a_message(client, viewer, path):
    for query, message in BAD_DATE_CASES:
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, query
        assert message in response.get_data(as_text=True), query
    # the first day there is, and a period of exactly the longest length, are fine
    for query in (
        "start=0001-01-01&end=0001-01-02",
        "end=0001-01-05",  # the default 30 days would start before the calendar does
        "start=2024-01-01&end=2024-12-31",
    ):
        assert client.get(f"{path}?{query}").status_code == 200, query


def test_csv_export_of_the_period(client, viewer, march):
    response = client.get("/admin/dashboard.csv", query_string=MARCH)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="incidents-2025-03-01-to-2025-03-31.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0]) == list(reports.CSV_HEADER)
    # every incident that started in March, cancelled too, oldest first; not February or April
    assert [row["id"] for row in rows] == [
        str(march[key].id) for key in ("a", "b", "c", "f", "cancelled")
    ]
    a = rows[0]
    assert a == {
        "id": str(march["a"].id),
        "title": "Checkout down",
        "status": "resolved",
        "priority": "P1",
        "category": "Network",
        "impact_started_at": "2025-03-03T10:00:00Z",
        "detected_at": "2025-03-03T10:10:00Z",
        "acknowledged_at": "2025-03-03T10:15:00Z",
        "resolved_at": "2025-03-03T11:00:00Z",
        "closed_at": "",
        "mttd_minutes": "10.0",
        "mtta_minutes": "5.0",
        "mttr_minutes": "60.0",
    }
    # the formula in a title is neutralised, not run by a spreadsheet
    assert rows[1]["title"] == '\'=HYPERLINK("http://evil.example","click")'
    assert rows[2]["status"] == "investigating"
    assert rows[2]["mttr_minutes"] == ""
    assert rows[4]["status"] == "cancelled"


def test_dashboard_and_csv_run_a_fixed_number_of_statements(client, viewer, session, count_queries):
    start = datetime(2025, 3, 2, 8, 0, tzinfo=UTC)

    def add(count, offset):
        for n in range(count):
            work(
                session,
                f"Incident {offset + n}",
                start=start + timedelta(hours=offset + n),
                detect=5,
                ack=10,
                resolve=40 if n % 2 else None,
                priority="P1" if n % 3 else "P4",
            )
        session.commit()

    def both():
        assert client.get("/admin/dashboard", query_string=MARCH).status_code == 200
        assert client.get("/admin/dashboard.csv", query_string=MARCH).status_code == 200

    add(3, 0)
    few = count_queries(both)
    add(27, 3)
    many = count_queries(both)
    assert few == many
