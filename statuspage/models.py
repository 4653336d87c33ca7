"""Imports every model module so the metadata holds every table (for Alembic and tests)."""

from statuspage.audiences.models import Audience, AudienceFeedToken, ReaderSignInToken
from statuspage.auth.models import ApiToken, Role, User, UserSession
from statuspage.branding.models import PageSettings
from statuspage.components.models import Component, ComponentGroup, ComponentStatusChange
from statuspage.core.models import AuditEntry, SiteState, TimelineEvent
from statuspage.core.outbox import Notification
from statuspage.importing.models import ImportedRecord
from statuspage.incidents.models import (
    Alert,
    Category,
    ClosureReport,
    Evidence,
    Incident,
    IncidentComponent,
    IncidentLink,
    IncidentNote,
    IncidentRoleAssignment,
    IncidentTemplate,
    IncidentUpdate,
    IncidentUpdateComponent,
    Maintenance,
    MaintenanceUpdate,
    PostIncidentReview,
    PriorityRule,
    Problem,
    ReviewActionItem,
    SlaEvent,
    SlaPolicy,
    Task,
)
from statuspage.notifications.models import DeliveryBatch, ProviderEvent, Subscriber
from statuspage.stakeholders.models import (
    StakeholderList,
    StakeholderMember,
    StakeholderMessage,
    StakeholderRecipient,
    StakeholderTemplate,
)

__all__ = [
    "Audience",
    "AudienceFeedToken",
    "ReaderSignInToken",
    "StakeholderList",
    "StakeholderMember",
    "StakeholderMessage",
    "StakeholderRecipient",
    "StakeholderTemplate",
    "PageSettings",
    "ImportedRecord",
    "Notification",
    "DeliveryBatch",
    "ProviderEvent",
    "Subscriber",
    "PostIncidentReview",
    "ReviewActionItem",
    "Alert",
    "ApiToken",
    "SiteState",
    "AuditEntry",
    "Evidence",
    "IncidentLink",
    "IncidentNote",
    "IncidentTemplate",
    "Problem",
    "SlaEvent",
    "UserSession",
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
