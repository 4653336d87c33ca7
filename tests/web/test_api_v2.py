"""The Statuspage-compatible JSON API (/api/v2), on SQLite and PostgreSQL.

Every response is checked against the shape of Statuspage's public API: the keys at each level,
the value types, the vocabularies and the timestamp format. The shape is written down once
below (`SHAPES`) and first checked against an example document laid out like Statuspage's
documented responses, so the tests compare with Statuspage, not with this implementation.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from statuspage.components.models import ComponentStatus
from statuspage.components.status import change_component_status
from statuspage.core.db import utcnow
from statuspage.core.records import bump_public_version
from statuspage.incidents.maintenance import (
    NewMaintenance,
    advance_maintenance,
    schedule_maintenance,
)
from statuspage.incidents.models import (
    Incident,
    PostIncidentReview,
    PublicImpact,
    PublicStatus,
    ReviewStatus,
)
from statuspage.incidents.operations import post_update
from statuspage.public.api_v2_format import default_page_id, timestamp
from tests.conftest import make_app

# --- The shape of Statuspage's public API -------------------------------------------------

TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\d$")

COMPONENT_STATUSES = frozenset(
    {"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}
)
INCIDENT_STATUSES = frozenset(
    {"investigating", "identified", "monitoring", "resolved", "postmortem"}
)
INCIDENT_IMPACTS = frozenset({"none", "minor", "major", "critical"})
MAINTENANCE_STATUSES = frozenset({"scheduled", "in_progress", "verifying", "completed"})
INDICATORS = frozenset({"none", "minor", "major", "critical", "maintenance"})
DESCRIPTIONS = frozenset(
    {
        "All Systems Operational",
        "Service Under Maintenance",
        "Minor Service Outage",
        "Partial System Outage",
        "Major System Outage",
    }
)


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern[str]


@dataclass(frozen=True)
class Nullable:
    inner: Any


@dataclass(frozen=True)
class Either:
    options: tuple[Any, ...]


TIMESTAMP = Pattern(TIMESTAMP_RE)
DATE = Pattern(DATE_RE)

PAGE = {"id": str, "name": str, "url": str, "time_zone": str, "updated_at": TIMESTAMP}
STATUS = {"indicator": INDICATORS, "description": DESCRIPTIONS}
COMPONENT = {
    "id": str,
    "name": str,
    "status": COMPONENT_STATUSES,
    "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
    "position": int,
    "description": Nullable(str),
    "showcase": bool,
    "start_date": Nullable(DATE),
    "group_id": Nullable(str),
    "page_id": str,
    "group": bool,
    "only_show_if_degraded": bool,
}
GROUP = {**COMPONENT, "components": [str]}
AFFECTED_COMPONENT = {
    "code": str,
    "name": str,
    "old_status": COMPONENT_STATUSES,
    "new_status": COMPONENT_STATUSES,
}


def update_shape(statuses: frozenset[str]) -> dict[str, Any]:
    return {
        "id": str,
        "status": statuses,
        "body": str,
        "incident_id": str,
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
        "display_at": TIMESTAMP,
        "affected_components": Nullable([AFFECTED_COMPONENT]),
        "deliver_notifications": bool,
        "custom_tweet": Nullable(str),
        "tweet_id": Nullable(str),
    }


# What incidents and maintenance share.
INCIDENT_BASE = {
    "id": str,
    "name": str,
    "status": INCIDENT_STATUSES,
    "created_at": TIMESTAMP,
    "updated_at": TIMESTAMP,
    "monitoring_at": Nullable(TIMESTAMP),
    "resolved_at": Nullable(TIMESTAMP),
    "impact": INCIDENT_IMPACTS,
    "shortlink": str,
    "started_at": TIMESTAMP,
    "page_id": str,
    "incident_updates": [update_shape(INCIDENT_STATUSES)],
    "components": [COMPONENT],
}
# Statuspage's incidents carry their postmortem (null until one is published); maintenance
# does not.
INCIDENT = {
    **INCIDENT_BASE,
    "postmortem_body": Nullable(str),
    "postmortem_published_at": Nullable(TIMESTAMP),
}
MAINTENANCE = {
    **INCIDENT_BASE,
    "status": MAINTENANCE_STATUSES,
    "impact": INCIDENT_IMPACTS | {"maintenance"},
    "incident_updates": [update_shape(MAINTENANCE_STATUSES)],
    "scheduled_for": TIMESTAMP,
    "scheduled_until": TIMESTAMP,
}

SHAPES: dict[str, dict[str, Any]] = {
    "/api/v2/summary.json": {
        "page": PAGE,
        "components": [Either((COMPONENT, GROUP))],
        "incidents": [INCIDENT],
        "scheduled_maintenances": [MAINTENANCE],
        "status": STATUS,
    },
    "/api/v2/status.json": {"page": PAGE, "status": STATUS},
    "/api/v2/components.json": {"page": PAGE, "components": [Either((COMPONENT, GROUP))]},
    "/api/v2/incidents.json": {"page": PAGE, "incidents": [INCIDENT]},
    "/api/v2/incidents/unresolved.json": {"page": PAGE, "incidents": [INCIDENT]},
    "/api/v2/scheduled-maintenances.json": {"page": PAGE, "scheduled_maintenances": [MAINTENANCE]},
    "/api/v2/scheduled-maintenances/upcoming.json": {
        "page": PAGE,
        "scheduled_maintenances": [MAINTENANCE],
    },
    "/api/v2/scheduled-maintenances/active.json": {
        "page": PAGE,
        "scheduled_maintenances": [MAINTENANCE],
    },
}


def shape_errors(value: Any, shape: Any, path: str = "$") -> list[str]:
    """Where `value` departs from `shape`: key sets, types, vocabularies, formats."""
    if isinstance(shape, Either):
        attempts = [shape_errors(value, option, path) for option in shape.options]
        return [] if any(not errors for errors in attempts) else min(attempts, key=len)
    if isinstance(shape, Nullable):
        return [] if value is None else shape_errors(value, shape.inner, path)
    if isinstance(shape, Pattern):
        if isinstance(value, str) and shape.regex.match(value):
            return []
        return [f"{path}: {value!r} does not match {shape.regex.pattern}"]
    if isinstance(shape, frozenset):
        return [] if value in shape else [f"{path}: {value!r} is not one of {sorted(shape)}"]
    if isinstance(shape, type):
        # bool is an int in Python, not in JSON.
        ok = isinstance(value, shape) and (shape is bool or not isinstance(value, bool))
        return [] if ok else [f"{path}: {value!r} is not {shape.__name__}"]
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        return [
            e for i, item in enumerate(value) for e in shape_errors(item, shape[0], f"{path}[{i}]")
        ]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not an object"]
        errors = []
        if set(value) != set(shape):
            missing = sorted(set(shape) - set(value))
            extra = sorted(set(value) - set(shape))
            errors.append(f"{path}: keys missing {missing}, unexpected {extra}")
        for key in set(value) & set(shape):
            errors += shape_errors(value[key], shape[key], f"{path}.{key}")
        return errors
    raise TypeError(f"unknown shape {shape!r}")


# A summary laid out like the example in Statuspage's documentation of /api/v2/summary.json
# (page in America/Denver, ids as opaque strings, a group and its child in the flat list).
STATUSPAGE_EXAMPLE_SUMMARY: dict[str, Any] = {
    "page": {
        "id": "y2j98763l56x",
        "name": "Example Page",
        "url": "https://status.example.com",
        "time_zone": "America/Denver",
        "updated_at": "2014-05-14T14:35:21.711-06:00",
    },
    "components": [
        {
            "id": "sb5mzw7x3dcd",
            "name": "Backend",
            "status": "partial_outage",
            "created_at": "2014-05-03T01:22:07.274Z",
            "updated_at": "2014-05-14T20:34:43.340Z",
            "position": 1,
            "description": None,
            "showcase": False,
            "start_date": None,
            "group_id": None,
            "page_id": "y2j98763l56x",
            "group": True,
            "only_show_if_degraded": False,
            "components": ["b13yz5g2cw10"],
        },
        {
            "id": "b13yz5g2cw10",
            "name": "API",
            "status": "partial_outage",
            "created_at": "2014-05-03T01:22:07.274Z",
            "updated_at": "2014-05-14T20:34:43.340Z",
            "position": 1,
            "description": "The REST API",
            "showcase": True,
            "start_date": "2014-05-03",
            "group_id": "sb5mzw7x3dcd",
            "page_id": "y2j98763l56x",
            "group": False,
            "only_show_if_degraded": False,
        },
    ],
    "incidents": [
        {
            "id": "cp306tmzcl0y",
            "name": "Unplanned Database Outage",
            "status": "identified",
            "created_at": "2014-05-14T14:22:39.441-06:00",
            "updated_at": "2014-05-14T14:35:21.711-06:00",
            "monitoring_at": None,
            "resolved_at": None,
            "impact": "critical",
            "shortlink": "http://stspg.co:5000/Q0E",
            "started_at": "2014-05-14T14:22:39.441-06:00",
            "page_id": "y2j98763l56x",
            "incident_updates": [
                {
                    "id": "jdy3tw5mt5r5",
                    "status": "identified",
                    "body": "The cause is known; we are restoring service.",
                    "incident_id": "cp306tmzcl0y",
                    "created_at": "2014-05-14T14:22:40.301-06:00",
                    "updated_at": "2014-05-14T14:22:40.301-06:00",
                    "display_at": "2014-05-14T14:22:40.301-06:00",
                    "affected_components": [
                        {
                            "code": "b13yz5g2cw10",
                            "name": "API",
                            "old_status": "operational",
                            "new_status": "partial_outage",
                        }
                    ],
                    "deliver_notifications": True,
                    "custom_tweet": None,
                    "tweet_id": None,
                }
            ],
            "components": [],
            "postmortem_body": None,
            "postmortem_published_at": None,
        }
    ],
    "scheduled_maintenances": [
        {
            "id": "w1zdr745wmfy",
            "name": "Planned Database Upgrade",
            "status": "scheduled",
            "created_at": "2014-05-14T14:24:40.430-06:00",
            "updated_at": "2014-05-14T14:24:40.430-06:00",
            "monitoring_at": None,
            "resolved_at": None,
            "impact": "maintenance",
            "shortlink": "http://stspg.co:5000/Q0F",
            "started_at": "2014-05-14T14:24:40.430-06:00",
            "page_id": "y2j98763l56x",
            "incident_updates": [
                {
                    "id": "drs62w8df6fs",
                    "status": "scheduled",
                    "body": "We will be upgrading the database.",
                    "incident_id": "w1zdr745wmfy",
                    "created_at": "2014-05-14T14:24:41.913-06:00",
                    "updated_at": "2014-05-14T14:24:41.913-06:00",
                    "display_at": "2014-05-14T14:24:41.913-06:00",
                    "affected_components": None,
                    "deliver_notifications": True,
                    "custom_tweet": None,
                    "tweet_id": None,
                }
            ],
            "components": [],
            "scheduled_for": "2014-05-17T22:00:00.000-06:00",
            "scheduled_until": "2014-05-17T23:30:00.000-06:00",
        }
    ],
    "status": {"indicator": "major", "description": "Partial System Outage"},
}


def read_like_a_status_reader(summary: dict[str, Any]) -> dict[str, Any]:
    """A Statuspage v2 client written like the common open-source readers (status bar
    widgets, chat bots, monitoring plugins): it knows only Statuspage's documented fields."""
    status = summary["status"]
    report: dict[str, Any] = {
        "indicator": status["indicator"],
        "headline": f"{summary['page']['name']}: {status['description']}",
        "ok": status["indicator"] == "none",
        "checked": datetime.strptime(summary["page"]["updated_at"], "%Y-%m-%dT%H:%M:%S.%f%z"),
        "degraded": [],
        "incidents": [],
        "maintenance": [],
    }
    for component in summary["components"]:
        if component.get("group"):
            continue
        if component["status"] != "operational":
            report["degraded"].append(f"{component['name']}: {component['status']}")
    for incident in summary["incidents"]:
        latest = incident["incident_updates"][0]
        touched = [c["name"] for c in latest.get("affected_components") or []]
        report["incidents"].append((incident["name"], incident["impact"], latest["body"], touched))
    for maintenance in summary["scheduled_maintenances"]:
        starts = datetime.fromisoformat(maintenance["scheduled_for"].replace("Z", "+00:00"))
        report["maintenance"].append((maintenance["name"], maintenance["status"], starts))
    return report


# --- Fixtures -------------------------------------------------------------------------------


@dataclass
class Site:
    api: Any
    webhooks: Any
    dashboard: Any
    search: Any
    email: Any
    hidden: Any
    resolved: Any
    errors: Any
    slow: Any
    private: Any
    upcoming: Any
    active: Any
    completed: Any


@pytest.fixture
def site(session, make_component, make_incident, now) -> Site:
    api = make_component("REST API", group="API", description="The REST API")
    webhooks = make_component("Webhooks", group="API", position=1)
    dashboard = make_component("Dashboard", group="Web")
    search = make_component("Search", group="Web", position=1, only_show_if_degraded=True)
    email = make_component("Email")
    hidden = make_component("Replica database", is_public=False)

    resolved = make_incident(
        "Webhooks down",
        components={webhooks.id: "major_outage"},
        started=now - timedelta(days=3),
        resolved_after=timedelta(hours=1),
    )
    errors = make_incident(
        "Elevated errors",
        components={api.id: "partial_outage"},
        started=now - timedelta(hours=2),
        body="We are looking into errors on the API.",
    )
    post_update(
        session,
        errors,
        status=PublicStatus.IDENTIFIED,
        body="A bad deploy; rolling back.",
        actor_id=None,
        now=now - timedelta(hours=1),
    )
    slow = make_incident(
        "Slow dashboard",
        components={dashboard.id: "degraded_performance", hidden.id: "major_outage"},
        started=now - timedelta(minutes=30),
    )
    private = make_incident("Not for customers", public=False)

    def maintenance(title: str, starts: datetime) -> Any:
        return schedule_maintenance(
            session,
            NewMaintenance(
                title=title,
                scheduled_for=starts,
                scheduled_until=starts + timedelta(hours=2),
                body=f"{title}: expect short interruptions.",
                component_ids=[email.id],
            ),
            actor_id=None,
            now=starts - timedelta(days=2),
        )

    completed = maintenance("Mail server upgrade", now - timedelta(days=5))
    advance_maintenance(
        session, completed, "in_progress", actor_id=None, now=now - timedelta(days=5)
    )
    advance_maintenance(
        session,
        completed,
        "completed",
        body="Done.",
        actor_id=None,
        now=now - timedelta(days=5, hours=-1),
    )
    active = maintenance("Mail relay move", now - timedelta(minutes=20))
    advance_maintenance(
        session,
        active,
        "in_progress",
        body="Started.",
        actor_id=None,
        now=now - timedelta(minutes=20),
    )
    upcoming = maintenance("Storage expansion", now + timedelta(days=2))
    session.commit()
    return Site(
        api=api,
        webhooks=webhooks,
        dashboard=dashboard,
        search=search,
        email=email,
        hidden=hidden,
        resolved=resolved,
        errors=errors,
        slow=slow,
        private=private,
        upcoming=upcoming,
        active=active,
        completed=completed,
    )


def get_json(client, path: str, **kwargs: Any) -> dict[str, Any]:
    response = client.get(path, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    return response.get_json()


# --- The shape ------------------------------------------------------------------------------


def test_shape_checker_accepts_statuspage_example_and_notices_departures():
    shape = SHAPES["/api/v2/summary.json"]
    assert shape_errors(STATUSPAGE_EXAMPLE_SUMMARY, shape) == []
    broken = json.loads(json.dumps(STATUSPAGE_EXAMPLE_SUMMARY))
    del broken["incidents"][0]["incident_updates"][0]["display_at"]
    broken["components"][1]["status"] = "down"
    broken["page"]["updated_at"] = "2014-05-14 14:35:21"
    broken["components"][1]["position"] = True
    errors = shape_errors(broken, shape)
    assert any("display_at" in e for e in errors)
    assert any("'down'" in e for e in errors)
    assert any("updated_at" in e for e in errors)
    assert any("True is not int" in e for e in errors)


def test_every_endpoint_has_statuspage_shape(client, site):
    for path, shape in SHAPES.items():
        body = get_json(client, path)
        assert shape_errors(body, shape) == [], path
        assert body["page"]["name"] == "Test Status"
        assert body["page"]["url"] == "http://localhost"
        assert body["page"]["time_zone"] == "UTC"
        for key in ("components", "incidents", "scheduled_maintenances"):
            if key in body:
                assert body[key], f"{path}: {key} is empty, so its shape went unchecked"


def test_summary_fields_say_what_the_page_says(client, site, now):
    body = get_json(client, "/api/v2/summary.json")
    assert body["status"] == {"indicator": "critical", "description": "Major System Outage"}
    page_id = body["page"]["id"]
    assert page_id == default_page_id("Test Status")

    errors = next(i for i in body["incidents"] if i["name"] == "Elevated errors")
    assert errors["id"] == f"i{site.errors.id}"
    assert errors["status"] == "identified"
    assert errors["impact"] == "major"
    assert errors["page_id"] == page_id
    assert errors["shortlink"] == f"http://localhost/incidents/{site.errors.id}"
    assert errors["started_at"] == timestamp(now - timedelta(hours=2))
    assert errors["created_at"] == timestamp(now - timedelta(hours=2))
    assert errors["updated_at"] == timestamp(now - timedelta(hours=1))
    assert errors["monitoring_at"] is None and errors["resolved_at"] is None
    assert [c["id"] for c in errors["components"]] == [f"c{site.api.id}"]
    assert errors["components"][0]["status"] == "partial_outage"

    latest, first = errors["incident_updates"]
    assert latest["status"] == "identified"
    assert latest["body"] == "A bad deploy; rolling back."
    assert latest["incident_id"] == errors["id"]
    assert latest["display_at"] == timestamp(now - timedelta(hours=1))
    assert latest["affected_components"] is None  # changed no component, as Statuspage says
    assert latest["deliver_notifications"] is True
    assert first["affected_components"] == [
        {
            "code": f"c{site.api.id}",
            "name": "REST API",
            "old_status": "operational",
            "new_status": "partial_outage",
        }
    ]

    maintenance_ids = [m["id"] for m in body["scheduled_maintenances"]]
    assert maintenance_ids == [f"m{site.active.id}", f"m{site.upcoming.id}"]
    active = body["scheduled_maintenances"][0]
    assert active["status"] == "in_progress"
    assert active["impact"] == "maintenance"
    assert active["scheduled_for"] == timestamp(now - timedelta(minutes=20))
    assert active["scheduled_until"] == timestamp(now + timedelta(minutes=100))
    assert active["shortlink"] == f"http://localhost/maintenance/{site.active.id}"
    assert [u["status"] for u in active["incident_updates"]] == ["in_progress", "scheduled"]
    assert active["incident_updates"][0]["body"] == "Started."
    assert active["incident_updates"][0]["incident_id"] == active["id"]
    assert [c["name"] for c in active["components"]] == ["Email"]
    assert active["components"][0]["status"] == "under_maintenance"


def test_vocabularies_are_statuspages(client, site, session, now):
    post_update(
        session,
        site.slow,
        status=PublicStatus.MONITORING,
        body="Fixed; watching.",
        actor_id=None,
        now=now - timedelta(minutes=5),
    )
    session.commit()
    body = get_json(client, "/api/v2/incidents.json")
    by_name = {i["name"]: i for i in body["incidents"]}
    assert by_name["Slow dashboard"]["status"] == "monitoring"
    assert by_name["Slow dashboard"]["monitoring_at"] == timestamp(now - timedelta(minutes=5))
    # Its hidden component's outage counts, as in the overall status.
    assert by_name["Slow dashboard"]["impact"] == "critical"
    assert by_name["Webhooks down"]["status"] == "resolved"
    assert by_name["Webhooks down"]["impact"] == "critical"
    assert by_name["Webhooks down"]["resolved_at"] == timestamp(now - timedelta(days=3, hours=-1))
    statuses = {
        m["status"]
        for m in get_json(client, "/api/v2/scheduled-maintenances.json")["scheduled_maintenances"]
    }
    assert statuses == {"scheduled", "in_progress", "completed"}


def test_resolved_incident_with_published_review_is_postmortem(client, site, session, now):
    review = PostIncidentReview(
        incident_id=site.resolved.id, status=ReviewStatus.PUBLISHED, summary="What happened."
    )
    session.add(review)
    session.commit()
    # Published internally only: customers see nothing of it.
    incidents = get_json(client, "/api/v2/incidents.json")["incidents"]
    webhooks = {i["name"]: i for i in incidents}["Webhooks down"]
    assert webhooks["status"] == "resolved"
    assert webhooks["postmortem_body"] is None and webhooks["postmortem_published_at"] is None

    review.publish_publicly = True
    review.published_at = now - timedelta(hours=1)
    bump_public_version(session, now)  # what publishing a review does
    session.commit()
    incidents = get_json(client, "/api/v2/incidents.json")["incidents"]
    webhooks = {i["name"]: i for i in incidents}["Webhooks down"]
    assert webhooks["status"] == "postmortem"
    assert webhooks["postmortem_published_at"] == timestamp(now - timedelta(hours=1))
    assert webhooks["postmortem_body"].startswith("## Summary\n\nWhat happened.")
    assert webhooks["postmortem_body"].endswith(f"/incidents/{site.resolved.id}#review")


# --- Times and ids --------------------------------------------------------------------------


def test_timestamps_have_milliseconds_and_the_page_zone_offset():
    moment = datetime(2026, 1, 15, 21, 22, 39, 441_000, tzinfo=UTC)
    from zoneinfo import ZoneInfo

    assert timestamp(moment) == "2026-01-15T21:22:39.441Z"
    assert timestamp(moment, ZoneInfo("America/Denver")) == "2026-01-15T14:22:39.441-07:00"
    assert timestamp(moment.replace(month=7), ZoneInfo("America/Denver")).endswith("-06:00")
    # As Statuspage (Rails): "Z" only for UTC itself; a zone that happens to be at +0 says so.
    assert timestamp(moment, ZoneInfo("Europe/London")) == "2026-01-15T21:22:39.441+00:00"
    assert timestamp(moment, ZoneInfo("Etc/UTC")).endswith("Z")
    assert timestamp(None) is None


@pytest.fixture
def client_with(database_url, app):
    """A client of an app with other settings, on the same database (emptied by `app`)."""
    from statuspage.extensions import db

    made = []

    def make(**config: Any) -> Any:
        other = make_app(database_url, **config)
        made.append(other)
        return other.test_client()

    yield make
    for other in made:
        with other.app_context():
            db.engine.dispose()


def test_page_time_zone_and_id_come_from_settings(client_with, site, now):
    client = client_with(SITE_TIME_ZONE="America/Denver", PAGE_ID="abc123def456")
    body = get_json(client, "/api/v2/summary.json")
    assert shape_errors(body, SHAPES["/api/v2/summary.json"]) == []
    assert body["page"]["time_zone"] == "America/Denver"
    assert body["page"]["id"] == "abc123def456"
    stamps = [body["page"]["updated_at"]] + [
        i[key] for i in body["incidents"] for key in ("created_at", "updated_at", "started_at")
    ]
    assert all(re.search(r"-0[67]:00$", s) for s in stamps), stamps
    assert {c["page_id"] for c in body["components"]} == {"abc123def456"}
    errors = next(i for i in body["incidents"] if i["name"] == "Elevated errors")
    started = datetime.fromisoformat(errors["started_at"])
    assert started == now - timedelta(hours=2)


def test_default_page_id_is_stable_and_shaped_like_statuspages():
    assert default_page_id("Test Status") == default_page_id("Test Status")
    assert default_page_id("Test Status") != default_page_id("Other Status")
    assert re.fullmatch(r"[a-z0-9]{12}", default_page_id("Test Status"))


def test_page_updated_at_follows_public_changes(client, site, session, now):
    before = get_json(client, "/api/v2/status.json")["page"]["updated_at"]
    later = now + timedelta(hours=1)  # later than anything stamped with the real clock
    post_update(
        session,
        site.errors,
        status=PublicStatus.MONITORING,
        body="Watching.",
        actor_id=None,
        now=later,
    )
    session.commit()
    after = get_json(client, "/api/v2/status.json")["page"]["updated_at"]
    assert after == timestamp(later)
    assert datetime.fromisoformat(before) < later


def test_ids_are_strings_unique_across_kinds(client, site):
    body = get_json(client, "/api/v2/summary.json")
    listed = [c["id"] for c in body["components"]]
    assert len(listed) == len(set(listed))
    recent = get_json(client, "/api/v2/incidents.json")["incidents"]
    maintenances = get_json(client, "/api/v2/scheduled-maintenances.json")["scheduled_maintenances"]
    every = (
        listed
        + [i["id"] for i in recent]
        + [m["id"] for m in maintenances]
        + [u["id"] for item in recent + maintenances for u in item["incident_updates"]]
    )
    assert len(every) == len(set(every))
    assert all(isinstance(i, str) and re.fullmatch(r"[a-z]+\d+", i) for i in every)


# --- Components and groups ------------------------------------------------------------------


def test_groups_and_their_components_share_one_flat_list(client, site):
    entries = get_json(client, "/api/v2/components.json")["components"]
    by_id = {c["id"]: c for c in entries}
    assert [c["name"] for c in entries] == [
        "API",
        "REST API",
        "Webhooks",
        "Web",
        "Dashboard",
        "Search",
        "Email",
    ]
    api_group = entries[0]
    assert api_group["group"] is True and api_group["group_id"] is None
    assert api_group["components"] == [f"c{site.api.id}", f"c{site.webhooks.id}"]
    assert api_group["status"] == "partial_outage"  # the worst of its components
    for child_id in api_group["components"]:
        assert by_id[child_id]["group_id"] == api_group["id"]
        assert by_id[child_id]["group"] is False
        assert "components" not in by_id[child_id]
    assert by_id[f"c{site.email.id}"]["group_id"] is None
    assert by_id[f"c{site.email.id}"]["status"] == "under_maintenance"
    assert by_id[f"c{site.api.id}"]["description"] == "The REST API"
    assert by_id[f"c{site.webhooks.id}"]["description"] is None
    # Shown when degraded only: listed with the flag, the reader decides (as Statuspage).
    assert by_id[f"c{site.search.id}"]["only_show_if_degraded"] is True
    assert all(not e["group"] or e["id"].startswith("g") for e in entries)


def test_components_hidden_from_the_page_are_not_in_the_api(client, site):
    body = get_json(client, "/api/v2/summary.json")
    text = json.dumps(body)
    assert "Replica database" not in text
    assert f'"c{site.hidden.id}"' not in text
    # ... but their outage still counts in the overall status, as on the page.
    assert body["status"]["indicator"] == "critical"


# --- Incidents ------------------------------------------------------------------------------


def test_incidents_newest_first_with_updates_newest_first(client, site):
    incidents = get_json(client, "/api/v2/incidents.json")["incidents"]
    assert [i["name"] for i in incidents] == ["Slow dashboard", "Elevated errors", "Webhooks down"]
    for incident in incidents:
        shown = [u["display_at"] for u in incident["incident_updates"]]
        assert shown == sorted(shown, reverse=True)
    resolved = incidents[2]
    assert [u["status"] for u in resolved["incident_updates"]] == ["resolved", "investigating"]


def test_unresolved_excludes_resolved_and_private(client, site):
    unresolved = get_json(client, "/api/v2/incidents/unresolved.json")["incidents"]
    assert [i["name"] for i in unresolved] == ["Slow dashboard", "Elevated errors"]
    assert all(i["status"] != "resolved" for i in unresolved)
    summary = get_json(client, "/api/v2/summary.json")["incidents"]
    assert [i["id"] for i in summary] == [i["id"] for i in unresolved]
    for path in SHAPES:
        assert "Not for customers" not in client.get(path).get_data(as_text=True)


def test_incidents_json_is_cut_to_the_fifty_most_recent(client, session, now):
    session.add_all(
        Incident(
            title=f"Incident {n}",
            is_public=True,
            public_status=PublicStatus.RESOLVED,
            public_impact=PublicImpact.MINOR,
            published_at=now - timedelta(hours=n),
            public_resolved_at=now - timedelta(hours=n) + timedelta(minutes=5),
            impact_started_at=now - timedelta(hours=n),
        )
        for n in range(55)
    )
    session.commit()
    incidents = get_json(client, "/api/v2/incidents.json")["incidents"]
    assert len(incidents) == 50
    assert incidents[0]["name"] == "Incident 0" and incidents[-1]["name"] == "Incident 49"
    assert all(i["incident_updates"] == [] for i in incidents)


# --- Maintenance ----------------------------------------------------------------------------


def test_upcoming_and_active_maintenance_are_split(client, site):
    def names(path: str) -> list[str]:
        return [m["name"] for m in get_json(client, path)["scheduled_maintenances"]]

    assert names("/api/v2/scheduled-maintenances/upcoming.json") == ["Storage expansion"]
    assert names("/api/v2/scheduled-maintenances/active.json") == ["Mail relay move"]
    assert names("/api/v2/scheduled-maintenances.json") == [
        "Storage expansion",
        "Mail relay move",
        "Mail server upgrade",
    ]
    completed = get_json(client, "/api/v2/scheduled-maintenances.json")["scheduled_maintenances"][2]
    assert completed["status"] == "completed"
    assert completed["resolved_at"] is not None
    assert [u["status"] for u in completed["incident_updates"]] == [
        "completed",
        "in_progress",
        "scheduled",
    ]


def test_verifying_maintenance_is_active_with_monitoring_time(client, site, session, now):
    advance_maintenance(session, site.active, "verifying", actor_id=None, now=now)
    session.commit()
    active = get_json(client, "/api/v2/scheduled-maintenances/active.json")[
        "scheduled_maintenances"
    ]
    assert [(m["name"], m["status"]) for m in active] == [("Mail relay move", "verifying")]
    assert active[0]["monitoring_at"] == timestamp(now)


# --- HTTP: CORS, caching, errors --------------------------------------------------------------


def test_cors_content_type_and_cache_control(client, site):
    response = client.get("/api/v2/summary.json", headers={"Origin": "https://example.org"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    cache = response.cache_control
    assert cache.public and 0 < cache.max_age <= 300
    preflight = client.options("/api/v2/summary.json")
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    head = client.head("/api/v2/status.json")
    assert head.status_code == 200 and head.get_data() == b"" and head.headers["ETag"]


def test_etag_is_strong_from_the_body_and_answers_304(client, site, session):
    first = client.get("/api/v2/components.json")
    etag = first.headers["ETag"]
    assert not etag.startswith("W/")
    assert etag.strip('"') == hashlib.sha256(first.get_data()).hexdigest()[:40]
    again = client.get("/api/v2/components.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    assert again.cache_control.public

    change_component_status(
        session, site.webhooks, ComponentStatus.DEGRADED_PERFORMANCE, now=utcnow()
    )
    session.commit()
    changed = client.get("/api/v2/components.json", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_unknown_api_paths_answer_json_404(client):
    for path in ("/api/v2/nope.json", "/api/v2", "/api/v2/", "/api/v2/incidents/42.json"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "application/json", path
        assert response.get_json()["error"]["code"] == 404
        assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_wrong_method_answers_json_405(client):
    response = client.post("/api/v2/summary.json")
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == 405
    assert "GET" in response.headers["Allow"]


def test_the_rest_of_the_site_keeps_its_html_error_pages(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


# --- Bounded queries ------------------------------------------------------------------------


def test_each_endpoint_runs_a_fixed_number_of_statements(
    client, session, make_component, make_incident, count_queries, now
):
    api = make_component("API", group="G")
    web = make_component("Web", group="G")
    email = make_component("Email")
    for hours in (-30, 30):
        schedule_maintenance(
            session,
            NewMaintenance(
                title=f"Window {hours}",
                scheduled_for=now + timedelta(hours=hours),
                scheduled_until=now + timedelta(hours=hours + 1),
                component_ids=[email.id],
            ),
            actor_id=None,
            now=now - timedelta(days=3),
        )

    def add(count: int, offset: int) -> None:
        for index in range(offset, offset + count):
            incident = make_incident(
                f"Incident {index}",
                components={api.id: "partial_outage", web.id: "degraded_performance"},
                started=now - timedelta(days=1 + index, hours=1),
                resolved_after=timedelta(minutes=30) if index % 2 else None,
            )
            post_update(
                session,
                incident,
                status=PublicStatus.IDENTIFIED,
                body="Found it.",
                actor_id=None,
                now=now - timedelta(days=1 + index),
            )
        session.commit()

    def counts() -> dict[str, int]:
        return {path: count_queries(lambda p=path: client.get(p)) for path in SHAPES}

    add(3, 0)
    few = counts()
    add(17, 3)
    many = counts()
    assert many == few
    assert max(many.values()) < 25
    assert len(get_json(client, "/api/v2/incidents.json")["incidents"]) == 20


# --- Compatibility ----------------------------------------------------------------------------


def test_an_existing_statuspage_reader_works_unchanged(client, site):
    expected = read_like_a_status_reader(STATUSPAGE_EXAMPLE_SUMMARY)
    assert expected["incidents"][0][2] == "The cause is known; we are restoring service."

    report = read_like_a_status_reader(get_json(client, "/api/v2/summary.json"))
    assert report["indicator"] == "critical" and not report["ok"]
    assert report["headline"] == "Test Status: Major System Outage"
    assert report["degraded"] == [
        "REST API: partial_outage",
        "Dashboard: degraded_performance",
        "Email: under_maintenance",
    ]
    assert report["incidents"] == [
        ("Slow dashboard", "critical", "We are investigating.", ["Dashboard"]),
        ("Elevated errors", "major", "A bad deploy; rolling back.", []),
    ]
    assert [(name, status) for name, status, _ in report["maintenance"]] == [
        ("Mail relay move", "in_progress"),
        ("Storage expansion", "scheduled"),
    ]
    assert report["checked"].tzinfo is not None


def test_empty_site_is_all_operational(client):
    body = get_json(client, "/api/v2/summary.json")
    assert shape_errors(body, SHAPES["/api/v2/summary.json"]) == []
    assert body["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert body["components"] == body["incidents"] == body["scheduled_maintenances"] == []


def test_format_module_loads_no_flask():
    code = (
        "import sys, statuspage.public.api_v2_format\n"
        "print(any(m == 'flask' or m.startswith(('flask.', 'flask_')) for m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_unknown_time_zone_falls_back_to_utc_and_says_so(client_with):
    client = client_with(SITE_TIME_ZONE="Mars/Olympus_Mons")
    page = get_json(client, "/api/v2/status.json")["page"]
    assert page["time_zone"] == "UTC"
    assert page["updated_at"].endswith("Z")
