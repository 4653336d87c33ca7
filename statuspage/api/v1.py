"""The write API under /api/v1: bearer tokens, JSON in and out, the admin area's domain functions.

Each endpoint is declared once with `api.route(...)`: method, path, the permission its token's
role needs, its body and answer models (statuspage.api.models) and its success status. Requests
are validated against the models, and the OpenAPI document at /api/v1/openapi.json is generated
from the same declarations (statuspage.api.openapi). Bad input never reaches the domain; every
answer is JSON, errors included (statuspage.api.errors), and a request commits once at the end
or not at all.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy.orm import selectinload

from statuspage.api import models, serializers
from statuspage.api.errors import ApiError, invalid, register_error_handlers
from statuspage.api.openapi import Operations
from statuspage.auth.models import User
from statuspage.auth.permissions import Permission, has_permission
from statuspage.components import manage
from statuspage.components.models import Component, ComponentGroup
from statuspage.components.queries import setup_listing
from statuspage.components.status import change_component_status
from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.incidents import publishing
from statuspage.incidents.casework import IncidentDetails, check_version, update_details
from statuspage.incidents.lifecycle import TransitionDetails, transition_incident
from statuspage.incidents.maintenance import (
    NewMaintenance,
    advance_maintenance,
    schedule_maintenance,
)
from statuspage.incidents.models import Incident, IncidentUpdate, Maintenance
from statuspage.incidents.operations import NewIncident, categorize_incident, open_incident

logger = logging.getLogger(__name__)

URL_PREFIX = "/api/v1"
bp = Blueprint("api_v1", __name__, url_prefix=URL_PREFIX)
register_error_handlers(bp, URL_PREFIX)
api = Operations(
    bp,
    title="Write API",
    description="Incidents, public updates, component statuses and maintenance. "
    "Create a token under Admin > API tokens or with `flask tokens create`.",
)

LIST_LIMIT = 50
V, W, P = Permission.VIEW, Permission.WORK_INCIDENTS, Permission.PUBLISH
C = Permission.CONFIGURE


def _get(model: type[Any], key: int, noun: str) -> Any:
    found = db.session.get(model, key)
    if found is None:
        raise ApiError(404, f"There is no {noun} {key}.")
    return found


# --- Incidents --------------------------------------------------------------------------------


@api.route("GET", "/incidents", V, answer=models.IncidentList)
def list_incidents(user: User) -> models.IncidentList:
    """The newest 50 incidents, public or not"""
    found = db.session.scalars(
        sa.select(Incident)
        .options(selectinload(Incident.affected))
        .order_by(Incident.created_at.desc(), Incident.id.desc())
        .limit(LIST_LIMIT)
    )
    return models.IncidentList(incidents=[serializers.incident(i) for i in found])


@api.route("GET", "/incidents/{incident_id}", V, answer=models.IncidentAnswer)
def get_incident(user: User, incident_id: int) -> models.IncidentAnswer:
    """One incident"""
    incident = _get(Incident, incident_id, "incident")
    return models.IncidentAnswer(incident=serializers.incident(incident))


@api.route(
    "POST",
    "/incidents",
    W,
    body=models.IncidentCreate,
    answer=models.IncidentAnswer,
    status=201,
)
def create_incident(user: User, data: models.IncidentCreate) -> models.IncidentAnswer:
    """Log an incident"""
    categorize = bool({"impact", "urgency", "category_id"} & data.model_fields_set)
    if categorize:
        for name in ("impact", "urgency"):
            if name not in data.model_fields_set:
                raise invalid(name, "is required to categorize the incident.")
    now = utcnow()
    command = NewIncident(
        title=data.title,
        description=data.description,
        source=data.source,
        reporter_name=data.reporter_name,
        reporter_contact=data.reporter_contact,
        impact_started_at=data.impact_started_at,
        detected_at=data.detected_at,
        component_ids=data.component_ids,
    )
    incident = open_incident(db.session, command, actor_id=user.id, now=now)
    if categorize:
        categorize_incident(
            db.session,
            incident,
            category_id=data.category_id,
            subcategory_id=None,
            impact=data.impact,
            urgency=data.urgency,
            actor_id=user.id,
            now=now,
        )
    logger.info("incident %s opened through the API by user %s", incident.id, user.id)
    return models.IncidentAnswer(incident=serializers.incident(incident))


@api.route(
    "PATCH",
    "/incidents/{incident_id}",
    W,
    body=models.IncidentPatch,
    answer=models.IncidentAnswer,
)
def change_incident(
    user: User, incident_id: int, data: models.IncidentPatch
) -> models.IncidentAnswer:
    """Change an incident's details"""
    incident = _get(Incident, incident_id, "incident")
    sent = data.model_dump(exclude_unset=True)
    details = IncidentDetails(
        title=sent.get("title", incident.title),
        description=sent.get("description", incident.description),
        reporter_name=sent.get("reporter_name", incident.reporter_name),
        reporter_contact=sent.get("reporter_contact", incident.reporter_contact),
        source=sent.get("source", incident.source),
        impact_started_at=sent.get("impact_started_at", incident.impact_started_at),
        detected_at=sent.get("detected_at", incident.detected_at),
        component_ids=sent.get("component_ids", [link.component_id for link in incident.affected]),
    )
    update_details(
        db.session,
        incident,
        details,
        expected_version=data.version,
        actor_id=user.id,
        now=utcnow(),
    )
    return models.IncidentAnswer(incident=serializers.incident(incident))


@api.route(
    "POST",
    "/incidents/{incident_id}/transitions",
    W,
    body=models.Transition,
    answer=models.IncidentAnswer,
)
def transition(user: User, incident_id: int, data: models.Transition) -> models.IncidentAnswer:
    """Move an incident through its lifecycle"""
    incident = _get(Incident, incident_id, "incident")
    check_version(db.session, incident, data.version)
    details = TransitionDetails(
        reason=data.reason,
        workaround=data.workaround,
        resolution_code=data.resolution_code,
        resolution_summary=data.resolution_summary,
        verification=data.verification,
    )
    transition_incident(
        db.session,
        incident,
        data.target,
        actor_id=user.id,
        now=utcnow(),
        details=details,
        review_required_for=current_app.config["REVIEW_REQUIRED_PRIORITIES"],
    )
    logger.info(
        "incident %s moved to %s through the API by user %s", incident.id, data.target, user.id
    )
    return models.IncidentAnswer(incident=serializers.incident(incident))


def _publish(user: User, incident_id: int, data: models.UpdateCreate) -> IncidentUpdate:
    """The publish endpoint's one call into the domain, which loads the incident (a 404 when
    there is none). What differs from the staff form is explicit: the API may name components
    not yet affected, and records each one it names."""
    command = publishing.PublishUpdate(
        incident_id=incident_id,
        status=data.status,
        body=data.body,
        component_statuses=data.component_statuses,
        deliver_notifications=data.deliver_notifications,
        add_unaffected_components=True,
        record_unchanged_components=True,
    )
    return publishing.publish_update(db.session, command, actor_id=user.id, now=utcnow())


@api.route(
    "POST",
    "/incidents/{incident_id}/updates",
    P,
    body=models.UpdateCreate,
    answer=models.UpdateAnswer,
    status=201,
)
def publish_update(user: User, incident_id: int, data: models.UpdateCreate) -> models.UpdateAnswer:
    """Publish a public update"""
    update = _publish(user, incident_id, data)
    incident = update.incident
    logger.info("incident %s: public update by user %s through the API", incident.id, user.id)
    return models.UpdateAnswer(
        update=serializers.update(update), incident=serializers.incident(incident)
    )


# --- Components -------------------------------------------------------------------------------


@api.route("GET", "/components", V, answer=models.ComponentList)
def list_components(user: User) -> models.ComponentList:
    """All components, archived ones included (with `archived_at`)"""
    found = db.session.scalars(
        sa.select(Component).order_by(Component.group_id, Component.position, Component.id)
    )
    return models.ComponentList(components=[serializers.component(c) for c in found])


@api.route(
    "POST", "/components", C, body=models.ComponentCreate, answer=models.ComponentAnswer, status=201
)
def create_component(user: User, data: models.ComponentCreate) -> models.ComponentAnswer:
    """Add a component (operational, last in its group)"""
    values = manage.ComponentFields(**data.model_dump())
    component = manage.create_component(db.session, values, actor_id=user.id, now=utcnow())
    return models.ComponentAnswer(component=serializers.component(component))


@api.route(
    "PATCH",
    "/components/{component_id}",
    P,
    body=models.ComponentPatch,
    answer=models.ComponentAnswer,
)
def change_component(
    user: User, component_id: int, data: models.ComponentPatch
) -> models.ComponentAnswer:
    """Set a component's status, or change how it is set up"""
    component = _get(Component, component_id, "component")
    given = data.model_dump(exclude_unset=True)
    status = given.pop("status", None)
    if given:
        if not has_permission(user.role, C):
            raise ApiError(
                403, "Changing how a component is set up needs the configure permission."
            )
        ungroup = "group_id" in given and given["group_id"] is None
        values = manage.ComponentFields(
            **{key: value for key, value in given.items() if value is not None}, ungroup=ungroup
        )
        manage.edit_component(db.session, component_id, values, actor_id=user.id, now=utcnow())
    if status is not None:
        change_component_status(db.session, component, status, now=utcnow(), actor_id=user.id)
    return models.ComponentAnswer(component=serializers.component(component))


@api.route("DELETE", "/components/{component_id}", C, answer=models.Removed)
def remove_component(user: User, component_id: int) -> models.Removed:
    """Archive a component with history (its incidents stay readable), delete one without"""
    _get(Component, component_id, "component")
    outcome = manage.remove_component(db.session, component_id, actor_id=user.id, now=utcnow())
    return models.Removed(outcome=outcome)


@api.route("POST", "/components/order", C, body=models.ComponentOrder, answer=models.ComponentList)
def order_components(user: User, data: models.ComponentOrder) -> models.ComponentList:
    """Set the order of one group's components (every one of them, once)"""
    manage.reorder_components(
        db.session, data.group_id, data.component_ids, actor_id=user.id, now=utcnow()
    )
    found = db.session.scalars(
        sa.select(Component)
        .where(Component.id.in_(data.component_ids))
        .order_by(Component.position)
    )
    return models.ComponentList(components=[serializers.component(c) for c in found])


def _group_answer(group: ComponentGroup) -> models.ComponentGroup:
    ids = list(
        db.session.scalars(
            sa.select(Component.id)
            .where(Component.group_id == group.id, Component.archived_at.is_(None))
            .order_by(Component.position, Component.id)
        )
    )
    return serializers.component_group(group, ids)


@api.route("GET", "/component-groups", V, answer=models.GroupList)
def list_groups(user: User) -> models.GroupList:
    """All component groups in page order, with their components' ids in order"""
    listing = setup_listing(db.session)
    return models.GroupList(
        component_groups=[
            serializers.component_group(entry.group, [c.id for c in entry.components])
            for entry in listing.grouped
        ]
    )


@api.route(
    "POST", "/component-groups", C, body=models.GroupCreate, answer=models.GroupAnswer, status=201
)
def create_group(user: User, data: models.GroupCreate) -> models.GroupAnswer:
    """Add a component group (last on the page)"""
    values = manage.GroupFields(**data.model_dump())
    group = manage.create_group(db.session, values, actor_id=user.id, now=utcnow())
    return models.GroupAnswer(component_group=_group_answer(group))


@api.route(
    "PATCH", "/component-groups/{group_id}", C, body=models.GroupPatch, answer=models.GroupAnswer
)
def change_group(user: User, group_id: int, data: models.GroupPatch) -> models.GroupAnswer:
    """Rename or describe a component group"""
    _get(ComponentGroup, group_id, "component group")
    values = manage.GroupFields(**data.model_dump(exclude_unset=True))
    group = manage.edit_group(db.session, group_id, values, actor_id=user.id, now=utcnow())
    return models.GroupAnswer(component_group=_group_answer(group))


@api.route("DELETE", "/component-groups/{group_id}", C, answer=models.Removed)
def delete_group(user: User, group_id: int) -> models.Removed:
    """Delete a component group; its components stay, outside any group"""
    _get(ComponentGroup, group_id, "component group")
    manage.delete_group(db.session, group_id, actor_id=user.id, now=utcnow())
    return models.Removed(outcome="deleted")


@api.route("POST", "/component-groups/order", C, body=models.GroupOrder, answer=models.GroupList)
def order_groups(user: User, data: models.GroupOrder) -> models.GroupList:
    """Set the order of the groups (every one of them, once)"""
    manage.reorder_groups(db.session, data.group_ids, actor_id=user.id, now=utcnow())
    return list_groups(user)


# --- Maintenance ------------------------------------------------------------------------------


@api.route("GET", "/maintenances", V, answer=models.MaintenanceList)
def list_maintenances(user: User) -> models.MaintenanceList:
    """The newest 50 maintenance windows"""
    found = db.session.scalars(
        sa.select(Maintenance)
        .options(selectinload(Maintenance.components))
        .order_by(Maintenance.scheduled_for.desc(), Maintenance.id.desc())
        .limit(LIST_LIMIT)
    )
    return models.MaintenanceList(maintenances=[serializers.maintenance(m) for m in found])


@api.route(
    "POST",
    "/maintenances",
    P,
    body=models.MaintenanceCreate,
    answer=models.MaintenanceAnswer,
    status=201,
)
def create_maintenance(user: User, data: models.MaintenanceCreate) -> models.MaintenanceAnswer:
    """Schedule maintenance"""
    maintenance = schedule_maintenance(
        db.session, NewMaintenance(**data.model_dump()), actor_id=user.id, now=utcnow()
    )
    return models.MaintenanceAnswer(maintenance=serializers.maintenance(maintenance))


@api.route(
    "POST",
    "/maintenances/{maintenance_id}/status",
    P,
    body=models.MaintenanceStatusChange,
    answer=models.MaintenanceAnswer,
)
def move_maintenance(
    user: User, maintenance_id: int, data: models.MaintenanceStatusChange
) -> models.MaintenanceAnswer:
    """Move maintenance on (start, verify, complete)"""
    maintenance = _get(Maintenance, maintenance_id, "maintenance")
    advance_maintenance(
        db.session, maintenance, data.status, body=data.body, actor_id=user.id, now=utcnow()
    )
    return models.MaintenanceAnswer(maintenance=serializers.maintenance(maintenance))


# --- The OpenAPI document ---------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(api.document(title=f"{current_app.config['SITE_NAME']} write API"))
