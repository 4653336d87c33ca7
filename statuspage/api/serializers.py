"""Records as the write API's answer models (statuspage.api.models): one function per kind."""

from __future__ import annotations

from statuspage.api import models as answer
from statuspage.components.models import Component, ComponentGroup
from statuspage.incidents.models import Incident, IncidentUpdate, Maintenance
from statuspage.public.api_v2_format import timestamp


def incident(record: Incident) -> answer.Incident:
    return answer.Incident(
        id=record.id,
        title=record.title,
        description=record.description,
        status=record.status,
        source=record.source,
        reporter_name=record.reporter_name,
        reporter_contact=record.reporter_contact,
        category_id=record.category_id,
        impact=record.impact,
        urgency=record.urgency,
        priority=record.priority,
        is_public=record.is_public,
        public_status=record.public_status,
        public_impact=record.public_impact,
        component_ids=sorted(link.component_id for link in record.affected),
        impact_started_at=timestamp(record.impact_started_at),
        detected_at=timestamp(record.detected_at),
        resolved_at=timestamp(record.resolved_at),
        created_at=timestamp(record.created_at),
        updated_at=timestamp(record.updated_at),
        version=record.version,
    )


def update(record: IncidentUpdate) -> answer.IncidentUpdate:
    return answer.IncidentUpdate(
        id=record.id,
        incident_id=record.incident_id,
        status=record.status,
        body=record.body,
        deliver_notifications=record.deliver_notifications,
        published_at=timestamp(record.published_at),
        component_changes=[
            answer.ComponentChange(
                component_id=change.component_id,
                old_status=change.old_status,
                new_status=change.new_status,
            )
            for change in sorted(record.component_changes, key=lambda c: c.component_id)
        ],
    )


def component(record: Component) -> answer.Component:
    return answer.Component(
        id=record.id,
        name=record.name,
        description=record.description or "",
        status=record.status,
        group_id=record.group_id,
        position=record.position,
        showcase=record.showcase,
        only_show_if_degraded=record.only_show_if_degraded,
        is_public=record.is_public,
        start_date=record.start_date.isoformat() if record.start_date else None,
        archived_at=timestamp(record.archived_at) if record.archived_at else None,
        updated_at=timestamp(record.updated_at),
    )


def component_group(record: ComponentGroup, component_ids: list[int]) -> answer.ComponentGroup:
    return answer.ComponentGroup(
        id=record.id,
        name=record.name,
        description=record.description or "",
        position=record.position,
        component_ids=component_ids,
    )


def maintenance(record: Maintenance) -> answer.Maintenance:
    return answer.Maintenance(
        id=record.id,
        title=record.title,
        body=record.body,
        status=record.status,
        scheduled_for=timestamp(record.scheduled_for),
        scheduled_until=timestamp(record.scheduled_until),
        auto_start=record.auto_start,
        auto_complete=record.auto_complete,
        reminder_minutes_before=record.reminder_minutes_before,
        started_at=timestamp(record.started_at),
        completed_at=timestamp(record.completed_at),
        component_ids=sorted(c.id for c in record.components),
    )
