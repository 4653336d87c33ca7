"""The write API under /api/v1: bearer tokens, JSON in and out, the admin area's domain functions.

Each operation is declared once with `operation(...)`: its route, the permission its token's role
needs, the JSON body it accepts (a table of `Field`s) and its success status. The same
declarations validate requests and produce the OpenAPI document at /api/v1/openapi.json, so the
document cannot drift from what the server accepts.

Bad input never reaches the domain: the body must be a JSON object with known keys only, each of
the declared type, enum and length; datetimes are ISO 8601 with an offset. Every answer is JSON,
errors included ({"error": {"code", "message", "field"?, "changes"?}}), and a request commits
once at the end or not at all.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    UnsupportedMediaType,
)

from statuspage.api.auth import json_error, require_token
from statuspage.auth.models import User
from statuspage.auth.permissions import Permission
from statuspage.components.models import Component, ComponentStatus
from statuspage.components.status import change_component_status
from statuspage.core.db import utcnow
from statuspage.core.errors import ConflictError, DomainError, InvalidTransition, NotFound
from statuspage.extensions import db
from statuspage.incidents import publishing
from statuspage.incidents.casework import IncidentDetails, check_version, update_details
from statuspage.incidents.lifecycle import TransitionDetails, transition_incident
from statuspage.incidents.maintenance import (
    NewMaintenance,
    advance_maintenance,
    schedule_maintenance,
)
from statuspage.incidents.models import (
    Incident,
    IncidentSource,
    IncidentStatus,
    IncidentUpdate,
    Level,
    Maintenance,
    MaintenanceStatus,
    Priority,
    PublicImpact,
    PublicStatus,
)
from statuspage.incidents.operations import (
    NewIncident,
    categorize_incident,
    open_incident,
)
from statuspage.public.api_v2_format import timestamp

logger = logging.getLogger(__name__)

URL_PREFIX = "/api/v1"
bp = Blueprint("api_v1", __name__, url_prefix=URL_PREFIX)

LIST_LIMIT = 50
MAX_ID = 2**31 - 1  # the databases' integer; a larger id cannot exist (and PostgreSQL refuses it)
MAX_IDS = 100
TEXT_MAX = 20_000


class ApiError(HTTPException):
    """An HTTP error with the request field it is about, and for conflicts what changed."""

    def __init__(
        self, code: int, message: str, *, field: str | None = None, changes: list[str] | None = None
    ) -> None:
        self.code = code
        super().__init__(message)
        self.field = field
        self.changes = changes


def _invalid(name: str, message: str) -> ApiError:
    return ApiError(422, f"{name}: {message}", field=name)


# --- Request bodies: declared once, used to validate and to document ------------------------


@dataclass(frozen=True)
class Field:
    kind: str  # string, integer, boolean, datetime, enum, ids, statuses
    required: bool = False
    nullable: bool = False
    max_length: int = TEXT_MAX
    choices: type[enum.StrEnum] | None = None
    maximum: int = MAX_ID
    description: str = ""


def _string(max_length: int = TEXT_MAX, **kw: Any) -> Field:
    return Field("string", max_length=max_length, **kw)


def _enum(choices: type[enum.StrEnum], **kw: Any) -> Field:
    return Field("enum", choices=choices, **kw)


_DATETIME = "ISO 8601 with an offset, e.g. 2026-05-14T14:22:39+02:00"

NEW_INCIDENT = {
    "title": _string(200, required=True),
    "description": _string(description="Internal, Markdown."),
    "source": _enum(IncidentSource, description="Defaults to api."),
    "reporter_name": _string(120),
    "reporter_contact": _string(254),
    "impact_started_at": Field("datetime", description=_DATETIME + "; defaults to now."),
    "detected_at": Field("datetime", description=_DATETIME + "; defaults to now."),
    "component_ids": Field("ids"),
    "impact": _enum(Level, description="With urgency: categorizes the incident."),
    "urgency": _enum(Level),
    "category_id": Field("integer", nullable=True),
}
INCIDENT_CHANGES = {
    "title": _string(200),
    "description": _string(),
    "source": _enum(IncidentSource),
    "reporter_name": _string(120),
    "reporter_contact": _string(254),
    "impact_started_at": Field("datetime", description=_DATETIME),
    "detected_at": Field("datetime", nullable=True, description=_DATETIME),
    "component_ids": Field("ids", description="Replaces the affected components."),
    "version": Field(
        "integer", description="The version you read; 409 if the incident changed since."
    ),
}
TRANSITION = {
    "target": _enum(IncidentStatus, required=True),
    "reason": _string(2000),
    "workaround": _string(5000),
    "resolution_code": _string(60),
    "resolution_summary": _string(5000),
    "verification": _string(5000),
    "version": Field("integer"),
}
NEW_UPDATE = {
    "status": _enum(PublicStatus, required=True),
    "body": _string(required=True),
    "component_statuses": Field("statuses", description="Component id -> new status."),
    "deliver_notifications": Field("boolean", description="Defaults to true."),
}
COMPONENT_CHANGE = {"status": _enum(ComponentStatus, required=True)}
NEW_MAINTENANCE = {
    "title": _string(200, required=True),
    "body": _string(description="Public, Markdown."),
    "scheduled_for": Field("datetime", required=True, description=_DATETIME),
    "scheduled_until": Field("datetime", required=True, description=_DATETIME),
    "component_ids": Field("ids"),
    "auto_start": Field("boolean"),
    "auto_complete": Field("boolean"),
    "reminder_minutes_before": Field("integer", nullable=True, maximum=10_080),
}
MAINTENANCE_CHANGE = {
    "status": _enum(MaintenanceStatus, required=True),
    "body": _string(),
}


def _check_string(name: str, value: Any, spec: Field) -> str:
    if not isinstance(value, str):
        raise _invalid(name, "must be a string.")
    if len(value) > spec.max_length:
        raise _invalid(name, f"must be at most {spec.max_length} characters.")
    # PostgreSQL stores neither NUL characters nor lone surrogates.
    if "\x00" in value:
        raise _invalid(name, "must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid(name, "must be valid Unicode.") from None
    return value


def _check_id(name: str, value: Any, maximum: int = MAX_ID) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(name, "must be an integer.")
    if not 1 <= value <= maximum:
        raise _invalid(name, f"must be between 1 and {maximum}.")
    return value


def _check_datetime(name: str, value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise _invalid(name, "must be an ISO 8601 date and time string.")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise _invalid(name, "needs a UTC offset, e.g. 2026-05-14T14:22:39Z.")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _invalid(name, "is not an ISO 8601 date and time.") from None


def _check_value(name: str, value: Any, spec: Field) -> Any:
    if value is None:
        if spec.nullable:
            return None
        raise _invalid(name, "must not be null.")
    if spec.kind == "string":
        return _check_string(name, value, spec)
    if spec.kind == "enum":
        assert spec.choices is not None
        allowed = [choice.value for choice in spec.choices]
        if not isinstance(value, str) or value not in allowed:
            raise _invalid(name, "must be one of " + ", ".join(allowed) + ".")
        return spec.choices(value)
    if spec.kind == "integer":
        return _check_id(name, value, spec.maximum)
    if spec.kind == "boolean":
        if not isinstance(value, bool):
            raise _invalid(name, "must be true or false.")
        return value
    if spec.kind == "datetime":
        return _check_datetime(name, value)
    if spec.kind == "ids":
        if not isinstance(value, list) or len(value) > MAX_IDS:
            raise _invalid(name, f"must be a list of at most {MAX_IDS} component ids.")
        ids = [_check_id(name, item) for item in value]
        return list(dict.fromkeys(ids))
    if spec.kind == "statuses":
        if not isinstance(value, dict) or len(value) > MAX_IDS:
            raise _invalid(name, "must be an object of component id -> status.")
        statuses = {}
        for key, status in value.items():
            if not (key.isascii() and key.isdigit()) or not 1 <= int(key) <= MAX_ID:
                raise _invalid(name, f"{key!r} is not a component id.")
            statuses[int(key)] = _check_value(name, status, _enum(ComponentStatus))
        return statuses
    raise AssertionError(spec.kind)


def parse_body(fields: Mapping[str, Field]) -> dict[str, Any]:
    """The request's JSON object, checked against `fields`: only the keys it has, typed."""
    if not request.is_json:
        raise UnsupportedMediaType("Send a JSON body with 'Content-Type: application/json'.")
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise _invalid(unknown[0], "is not a field of this request.")
    values = {}
    for name, spec in fields.items():
        if name not in body:
            if spec.required:
                raise _invalid(name, "is required.")
            continue
        values[name] = _check_value(name, body[name], spec)
    return values


# --- Operations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI style, {name}
    permission: Permission
    summary: str
    response: str  # a schema name below
    status: int = 200
    body: Mapping[str, Field] | None = None
    path_params: tuple[str, ...] = field(default_factory=tuple)


OPERATIONS: list[Operation] = []


def operation(
    method: str,
    path: str,
    permission: Permission,
    summary: str,
    response: str,
    *,
    status: int = 200,
    body: Mapping[str, Field] | None = None,
) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., Any]]:
    """Route a view that takes the token's user (and the body) and returns the JSON answer."""
    params = tuple(part[1:-1] for part in path.split("/") if part.startswith("{"))
    op = Operation(method, path, permission, summary, response, status, body, params)
    OPERATIONS.append(op)
    rule = path
    for name in params:
        rule = rule.replace("{" + name + "}", f"<int:{name}>")

    def register(view: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
        def endpoint(**ids: int) -> tuple[Response, int]:
            user = require_token(permission)
            for name, value in ids.items():
                if value > MAX_ID:
                    raise ApiError(404, f"There is no such {name.removesuffix('_id')}.")
            args: dict[str, Any] = dict(ids)
            if body is not None:
                args["data"] = parse_body(body)
            result = view(user, **args)
            db.session.commit()  # the one commit; GETs record the token's last use
            return jsonify(result), status

        endpoint.__name__ = view.__name__
        endpoint.__doc__ = view.__doc__
        bp.add_url_rule(rule, view.__name__, endpoint, methods=[method])
        return view

    return register


# --- Answers ----------------------------------------------------------------------------------


def _value(item: Any) -> Any:
    return item.value if isinstance(item, enum.Enum) else item


def incident_dict(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "description": incident.description,
        "status": _value(incident.status),
        "source": _value(incident.source),
        "reporter_name": incident.reporter_name,
        "reporter_contact": incident.reporter_contact,
        "category_id": incident.category_id,
        "impact": _value(incident.impact),
        "urgency": _value(incident.urgency),
        "priority": _value(incident.priority),
        "is_public": incident.is_public,
        "public_status": _value(incident.public_status),
        "public_impact": _value(incident.public_impact),
        "component_ids": sorted(link.component_id for link in incident.affected),
        "impact_started_at": timestamp(incident.impact_started_at),
        "detected_at": timestamp(incident.detected_at),
        "resolved_at": timestamp(incident.resolved_at),
        "created_at": timestamp(incident.created_at),
        "updated_at": timestamp(incident.updated_at),
        "version": incident.version,
    }


def update_dict(update: IncidentUpdate) -> dict[str, Any]:
    return {
        "id": update.id,
        "incident_id": update.incident_id,
        "status": _value(update.status),
        "body": update.body,
        "deliver_notifications": update.deliver_notifications,
        "published_at": timestamp(update.published_at),
        "component_changes": [
            {
                "component_id": change.component_id,
                "old_status": _value(change.old_status),
                "new_status": _value(change.new_status),
            }
            for change in sorted(update.component_changes, key=lambda c: c.component_id)
        ],
    }


def component_dict(component: Component) -> dict[str, Any]:
    return {
        "id": component.id,
        "name": component.name,
        "status": _value(component.status),
        "group_id": component.group_id,
        "showcase": component.showcase,
        "updated_at": timestamp(component.updated_at),
    }


def maintenance_dict(maintenance: Maintenance) -> dict[str, Any]:
    return {
        "id": maintenance.id,
        "title": maintenance.title,
        "body": maintenance.body,
        "status": _value(maintenance.status),
        "scheduled_for": timestamp(maintenance.scheduled_for),
        "scheduled_until": timestamp(maintenance.scheduled_until),
        "auto_start": maintenance.auto_start,
        "auto_complete": maintenance.auto_complete,
        "reminder_minutes_before": maintenance.reminder_minutes_before,
        "started_at": timestamp(maintenance.started_at),
        "completed_at": timestamp(maintenance.completed_at),
        "component_ids": sorted(c.id for c in maintenance.components),
    }


def _get(model: type[Any], key: int, noun: str) -> Any:
    found = db.session.get(model, key)
    if found is None:
        raise ApiError(404, f"There is no {noun} {key}.")
    return found


# --- Endpoints --------------------------------------------------------------------------------

V, W, P = Permission.VIEW, Permission.WORK_INCIDENTS, Permission.PUBLISH


@operation("GET", "/incidents", V, "The newest 50 incidents, public or not", "IncidentList")
def list_incidents(user: User) -> dict[str, Any]:
    found = db.session.scalars(
        sa.select(Incident)
        .options(selectinload(Incident.affected))
        .order_by(Incident.created_at.desc(), Incident.id.desc())
        .limit(LIST_LIMIT)
    )
    return {"incidents": [incident_dict(incident) for incident in found]}


@operation("GET", "/incidents/{incident_id}", V, "One incident", "IncidentAnswer")
def get_incident(user: User, incident_id: int) -> dict[str, Any]:
    return {"incident": incident_dict(_get(Incident, incident_id, "incident"))}


@operation(
    "POST", "/incidents", W, "Log an incident", "IncidentAnswer", status=201, body=NEW_INCIDENT
)
def create_incident(user: User, data: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    command = NewIncident(
        title=data["title"],
        description=data.get("description", ""),
        source=data.get("source", IncidentSource.API),
        reporter_name=data.get("reporter_name", ""),
        reporter_contact=data.get("reporter_contact", ""),
        impact_started_at=data.get("impact_started_at"),
        detected_at=data.get("detected_at"),
        component_ids=data.get("component_ids", []),
    )
    incident = open_incident(db.session, command, actor_id=user.id, now=now)
    if {"impact", "urgency", "category_id"} & data.keys():
        for name in ("impact", "urgency"):
            if name not in data:
                raise _invalid(name, "is required to categorize the incident.")
        categorize_incident(
            db.session,
            incident,
            category_id=data.get("category_id"),
            subcategory_id=None,
            impact=data["impact"],
            urgency=data["urgency"],
            actor_id=user.id,
            now=now,
        )
    logger.info("incident %s opened through the API by user %s", incident.id, user.id)
    return {"incident": incident_dict(incident)}


@operation(
    "PATCH",
    "/incidents/{incident_id}",
    W,
    "Change an incident's details",
    "IncidentAnswer",
    body=INCIDENT_CHANGES,
)
def change_incident(user: User, incident_id: int, data: dict[str, Any]) -> dict[str, Any]:
    incident = _get(Incident, incident_id, "incident")
    details = IncidentDetails(
        title=data.get("title", incident.title),
        description=data.get("description", incident.description),
        reporter_name=data.get("reporter_name", incident.reporter_name),
        reporter_contact=data.get("reporter_contact", incident.reporter_contact),
        source=data.get("source", incident.source),
        impact_started_at=data.get("impact_started_at", incident.impact_started_at),
        detected_at=data.get("detected_at", incident.detected_at),
        component_ids=data.get("component_ids", [link.component_id for link in incident.affected]),
    )
    update_details(
        db.session,
        incident,
        details,
        expected_version=data.get("version"),
        actor_id=user.id,
        now=utcnow(),
    )
    return {"incident": incident_dict(incident)}


@operation(
    "POST",
    "/incidents/{incident_id}/transitions",
    W,
    "Move an incident through its lifecycle",
    "IncidentAnswer",
    body=TRANSITION,
)
def transition(user: User, incident_id: int, data: dict[str, Any]) -> dict[str, Any]:
    incident = _get(Incident, incident_id, "incident")
    check_version(db.session, incident, data.get("version"))
    details = TransitionDetails(
        **{key: data[key] for key in TRANSITION if key not in ("target", "version") and key in data}
    )
    transition_incident(
        db.session,
        incident,
        data["target"],
        actor_id=user.id,
        now=utcnow(),
        details=details,
        review_required_for=current_app.config["REVIEW_REQUIRED_PRIORITIES"],
    )
    logger.info(
        "incident %s moved to %s through the API by user %s", incident.id, data["target"], user.id
    )
    return {"incident": incident_dict(incident)}


@operation(
    "POST",
    "/incidents/{incident_id}/updates",
    P,
    "Publish a public update",
    "UpdateAnswer",
    status=201,
    body=NEW_UPDATE,
)
def publish_update(user: User, incident_id: int, data: dict[str, Any]) -> dict[str, Any]:
    incident = _get(Incident, incident_id, "incident")
    command = publishing.PublishUpdate(
        incident_id=incident.id,
        status=data["status"],
        body=data["body"],
        component_statuses=data.get("component_statuses", {}),
        deliver_notifications=data.get("deliver_notifications", True),
        add_unaffected_components=True,  # the API may name components not yet affected
        record_unchanged_components=True,  # and each component it names is recorded
    )
    update = publishing.publish_update(db.session, command, actor_id=user.id, now=utcnow())
    logger.info("incident %s: public update by user %s through the API", incident.id, user.id)
    return {"update": update_dict(update), "incident": incident_dict(incident)}


@operation("GET", "/components", V, "All components", "ComponentList")
def list_components(user: User) -> dict[str, Any]:
    found = db.session.scalars(sa.select(Component).order_by(Component.position, Component.id))
    return {"components": [component_dict(component) for component in found]}


@operation(
    "PATCH",
    "/components/{component_id}",
    P,
    "Set a component's status",
    "ComponentAnswer",
    body=COMPONENT_CHANGE,
)
def change_component(user: User, component_id: int, data: dict[str, Any]) -> dict[str, Any]:
    component = _get(Component, component_id, "component")
    change_component_status(db.session, component, data["status"], now=utcnow(), actor_id=user.id)
    return {"component": component_dict(component)}


@operation("GET", "/maintenances", V, "The newest 50 maintenance windows", "MaintenanceList")
def list_maintenances(user: User) -> dict[str, Any]:
    found = db.session.scalars(
        sa.select(Maintenance)
        .options(selectinload(Maintenance.components))
        .order_by(Maintenance.scheduled_for.desc(), Maintenance.id.desc())
        .limit(LIST_LIMIT)
    )
    return {"maintenances": [maintenance_dict(m) for m in found]}


@operation(
    "POST",
    "/maintenances",
    P,
    "Schedule maintenance",
    "MaintenanceAnswer",
    status=201,
    body=NEW_MAINTENANCE,
)
def create_maintenance(user: User, data: dict[str, Any]) -> dict[str, Any]:
    maintenance = schedule_maintenance(
        db.session, NewMaintenance(**data), actor_id=user.id, now=utcnow()
    )
    return {"maintenance": maintenance_dict(maintenance)}


@operation(
    "POST",
    "/maintenances/{maintenance_id}/status",
    P,
    "Move maintenance on (start, verify, complete)",
    "MaintenanceAnswer",
    body=MAINTENANCE_CHANGE,
)
def move_maintenance(user: User, maintenance_id: int, data: dict[str, Any]) -> dict[str, Any]:
    maintenance = _get(Maintenance, maintenance_id, "maintenance")
    advance_maintenance(
        db.session,
        maintenance,
        data["status"],
        body=data.get("body", ""),
        actor_id=user.id,
        now=utcnow(),
    )
    return {"maintenance": maintenance_dict(maintenance)}


# --- Errors -----------------------------------------------------------------------------------


def _answer(error: HTTPException) -> Response:
    response, code = json_error(error)
    extra = {
        key: getattr(error, key, None)
        for key in ("field", "changes")
        if getattr(error, key, None) is not None
    }
    if extra:
        body = response.get_json()
        body["error"].update(extra)
        response.set_data(json.dumps(body))
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    response.status_code = code
    return response


@bp.before_app_request
def unknown_api_path() -> Response | None:
    """Routing failures under /api/v1 happen before any blueprint is known: JSON them here."""
    failure = request.routing_exception
    if not isinstance(failure, HTTPException) or (failure.code or 0) < 400:
        return None
    if request.path != URL_PREFIX and not request.path.startswith(URL_PREFIX + "/"):
        return None
    return _answer(failure)


@bp.errorhandler(DomainError)
def domain_error(error: DomainError) -> Response:
    db.session.rollback()
    if isinstance(error, ConflictError):
        return _answer(ApiError(409, error.message, changes=error.changes))
    if isinstance(error, InvalidTransition):
        return _answer(ApiError(409, error.message))
    if isinstance(error, NotFound) and error.field is None:
        return _answer(ApiError(404, error.message))
    return _answer(ApiError(422, error.message, field=error.field))


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response | HTTPException:
    if error.code and error.code < 400:
        return error
    db.session.rollback()
    if isinstance(error, InternalServerError):
        logger.error("API error: %r", getattr(error, "original_exception", error))
        error = InternalServerError("Something went wrong on our side. It has been logged.")
    return _answer(error)


# --- The OpenAPI document ---------------------------------------------------------------------


def _enum_schema(choices: type[enum.StrEnum], nullable: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "enum": [c.value for c in choices]}
    if nullable:
        schema["nullable"] = True
    return schema


def _field_schema(spec: Field) -> dict[str, Any]:
    id_schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    schema: dict[str, Any]
    if spec.kind == "string":
        schema = {"type": "string", "maxLength": spec.max_length}
    elif spec.kind == "enum":
        assert spec.choices is not None
        schema = _enum_schema(spec.choices)
    elif spec.kind == "integer":
        schema = {"type": "integer", "minimum": 1, "maximum": spec.maximum}
    elif spec.kind == "boolean":
        schema = {"type": "boolean"}
    elif spec.kind == "datetime":
        schema = {"type": "string", "format": "date-time"}
    elif spec.kind == "ids":
        schema = {"type": "array", "items": id_schema, "maxItems": MAX_IDS}
    else:
        schema = {
            "type": "object",
            "additionalProperties": _enum_schema(ComponentStatus),
            "maxProperties": MAX_IDS,
        }
    if spec.nullable:
        schema["nullable"] = True
    if spec.description:
        schema["description"] = spec.description
    return schema


def _body_schema(fields: Mapping[str, Field]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: _field_schema(spec) for name, spec in fields.items()},
    }
    required = [name for name, spec in fields.items() if spec.required]
    if required:
        schema["required"] = required
    return schema


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _schemas() -> dict[str, Any]:
    text = {"type": "string"}
    time = {"type": "string", "format": "date-time", "nullable": True}
    ident = {"type": "integer"}
    maybe_id = {"type": "integer", "nullable": True}
    boolean = {"type": "boolean"}
    ids = {"type": "array", "items": ident}
    return {
        "Error": _object(
            {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": ident,
                        "message": text,
                        "field": text,
                        "changes": {"type": "array", "items": text},
                    },
                }
            }
        ),
        "Incident": _object(
            {
                "id": ident,
                "title": text,
                "description": text,
                "status": _enum_schema(IncidentStatus),
                "source": _enum_schema(IncidentSource),
                "reporter_name": text,
                "reporter_contact": text,
                "category_id": maybe_id,
                "impact": _enum_schema(Level, nullable=True),
                "urgency": _enum_schema(Level, nullable=True),
                "priority": _enum_schema(Priority, nullable=True),
                "is_public": boolean,
                "public_status": _enum_schema(PublicStatus, nullable=True),
                "public_impact": _enum_schema(PublicImpact),
                "component_ids": ids,
                "impact_started_at": time,
                "detected_at": time,
                "resolved_at": time,
                "created_at": time,
                "updated_at": time,
                "version": ident,
            }
        ),
        "IncidentUpdate": _object(
            {
                "id": ident,
                "incident_id": ident,
                "status": _enum_schema(PublicStatus),
                "body": text,
                "deliver_notifications": boolean,
                "published_at": time,
                "component_changes": {
                    "type": "array",
                    "items": _object(
                        {
                            "component_id": ident,
                            "old_status": _enum_schema(ComponentStatus),
                            "new_status": _enum_schema(ComponentStatus),
                        }
                    ),
                },
            }
        ),
        "Component": _object(
            {
                "id": ident,
                "name": text,
                "status": _enum_schema(ComponentStatus),
                "group_id": maybe_id,
                "showcase": boolean,
                "updated_at": time,
            }
        ),
        "Maintenance": _object(
            {
                "id": ident,
                "title": text,
                "body": text,
                "status": _enum_schema(MaintenanceStatus),
                "scheduled_for": time,
                "scheduled_until": time,
                "auto_start": boolean,
                "auto_complete": boolean,
                "reminder_minutes_before": maybe_id,
                "started_at": time,
                "completed_at": time,
                "component_ids": ids,
            }
        ),
        "IncidentList": _object({"incidents": {"type": "array", "items": _ref("Incident")}}),
        "IncidentAnswer": _object({"incident": _ref("Incident")}),
        "UpdateAnswer": _object({"update": _ref("IncidentUpdate"), "incident": _ref("Incident")}),
        "ComponentList": _object({"components": {"type": "array", "items": _ref("Component")}}),
        "ComponentAnswer": _object({"component": _ref("Component")}),
        "MaintenanceList": _object(
            {"maintenances": {"type": "array", "items": _ref("Maintenance")}}
        ),
        "MaintenanceAnswer": _object({"maintenance": _ref("Maintenance")}),
    }


ERROR_MEANINGS = {
    400: "Malformed JSON, or a body that is not a JSON object",
    401: "Missing, unknown or revoked token",
    403: "The token's account role does not allow this",
    404: "No such record",
    405: "Method not allowed",
    409: "Refused: the lifecycle does not allow it, or the record changed since (see changes)",
    413: "Body larger than the server accepts",
    415: "The body is not JSON",
    422: "A field is missing, of the wrong type, or refused (see field)",
}


def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        codes = [401, 403, 404, 405]
        if op.body is not None:
            codes += [400, 409, 413, 415, 422]
        responses: dict[str, Any] = {
            str(op.status): {
                "description": "Done" if op.method != "GET" else "Found",
                "content": {"application/json": {"schema": _ref(op.response)}},
            }
        }
        for code in sorted(codes):
            responses[str(code)] = {
                "description": ERROR_MEANINGS[code],
                "content": {"application/json": {"schema": _ref("Error")}},
            }
        spec: dict[str, Any] = {
            "operationId": f"{op.method.lower()}_{op.path.strip('/').replace('/', '_')}".replace(
                "{", ""
            ).replace("}", ""),
            "summary": op.summary,
            "description": f"Needs a token whose account role has the '{op.permission}' "
            "permission.",
            "parameters": [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                }
                for name in op.path_params
            ],
            "responses": responses,
        }
        if op.body is not None:
            spec["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _body_schema(op.body)}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = spec
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"{current_app.config['SITE_NAME']} write API",
            "version": "1",
            "description": "Incidents, public updates, component statuses and maintenance. "
            "Create a token under Admin > API tokens or with `flask tokens create`.",
        },
        "servers": [{"url": URL_PREFIX}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
        "paths": paths,
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())
