"""Single-line fields (titles and names) never keep a line break, whichever way they come in:
the admin forms, the write API, the CLI and alert webhooks all go through the domain
functions, which fold CR, LF and the other line separators into one space.

A raw newline in a name broke a Prometheus exporter that wrote names into its output file.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage.auth.tokens import create_token
from statuspage.auth.users import create_user
from statuspage.components.manage import ComponentFields, edit_component
from statuspage.core.text import single_line
from statuspage.incidents import casework
from statuspage.incidents.config import (
    TemplateFields,
    create_category,
    create_template,
    rename_category,
)
from statuspage.incidents.maintenance import NewMaintenance, schedule_maintenance
from statuspage.incidents.models import Incident, TaskKind
from statuspage.incidents.problems import ProblemText, create_problem
from tests.conftest import PASSWORD

BROKEN = "Checkout\r\nerrors\u2028on\x0bpay\n"
FOLDED = "Checkout errors on pay"
LINE_BREAKS = ("\r", "\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain", "plain"),
        ("  padded  ", "padded"),
        ("a\r\nb", "a b"),
        ("a \n\n  b", "a b"),
        ("a\rb\u2029c\x85d", "a b c d"),
        ("\n\n", ""),
        ("tabs\tstay", "tabs\tstay"),
    ],
)
def test_single_line_folds_line_breaks_into_one_space(raw, expected):
    assert single_line(raw) == expected


def test_admin_form_incident_title_loses_its_line_breaks(client, session, make_user, login):
    login(make_user("responder"))
    response = client.post("/admin/incidents/new", data={"title": BROKEN, "source": "staff"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    incident = session.scalars(sa.select(Incident)).one()
    assert incident.title == FOLDED


def test_write_api_incident_title_loses_its_line_breaks(client, session, make_user, now):
    user = make_user("responder")
    _, secret = create_token(session, user, "tests", actor_id=None, now=now)
    session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    response = client.post("/api/v1/incidents", json={"title": BROKEN}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["incident"]["title"] == FOLDED
    incident_id = response.get_json()["incident"]["id"]
    patched = client.patch(
        f"/api/v1/incidents/{incident_id}",
        json={"title": "Renamed\r\nagain", "reporter_name": "Ann\nOther"},
        headers=headers,
    )
    assert patched.status_code == 200, patched.get_data(as_text=True)
    assert patched.get_json()["incident"]["title"] == "Renamed again"
    assert patched.get_json()["incident"]["reporter_name"] == "Ann Other"


def _names(value: Any) -> list[str]:
    """Every `name` value anywhere in a JSON document."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "name" and isinstance(item, str):
                found.append(item)
            found += _names(item)
    elif isinstance(value, list):
        for item in value:
            found += _names(item)
    return found


def test_public_json_names_never_hold_a_line_break(
    app, client, session, make_user, make_component, now
):
    api = make_component("API")
    edit_component(session, api.id, ComponentFields(name="Public\r\nAPI"), actor_id=None, now=now)
    user = make_user("admin")
    _, secret = create_token(session, user, "tests", actor_id=None, now=now)
    session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    opened = client.post(
        "/api/v1/incidents",
        json={"title": "Broken\r\ncheckout", "component_ids": [api.id]},
        headers=headers,
    )
    assert opened.status_code == 201, opened.get_data(as_text=True)
    incident_id = opened.get_json()["incident"]["id"]
    published = client.post(
        f"/api/v1/incidents/{incident_id}/updates",
        json={"status": "investigating", "body": "Line one\nline two"},
        headers=headers,
    )
    assert published.status_code in (200, 201), published.get_data(as_text=True)
    start = now + timedelta(days=1)
    schedule_maintenance(
        session,
        NewMaintenance(
            title="Database\nupgrade",
            scheduled_for=start,
            scheduled_until=start + timedelta(hours=1),
            component_ids=[api.id],
        ),
        actor_id=None,
        now=now,
    )
    session.commit()

    documents = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v2/") and not rule.arguments
    ]
    assert "/api/v2/summary.json" in documents
    seen = set()
    for path in documents:
        response = client.get(path)
        assert response.status_code == 200, path
        names = _names(response.get_json())
        seen.update(names)
        assert "\n" not in response.get_data(as_text=True)  # JSON escapes what it keeps
        for name in names:
            assert not any(mark in name for mark in LINE_BREAKS), (path, name)
    assert {"Public API", "Broken checkout", "Database upgrade"} <= seen


def test_every_domain_function_storing_a_name_folds_it(session, make_incident, now):
    user = create_user(session, email="a@example.com", password=PASSWORD, role="admin", name=BROKEN)
    assert user.name == FOLDED
    token, _ = create_token(session, user, BROKEN, actor_id=None, now=now)
    assert token.name == FOLDED

    category = create_category(session, BROKEN, actor_id=None, now=now)
    assert category.name == FOLDED
    renamed = rename_category(session, category.id, "Data\nbase", actor_id=None, now=now)
    assert renamed.name == "Data base"

    template = create_template(
        session,
        TemplateFields(name=BROKEN, title="Slow\r\npages", description="Two\nlines stay"),
        actor_id=None,
        now=now,
    )
    assert (template.name, template.title) == (FOLDED, "Slow pages")
    assert template.description == "Two\nlines stay"  # multi-line fields keep their lines

    problem = create_problem(session, ProblemText(title=BROKEN), actor_id=None, now=now)
    assert problem.title == FOLDED

    start = now + timedelta(days=2)
    maintenance = schedule_maintenance(
        session,
        NewMaintenance(
            title=BROKEN, scheduled_for=start, scheduled_until=start + timedelta(hours=1)
        ),
        actor_id=None,
        now=now,
    )
    assert maintenance.title == FOLDED

    incident = make_incident(BROKEN)
    assert incident.title == FOLDED
    task = casework.add_task(
        session,
        incident,
        kind=TaskKind.FOLLOW_UP,
        title=BROKEN,
        owner_id=None,
        due_at=None,
        actor_id=None,
        now=now,
    )
    assert task.title == FOLDED
    evidence = casework.add_evidence_link(
        session, incident, title=BROKEN, url="https://example.com/x", actor_id=None, now=now
    )
    assert evidence.title == FOLDED
