"""Turning an outbox notification into an email: subject, plain text and HTML.

The bodies come from `templates/email/` through a Jinja environment of their own (no Flask: the
worker renders them). HTML templates autoescape, and staff-written Markdown reaches them only
through `rendering.render_markdown`, the one sanitizer pages and feeds use too. The plain-text
part carries the Markdown source, which is text whatever it contains.

Subjects start with the status in brackets, "[Investigating] API errors", so a reader can sort
their inbox by it; the mail layer removes line breaks from every header.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
from sqlalchemy.orm import Session

from statuspage import PROJECT_ROOT
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.core.rendering import render_markdown, strip_control_characters
from statuspage.incidents.models import (
    Incident,
    IncidentUpdate,
    Maintenance,
    MaintenanceUpdate,
    PostIncidentReview,
    TaskStatus,
)
from statuspage.templating import human_duration, status_label, utc_text

K = NotificationKind

TEMPLATES = {
    K.INCIDENT_UPDATE: "incident_update",
    K.CLOSURE_REPORT: "closure_report",
    K.REVIEW_PUBLISHED: "review_published",
    K.MAINTENANCE_SCHEDULED: "maintenance",
    K.MAINTENANCE_REMINDER: "maintenance",
    K.MAINTENANCE_STARTED: "maintenance",
    K.MAINTENANCE_COMPLETED: "maintenance",
}

MAINTENANCE_LABELS = {
    K.MAINTENANCE_SCHEDULED: "Scheduled maintenance",
    K.MAINTENANCE_REMINDER: "Maintenance reminder",
    K.MAINTENANCE_STARTED: "Maintenance in progress",
    K.MAINTENANCE_COMPLETED: "Maintenance completed",
}


@dataclass(frozen=True)
class ComposedEmail:
    subject: str
    text: str
    html: str


class NothingToSend(LookupError):
    """What the notification announces no longer exists (deleted since)."""


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PROJECT_ROOT / "templates" / "email"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["markdown"] = render_markdown
    env.filters["utc_text"] = utc_text
    env.filters["duration"] = human_duration
    env.filters["status_label"] = status_label
    env.filters["plain"] = lambda text: strip_control_characters(text or "").strip()
    return env


def _render(name: str, context: dict[str, Any]) -> tuple[str, str]:
    env = environment()
    text = env.get_template(f"{name}.txt").render(context)
    html = env.get_template(f"{name}.html").render(context)
    return text, html


def _incident_context(session: Session, notification: Notification) -> dict[str, Any]:
    incident = session.get(Incident, notification.incident_id) if notification.incident_id else None
    if incident is None:
        raise NothingToSend(f"notification {notification.id}: the incident is gone")
    return {
        "incident": incident,
        "affected": sorted(link.component.name for link in incident.affected),
    }


def compose_notification(
    session: Session,
    notification: Notification,
    *,
    site_name: str,
    url: Callable[[str], str],
    manage_url: str | None = None,
) -> ComposedEmail:
    """The email for one notification. `url(path)` makes absolute links into the site;
    `manage_url`, when given, is the recipient's own link to change or end the subscription."""
    kind = NotificationKind(notification.kind)
    context: dict[str, Any] = {"site_name": site_name, "manage_url": manage_url, "kind": kind.value}
    if kind == K.INCIDENT_UPDATE:
        context |= _incident_context(session, notification)
        update = (
            session.get(IncidentUpdate, notification.incident_update_id)
            if notification.incident_update_id
            else None
        )
        if update is None or update.published_at is None:
            raise NothingToSend(f"notification {notification.id}: the update is gone")
        incident = context["incident"]
        label = update.status.label
        context |= {
            "update": update,
            "changes": [
                (change.component.name, status_label(change.new_status))
                for change in sorted(update.component_changes, key=lambda c: c.component.name)
            ],
            "link": url(f"/incidents/{incident.id}"),
        }
        subject = f"[{label}] {incident.title}"
    elif kind == K.CLOSURE_REPORT:
        context |= _incident_context(session, notification)
        incident = context["incident"]
        if incident.closure_report is None:
            raise NothingToSend(f"notification {notification.id}: the closure report is gone")
        context |= {"report": incident.closure_report, "link": url(f"/incidents/{incident.id}")}
        subject = f"[Closure report] {incident.title}"
    elif kind == K.REVIEW_PUBLISHED:
        context |= _incident_context(session, notification)
        incident = context["incident"]
        review = session.query(PostIncidentReview).filter_by(incident_id=incident.id).one_or_none()
        if review is None:
            raise NothingToSend(f"notification {notification.id}: the review is gone")
        items = list(review.action_items)
        context |= {
            "review": review,
            "items_total": len(items),
            "items_done": sum(1 for item in items if item.status == TaskStatus.DONE),
            "link": url(f"/incidents/{incident.id}"),
        }
        subject = f"[Post-incident review] {incident.title}"
    else:
        maintenance = (
            session.get(Maintenance, notification.maintenance_id)
            if notification.maintenance_id
            else None
        )
        if maintenance is None:
            raise NothingToSend(f"notification {notification.id}: the maintenance is gone")
        update = (
            session.get(MaintenanceUpdate, notification.maintenance_update_id)
            if notification.maintenance_update_id
            else None
        )
        label = MAINTENANCE_LABELS[kind]
        context |= {
            "maintenance": maintenance,
            "update": update,
            "label": label,
            "components": [component.name for component in maintenance.components],
            "link": url(f"/maintenance/{maintenance.id}"),
        }
        subject = f"[{label}] {maintenance.title}"
    text, html = _render(TEMPLATES[kind], context)
    return ComposedEmail(subject=subject, text=text, html=html)
