"""The incident domain's tables: incidents and everything that hangs off them, and maintenance.

Two vocabularies meet here on purpose. Staff run an incident through the ITIL-style lifecycle
(`IncidentStatus`); customers see Statuspage's public words (`PublicStatus`, `PublicImpact`).
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from statuspage.audiences.models import Audience, incident_audience, incident_update_audience
from statuspage.components.models import Component, ComponentStatus
from statuspage.core.db import Base, UTCDateTime, enum_column, utcnow


class IncidentStatus(enum.StrEnum):
    NEW = "new"
    TRIAGE = "triage"
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    POST_INCIDENT = "post_incident"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class PublicStatus(enum.StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class PublicImpact(enum.StrEnum):
    """Statuspage's incident impact, also the overall indicator minus maintenance."""

    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class Level(enum.StrEnum):
    """Impact and urgency, the two axes of the priority matrix."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Priority(enum.StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class IncidentSource(enum.StrEnum):
    STAFF = "staff"
    CUSTOMER = "customer"
    MONITORING = "monitoring"
    API = "api"


class IncidentRole(enum.StrEnum):
    INCIDENT_MANAGER = "incident_manager"
    TECH_LEAD = "tech_lead"
    COMMS_LEAD = "comms_lead"
    FIRST_LINE = "first_line"
    SECOND_LINE = "second_line"
    OBSERVER = "observer"


class TaskKind(enum.StrEnum):
    RESPONSE = "response"  # blocks closure while open
    FOLLOW_UP = "follow_up"  # does not


class TaskStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class MaintenanceStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    VERIFYING = "verifying"
    COMPLETED = "completed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class SlaState(enum.StrEnum):
    OK = "ok"
    AT_RISK = "at_risk"
    BREACHED = "breached"


class SlaTarget(enum.StrEnum):
    ACKNOWLEDGE = "acknowledge"
    MITIGATE = "mitigate"
    RESOLVE = "resolve"
    UPDATE = "update"  # public-update cadence


class ResolutionCode(enum.StrEnum):
    FIXED = "fixed"
    WORKAROUND = "workaround"
    ROLLED_BACK = "rolled_back"
    CONFIG_CHANGE = "config_change"
    THIRD_PARTY_FIXED = "third_party_fixed"
    NO_FAULT_FOUND = "no_fault_found"
    DUPLICATE = "duplicate"
    FALSE_POSITIVE = "false_positive"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class EvidenceKind(enum.StrEnum):
    FILE = "file"
    LINK = "link"
    LOG = "log"


class ProblemStatus(enum.StrEnum):
    OPEN = "open"
    KNOWN_ERROR = "known_error"  # root cause and workaround known
    RESOLVED = "resolved"


class LinkKind(enum.StrEnum):
    RELATED = "related"
    DUPLICATE = "duplicate"


class Category(Base):
    """The taxonomy managers edit; a category with a parent is a subcategory."""

    __tablename__ = "category"
    __table_args__ = (sa.UniqueConstraint("parent_id", "name", name="uq_category_parent_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("category.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)

    parent: Mapped[Category | None] = relationship(remote_side=[id])


class PriorityRule(Base):
    """One cell of the impact x urgency matrix."""

    __tablename__ = "priority_rule"
    __table_args__ = (sa.UniqueConstraint("impact", "urgency", name="uq_priority_rule_cell"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    impact: Mapped[Level] = mapped_column(enum_column(Level, "impact"))
    urgency: Mapped[Level] = mapped_column(enum_column(Level, "urgency"))
    priority: Mapped[Priority] = mapped_column(enum_column(Priority, "priority"))


class SlaPolicy(Base):
    """Targets per priority, in minutes; `escalation_contacts` is a list of email addresses."""

    __tablename__ = "sla_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    priority: Mapped[Priority] = mapped_column(enum_column(Priority, "priority"), unique=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    acknowledge_minutes: Mapped[int]
    mitigate_minutes: Mapped[int]
    resolve_minutes: Mapped[int]
    update_cadence_minutes: Mapped[int]
    business_hours_only: Mapped[bool] = mapped_column(default=False)
    escalation_contacts: Mapped[list[str]] = mapped_column(sa.JSON, default=list)


class Incident(Base):
    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")  # internal, Markdown
    status: Mapped[IncidentStatus] = mapped_column(
        enum_column(IncidentStatus, "incident_status"), default=IncidentStatus.NEW, index=True
    )
    source: Mapped[IncidentSource] = mapped_column(
        enum_column(IncidentSource, "incident_source"), default=IncidentSource.STAFF
    )
    reporter_name: Mapped[str] = mapped_column(sa.String(120), default="")
    reporter_contact: Mapped[str] = mapped_column(sa.String(254), default="")

    category_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("category.id", ondelete="SET NULL")
    )
    subcategory_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("category.id", ondelete="SET NULL")
    )
    impact: Mapped[Level | None] = mapped_column(enum_column(Level, "impact"))
    urgency: Mapped[Level | None] = mapped_column(enum_column(Level, "urgency"))
    priority: Mapped[Priority | None] = mapped_column(enum_column(Priority, "priority"))
    priority_override_reason: Mapped[str] = mapped_column(sa.Text, default="")
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    # Public face: not public until the first public update is published.
    is_public: Mapped[bool] = mapped_column(default=False)
    public_status: Mapped[PublicStatus | None] = mapped_column(
        enum_column(PublicStatus, "public_status"), index=True
    )
    public_impact: Mapped[PublicImpact] = mapped_column(
        enum_column(PublicImpact, "public_impact"), default=PublicImpact.NONE
    )
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    monitoring_at: Mapped[datetime | None]
    public_resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    next_update_at: Mapped[datetime | None]  # "next update by", shown publicly
    # When staff were reminded that `next_update_at` passed; cleared when a new one is set.
    next_update_reminded_at: Mapped[datetime | None]

    # Milestones: stamped on first entry, never overwritten.
    impact_started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    detected_at: Mapped[datetime | None]
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    identified_at: Mapped[datetime | None]
    mitigated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    workaround: Mapped[str] = mapped_column(sa.Text, default="")
    resolution_code: Mapped[str] = mapped_column(sa.String(60), default="")
    resolution_summary: Mapped[str] = mapped_column(sa.Text, default="")
    verification: Mapped[str] = mapped_column(sa.Text, default="")
    cancel_reason: Mapped[str] = mapped_column(sa.Text, default="")
    verification_checks: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    template_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("incident_template.id", ondelete="SET NULL")
    )
    duplicate_of_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="SET NULL")
    )
    # Worst SLA state reached by any running clock, kept by the SLA job for the list badge.
    sla_state: Mapped[SlaState] = mapped_column(
        enum_column(SlaState, "sla_state"), default=SlaState.OK, index=True
    )
    # Bumped on every change made through a form; a save based on an older version is refused.
    version: Mapped[int] = mapped_column(default=1)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    affected: Mapped[list[IncidentComponent]] = relationship(
        back_populates="incident", cascade="all, delete-orphan"
    )
    updates: Mapped[list[IncidentUpdate]] = relationship(
        back_populates="incident",
        cascade="all, delete-orphan",
        order_by="(IncidentUpdate.published_at.desc(), IncidentUpdate.id.desc())",
    )
    closure_report: Mapped[ClosureReport | None] = relationship(
        back_populates="incident", cascade="all, delete-orphan"
    )
    # Shown to these audiences even while not public (an update was addressed to them).
    audiences: Mapped[list[Audience]] = relationship(
        secondary=incident_audience, order_by="Audience.name"
    )

    @property
    def published_updates(self) -> list[IncidentUpdate]:
        """Every published update, the public ones and those to chosen audiences (staff)."""
        return [update for update in self.updates if update.published_at is not None]

    @property
    def public_updates(self) -> list[IncidentUpdate]:
        """The published updates everyone may read (none addressed to chosen audiences)."""
        return [update for update in self.published_updates if not update.audiences]

    def updates_for(self, audience_ids: Collection[int]) -> list[IncidentUpdate]:
        """The published updates a reader of these audiences may read (empty: the public)."""
        wanted = set(audience_ids)
        return [
            update
            for update in self.published_updates
            if not update.audiences or any(a.id in wanted for a in update.audiences)
        ]

    def __repr__(self) -> str:
        return f"<Incident {self.id} {self.status} {self.title!r}>"


class IncidentComponent(Base):
    """A component the incident affects, with the status the incident put it in."""

    __tablename__ = "incident_component"

    incident_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[int] = mapped_column(
        sa.ForeignKey("component.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    status: Mapped[ComponentStatus] = mapped_column(
        enum_column(ComponentStatus, "component_status"), default=ComponentStatus.OPERATIONAL
    )

    incident: Mapped[Incident] = relationship(back_populates="affected")
    component: Mapped[Component] = relationship()


class IncidentUpdate(Base):
    """A public update, written for customers. A draft has no `published_at`."""

    __tablename__ = "incident_update"
    __table_args__ = (
        sa.Index("ix_incident_update_incident_published", "incident_id", "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incident.id", ondelete="CASCADE"))
    status: Mapped[PublicStatus] = mapped_column(enum_column(PublicStatus, "public_status"))
    body: Mapped[str] = mapped_column(sa.Text)
    original_body: Mapped[str | None] = mapped_column(sa.Text)  # kept when edited
    deliver_notifications: Mapped[bool] = mapped_column(default=True)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    edited_at: Mapped[datetime | None]
    # Bumped on every edit; a save based on an older version is refused (409).
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    incident: Mapped[Incident] = relationship(back_populates="updates")
    component_changes: Mapped[list[IncidentUpdateComponent]] = relationship(
        back_populates="update", cascade="all, delete-orphan"
    )
    # Empty: public (every audience sees it). Otherwise only these audiences do. Loaded with
    # the updates (one statement for all of them): every public page filters on it.
    audiences: Mapped[list[Audience]] = relationship(
        secondary=incident_update_audience, order_by="Audience.name", lazy="selectin"
    )


class IncidentUpdateComponent(Base):
    """What one update did to one component's status."""

    __tablename__ = "incident_update_component"

    update_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incident_update.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[int] = mapped_column(
        sa.ForeignKey("component.id", ondelete="CASCADE"), primary_key=True
    )
    old_status: Mapped[ComponentStatus] = mapped_column(
        enum_column(ComponentStatus, "component_status_old")
    )
    new_status: Mapped[ComponentStatus] = mapped_column(
        enum_column(ComponentStatus, "component_status")
    )

    update: Mapped[IncidentUpdate] = relationship(back_populates="component_changes")
    component: Mapped[Component] = relationship()


class IncidentRoleAssignment(Base):
    __tablename__ = "incident_role_assignment"
    __table_args__ = (
        sa.UniqueConstraint("incident_id", "user_id", "role", name="uq_incident_role_assignment"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incident.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    role: Mapped[IncidentRole] = mapped_column(enum_column(IncidentRole, "incident_role"))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)


class Task(Base):
    __tablename__ = "task"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[TaskKind] = mapped_column(enum_column(TaskKind, "task_kind"))
    title: Mapped[str] = mapped_column(sa.String(200))
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    due_at: Mapped[datetime | None]
    status: Mapped[TaskStatus] = mapped_column(
        enum_column(TaskStatus, "task_status"), default=TaskStatus.OPEN
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]


class ClosureReport(Base):
    """What customers are told once it is over; published with the incident."""

    __tablename__ = "closure_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="CASCADE"), unique=True
    )
    summary: Mapped[str] = mapped_column(sa.Text)
    impact: Mapped[str] = mapped_column(sa.Text)
    cause: Mapped[str] = mapped_column(sa.Text)
    resolution: Mapped[str] = mapped_column(sa.Text)
    prevention: Mapped[str] = mapped_column(sa.Text)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    # Bumped on every edit; a save based on an older version is refused (409).
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    incident: Mapped[Incident] = relationship(back_populates="closure_report")


maintenance_component = sa.Table(
    "maintenance_component",
    Base.metadata,
    sa.Column(
        "maintenance_id", sa.ForeignKey("maintenance.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("component_id", sa.ForeignKey("component.id", ondelete="CASCADE"), primary_key=True),
)


class Maintenance(Base):
    __tablename__ = "maintenance"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")  # public, Markdown
    status: Mapped[MaintenanceStatus] = mapped_column(
        enum_column(MaintenanceStatus, "maintenance_status"),
        default=MaintenanceStatus.SCHEDULED,
        index=True,
    )
    scheduled_for: Mapped[datetime] = mapped_column(index=True)
    scheduled_until: Mapped[datetime]
    auto_start: Mapped[bool] = mapped_column(default=False)
    auto_complete: Mapped[bool] = mapped_column(default=False)
    reminder_minutes_before: Mapped[int | None]
    reminder_sent_at: Mapped[datetime | None]  # the subscriber reminder, sent once
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    components: Mapped[list[Component]] = relationship(
        secondary=maintenance_component, order_by="Component.position"
    )
    updates: Mapped[list[MaintenanceUpdate]] = relationship(
        back_populates="maintenance",
        cascade="all, delete-orphan",
        order_by="(MaintenanceUpdate.created_at.desc(), MaintenanceUpdate.id.desc())",
    )


class MaintenanceUpdate(Base):
    __tablename__ = "maintenance_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    maintenance_id: Mapped[int] = mapped_column(
        sa.ForeignKey("maintenance.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[MaintenanceStatus] = mapped_column(
        enum_column(MaintenanceStatus, "maintenance_status")
    )
    body: Mapped[str] = mapped_column(sa.Text, default="")
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    maintenance: Mapped[Maintenance] = relationship(back_populates="updates")


class IncidentNote(Base):
    """An internal note (Markdown). Never shown publicly, never copied into a public update."""

    __tablename__ = "incident_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(sa.Text)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Evidence(Base):
    """A file, a link or a pasted log attached to an incident's investigation."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[EvidenceKind] = mapped_column(enum_column(EvidenceKind, "evidence_kind"))
    title: Mapped[str] = mapped_column(sa.String(200))
    url: Mapped[str] = mapped_column(sa.String(2000), default="")
    log_text: Mapped[str] = mapped_column(sa.Text, default="")
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    stored_name: Mapped[str] = mapped_column(sa.String(255), default="")
    content_type: Mapped[str] = mapped_column(sa.String(120), default="")
    size: Mapped[int] = mapped_column(default=0)
    sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentLink(Base):
    """Two incidents that are related, or one a duplicate of the other."""

    __tablename__ = "incident_link"
    __table_args__ = (
        sa.UniqueConstraint("incident_id", "other_id", name="uq_incident_link_pair"),
        sa.CheckConstraint("incident_id <> other_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    other_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[LinkKind] = mapped_column(enum_column(LinkKind, "link_kind"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


problem_incident = sa.Table(
    "problem_incident",
    Base.metadata,
    sa.Column("problem_id", sa.ForeignKey("problem.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("incident_id", sa.ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("linked_at", UTCDateTime(), nullable=False, default=utcnow),
)

problem_component = sa.Table(
    "problem_component",
    Base.metadata,
    sa.Column("problem_id", sa.ForeignKey("problem.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("component_id", sa.ForeignKey("component.id", ondelete="CASCADE"), primary_key=True),
)


class Problem(Base):
    """The underlying cause of one or more incidents; a known error once cause and workaround
    are known."""

    __tablename__ = "problem"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    root_cause: Mapped[str] = mapped_column(sa.Text, default="")
    workaround: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[ProblemStatus] = mapped_column(
        enum_column(ProblemStatus, "problem_status"), default=ProblemStatus.OPEN, index=True
    )
    category_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("category.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    incidents: Mapped[list[Incident]] = relationship(secondary=problem_incident)
    components: Mapped[list[Component]] = relationship(secondary=problem_component)


class IncidentTemplate(Base):
    """Defaults for a kind of incident: category, impact, urgency, tasks, public messages."""

    __tablename__ = "incident_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    category_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("category.id", ondelete="SET NULL")
    )
    subcategory_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("category.id", ondelete="SET NULL")
    )
    impact: Mapped[Level | None] = mapped_column(enum_column(Level, "impact"))
    urgency: Mapped[Level | None] = mapped_column(enum_column(Level, "urgency"))
    # Response tasks created with the incident, one title per entry.
    task_checklist: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Public message text per public status (investigating, identified, monitoring, resolved).
    message_templates: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Bumped on every edit; a save based on an older version is refused (409).
    version: Mapped[int] = mapped_column(default=1, server_default="1")


class SlaEvent(Base):
    """An SLA clock reaching 75% (at risk) or 100% (breached); written once per clock and state.

    The unique constraint is what makes escalation happen once even when two SLA jobs overlap.
    """

    __tablename__ = "sla_event"
    __table_args__ = (
        sa.UniqueConstraint("incident_id", "target", "state", name="uq_sla_event_once"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    target: Mapped[SlaTarget] = mapped_column(enum_column(SlaTarget, "sla_target"))
    state: Mapped[SlaState] = mapped_column(enum_column(SlaState, "sla_state"))
    due_at: Mapped[datetime]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    escalated_to: Mapped[list[str]] = mapped_column(sa.JSON, default=list)


class AlertStatus(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Alert(Base):
    """An alert received from monitoring, attached to the incident it opened or joined."""

    __tablename__ = "alert"
    __table_args__ = (sa.Index("ix_alert_dedup_received", "dedup_key", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(40))  # alertmanager, generic
    dedup_key: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[AlertStatus] = mapped_column(enum_column(AlertStatus, "alert_status"))
    title: Mapped[str] = mapped_column(sa.String(200))
    labels: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    incident_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="SET NULL"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class ReviewStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    PUBLISHED = "published"


class PostIncidentReview(Base):
    """A blameless post-incident review. Published publicly only when staff choose to."""

    __tablename__ = "post_incident_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[ReviewStatus] = mapped_column(
        enum_column(ReviewStatus, "review_status"), default=ReviewStatus.DRAFT
    )
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    impact: Mapped[str] = mapped_column(sa.Text, default="")
    leadup: Mapped[str] = mapped_column(sa.Text, default="")
    trigger: Mapped[str] = mapped_column(sa.Text, default="")
    detection: Mapped[str] = mapped_column(sa.Text, default="")
    response: Mapped[str] = mapped_column(sa.Text, default="")
    recovery: Mapped[str] = mapped_column(sa.Text, default="")
    # [{"at": ISO 8601, "text": "..."}], prefilled from milestones and public updates.
    timeline: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON, default=list)
    contributing_factors: Mapped[str] = mapped_column(sa.Text, default="")
    went_well: Mapped[str] = mapped_column(sa.Text, default="")
    went_badly: Mapped[str] = mapped_column(sa.Text, default="")
    got_lucky: Mapped[str] = mapped_column(sa.Text, default="")
    communications: Mapped[str] = mapped_column(sa.Text, default="")
    publish_publicly: Mapped[bool] = mapped_column(default=False)
    approved_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    approved_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Bumped on every edit; a save based on an older version is refused (409).
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    action_items: Mapped[list[ReviewActionItem]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="ReviewActionItem.id"
    )


class ReviewActionItem(Base):
    __tablename__ = "review_action_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(
        sa.ForeignKey("post_incident_review.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200))
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    priority: Mapped[Priority] = mapped_column(enum_column(Priority, "priority"))
    due_at: Mapped[datetime | None]
    status: Mapped[TaskStatus] = mapped_column(
        enum_column(TaskStatus, "task_status"), default=TaskStatus.OPEN
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]

    review: Mapped[PostIncidentReview] = relationship(back_populates="action_items")
