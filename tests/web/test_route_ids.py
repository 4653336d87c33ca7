"""Ids in URLs and query strings outside what the database's integer holds (1 to 2^31 - 1)
are answered 404 (path) or 400 (query), never a 500.

PostgreSQL refuses to compare an `integer` column with a larger number
(NumericValueOutOfRange), and a page number past 2^63 overflows OFFSET; SQLite is lenient, so
these tests matter on PostgreSQL. Every GET rule of the app with an `int` argument is walked,
so a route added later is covered without touching this file.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # PostgreSQL's integer, which every id column is
OUT_OF_RANGE = [2**31, 2**63, 10**20, 10**40, 0, -1, -(2**31)]
_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _int_get_rules(app):
    rules = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        names = [n for n, c in rule._converters.items() if isinstance(c, IntegerConverter)]
        if names:
            rules.append((rule, names))
    return rules


def _path(rule, values: dict[str, object]) -> str:
    def fill(match: re.Match[str]) -> str:
        return str(values.get(match.group(2), "x"))

    return _ARGUMENT.sub(fill, rule.rule)


@pytest.fixture
def admin_client(client, make_user, login):
    login(make_user("admin"))
    return client


@pytest.fixture
def existing_id(session, make_component, make_incident):
    """The id of a real incident (and component), so a rule with two ids is tested with the
    first one found and the second one out of range."""
    component = make_component("API")
    incident = make_incident("Real", components={component.id: "degraded_performance"})
    session.commit()
    return incident.id


def test_the_walk_finds_the_routes_the_issue_names(app):
    paths = {rule.rule for rule, _ in _int_get_rules(app)}
    for expected in (
        "/incidents/<int:incident_id>",
        "/maintenance/<int:maintenance_id>",
        "/components/<int:component_id>/history.rss",
        "/components/<int:component_id>/badge.svg",
        "/admin/incidents/<int:incident_id>",
        "/admin/incidents/<int:incident_id>/review",
        "/admin/incidents/<int:incident_id>/evidence/<int:evidence_id>",
        "/admin/maintenance/<int:maintenance_id>/edit",
        "/admin/deliveries/<int:notification_id>",
        "/admin/users/<int:user_id>",
        "/admin/problems/<int:problem_id>",
        "/admin/settings/categories/<int:category_id>",
    ):
        assert expected in paths


def test_every_int_route_answers_404_outside_the_integer_range(app, admin_client, existing_id):
    failures = []
    for rule, names in _int_get_rules(app):
        for bad_name in names:
            for bad in OUT_OF_RANGE:
                values = {name: existing_id for name in names}
                values[bad_name] = bad
                path = _path(rule, values)
                response = admin_client.get(path)
                if response.status_code != 404:
                    failures.append(f"{path}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_the_largest_id_is_still_looked_up(admin_client, existing_id):
    """2^31 - 1 is a valid id: routed to the view, which finds nothing."""
    for path in (f"/incidents/{MAX_ID}", f"/admin/incidents/{MAX_ID}", f"/admin/users/{MAX_ID}"):
        response = admin_client.get(path)
        assert response.status_code == 404, path
        assert "Traceback" not in response.get_data(as_text=True)


QUERY_IDS = [
    "/history?component={}",
    "/admin/incidents?component={}",
    "/admin/incidents?assignee={}",
    "/admin/incidents/new?template={}",
]
QUERY_PAGES = [
    "/history?page={}",
    "/admin/incidents?page={}",
    "/admin/maintenance?page={}",
    "/admin/deliveries?page={}",
    "/admin/subscribers?page={}",
]


@pytest.mark.parametrize("template", QUERY_IDS)
def test_query_string_ids_outside_the_range_are_400(admin_client, existing_id, template):
    for bad in [*OUT_OF_RANGE, "9" * 30, "abc"]:
        url = template.format(bad)
        response = admin_client.get(url)
        assert response.status_code == 400, f"{url}: {response.status_code}"
        assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("template", QUERY_PAGES)
def test_query_string_pages_past_the_range_are_400(admin_client, existing_id, template):
    for bad in (2**31, 2**63, 10**20, "9" * 30, "abc"):
        url = template.format(bad)
        response = admin_client.get(url)
        assert response.status_code == 400, f"{url}: {response.status_code}"
        assert "whole number" in response.get_data(as_text=True)
    # A page before the first is the first page, as before; the last valid page is empty.
    for fine in (0, -1, MAX_ID):
        url = template.format(fine)
        assert admin_client.get(url).status_code == 200, url


def test_history_page_far_past_the_end_is_an_empty_page(client, make_incident, session, now):
    make_incident("Old", started=now - timedelta(days=3), resolved_after=timedelta(hours=1))
    session.commit()
    assert client.get(f"/history?page={MAX_ID}").status_code == 200
    assert client.get("/history?page=99999999999999999999").status_code == 400


def test_unicode_digits_in_a_page_number_are_refused_not_a_500(client):
    # '²'.isdigit() is true, int('²') fails: the cache key and the view must both say 400.
    for page in ("²", "٣", "１"):
        assert client.get(f"/history?page={page}").status_code == 400
