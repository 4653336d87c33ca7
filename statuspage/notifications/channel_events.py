"""What a notification says on the non-email channels: one `ChannelEvent` per notification,
built once and given to every subscription's sender (with that delivery's `message_id`).

The webhook body follows Statuspage's webhook notifications and our `/api/v2` JSON: same ids
(`i<id>`, `iu<id>`, `c<id>`, `m<id>`, `mu<id>`; a component event's
`component_update` is `cu<id>`, the status change's row), same vocabularies, times in UTC with
milliseconds. It is built here rather than by `public/api_v2_format.py` because
`notifications` sits below `public` (which imports it): a test compares the two
(`tests/integration/test_webhook_channel.py`).

Language: the webhook body is always the page's default language (Statuspage compatibility).
The plain fields chat and SMS format (`title`, `body`, `language`) are in the language the
event is built for: staff's translation where one exists (`incidents.translations.Localizer`),
else the default language's text; the delivery builds one event per notification and language.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from statuspage.components.models import Component, ComponentStatus, ComponentStatusChange
from statuspage.core import translation, vocabulary
from statuspage.core.languages import SOURCE_LANGUAGE, normalize
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.incidents.models import (
    Incident,
    IncidentUpdate,
    Maintenance,
    MaintenanceUpdate,
    PublicStatus,
)
from statuspage.incidents.translations import Kind, Localizer
from statuspage.notifications.channels import AffectedComponent, ChannelEvent
from statuspage.notifications.compose import MAINTENANCE_LABELS, NothingToSend
from statuspage.notifications.netguard import NetworkPolicy
from statuspage.notifications.stakeholder_email import StakeholderSummary, stakeholder_summary
from statuspage.stakeholders.models import StakeholderEvent

K = NotificationKind
EVENT_TYPES = {
    K.INCIDENT_UPDATE: "incident.update",
    K.CLOSURE_REPORT: "incident.closure_report",
    K.REVIEW_PUBLISHED: "incident.postmortem",
    K.MAINTENANCE_SCHEDULED: "maintenance.scheduled",
    K.MAINTENANCE_REMINDER: "maintenance.reminder",
    K.MAINTENANCE_STARTED: "maintenance.started",
    K.MAINTENANCE_COMPLETED: "maintenance.completed",
    K.COMPONENT_STATUS: "component.update",
    # Internal: only the channels staff attached to the told stakeholder lists receive it.
    K.STAKEHOLDER_SUMMARY: "stakeholder.summary",
}


@dataclass(frozen=True)
class PageInfo:
    id: str
    name: str
    url: str
    time_zone: str = "UTC"
    # Handed to every event for the senders (SMS: Twilio's account); see ChannelEvent.
    sender_settings: Mapping[str, Any] = field(default_factory=dict)
    default_language: str = SOURCE_LANGUAGE  # DEFAULT_LANGUAGE: the webhook body's


def default_page_id(site_name: str) -> str:
    """The page id `/api/v2` gives when PAGE_ID is unset (the same function as there)."""
    digest = hashlib.sha256(site_name.encode("utf-8")).digest()
    number = int.from_bytes(digest[:8], "big")
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    chars = []
    for _ in range(12):
        number, rest = divmod(number, 36)
        chars.append(alphabet[rest])
    return "".join(chars)


def time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def page_status(session: Session) -> dict[str, str]:
    from statuspage.components import queries as component_queries
    from statuspage.components.status import overall_status
    from statuspage.incidents import queries as incident_queries

    overall = overall_status(
        component_queries.all_component_statuses(session),
        incident_queries.unresolved_public_impacts(session),
    )
    return {"status_indicator": overall.indicator.value, "status_description": overall.description}


def _update_dict(update: IncidentUpdate) -> dict[str, Any]:
    changes = [
        {
            "code": f"c{change.component_id}",
            "name": change.component.name,
            "old_status": ComponentStatus(change.old_status).value,
            "new_status": ComponentStatus(change.new_status).value,
        }
        for change in sorted(update.component_changes, key=lambda c: c.component_id)
        if change.component.listed
    ]
    return {
        "id": f"iu{update.id}",
        "status": PublicStatus(update.status).value,
        "body": update.body,
        "incident_id": f"i{update.incident_id}",
        "created_at": time(update.published_at),
        "updated_at": time(update.edited_at or update.published_at),
        "display_at": time(update.published_at),
        "affected_components": changes or None,
    }


def _component_dict(component: Any, page_id: str) -> dict[str, Any]:
    return {
        "id": f"c{component.id}",
        "name": component.name,
        "status": ComponentStatus(component.status).value,
        "created_at": time(component.created_at),
        "updated_at": time(component.updated_at),
        "position": component.position,
        "description": component.description or None,
        "group_id": f"g{component.group_id}" if component.group_id is not None else None,
        "page_id": page_id,
    }


def incident_dict(
    incident: Incident, page: PageInfo, *, upto: IncidentUpdate | None = None
) -> dict[str, Any]:
    """The incident as Statuspage's webhook shows it. With `upto`, as that update left it:
    the updates published until then (so `incident_updates[0]` is the update announced,
    however late the delivery) and its status."""
    updates = incident.public_updates  # newest first
    if upto is not None and upto.published_at is not None:
        mark = (upto.published_at, upto.id)
        updates = [u for u in updates if u.published_at and (u.published_at, u.id) <= mark]
    changed = [u.edited_at or u.published_at for u in updates]
    components = sorted(
        (link.component for link in incident.affected if link.component.listed),
        key=lambda c: (c.position, c.id),
    )
    return {
        "id": f"i{incident.id}",
        "name": incident.title,
        "status": PublicStatus(
            (upto.status if upto is not None else None)
            or incident.public_status
            or PublicStatus.INVESTIGATING
        ).value,
        "impact": incident.public_impact.value,
        "shortlink": f"{page.url}/incidents/{incident.id}",
        "created_at": time(incident.published_at),
        "updated_at": time(max((at for at in changed if at), default=incident.published_at)),
        "monitoring_at": time(incident.monitoring_at),
        "resolved_at": time(incident.public_resolved_at),
        "started_at": time(incident.impact_started_at),
        "page_id": page.id,
        "incident_updates": [_update_dict(u) for u in updates],
        "components": [_component_dict(c, page.id) for c in components],
    }


def maintenance_dict(maintenance: Maintenance, page: PageInfo) -> dict[str, Any]:
    updates = list(maintenance.updates)  # newest first
    components = sorted(
        (c for c in maintenance.components if c.listed), key=lambda c: (c.position, c.id)
    )
    return {
        "id": f"m{maintenance.id}",
        "name": maintenance.title,
        "status": str(maintenance.status.value),
        "impact": "maintenance",
        "shortlink": f"{page.url}/maintenance/{maintenance.id}",
        "created_at": time(maintenance.created_at),
        "updated_at": time(maintenance.updated_at),
        "resolved_at": time(maintenance.completed_at),
        "started_at": time(maintenance.started_at or maintenance.scheduled_for),
        "scheduled_for": time(maintenance.scheduled_for),
        "scheduled_until": time(maintenance.scheduled_until),
        "page_id": page.id,
        "incident_updates": [
            {
                "id": f"mu{u.id}",
                "status": str(u.status.value),
                "body": u.body,
                "incident_id": f"m{maintenance.id}",
                "created_at": time(u.created_at),
                "updated_at": time(u.created_at),
                "display_at": time(u.created_at),
                "affected_components": None,
            }
            for u in updates
        ],
        "components": [_component_dict(c, page.id) for c in components],
    }


def _status_words(status: ComponentStatus, language: str = SOURCE_LANGUAGE) -> str:
    return translation.gettext(vocabulary.label(vocabulary.COMPONENT_STATUS, status), language)


def _change_text(
    component: str, new: ComponentStatus, old: ComponentStatus | None, language: str
) -> str:
    """ "Checkout is now Major outage (was Operational)." in `language`."""
    if old is None:
        return translation.gettext(
            "%(component)s is now %(status)s.",
            language,
            component=component,
            status=_status_words(new, language),
        )
    return translation.gettext(
        "%(component)s is now %(status)s (was %(old)s).",
        language,
        component=component,
        status=_status_words(new, language),
        old=_status_words(old, language),
    )


def component_event(
    session: Session,
    notification: Notification,
    page: PageInfo,
    network: NetworkPolicy,
    payload: dict[str, Any],
    language: str = SOURCE_LANGUAGE,
) -> ChannelEvent:
    """A component's status change, as Statuspage's component webhook has it: `page`,
    `component_update` (old and new status) and `component` as the change left it."""
    change = session.get(ComponentStatusChange, notification.status_change_id or 0)
    component = session.get(Component, change.component_id) if change is not None else None
    if change is None or component is None:
        raise NothingToSend(f"notification {notification.id}: the status change is gone")
    if not component.listed:
        # Made private or archived since: its subscribers may no longer see it.
        raise NothingToSend(f"notification {notification.id}: the component is not listed")
    new = ComponentStatus(change.status)
    old = ComponentStatus(change.old_status) if change.old_status is not None else None
    payload["component_update"] = {
        "id": f"cu{change.id}",
        "component_id": f"c{component.id}",
        "created_at": time(change.changed_at),
        "old_status": old.value if old is not None else None,
        "new_status": new.value,
    }
    payload["component"] = {
        "id": f"c{component.id}",
        "name": component.name,
        "status": new.value,
        "created_at": time(component.created_at),
        "page_id": page.id,
    }
    return ChannelEvent(
        message_id="",
        event_type=EVENT_TYPES[K.COMPONENT_STATUS],
        occurred_at=change.changed_at,
        payload=payload,
        page_name=page.name,
        page_url=page.url,
        title=component.name,
        status=new.value,
        body=_change_text(component.name, new, old, language),
        url=f"{page.url}/components/{component.id}/uptime",
        components=(
            AffectedComponent(component.name, new.value, old.value if old is not None else None),
        ),
        network=network,
        time_zone=page.time_zone,
        sender_settings=page.sender_settings,
        language=language,
    )


_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#|~"})


def _plain(text: str) -> str:
    """Staff-typed plain text (a title, a name) inside the summary's Markdown: taken literally."""
    return " ".join(str(text).split()).translate(_MARKDOWN_SPECIAL)


def summary_markdown(summary: StakeholderSummary) -> str:
    """The summary's facts as Markdown, for the chat builders (each converts it to its
    client's markup): the same facts, in the same order, as the email."""
    c = summary.context
    status = c["status"] + (
        f" (public page: {c['public_status']})" if c["public_status"] else " (not public)"
    )
    components = ", ".join(f"{_plain(name)} ({state})" for name, state in c["components"])
    roles = "; ".join(
        f"{label}: {', '.join(_plain(name) for name in names)}" for label, names in c["roles"]
    )
    policy = f" ({_plain(c['policy_name'])})" if c["policy_name"] else ""
    lines = [
        f"Internal summary for {_plain(c['lists'])}. Not for customers: do not forward.",
        "",
        f"**Priority:** {c['priority']}{policy}  ",
        f"**Impact:** {c['impact']}  ",
        f"**Status:** {status}  ",
        f"**Components:** {components or 'none named yet'}  ",
        f"**Audiences:** {', '.join(map(_plain, c['audiences'])) or 'none yet (internal only)'}  ",
        f"**Next update:** {c['next_update']}  ",
        f"**Roles:** {roles or 'nobody assigned yet'}",
    ]
    body = (summary.message.body or "").strip()
    if body:
        lines += ["", "**Update from the incident team:**", "", body]
    return "\n".join(lines)


def summary_event(
    session: Session,
    notification: Notification,
    page: PageInfo,
    network: NetworkPolicy,
    payload: dict[str, Any],
) -> ChannelEvent:
    """An internal stakeholder summary (docs/api.md, "Stakeholder summaries"): the facts the
    email gives, as JSON for a webhook and as a message for chat. Never a public text."""
    summary = stakeholder_summary(
        session, notification, site_name=page.name, url=lambda path: f"{page.url}{path}"
    )
    message, incident = summary.message, summary.incident
    c = summary.context
    payload["stakeholder_summary"] = {
        "id": f"sm{message.id}",
        "event": StakeholderEvent(message.event).value,
        "event_label": c["event_label"],
        "detail": c["what"],
        "lists": list(message.list_names or []),
        "created_at": time(message.created_at),
        "update": (message.body or "").strip() or None,
        "incident": {
            "id": f"i{incident.id}",
            "number": incident.id,
            "name": incident.title,
            "priority": incident.priority.value if incident.priority is not None else None,
            "sla_policy": c["policy_name"] or None,
            "impact": incident.impact.value if incident.impact is not None else None,
            "urgency": incident.urgency.value if incident.urgency is not None else None,
            "status": incident.status.value,
            "public_status": (
                incident.public_status.value if incident.public_status is not None else None
            ),
            "components": [
                {
                    "id": f"c{link.component.id}",
                    "name": link.component.name,
                    "status": ComponentStatus(link.status).value,
                }
                for link in sorted(incident.affected, key=lambda a: a.component.name)
                if link.component is not None
            ],
            "audiences": list(c["audiences"]),
            "roles": [{"role": label, "people": list(names)} for label, names in c["roles"]],
            "next_update": c["next_update"],
            "staff_url": c["link"],
        },
    }
    return ChannelEvent(
        message_id="",
        event_type=EVENT_TYPES[K.STAKEHOLDER_SUMMARY],
        occurred_at=message.created_at,
        payload=payload,
        page_name=page.name,
        page_url=page.url,
        title=f"#{incident.id} {incident.title} ({c['priority']})",
        status=incident.status.value,
        body=summary_markdown(summary),
        url=c["link"],
        components=tuple(
            AffectedComponent(link.component.name, ComponentStatus(link.status).value)
            for link in sorted(incident.affected, key=lambda a: a.component.name)
            if link.component is not None
        ),
        network=network,
        time_zone=page.time_zone,
        sender_settings=page.sender_settings,
        label=c["what"],
    )


def notification_event(
    session: Session,
    notification: Notification,
    page: PageInfo,
    network: NetworkPolicy,
    *,
    language: str = "",
) -> ChannelEvent:
    """The event for a notification, without a message id (`for_delivery` adds it), its chat
    texts in `language` ("" the page's default). NothingToSend when what it announces is
    gone."""
    default_language = normalize(page.default_language) or SOURCE_LANGUAGE
    language = normalize(language) or default_language
    localizer = Localizer(session, language, default_language)
    kind = NotificationKind(notification.kind)
    event_type = EVENT_TYPES[kind]
    payload: dict[str, Any] = {"meta": {"event_type": event_type}}
    payload["page"] = {"id": page.id, **page_status(session)}
    if kind == K.COMPONENT_STATUS:
        return component_event(session, notification, page, network, payload, language)
    if kind == K.STAKEHOLDER_SUMMARY:
        return summary_event(session, notification, page, network, payload)
    if kind in (K.INCIDENT_UPDATE, K.CLOSURE_REPORT, K.REVIEW_PUBLISHED):
        incident = session.get(Incident, notification.incident_id or 0)
        if incident is None or incident.published_at is None:
            raise NothingToSend(f"notification {notification.id}: the incident is gone")
        update = (
            session.get(IncidentUpdate, notification.incident_update_id)
            if notification.incident_update_id
            else None
        )
        if kind == K.INCIDENT_UPDATE and (update is None or update.published_at is None):
            raise NothingToSend(f"notification {notification.id}: the update is gone")
        payload["incident"] = incident_dict(
            incident, page, upto=update if kind == K.INCIDENT_UPDATE else None
        )
        if kind == K.CLOSURE_REPORT and incident.closure_report is not None:
            body = localizer.field(Kind.CLOSURE_REPORT, incident.closure_report, "summary").text
        else:
            body = localizer.update(update).text if update is not None else ""
        changes = update.component_changes if update is not None else []
        components = tuple(
            AffectedComponent(
                c.component.name,
                ComponentStatus(c.new_status).value,
                ComponentStatus(c.old_status).value,
            )
            for c in sorted(changes, key=lambda c: c.component.name)
            if c.component.listed
        ) or tuple(
            AffectedComponent(link.component.name, ComponentStatus(link.component.status).value)
            for link in sorted(incident.affected, key=lambda a: a.component.name)
            if link.component.listed
        )
        return ChannelEvent(
            message_id="",
            event_type=event_type,
            occurred_at=(update.published_at if update else None) or notification.created_at,
            payload=payload,
            page_name=page.name,
            page_url=page.url,
            title=incident.title,
            status=PublicStatus(
                (update.status if update else None)
                or incident.public_status
                or PublicStatus.INVESTIGATING
            ).value,
            impact=incident.public_impact.value,
            body=body,
            url=f"{page.url}/incidents/{incident.id}",
            components=components,
            network=network,
            time_zone=page.time_zone,
            sender_settings=page.sender_settings,
            language=language,
        )
    maintenance = session.get(Maintenance, notification.maintenance_id or 0)
    if maintenance is None:
        raise NothingToSend(f"notification {notification.id}: the maintenance is gone")
    m_update = (
        session.get(MaintenanceUpdate, notification.maintenance_update_id)
        if notification.maintenance_update_id
        else None
    )
    payload["incident"] = maintenance_dict(maintenance, page)
    texts = localizer.maintenance(maintenance)
    body = localizer.maintenance_update(maintenance, m_update).text if m_update else ""
    return ChannelEvent(
        message_id="",
        event_type=event_type,
        occurred_at=notification.created_at,
        payload=payload,
        page_name=page.name,
        page_url=page.url,
        title=texts["title"].text,
        status=str((m_update.status if m_update else maintenance.status).value),
        impact="maintenance",
        body=body or translation.gettext(MAINTENANCE_LABELS[kind], language),
        url=f"{page.url}/maintenance/{maintenance.id}",
        components=tuple(
            AffectedComponent(c.name, ComponentStatus(c.status).value)
            for c in sorted(maintenance.components, key=lambda c: c.name)
            if c.listed
        ),
        network=network,
        time_zone=page.time_zone,
        sender_settings=page.sender_settings,
        language=language,
    )


def for_delivery(template: ChannelEvent, message_id: str) -> ChannelEvent:
    """The template (built for the subscription's language) with this delivery's id (also in
    the body's `meta.message_id`)."""
    payload = dict(template.payload)
    payload["meta"] = {**dict(payload.get("meta") or {}), "message_id": message_id}
    return replace(template, message_id=message_id, payload=payload)
