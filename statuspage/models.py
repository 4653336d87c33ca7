"""Imports every model module so the metadata holds every table (for Alembic and tests)."""

from statuspage.auth.models import Role, User
from statuspage.components.models import Component, ComponentGroup, ComponentStatusChange
from statuspage.incidents.models import (
    AuditEntry,
    Category,
    ClosureReport,
    Incident,
    IncidentComponent,
    IncidentRoleAssignment,
    IncidentUpdate,
    IncidentUpdateComponent,
    Maintenance,
    MaintenanceUpdate,
    PriorityRule,
    SlaPolicy,
    Task,
    TimelineEvent,
)

__all__ = [
    "AuditEntry",
    "Category",
    "ClosureReport",
    "Component",
    "ComponentGroup",
    "ComponentStatusChange",
    "Incident",
    "IncidentComponent",
    "IncidentRoleAssignment",
    "IncidentUpdate",
    "IncidentUpdateComponent",
    "Maintenance",
    "MaintenanceUpdate",
    "PriorityRule",
    "Role",
    "SlaPolicy",
    "Task",
    "TimelineEvent",
    "User",
]
