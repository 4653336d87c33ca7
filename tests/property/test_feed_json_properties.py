"""Property: with arbitrary Unicode in titles and updates, every feed and JSON document stays valid.

`tests/web/test_feeds.py` checks the feed renderer alone with generated text. Here the text
takes the whole way a customer's reader sees it: written through the write API or the staff
form, stored in the database (SQLite and PostgreSQL, which refuses NUL characters), then read
back as RSS and Atom (strict XML 1.0 parsing, and feedparser as a reader would), as the
Statuspage v2 JSON (strict JSON; the title comes back as stored) and as the incident's page.
A write is either accepted or refused with a 4xx naming the problem; it is never a 5xx.
"""

from __future__ import annotations

import json
from typing import Any
from xml.dom import minidom

import feedparser
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statuspage.auth.tokens import create_token
from statuspage.incidents.models import Incident, IncidentUpdate
from tests.conftest import PASSWORD

# Characters that break formats: XML-forbidden controls and non-characters, what ends a line
# in JavaScript or in str.splitlines, markup and JSON delimiters, bidi overrides, an astral
# emoji, combining marks, the byte-order mark.
AWKWARD = [
    "\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\x7f", "\x85", "\ufffe", "\uffff",
    "\u2028", "\u2029", "\r", "\n", "\t", "]]>", "<![CDATA[", "</title>", "&", "&amp;",
    "<", ">", '"', "'", "\\", "\\u0000", "\u202e", "\U0001f525", "e\u0301", "\ufeff", " ",
]  # fmt: skip

unicode_text = st.lists(
    st.one_of(
        st.sampled_from(AWKWARD),
        st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=15),
    ),
    min_size=1,
    max_size=10,
).map("".join)

PROPERTY = settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
JSON_DOCUMENTS = (
    "/api/v2/summary.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
)
FEEDS = {"/history.rss": "application/rss+xml", "/history.atom": "application/atom+xml"}


def strict_json(data: bytes) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(data.decode("utf-8"), parse_constant=refuse)


def check_everything_readable(client: Any, session: Any, incident_id: int) -> None:
    session.rollback()
    incident = session.get(Incident, incident_id)
    for path in JSON_DOCUMENTS:
        response = client.get(path)
        assert response.status_code == 200 and response.mimetype == "application/json", path
        document = strict_json(response.data)
        if path == "/api/v2/incidents.json":
            names = {item["id"]: item["name"] for item in document["incidents"]}
            assert incident.title in names.values()
    for path, mimetype in FEEDS.items():
        response = client.get(path)
        assert response.status_code == 200 and response.mimetype == mimetype, path
        minidom.parseString(response.data)  # noqa: S318 - our own feed under test
        parsed = feedparser.parse(response.data)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert any(f"/incidents/{incident_id}" in entry.link for entry in parsed.entries)
    page = client.get(f"/incidents/{incident_id}")
    assert page.status_code == 200
    page.get_data().decode("utf-8")
    session.rollback()


@pytest.fixture
def token(session: Any, make_user: Any, now: Any) -> str:
    _, secret = create_token(session, make_user("admin"), "property", actor_id=None, now=now)
    session.commit()
    return secret


def test_text_written_through_the_api_keeps_feeds_and_json_valid(
    app: Any, session: Any, token: str, make_component: Any
) -> None:
    component = make_component("API")
    session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    @PROPERTY
    @given(title=unicode_text, body=unicode_text)
    def check(title: str, body: str) -> None:
        created = client.post("/api/v1/incidents", json={"title": title[:200]}, headers=headers)
        assert created.status_code in (201, 422), created.get_data(as_text=True)[:300]
        if created.status_code == 422:
            # Refused for a reason a caller can fix: NUL, or nothing but blanks.
            assert "\x00" in title or not title[:200].strip(), created.get_json()
            return
        incident_id = created.get_json()["incident"]["id"]
        published = client.post(
            f"/api/v1/incidents/{incident_id}/updates",
            json={
                "status": "investigating",
                "body": body,
                "component_statuses": {str(component.id): "degraded_performance"},
            },
            headers=headers,
        )
        assert published.status_code in (201, 422), published.get_data(as_text=True)[:300]
        if published.status_code == 422:
            assert "\x00" in body or not body.strip(), published.get_json()
            return
        check_everything_readable(client, session, incident_id)

    check()


def test_text_written_in_the_staff_form_keeps_feeds_and_json_valid(
    app: Any, session: Any, make_user: Any, make_incident: Any
) -> None:
    incident = make_incident("Form text", public=False)
    user = make_user("communicator")
    session.commit()
    client = app.test_client()
    login = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert login.status_code == 302
    url = f"/admin/incidents/{incident.id}/updates"

    @PROPERTY
    @given(body=unicode_text)
    def check(body: str) -> None:
        session.rollback()
        before = session.scalar(sa.select(sa.func.count(IncidentUpdate.id)))
        response = client.post(url, data={"status": "investigating", "body": body})
        assert response.status_code in (302, 400), (response.status_code, body)
        session.rollback()
        after = session.scalar(sa.select(sa.func.count(IncidentUpdate.id)))
        assert after == before + (1 if response.status_code == 302 else 0)
        if response.status_code == 302:
            check_everything_readable(client, session, incident.id)

    check()
