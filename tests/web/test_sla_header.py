"""The incident page's SLA header and the list's SLA column say what the clocks say now.

Before, both showed `Incident.sla_state`, which only the SLA job updates: "SLA: ok" in the
header while the clock table below said "breached 118%", until the worker's next run.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from statuspage.incidents.models import IncidentSource, Level, SlaState
from statuspage.incidents.operations import NewIncident, categorize_incident, open_incident


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


@pytest.fixture
def viewer(make_user, login):
    user = make_user("responder")
    login(user)
    return user


def _p1(session, now, *, detected_minutes_ago: int):
    detected = now - timedelta(minutes=detected_minutes_ago)
    incident = open_incident(
        session,
        NewIncident(
            title="Checkout fails",
            source=IncidentSource.MONITORING,
            detected_at=detected,
            impact_started_at=detected,
        ),
        actor_id=None,
        now=detected,
    )
    categorize_incident(
        session,
        incident,
        category_id=None,
        subcategory_id=None,
        impact=Level.HIGH,
        urgency=Level.HIGH,
        actor_id=None,
        now=detected,
    )
    session.commit()
    assert incident.sla_state == SlaState.OK  # the SLA job has not run
    return incident


def test_the_header_says_breached_when_the_table_does(client, session, viewer, now):
    # P1's acknowledge clock allows 60 minutes (the default policy): long breached.
    incident = _p1(session, now, detected_minutes_ago=600)

    page = text(client.get(f"/admin/incidents/{incident.id}"))

    assert '<span class="sla sla--breached">Breached</span>' in page  # the clock table
    assert '<span class="pill sla sla--breached">SLA: Breached</span>' in page
    assert "SLA: OK" not in page


def test_the_list_column_says_breached_before_the_job_runs(client, session, viewer, now):
    incident = _p1(session, now, detected_minutes_ago=600)

    page = text(client.get("/admin/incidents"))

    row = page[page.index(f'<td data-label="#">{incident.id}</td>') :]
    row = row[: row.index("</tr>")]
    assert '<span class="sla sla--breached">Breached</span>' in row


def test_a_stopped_breach_is_shown_as_history(client, session, viewer, now):
    incident = _p1(session, now, detected_minutes_ago=90)
    # Acknowledged 30 minutes late; the mitigate and resolve clocks still run, within time.
    incident.acknowledged_at = now
    session.commit()

    page = text(client.get(f"/admin/incidents/{incident.id}"))

    assert "SLA: Breached (stopped)" in page


def test_no_priority_means_no_clocks(client, session, viewer, now):
    incident = open_incident(session, NewIncident(title="Odd graph"), actor_id=None, now=now)
    session.commit()

    page = text(client.get(f"/admin/incidents/{incident.id}"))

    assert "SLA: no clocks" in page
