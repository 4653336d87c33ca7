"""The write API (/api/v1): tokens, role limits, each operation's effect, and bad input.

Every refusal is JSON with a message, never a 500, and writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage.auth.tokens import create_token, revoke_token
from statuspage.components.models import Component, ComponentStatus
from statuspage.core.models import AuditEntry
from statuspage.incidents.models import (
    Incident,
    IncidentStatus,
    IncidentUpdate,
    Level,
    Maintenance,
    MaintenanceStatus,
)

API = "/api/v1"


@pytest.fixture
def token_for(session, make_user, now):
    def make(role: str = "admin") -> str:
        user = make_user(role)
        _, secret = create_token(session, user, "tests", actor_id=None, now=now)
        session.commit()
        return secret

    return make


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def call(client, method: str, path: str, secret: str, body: Any = None, **kwargs: Any) -> Any:
    if body is not None:
        kwargs["json"] = body
    return client.open(API + path, method=method, headers=auth(secret), **kwargs)


def count(session, model: type[Any]) -> int:
    session.rollback()  # see what other sessions committed
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def assert_json_error(response, code: int) -> dict[str, Any]:
    assert response.status_code == code, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    return error


# --- Happy paths ------------------------------------------------------------------------------


def test_open_incident_with_categorization(client, session, token_for, make_component, now):
    api = make_component("API")
    secret = token_for("responder")
    started = (now - timedelta(minutes=10)).isoformat()
    response = call(
        client,
        "POST",
        "/incidents",
        secret,
        {
            "title": "Checkout errors",
            "description": "500s on /pay",
            "source": "monitoring",
            "impact_started_at": started,
            "detected_at": (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
            "component_ids": [api.id],
            "impact": "high",
            "urgency": "high",
        },
    )
    assert response.status_code == 201, response.get_json()
    data = response.get_json()["incident"]
    assert data["title"] == "Checkout errors"
    assert data["component_ids"] == [api.id]
    assert data["priority"] == "P1" and data["status"] == "new"
    session.rollback()
    incident = session.get(Incident, data["id"])
    assert incident.source == "monitoring" and incident.impact == Level.HIGH
    assert not incident.is_public

    listed = call(client, "GET", "/incidents", secret).get_json()["incidents"]
    assert [i["id"] for i in listed] == [data["id"]]
    one = call(client, "GET", f"/incidents/{data['id']}", secret)
    assert one.status_code == 200 and one.get_json()["incident"]["version"] == incident.version


def test_public_update_changes_components_and_the_public_page(
    client, session, token_for, make_component
):
    api = make_component("Payments API")
    secret = token_for("manager")
    incident_id = call(client, "POST", "/incidents", secret, {"title": "Slow payments"}).get_json()[
        "incident"
    ]["id"]
    assert "Slow payments" not in client.get("/").get_data(as_text=True)

    response = call(
        client,
        "POST",
        f"/incidents/{incident_id}/updates",
        secret,
        {
            "status": "identified",
            "body": "Card payments are slow; we found the cause.",
            "component_statuses": {str(api.id): "partial_outage"},
            "deliver_notifications": False,
        },
    )
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert answer["update"]["component_changes"] == [
        {"component_id": api.id, "old_status": "operational", "new_status": "partial_outage"}
    ]
    assert answer["incident"]["is_public"] and answer["incident"]["public_impact"] == "major"
    session.rollback()
    assert session.get(Component, api.id).status == ComponentStatus.PARTIAL_OUTAGE
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Card payments are slow" in page
    assert "Slow payments" in client.get("/").get_data(as_text=True)


def test_patch_incident_and_version_conflict(client, session, token_for, make_incident):
    incident = make_incident("Old title")
    session.commit()
    secret = token_for("responder")
    version = incident.version
    response = call(
        client,
        "PATCH",
        f"/incidents/{incident.id}",
        secret,
        {"title": "New title", "version": version},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["incident"]["title"] == "New title"
    assert response.get_json()["incident"]["version"] == version + 1

    stale = call(
        client, "PATCH", f"/incidents/{incident.id}", secret, {"title": "Other", "version": version}
    )
    error = assert_json_error(stale, 409)
    assert error["changes"]
    session.rollback()
    assert session.get(Incident, incident.id).title == "New title"


def test_transitions_and_refusal(client, session, token_for, make_incident):
    incident = make_incident("Outage", public=False)
    session.commit()
    secret = token_for("responder")
    moved = call(
        client, "POST", f"/incidents/{incident.id}/transitions", secret, {"target": "investigating"}
    )
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["incident"]["status"] == "investigating"

    refused = call(
        client, "POST", f"/incidents/{incident.id}/transitions", secret, {"target": "resolved"}
    )
    error = assert_json_error(refused, 409)
    assert "Resolving needs" in error["message"]
    resolved = call(
        client,
        "POST",
        f"/incidents/{incident.id}/transitions",
        secret,
        {
            "target": "resolved",
            "resolution_code": "fix",
            "resolution_summary": "Rolled back",
            "verification": "Error rate back to zero",
        },
    )
    assert resolved.status_code == 200
    session.rollback()
    stored = session.get(Incident, incident.id)
    assert stored.status == IncidentStatus.RESOLVED and stored.resolved_at is not None


def test_component_status_and_listing(client, session, token_for, make_component):
    api = make_component("API")
    secret = token_for("communicator")
    response = call(client, "PATCH", f"/components/{api.id}", secret, {"status": "major_outage"})
    assert response.status_code == 200
    assert response.get_json()["component"]["status"] == "major_outage"
    listed = call(client, "GET", "/components", secret).get_json()["components"]
    assert [(c["id"], c["status"]) for c in listed] == [(api.id, "major_outage")]
    assert "Major System Outage" in client.get("/").get_data(as_text=True)


def test_maintenance_schedule_and_advance(client, session, token_for, make_component, now):
    db_component = make_component("Database")
    secret = token_for("communicator")
    response = call(
        client,
        "POST",
        "/maintenances",
        secret,
        {
            "title": "Database upgrade",
            "body": "Short read-only window.",
            "scheduled_for": (now + timedelta(days=1)).isoformat(),
            "scheduled_until": (now + timedelta(days=1, hours=1)).isoformat(),
            "component_ids": [db_component.id],
            "reminder_minutes_before": 60,
        },
    )
    assert response.status_code == 201, response.get_json()
    maintenance_id = response.get_json()["maintenance"]["id"]
    started = call(
        client, "POST", f"/maintenances/{maintenance_id}/status", secret, {"status": "in_progress"}
    )
    assert started.status_code == 200
    assert started.get_json()["maintenance"]["status"] == "in_progress"
    session.rollback()
    assert session.get(Component, db_component.id).status == ComponentStatus.UNDER_MAINTENANCE
    listed = call(client, "GET", "/maintenances", secret).get_json()["maintenances"]
    assert [m["id"] for m in listed] == [maintenance_id]
    assert "Database upgrade" in client.get(f"/maintenance/{maintenance_id}").get_data(as_text=True)
    again = call(
        client, "POST", f"/maintenances/{maintenance_id}/status", secret, {"status": "scheduled"}
    )
    assert_json_error(again, 409)
    assert session.get(Maintenance, maintenance_id).status == MaintenanceStatus.IN_PROGRESS


# --- Tokens and roles -------------------------------------------------------------------------


def test_viewer_token_reads_but_cannot_write(client, session, token_for, make_component):
    make_component("API")
    secret = token_for("viewer")
    assert call(client, "GET", "/incidents", secret).status_code == 200
    assert call(client, "GET", "/components", secret).status_code == 200
    assert_json_error(call(client, "POST", "/incidents", secret, {"title": "x"}), 403)
    assert count(session, Incident) == 0


def test_communicator_posts_updates_but_cannot_open_incidents(
    client, session, token_for, make_incident
):
    incident = make_incident("Known", public=False)
    session.commit()
    secret = token_for("communicator")
    assert_json_error(call(client, "POST", "/incidents", secret, {"title": "x"}), 403)
    assert_json_error(
        call(client, "POST", f"/incidents/{incident.id}/transitions", secret, {"target": "triage"}),
        403,
    )
    response = call(
        client,
        "POST",
        f"/incidents/{incident.id}/updates",
        secret,
        {"status": "investigating", "body": "Looking into it."},
    )
    assert response.status_code == 201
    assert count(session, Incident) == 1


def test_responder_cannot_publish(client, make_incident, session, token_for):
    incident = make_incident("Known", public=False)
    session.commit()
    secret = token_for("responder")
    body = {"status": "investigating", "body": "x"}
    assert_json_error(call(client, "POST", f"/incidents/{incident.id}/updates", secret, body), 403)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer sp_not-a-token", "Basic dXNlcjpwYXNz", "Token sp_x"],
)
def test_missing_or_wrong_token_is_401_json(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.get(API + "/incidents", headers=headers)
    assert_json_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_and_disabled_user_stop_working(client, session, make_user, now):
    user = make_user("admin")
    token, secret = create_token(session, user, "ci", actor_id=None, now=now)
    session.commit()
    assert call(client, "GET", "/components", secret).status_code == 200
    revoke_token(session, token.id, actor_id=None, now=now)
    session.commit()
    assert_json_error(call(client, "GET", "/components", secret), 401)


def test_token_use_is_recorded(client, session, token_for):
    from statuspage.auth.models import ApiToken

    secret = token_for("viewer")
    call(client, "GET", "/components", secret)
    session.rollback()
    assert session.scalars(sa.select(ApiToken)).one().last_used_at is not None


def test_token_use_is_recorded_to_the_minute(session, token_for):
    """A token used again within a minute writes nothing (no UPDATE per API call); a minute
    later, the new time is kept."""
    from statuspage.auth.models import ApiToken
    from statuspage.auth.tokens import user_for_token

    secret = token_for("viewer")
    first = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert user_for_token(session, secret, now=first) is not None
    session.commit()
    token = session.scalars(sa.select(ApiToken)).one()
    assert token.last_used_at == first
    assert user_for_token(session, secret, now=first + timedelta(seconds=59)) is not None
    assert not session.dirty
    later = first + timedelta(seconds=60)
    assert user_for_token(session, secret, now=later) is not None
    session.commit()
    session.expire_all()
    assert session.scalars(sa.select(ApiToken)).one().last_used_at == later


# --- Bad input: JSON 4xx, nothing written -----------------------------------------------------


BAD_BODIES = [
    ("not json", "{title: 1", 400, None),
    ("not an object", "[1, 2]", 400, None),
    ("wrong type", {"title": 5}, 422, "title"),
    ("missing title", {"description": "x"}, 422, "title"),
    ("unknown field", {"title": "x", "colour": "red"}, 422, "colour"),
    ("unknown enum", {"title": "x", "source": "pager"}, 422, "source"),
    ("bad datetime", {"title": "x", "impact_started_at": "yesterday"}, 422, "impact_started_at"),
    ("naive datetime", {"title": "x", "detected_at": "2026-01-01T10:00:00"}, 422, "detected_at"),
    ("datetime overflow", {"title": "x", "detected_at": "0001-01-01T00:00:00+05:00"}, 422, None),
    ("future impact", {"title": "x", "impact_started_at": "2999-01-01T00:00:00Z"}, 422, None),
    ("unknown component", {"title": "x", "component_ids": [999999]}, 422, "components"),
    ("huge component id", {"title": "x", "component_ids": [2**63]}, 422, "component_ids"),
    ("bool as id", {"title": "x", "component_ids": [True]}, 422, "component_ids"),
    ("too long", {"title": "x" * 201}, 422, "title"),
    ("NUL character", {"title": "a\u0000b"}, 422, "title"),
    ("lone surrogate", '{"title": "a\\ud800"}', 422, "title"),
    ("impact without urgency", {"title": "x", "impact": "high"}, 422, "urgency"),
    (
        "unknown category",
        {"title": "x", "impact": "low", "urgency": "low", "category_id": 7},
        422,
        None,
    ),
    ("null title", {"title": None}, 422, "title"),
]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
def test_bad_bodies_are_refused_and_write_nothing(client, session, token_for, body, code, field):
    secret = token_for("admin")
    if isinstance(body, str):
        response = client.post(
            API + "/incidents",
            data=body,
            headers={**auth(secret), "Content-Type": "application/json"},
        )
    else:
        response = call(client, "POST", "/incidents", secret, body)
    error = assert_json_error(response, code)
    if field:
        assert error["field"] == field
    assert count(session, Incident) == 0
    assert (
        session.scalar(sa.select(sa.func.count()).where(AuditEntry.entity_type == "incident")) == 0
    )


def test_not_json_content_type_is_415(client, token_for):
    secret = token_for("admin")
    response = client.post(API + "/incidents", data={"title": "x"}, headers=auth(secret))
    assert_json_error(response, 415)
    for content_type in ("text/plain", "application/xml", "multipart/form-data; boundary=x"):
        response = client.post(
            API + "/incidents",
            data='{"title": "x"}',
            headers={**auth(secret), "Content-Type": content_type},
        )
        assert_json_error(response, 415)
    no_type = client.post(API + "/incidents", data='{"title": "x"}', headers=auth(secret))
    assert_json_error(no_type, 415)


RAW_BODIES = [
    ("deeply nested array", b"[" * 100_000 + b"]" * 100_000),
    ("deeply nested object", b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
    ("deep value of a field", b'{"title": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    ("invalid UTF-8", b'{"title": "\xff\xfe"}'),
    ("latin-1 bytes", '{"title": "caf\u00e9"}'.encode("latin-1")),
    ("empty", b""),
    ("a string", b'"title"'),
    ("a number", b"42"),
    ("null", b"null"),
    ("true", b"true"),
]


@pytest.mark.parametrize("raw", [case[1] for case in RAW_BODIES], ids=[c[0] for c in RAW_BODIES])
def test_bodies_that_are_not_a_json_object_are_json_400(client, session, token_for, raw):
    response = client.post(
        API + "/incidents",
        data=raw,
        headers={**auth(token_for("admin")), "Content-Type": "application/json"},
    )
    error = assert_json_error(response, 400)
    assert "field" not in error
    assert count(session, Incident) == 0


WRITE_ENDPOINTS = [
    ("POST", "/incidents"),
    ("PATCH", "/incidents/{incident}"),
    ("POST", "/incidents/{incident}/transitions"),
    ("POST", "/incidents/{incident}/updates"),
    ("PATCH", "/components/{component}"),
    ("POST", "/maintenances"),
    ("POST", "/maintenances/{maintenance}/status"),
]


@pytest.mark.parametrize(("method", "path"), WRITE_ENDPOINTS)
def test_deeply_nested_json_is_400_json_on_every_write_endpoint(
    client, session, token_for, make_incident, make_component, now, method, path
):
    # 100,000 levels: Python's JSON parser gives up with a RecursionError, which was a 500 page.
    incident = make_incident("Known", public=False)
    component = make_component("API")
    maintenance = Maintenance(
        title="Upgrade",
        scheduled_for=now + timedelta(days=1),
        scheduled_until=now + timedelta(days=1, hours=1),
    )
    session.add(maintenance)
    session.commit()
    ids = {"incident": incident.id, "component": component.id, "maintenance": maintenance.id}
    response = client.open(
        API + path.format(**ids),
        method=method,
        data=b"[" * 100_000 + b"]" * 100_000,
        headers={**auth(token_for("admin")), "Content-Type": "application/json"},
    )
    assert_json_error(response, 400)
    assert count(session, IncidentUpdate) == 0


def test_bad_component_status_in_update_writes_nothing(
    client, session, token_for, make_incident, make_component
):
    api = make_component("API")
    incident = make_incident("Known", public=False)
    session.commit()
    secret = token_for("admin")
    for statuses, field in (
        ({str(api.id): "on_fire"}, "component_statuses"),
        ({"abc": "operational"}, "component_statuses"),
        ({str(api.id): "major_outage", "424242": "major_outage"}, "components"),
    ):
        response = call(
            client,
            "POST",
            f"/incidents/{incident.id}/updates",
            secret,
            {"status": "investigating", "body": "x", "component_statuses": statuses},
        )
        assert assert_json_error(response, 422)["field"] == field
    assert count(session, IncidentUpdate) == 0
    assert session.get(Component, api.id).status == ComponentStatus.OPERATIONAL


def test_unknown_records_and_paths_are_json_404(client, token_for):
    secret = token_for("admin")
    assert_json_error(call(client, "GET", "/incidents/424242", secret), 404)
    assert_json_error(call(client, "GET", f"/incidents/{2**40}", secret), 404)
    assert_json_error(
        call(client, "PATCH", "/components/424242", secret, {"status": "operational"}), 404
    )
    assert_json_error(call(client, "GET", "/nothing-here", secret), 404)
    not_allowed = call(client, "DELETE", "/incidents", secret)
    assert_json_error(not_allowed, 405)
    assert "POST" in not_allowed.headers["Allow"]


def test_oversized_body_is_json_413(app, client, session, token_for):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    secret = token_for("admin")
    response = call(client, "POST", "/incidents", secret, {"title": "x", "description": "y" * 5000})
    assert_json_error(response, 413)
    assert count(session, Incident) == 0


def test_openapi_document_needs_no_token_and_lists_every_operation(client):
    response = client.get(API + "/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "/api/v1"}]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    operations = {
        (method.upper(), path) for path, methods in document["paths"].items() for method in methods
    }
    assert operations == {
        ("GET", "/incidents"),
        ("POST", "/incidents"),
        ("GET", "/incidents/{incident_id}"),
        ("PATCH", "/incidents/{incident_id}"),
        ("POST", "/incidents/{incident_id}/transitions"),
        ("POST", "/incidents/{incident_id}/updates"),
        ("GET", "/components"),
        ("PATCH", "/components/{component_id}"),
        ("POST", "/components"),
        ("DELETE", "/components/{component_id}"),
        ("POST", "/components/order"),
        ("GET", "/component-groups"),
        ("POST", "/component-groups"),
        ("PATCH", "/component-groups/{group_id}"),
        ("DELETE", "/component-groups/{group_id}"),
        ("POST", "/component-groups/order"),
        ("GET", "/maintenances"),
        ("POST", "/maintenances"),
        ("POST", "/maintenances/{maintenance_id}/status"),
    }

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        return schema

    update_body = document["paths"]["/incidents/{incident_id}/updates"]["post"]["requestBody"]
    schema = resolve(update_body["content"]["application/json"]["schema"])
    assert schema["additionalProperties"] is False and set(schema["required"]) == {"status", "body"}
    status = resolve(schema["properties"]["status"])
    assert status["enum"] == ["investigating", "identified", "monitoring", "resolved"]
    new_incident = document["paths"]["/incidents"]["post"]["requestBody"]
    title = resolve(new_incident["content"]["application/json"]["schema"])["properties"]["title"]
    assert title["maxLength"] == 200
    error = resolve(
        document["paths"]["/incidents"]["post"]["responses"]["422"]["content"]["application/json"][
            "schema"
        ]
    )
    assert set(resolve(error["properties"]["error"])["properties"]) == {
        "code",
        "message",
        "field",
        "changes",
    }


# --- setting up components and groups ---------------------------------------------------------


def test_components_and_groups_are_set_up_through_the_api(client, token_for):
    manager = auth(token_for("manager"))
    group = client.post(API + "/component-groups", json={"name": "Web"}, headers=manager)
    assert group.status_code == 201, group.get_json()
    group_id = group.get_json()["component_group"]["id"]
    made = []
    for name in ("Shop", "Login"):
        response = client.post(
            API + "/components",
            json={"name": name, "group_id": group_id, "description": f"The {name}."},
            headers=manager,
        )
        assert response.status_code == 201, response.get_json()
        made.append(response.get_json()["component"])
    assert [c["position"] for c in made] == [1, 2]
    assert made[0]["is_public"] is True and made[0]["showcase"] is True

    order = client.post(
        API + "/components/order",
        json={"group_id": group_id, "component_ids": [made[1]["id"], made[0]["id"]]},
        headers=manager,
    )
    assert order.status_code == 200
    public = client.get("/api/v2/components.json").get_json()["components"]
    names = [c["name"] for c in public if not c.get("group")]
    assert names.index("Login") < names.index("Shop")

    change = client.patch(
        API + f"/components/{made[0]['id']}",
        json={"name": "Web shop", "is_public": False, "start_date": "2025-01-31"},
        headers=manager,
    )
    assert change.status_code == 200, change.get_json()
    body = change.get_json()["component"]
    assert (body["name"], body["is_public"], body["start_date"]) == (
        "Web shop",
        False,
        "2025-01-31",
    )
    listed = client.get("/api/v2/components.json").get_json()["components"]
    assert "Web shop" not in {c["name"] for c in listed}

    groups = client.get(API + "/component-groups", headers=manager).get_json()
    assert groups["component_groups"][0]["component_ids"] == [made[1]["id"], made[0]["id"]]

    removed = client.delete(API + f"/components/{made[1]['id']}", headers=manager)
    assert removed.get_json() == {"outcome": "deleted"}
    deleted = client.delete(API + f"/component-groups/{group_id}", headers=manager)
    assert deleted.status_code == 200
    assert client.delete(API + f"/component-groups/{group_id}", headers=manager).status_code == 404


def test_component_set_up_is_validated_and_needs_configure(client, token_for):
    manager = auth(token_for("manager"))
    communicator = auth(token_for("communicator"))
    for body, field in (
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "X", "group_id": 2**31}, "group_id"),
        ({"name": "X", "start_date": "yesterday"}, "start_date"),
        ({"name": "X", "is_public": "yes"}, "is_public"),
        ({"name": "X", "colour": "red"}, "colour"),
    ):
        response = client.post(API + "/components", json=body, headers=manager)
        assert response.status_code == 422, (body, response.get_json())
        assert response.get_json()["error"]["field"] == field
    response = client.post(API + "/components", json={"name": "X", "group_id": 5}, headers=manager)
    assert response.status_code == 404 or response.get_json()["error"]["field"] == "group_id"
    made = client.post(API + "/components", json={"name": "API"}, headers=manager).get_json()
    component_id = made["component"]["id"]
    # The communicator may set the status, not the set-up.
    refused = client.post(API + "/components", json={"name": "Y"}, headers=communicator)
    assert refused.status_code == 403
    renamed = client.patch(
        API + f"/components/{component_id}", json={"name": "Z"}, headers=communicator
    )
    assert renamed.status_code == 403
    status = client.patch(
        API + f"/components/{component_id}", json={"status": "major_outage"}, headers=communicator
    )
    assert status.status_code == 200
    assert client.delete(API + "/components/2147483648", headers=manager).status_code == 404
