"""The write API's request and response bodies as pydantic models.

These models are the one description of what /api/v1 accepts and answers: spectree validates
requests against them and builds the OpenAPI document from their JSON Schema. Request bodies
refuse unknown keys; strings have the same length limits as the admin forms; ids, numbers and
booleans must be JSON integers and booleans (no "1" for 1, no true for 1); datetimes are ISO 8601
strings with an offset. A field left out of a request keeps its default (or, in a PATCH, the
record's value); `null` is accepted only where a field says so.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from statuspage.components.models import ComponentStatus
from statuspage.incidents.models import (
    IncidentSource,
    IncidentStatus,
    Level,
    MaintenanceStatus,
    Priority,
    PublicImpact,
    PublicStatus,
)
from statuspage.incidents.publishing import BODY_MAX

MAX_ID = 2**31 - 1  # the databases' integer; a larger id cannot exist (and PostgreSQL refuses it)
MAX_IDS = 100
TEXT_MAX = BODY_MAX  # the one limit of a public message (incidents.publishing)
DATETIME_HELP = "ISO 8601 with an offset, e.g. 2026-05-14T14:22:39+02:00"


# --- Field types ------------------------------------------------------------------------------


def _no_nul(value: str) -> str:
    # PostgreSQL stores no NUL character; pydantic already refuses lone surrogates.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _text(max_length: int) -> Any:
    return Annotated[str, Field(max_length=max_length), AfterValidator(_no_nul)]


# Strings, by their limit (the same as the admin forms' and the database columns').
Text = _text(TEXT_MAX)
Title = _text(200)
Name = _text(120)
Contact = _text(254)
Code = _text(60)
Reason = _text(2000)
Note = _text(5000)


def _iso_string(value: Any) -> Any:
    # Only a string, read as the standard library reads ISO 8601: pydantic alone would also
    # take numbers and digit strings as Unix times.
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("must be an ISO 8601 date and time string")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("is not an ISO 8601 date and time") from None


def _as_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is not an ISO 8601 date and time in range") from None


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_string),
    AfterValidator(_as_utc),
    Field(description=DATETIME_HELP),
]
Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
Ids = Annotated[
    list[Id],
    Field(max_length=MAX_IDS),
    AfterValidator(lambda ids: list(dict.fromkeys(ids))),
]
ComponentKey = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,10}$")]


def _component_ids(statuses: dict[str, ComponentStatus]) -> dict[int, ComponentStatus]:
    for key in statuses:
        if not 1 <= int(key) <= MAX_ID:
            raise ValueError(f"{key!r} is not a component id")
    return {int(key): status for key, status in statuses.items()}


Statuses = Annotated[
    dict[ComponentKey, ComponentStatus],
    Field(max_length=MAX_IDS, description="Component id -> new status."),
    AfterValidator(_component_ids),
]
Boolean = Annotated[bool, Field(strict=True)]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def absent(description: str = "") -> Any:
    """A field that may be left out (the view then uses its own default) but is never null."""
    return Field(default=None, description=description or None, json_schema_extra=_no_default)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- Requests ---------------------------------------------------------------------------------


class IncidentCreate(Body):
    title: Title
    description: Text = Field("", description="Internal, Markdown.")
    source: IncidentSource = IncidentSource.API
    reporter_name: Name = ""
    reporter_contact: Contact = ""
    impact_started_at: Timestamp = absent(DATETIME_HELP + "; defaults to now.")
    detected_at: Timestamp = absent(DATETIME_HELP + "; defaults to now.")
    component_ids: Ids = []
    impact: Level = absent("With urgency: categorizes the incident.")
    urgency: Level = absent()
    category_id: Id | None = None


class IncidentPatch(Body):
    title: Title = absent()
    description: Text = absent()
    source: IncidentSource = absent()
    reporter_name: Name = absent()
    reporter_contact: Contact = absent()
    impact_started_at: Timestamp = absent()
    detected_at: Timestamp | None = absent()
    component_ids: Ids = absent("Replaces the affected components.")
    version: Id = absent("The version you read; 409 if the incident changed since.")


class Transition(Body):
    target: IncidentStatus
    reason: Reason = ""
    workaround: Note = ""
    resolution_code: Code = ""
    resolution_summary: Note = ""
    verification: Note = ""
    version: Id = absent("The version you read; 409 if the incident changed since.")


class UpdateCreate(Body):
    status: PublicStatus
    body: Text
    component_statuses: Statuses = {}
    deliver_notifications: Boolean = True


def _iso_date(value: Any) -> date:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date string (YYYY-MM-DD)")
    return date.fromisoformat(value)


Day = Annotated[
    date, BeforeValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})
]
Description = _text(1000)


class ComponentCreate(Body):
    name: Name
    description: Description = ""
    group_id: Id | None = None
    showcase: Boolean = Field(True, description="Show the uptime bar.")
    only_show_if_degraded: Boolean = False
    is_public: Boolean = Field(True, description="Listed on the public page, feeds and JSON.")
    start_date: Day | None = Field(
        None, description="Uptime counts from this day; today if left out."
    )


class ComponentPatch(Body):
    """Any of the fields; those left out stay as they are. `status` needs the publish
    permission, the others the configure permission. `group_id: null` takes it out of its
    group."""

    status: ComponentStatus = absent()
    name: Name = absent()
    description: Description = absent()
    group_id: Id | None = absent()
    showcase: Boolean = absent()
    only_show_if_degraded: Boolean = absent()
    is_public: Boolean = absent()
    start_date: Day = absent()


class ComponentOrder(Body):
    group_id: Id | None = Field(
        None, description="The group whose components these are; null for those outside any group."
    )
    component_ids: Annotated[list[Id], Field(max_length=1000)]


class GroupCreate(Body):
    name: Name
    description: Description = ""


class GroupPatch(Body):
    name: Name = absent()
    description: Description = absent()


class GroupOrder(Body):
    group_ids: Annotated[list[Id], Field(max_length=1000)]


class MaintenanceCreate(Body):
    title: Title
    body: Text = Field("", description="Public, Markdown.")
    scheduled_for: Timestamp
    scheduled_until: Timestamp
    component_ids: Ids = []
    auto_start: Boolean = False
    auto_complete: Boolean = False
    reminder_minutes_before: Annotated[int, Field(strict=True, ge=1, le=10_080)] | None = None


class MaintenanceStatusChange(Body):
    status: MaintenanceStatus
    body: Text = ""


# --- Answers ----------------------------------------------------------------------------------

# Timestamps are sent as serializers.timestamp writes them: ISO 8601 in UTC with "Z".
Time = Annotated[str | None, Field(json_schema_extra={"format": "date-time"})]


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Answer):
    code: int
    message: str
    field: str | None = absent("The request field the error is about.")
    changes: list[str] | None = absent("On a version conflict: what changed since.")


class Error(Answer):
    error: ErrorDetail


class Incident(Answer):
    id: int
    title: str
    description: str
    status: IncidentStatus
    source: IncidentSource
    reporter_name: str
    reporter_contact: str
    category_id: int | None
    impact: Level | None
    urgency: Level | None
    priority: Priority | None
    is_public: bool
    public_status: PublicStatus | None
    public_impact: PublicImpact
    component_ids: list[int]
    impact_started_at: Time
    detected_at: Time
    resolved_at: Time
    created_at: Time
    updated_at: Time
    version: int


class ComponentChange(Answer):
    component_id: int
    old_status: ComponentStatus
    new_status: ComponentStatus


class IncidentUpdate(Answer):
    id: int
    incident_id: int
    status: PublicStatus
    body: str
    deliver_notifications: bool
    published_at: Time
    component_changes: list[ComponentChange]


class Component(Answer):
    id: int
    name: str
    description: str
    status: ComponentStatus
    group_id: int | None
    position: int
    showcase: bool
    only_show_if_degraded: bool
    is_public: bool
    start_date: str | None
    archived_at: Time | None
    updated_at: Time


class ComponentGroup(Answer):
    id: int
    name: str
    description: str
    position: int
    component_ids: list[int]


class GroupList(Answer):
    component_groups: list[ComponentGroup]


class GroupAnswer(Answer):
    component_group: ComponentGroup


class Removed(Answer):
    outcome: str = Field(description="archived (it had history) or deleted")


class Maintenance(Answer):
    id: int
    title: str
    body: str
    status: MaintenanceStatus
    scheduled_for: Time
    scheduled_until: Time
    auto_start: bool
    auto_complete: bool
    reminder_minutes_before: int | None
    started_at: Time
    completed_at: Time
    component_ids: list[int]


class IncidentList(Answer):
    incidents: list[Incident]


class IncidentAnswer(Answer):
    incident: Incident


class UpdateAnswer(Answer):
    update: IncidentUpdate
    incident: Incident


class ComponentList(Answer):
    components: list[Component]


class ComponentAnswer(Answer):
    component: Component


class MaintenanceList(Answer):
    maintenances: list[Maintenance]


class MaintenanceAnswer(Answer):
    maintenance: Maintenance
