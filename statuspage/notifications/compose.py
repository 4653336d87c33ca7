"""Subscribers' emails: an outbox notification, a confirmation, "already subscribed".

What each email says is chosen here; its bodies come from `templates/email/` through the one
composer, `statuspage.mail.templates.render_email` (HTML autoescaped, staff-written Markdown
through the one sanitizer; the plain-text part carries the Markdown source, which is text
whatever it contains).

Subjects start with the status in brackets, "[Investigating] API errors", so a reader can sort
their inbox by it; the mail layer removes line breaks from every header.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from statuspage.audiences import visibility
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.incidents.models import (
    Incident,
    IncidentUpdate,
    Maintenance,
    MaintenanceUpdate,
    PostIncidentReview,
    TaskStatus,
)
from statuspage.mail.templates import ComposedEmail, render_email
from statuspage.notifications.stakeholder_email import compose_stakeholder_summary
from statuspage.notifications.subscriptions import SubscriptionEmail
from statuspage.templating import status_label

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


class NothingToSend(LookupError):
    """What the notification announces no longer exists (deleted since)."""


def _incident_context(session: Session, notification: Notification) -> dict[str, Any]:
    incident = session.get(Incident, notification.incident_id) if notification.incident_id else None
    if incident is None:
        raise NothingToSend(f"notification {notification.id}: the incident is gone")
    audience_ids = notification.audience_ids or []
    return {
        "incident": incident,
        # Only the components its recipients may see: a public email names no private one.
        "affected": sorted(
            link.component.name
            for link in incident.affected
            if visibility.component_visible_to(link.component, audience_ids)
        ),
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
    if kind == K.STAKEHOLDER_SUMMARY:
        return compose_stakeholder_summary(session, notification, site_name=site_name, url=url)
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
        if not visibility.update_visible_to(update, notification.audience_ids or []):
            # Written for the public but addressed to audiences since: never to the public.
            raise NothingToSend(f"notification {notification.id}: not for these recipients")
        incident = context["incident"]
        label = update.status.label
        context |= {
            "update": update,
            "changes": [
                (change.component.name, status_label(change.new_status))
                for change in sorted(update.component_changes, key=lambda c: c.component.name)
                if visibility.component_visible_to(
                    change.component, notification.audience_ids or []
                )
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
    return render_email(TEMPLATES[kind], subject, context)


def compose_subscription_email(
    kind: SubscriptionEmail,
    *,
    site_name: str,
    choices: list[str] | None,
    confirm_link: str | None = None,
    manage_link: str | None = None,
    confirm_days: int = 7,
) -> ComposedEmail:
    """A confirmation request or an "already subscribed" email. `choices` None: everything."""
    context: dict[str, Any] = {
        "site_name": site_name,
        "choices": choices,
        "confirm_url": confirm_link,
        "manage_url": manage_link,
        "confirm_days": confirm_days,
    }
    if kind == SubscriptionEmail.CONFIRM:
        return render_email(
            "confirm_subscription", f"Confirm your subscription to {site_name}", context
        )
    return render_email("already_subscribed", f"You are already subscribed to {site_name}", context)
