"""Alert intake webhooks under /api/v1/alerts: Prometheus Alertmanager's and a generic JSON.

Thin views: authenticate the token, validate the whole body before touching anything, hand each
alert to `receive_alert`, commit once. Every error on this blueprint is JSON (`json_error`), and
a refused request writes nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    InternalServerError,
    ServiceUnavailable,
    UnprocessableEntity,
)
from werkzeug.wrappers import Response

from statuspage.api.auth import json_error, require_token
from statuspage.auth.permissions import Permission
from statuspage.core.db import utcnow
from statuspage.core.errors import DomainError
from statuspage.extensions import db
from statuspage.incidents.alerts import (
    DEDUP_KEY_MAX,
    DEFAULT_WINDOW,
    AlertInput,
    labels_fingerprint,
    receive_alert,
)
from statuspage.incidents.models import AlertStatus

logger = logging.getLogger(__name__)

bp = Blueprint("api_alerts", __name__, url_prefix="/api/v1/alerts")

MAX_ALERTS = 100
TITLE_MAX = 200
TEXT_MAX = 10_000
LABELS_MAX = 100
# Alertmanager's "no time" (Go's zero time.Time), sent as endsAt while an alert fires.
ZERO_TIME_YEAR = 1


class Invalid(UnprocessableEntity):
    """JSON that does not fit the format; the message names the field."""


# --- validation: plain functions over the decoded JSON, raising Invalid ---


def _body() -> Any:
    raw = request.get_data(cache=False)  # 413 past MAX_CONTENT_LENGTH
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("The body is not valid JSON.") from None


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{where} must be a JSON object.")
    return value


def _string(
    data: dict[str, Any], key: str, where: str, *, required: bool = False, limit: int = TEXT_MAX
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise Invalid(f"{where}.{key} is required.")
        return None
    if not isinstance(value, str):
        raise Invalid(f"{where}.{key} must be a string.")
    if required and not value.strip():
        raise Invalid(f"{where}.{key} must not be empty.")
    if len(value) > limit:
        raise Invalid(f"{where}.{key} is longer than {limit} characters.")
    return value


def _string_map(data: dict[str, Any], key: str, where: str, *, required: bool = False) -> dict:
    value = data.get(key)
    if value is None:
        if required:
            raise Invalid(f"{where}.{key} is required.")
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{where}.{key} must be an object of strings.")
    if len(value) > LABELS_MAX:
        raise Invalid(f"{where}.{key} has more than {LABELS_MAX} entries.")
    for name, text in value.items():
        if not isinstance(text, str):
            raise Invalid(f"{where}.{key}.{name} must be a string.")
        if len(name) > 200 or len(text) > TEXT_MAX:
            raise Invalid(f"{where}.{key}.{name} is too long.")
    return value


def _status(data: dict[str, Any], where: str) -> AlertStatus:
    value = data.get("status")
    try:
        return AlertStatus(value)
    except ValueError:
        raise Invalid(f"{where}.status must be 'firing' or 'resolved'.") from None


def _time(data: dict[str, Any], key: str, where: str) -> datetime | None:
    """An RFC 3339 time with its offset, as aware UTC; None when absent or Go's zero time."""
    text = _string(data, key, where, limit=64)
    if text is None or not text.strip():
        return None
    try:
        parsed = datetime.fromisoformat(text.strip())
        if parsed.tzinfo is None:
            raise ValueError("no offset")
        if parsed.year == ZERO_TIME_YEAR:
            return None
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise Invalid(
            f"{where}.{key} must be an RFC 3339 time with an offset, "
            "for example 2024-05-01T12:00:00Z."
        ) from None


def _alert_list(data: dict[str, Any]) -> list[Any]:
    alerts = data.get("alerts")
    if not isinstance(alerts, list):
        raise Invalid("alerts must be a list.")
    if len(alerts) > MAX_ALERTS:
        raise Invalid(f"Send at most {MAX_ALERTS} alerts per request (Alertmanager: max_alerts).")
    return alerts


def alertmanager_inputs(body: Any) -> list[AlertInput]:
    """Alertmanager's webhook JSON (version 4) as alerts; raises Invalid on any misfit."""
    data = _object(body, "The body")
    version = data.get("version")
    if version is not None and version != "4":
        raise Invalid('version must be "4" (Alertmanager\'s webhook format).')
    _status(data, "body")
    for key in ("groupKey", "receiver", "externalURL"):
        _string(data, key, "body")
    for key in ("groupLabels", "commonLabels", "commonAnnotations"):
        _string_map(data, key, "body")
    truncated = data.get("truncatedAlerts")
    if truncated is not None and (not isinstance(truncated, int) or isinstance(truncated, bool)):
        raise Invalid("body.truncatedAlerts must be a number.")

    inputs = []
    label_name = current_app.config.get("ALERT_COMPONENT_LABEL") or "component"
    for index, item in enumerate(_alert_list(data)):
        where = f"alerts[{index}]"
        alert = _object(item, where)
        status = _status(alert, where)
        labels = _string_map(alert, "labels", where, required=True)
        annotations = _string_map(alert, "annotations", where)
        starts_at = _time(alert, "startsAt", where)
        ends_at = _time(alert, "endsAt", where)
        generator = _string(alert, "generatorURL", where)
        fingerprint = _string(alert, "fingerprint", where, limit=DEDUP_KEY_MAX)
        title = (
            (annotations.get("summary") or "").strip()
            or (labels.get("alertname") or "").strip()
            or "Alert from Alertmanager"
        )
        description = annotations.get("description", "")
        if generator:
            description = (description + f"\n\nSource: <{generator}>").strip()
        inputs.append(
            AlertInput(
                source="alertmanager",
                dedup_key=(fingerprint or "").strip() or labels_fingerprint(labels),
                status=status,
                title=title[:TITLE_MAX],
                description=description,
                component=labels.get(label_name),
                labels=labels,
                annotations=annotations,
                starts_at=starts_at,
                ends_at=ends_at,
                severity=labels.get("severity"),
            )
        )
    return inputs


def generic_inputs(body: Any) -> list[AlertInput]:
    """One alert in the generic format, or {"alerts": [...]} of them."""
    data = _object(body, "The body")
    items = _alert_list(data) if "alerts" in data else [data]
    inputs = []
    for index, item in enumerate(items):
        where = f"alerts[{index}]" if "alerts" in data else "body"
        alert = _object(item, where)
        dedup_key = _string(alert, "dedup_key", where, required=True, limit=DEDUP_KEY_MAX)
        status = _status(alert, where)
        title = _string(alert, "title", where, required=True, limit=TITLE_MAX)
        labels = _string_map(alert, "labels", where)
        severity = _string(alert, "severity", where, limit=100)
        component = alert.get("component")
        if component is not None and (
            isinstance(component, bool) or not isinstance(component, (str, int))
        ):
            raise Invalid(f"{where}.component must be a component's name or id.")
        inputs.append(
            AlertInput(
                source="generic",
                dedup_key=dedup_key.strip(),
                status=status,
                title=title.strip(),
                description=_string(alert, "description", where) or "",
                component=None if component is None else str(component),
                labels=labels,
                starts_at=_time(alert, "started_at", where),
                ends_at=_time(alert, "ended_at", where),
                severity=severity if severity is not None else labels.get("severity"),
            )
        )
    return inputs


# --- views ---


def _window() -> timedelta:
    value = current_app.config.get("ALERT_DEDUP_WINDOW", DEFAULT_WINDOW)
    if isinstance(value, timedelta):
        return value
    return timedelta(seconds=int(value))


def _receive(inputs: list[AlertInput]) -> tuple[Response, int]:
    user = require_token(Permission.WORK_INCIDENTS)
    now = utcnow()
    window = _window()
    severity_map = current_app.config.get("ALERT_SEVERITY_MAP") or {}
    try:
        outcomes = [
            receive_alert(
                db.session,
                alert,
                actor_id=user.id,
                now=now,
                window=window,
                severity_map=severity_map,
            )
            for alert in inputs
        ]
    except DomainError as error:
        db.session.rollback()
        raise Invalid(error.message) from None
    db.session.commit()
    return jsonify({"alerts": [outcome.as_dict() for outcome in outcomes]}), 200


@bp.post("/alertmanager")
def alertmanager() -> tuple[Response, int]:
    require_token(Permission.WORK_INCIDENTS)  # before reading a byte of the body
    return _receive(alertmanager_inputs(_body()))


@bp.post("/generic")
def generic() -> tuple[Response, int]:
    require_token(Permission.WORK_INCIDENTS)
    return _receive(generic_inputs(_body()))


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> tuple[Response, int] | HTTPException:
    if error.code and error.code < 400:
        return error
    db.session.rollback()
    return json_error(error)


@bp.errorhandler(InternalServerError)
def internal_error(error: InternalServerError) -> tuple[Response, int]:
    db.session.rollback()
    return json_error(InternalServerError("Something went wrong on our side. It has been logged."))


@bp.errorhandler(OperationalError)
def database_unavailable(error: OperationalError) -> tuple[Response, int]:
    db.session.rollback()
    logger.error("database unavailable: %s", error.__class__.__name__)
    return json_error(
        ServiceUnavailable("The status database is not answering. Please try again shortly.")
    )
