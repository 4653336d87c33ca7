"""Alert intake: Alertmanager's webhook and the generic JSON open and update incidents."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from statuspage.auth.tokens import create_token
from statuspage.core.models import TimelineEvent
from statuspage.incidents.models import Alert, AlertStatus, Incident, IncidentSource, IncidentStatus

STARTS_AT = "2026-01-10T08:30:00.123456789Z"

# The webhook body Alertmanager sends (version 4), as documented in its configuration guide.
FIRING = {
    "version": "4",
    "groupKey": '{}:{alertname="HighErrorRate"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "statuspage",
    "groupLabels": {"alertname": "HighErrorRate"},
    "commonLabels": {"alertname": "HighErrorRate", "severity": "critical"},
    "commonAnnotations": {"summary": "API error rate above 5%"},
    "externalURL": "http://alertmanager.example.com:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "HighErrorRate",
                "severity": "critical",
                "component": "public api",
                "instance": "api-1:9100",
            },
            "annotations": {
                "summary": "API error rate above 5%",
                "description": "5xx responses are 7% of all requests.",
            },
            "startsAt": STARTS_AT,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=rate",
            "fingerprint": "c0ffee0123456789",
        }
    ],
}


def resolved_payload(ends_at: str = "2026-01-10T09:00:00Z") -> dict:
    body = copy.deepcopy(FIRING)
    body["status"] = "resolved"
    body["alerts"][0]["status"] = "resolved"
    body["alerts"][0]["endsAt"] = ends_at
    return body


@pytest.fixture
def token(session, make_user, now):
    user = make_user("responder")
    _, secret = create_token(session, user, "Alertmanager", actor_id=user.id, now=now)
    session.commit()
    return secret


@pytest.fixture
def post(client, token):
    def send(path, body, *, secret=None, raw=None):
        headers = {"Authorization": f"Bearer {secret or token}"}
        data = raw if raw is not None else json.dumps(body)
        return client.post(
            f"/api/v1/alerts/{path}",
            data=data,
            headers=headers,
            content_type="application/json",
        )

    return send


def counts(session):
    session.expire_all()
    return (
        session.scalar(sa.select(sa.func.count()).select_from(Incident)),
        session.scalar(sa.select(sa.func.count()).select_from(Alert)),
        session.scalar(sa.select(sa.func.count()).select_from(TimelineEvent)),
    )


def events(session, incident_id):
    session.expire_all()
    return list(
        session.scalars(
            sa.select(TimelineEvent.summary)
            .where(TimelineEvent.incident_id == incident_id)
            .order_by(TimelineEvent.id)
        )
    )


def test_alertmanager_firing_opens_one_incident_in_triage(
    post, session, make_component, make_user, client, login
):
    api = make_component("Public API")
    make_component("Website")
    session.commit()

    response = post("alertmanager", FIRING)

    assert response.status_code == 200, response.get_json()
    (result,) = response.get_json()["alerts"]
    assert result["action"] == "opened" and result["dedup_key"] == "c0ffee0123456789"
    incident = session.get(Incident, result["incident_id"])
    assert incident.status == IncidentStatus.TRIAGE
    assert incident.source == IncidentSource.MONITORING
    assert incident.title == "API error rate above 5%"
    assert "7% of all requests" in incident.description
    expected = datetime(2026, 1, 10, 8, 30, 0, 123456, tzinfo=UTC)
    assert incident.detected_at == expected and incident.impact_started_at == expected
    assert [link.component_id for link in incident.affected] == [api.id]
    assert any(s.startswith("Opened from alert") for s in events(session, incident.id))
    alert = session.get(Alert, result["alert_id"])
    assert alert.status == AlertStatus.FIRING and alert.incident_id == incident.id
    assert alert.ends_at is None  # Go's zero time means "not ended"
    assert counts(session)[:2] == (1, 1)

    login(make_user("responder"))
    page = client.get("/admin/incidents?status=triage")
    assert page.status_code == 200
    assert "API error rate above 5%" in page.get_data(as_text=True)


def test_a_redelivered_alert_attaches_to_the_same_incident(post, session):
    first = post("alertmanager", FIRING).get_json()["alerts"][0]
    _, _, events_before = counts(session)

    again = post("alertmanager", FIRING)

    assert again.status_code == 200
    result = again.get_json()["alerts"][0]
    assert result["action"] == "attached" and result["repeat"] is True
    assert result["incident_id"] == first["incident_id"]
    incidents, alerts, events_after = counts(session)
    assert (incidents, alerts) == (1, 2)
    assert events_after == events_before  # a resend does not clutter the timeline


def test_the_same_fingerprint_firing_again_after_resolving_is_noted(post, session):
    first = post("alertmanager", FIRING).get_json()["alerts"][0]
    post("alertmanager", resolved_payload())
    refired = copy.deepcopy(FIRING)
    refired["alerts"][0]["startsAt"] = "2026-01-10T09:30:00Z"

    result = post("alertmanager", refired).get_json()["alerts"][0]

    assert result["action"] == "attached" and result["repeat"] is False
    assert result["incident_id"] == first["incident_id"]
    assert "Alert firing again: API error rate above 5%" in events(session, first["incident_id"])


def test_after_the_window_the_same_fingerprint_opens_a_new_incident(post, session, now):
    first = post("alertmanager", FIRING).get_json()["alerts"][0]
    session.execute(sa.update(Alert).values(received_at=now - timedelta(hours=4, minutes=1)))
    session.commit()

    result = post("alertmanager", FIRING).get_json()["alerts"][0]

    assert result["action"] == "opened" and result["incident_id"] != first["incident_id"]
    assert counts(session)[:2] == (2, 2)


def test_an_alert_on_a_closed_or_cancelled_incident_opens_a_new_one(post, session):
    first = post("alertmanager", FIRING).get_json()["alerts"][0]
    session.execute(
        sa.update(Incident)
        .where(Incident.id == first["incident_id"])
        .values(status=IncidentStatus.CANCELLED)
    )
    session.commit()

    result = post("alertmanager", FIRING).get_json()["alerts"][0]

    assert result["action"] == "opened" and result["incident_id"] != first["incident_id"]


def test_resolved_marks_the_alert_and_leaves_the_incident_in_triage(post, session):
    first = post("alertmanager", FIRING).get_json()["alerts"][0]

    response = post("alertmanager", resolved_payload())

    assert response.status_code == 200
    result = response.get_json()["alerts"][0]
    assert result == {
        "action": "resolved",
        "dedup_key": "c0ffee0123456789",
        "alert_id": first["alert_id"],
        "incident_id": first["incident_id"],
        "repeat": False,
    }
    session.expire_all()
    alert = session.get(Alert, first["alert_id"])
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_at is not None
    assert alert.ends_at == datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    assert session.get(Incident, first["incident_id"]).status == IncidentStatus.TRIAGE
    assert "Alert resolved: API error rate above 5%" in events(session, first["incident_id"])
    assert counts(session)[:2] == (1, 1)


def test_resolved_without_a_firing_alert_is_stored_and_ignored(post, session):
    result = post("alertmanager", resolved_payload()).get_json()["alerts"][0]

    assert result["action"] == "ignored" and result["incident_id"] is None
    assert counts(session)[:2] == (0, 1)


def test_missing_fingerprint_falls_back_to_a_hash_of_the_labels(post, session):
    body = copy.deepcopy(FIRING)
    del body["alerts"][0]["fingerprint"]
    first = post("alertmanager", body).get_json()["alerts"][0]
    reordered = copy.deepcopy(body)
    reordered["alerts"][0]["labels"] = dict(reversed(list(body["alerts"][0]["labels"].items())))

    again = post("alertmanager", reordered).get_json()["alerts"][0]

    assert len(first["dedup_key"]) == 64
    assert again["dedup_key"] == first["dedup_key"] and again["action"] == "attached"


def test_a_start_time_in_the_future_is_clamped_to_now(post, session, now):
    body = copy.deepcopy(FIRING)
    body["alerts"][0]["startsAt"] = (now + timedelta(days=1)).isoformat()

    result = post("alertmanager", body).get_json()["alerts"][0]

    incident = session.get(Incident, result["incident_id"])
    assert now - timedelta(minutes=1) <= incident.detected_at <= now + timedelta(minutes=1)


def test_generic_firing_then_resolved(post, session, make_component):
    website = make_component("Website")
    session.commit()
    firing = {
        "dedup_key": "checkly-homepage",
        "status": "firing",
        "title": "Homepage check failing",
        "description": "3 of 3 locations fail.",
        "component": website.id,
        "started_at": "2026-02-01T10:00:00+01:00",
        "labels": {"check": "homepage"},
    }

    opened = post("generic", firing)

    assert opened.status_code == 200, opened.get_json()
    result = opened.get_json()["alerts"][0]
    assert result["action"] == "opened"
    incident = session.get(Incident, result["incident_id"])
    assert incident.status == IncidentStatus.TRIAGE
    assert incident.detected_at == datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    assert [link.component_id for link in incident.affected] == [website.id]
    assert post("generic", firing).get_json()["alerts"][0]["action"] == "attached"

    resolved = post("generic", {**firing, "status": "resolved"}).get_json()["alerts"][0]

    assert resolved["action"] == "resolved" and resolved["incident_id"] == incident.id
    session.expire_all()
    assert session.get(Incident, incident.id).status == IncidentStatus.TRIAGE
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(Alert).where(Alert.status == AlertStatus.FIRING)
        )
        == 0
    )


def test_generic_unknown_component_still_opens_the_incident(post, session):
    body = {"dedup_key": "x", "status": "firing", "title": "Disk full", "component": "nope"}

    result = post("generic", body).get_json()["alerts"][0]

    assert result["action"] == "opened"
    assert any("no component matches 'nope'" in s for s in events(session, result["incident_id"]))


def _too_many():
    body = copy.deepcopy(FIRING)
    body["alerts"] = body["alerts"] * 101
    return body


def _with(path: str, value):
    body = copy.deepcopy(FIRING)
    target = body
    *parents, last = path.split(".")
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[last] = value
    return body


BAD_ALERTMANAGER = {
    "array body": ([FIRING], 422),
    "alerts not a list": (_with("alerts", {"a": 1}), 422),
    "unknown status": (_with("status", "pending"), 422),
    "unknown alert status": (_with("alerts.0.status", "acknowledged"), 422),
    "label not a string": (_with("alerts.0.labels", {"alertname": 5}), 422),
    "annotations not an object": (_with("alerts.0.annotations", ["summary"]), 422),
    "bad timestamp": (_with("alerts.0.startsAt", "yesterday"), 422),
    "timestamp without offset": (_with("alerts.0.startsAt", "2026-01-10T08:30:00"), 422),
    "timestamp not a string": (_with("alerts.0.startsAt", 1700000000), 422),
    "fingerprint not a string": (_with("alerts.0.fingerprint", 12), 422),
    "wrong version": (_with("version", "3"), 422),
    "too many alerts": (_too_many(), 422),
}


@pytest.mark.parametrize("body, code", BAD_ALERTMANAGER.values(), ids=BAD_ALERTMANAGER.keys())
def test_bad_alertmanager_bodies_are_refused_without_writing(post, session, body, code):
    before = counts(session)

    response = post("alertmanager", body)

    assert response.status_code == code
    assert response.is_json and response.get_json()["error"]["message"]
    assert counts(session) == before


BAD_GENERIC = {
    "no dedup key": {"status": "firing", "title": "t"},
    "dedup key not a string": {"dedup_key": 1, "status": "firing", "title": "t"},
    "empty title": {"dedup_key": "k", "status": "firing", "title": "  "},
    "unknown status": {"dedup_key": "k", "status": "critical", "title": "t"},
    "component an object": {"dedup_key": "k", "status": "firing", "title": "t", "component": {}},
    "bad started_at": {"dedup_key": "k", "status": "firing", "title": "t", "started_at": "now"},
    "labels a list": {"dedup_key": "k", "status": "firing", "title": "t", "labels": ["a"]},
}


@pytest.mark.parametrize("body", BAD_GENERIC.values(), ids=BAD_GENERIC.keys())
def test_bad_generic_bodies_are_refused_without_writing(post, session, body):
    before = counts(session)

    response = post("generic", body)

    assert response.status_code == 422
    assert response.is_json and response.get_json()["error"]["message"]
    assert counts(session) == before


def test_a_bad_alert_among_good_ones_writes_nothing(post, session):
    body = copy.deepcopy(FIRING)
    second = copy.deepcopy(body["alerts"][0])
    second["startsAt"] = "not a time"
    body["alerts"].append(second)

    assert post("alertmanager", body).status_code == 422
    assert counts(session)[:2] == (0, 0)


@pytest.mark.parametrize("raw", ["{not json", "", "[" * 100_000 + "]" * 100_000, "\xff"])
def test_malformed_json_is_a_400(post, session, raw):
    response = post("alertmanager", None, raw=raw.encode("latin-1"))

    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "The body is not valid JSON."
    assert counts(session)[:2] == (0, 0)


def test_an_oversized_body_is_a_413(app, post, session):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    body = _with("alerts.0.annotations", {"description": "x" * 2000})

    response = post("alertmanager", body)

    assert response.status_code == 413 and response.is_json
    assert counts(session)[:2] == (0, 0)


def test_missing_wrong_or_underprivileged_tokens_are_refused(client, post, session, make_user, now):
    viewer = make_user("viewer")
    _, viewer_secret = create_token(session, viewer, "read only", actor_id=viewer.id, now=now)
    session.commit()
    before = counts(session)

    missing = client.post("/api/v1/alerts/alertmanager", json=FIRING)
    wrong = post("alertmanager", FIRING, secret="sp_not-a-real-token")
    forbidden = post("generic", FIRING, secret=viewer_secret)

    assert missing.status_code == 401 and missing.is_json
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == 401
    assert forbidden.status_code == 403 and forbidden.get_json()["error"]["message"]
    assert counts(session) == before


def test_other_methods_get_json_405(client, token):
    response = client.get(
        "/api/v1/alerts/alertmanager", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 405 and response.is_json


def test_generic_takes_a_list_of_alerts(post, session):
    body = {
        "alerts": [
            {"dedup_key": "a", "status": "firing", "title": "Queue backlog"},
            {"dedup_key": "b", "status": "resolved", "title": "Old alert"},
        ]
    }

    response = post("generic", body)

    assert [r["action"] for r in response.get_json()["alerts"]] == ["opened", "ignored"]
    assert counts(session)[:2] == (1, 2)


# Priority from the alert's severity (ALERT_SEVERITY_MAP), so the SLA clocks start.


def audit_reasons(session, incident_id):
    from statuspage.core.models import AuditEntry

    session.expire_all()
    return [
        entry.changes.get("reason")
        for entry in session.scalars(
            sa.select(AuditEntry).where(
                AuditEntry.entity_type == "incident",
                AuditEntry.entity_id == incident_id,
                AuditEntry.action == "categorize",
            )
        )
    ]


def test_a_critical_alertmanager_alert_opens_a_p1_whose_clocks_run(post, session, now):
    from statuspage.incidents.models import Level, Priority
    from statuspage.incidents.sla import clocks_for

    result = post("alertmanager", FIRING).get_json()["alerts"][0]

    incident = session.get(Incident, result["incident_id"])
    assert (incident.impact, incident.urgency) == (Level.HIGH, Level.HIGH)
    assert incident.priority == Priority.P1
    assert incident.status == IncidentStatus.TRIAGE
    assert clocks_for(session, incident, now=now)  # the SLA clock runs
    assert (
        "Categorized: impact high, urgency high, priority P1 (from alert severity critical)"
        in events(session, incident.id)
    )
    assert audit_reasons(session, incident.id) == ["from alert severity critical"]


def test_the_severity_label_is_read_in_any_case(post, session):
    body = _with("alerts.0.labels.severity", "Warning")
    result = post("alertmanager", body).get_json()["alerts"][0]
    incident = session.get(Incident, result["incident_id"])
    assert incident.priority.value == "P3"  # medium/medium
    assert any("(from alert severity Warning)" in s for s in events(session, incident.id))


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({}, "no severity"),
        ({"severity": "page"}, "severity page not in ALERT_SEVERITY_MAP"),
        ({"labels": {"severity": "page"}}, "severity page not in ALERT_SEVERITY_MAP"),
    ],
)
def test_a_generic_alert_without_a_known_severity_gets_the_default(post, session, extra, why):
    body = {"dedup_key": "disk", "status": "firing", "title": "Disk full", **extra}
    result = post("generic", body).get_json()["alerts"][0]
    incident = session.get(Incident, result["incident_id"])
    assert incident.priority.value == "P3"  # default=medium/medium
    assert any(f"(default for alerts, {why})" in s for s in events(session, incident.id))


def test_the_generic_severity_field_maps_through_the_setting(app, post, session):
    app.config["ALERT_SEVERITY_MAP"] = {"sev1": ("high", "high"), "sev3": ("low", "medium")}
    body = {"dedup_key": "db", "status": "firing", "title": "DB down", "severity": "SEV1"}
    first = session.get(Incident, post("generic", body).get_json()["alerts"][0]["incident_id"])
    assert first.priority.value == "P1"
    # No default entry: an unmapped severity leaves the incident for staff to categorize.
    other = {"dedup_key": "x", "status": "firing", "title": "Odd", "severity": "sev9"}
    second = session.get(Incident, post("generic", other).get_json()["alerts"][0]["incident_id"])
    assert second.priority is None and second.impact is None
    assert not any(s.startswith("Categorized") for s in events(session, second.id))


def test_a_repeated_alert_does_not_categorize_again(post, session):
    first = post("alertmanager", FIRING).get_json()["alerts"][0]
    post("alertmanager", FIRING)
    assert audit_reasons(session, first["incident_id"]) == ["from alert severity critical"]


def test_a_generic_severity_must_be_a_string(post, session):
    body = {"dedup_key": "x", "status": "firing", "title": "Odd", "severity": 3}
    response = post("generic", body)
    assert response.status_code == 422
    assert "severity" in response.get_json()["error"]["message"]
    assert counts(session)[:2] == (0, 0)
