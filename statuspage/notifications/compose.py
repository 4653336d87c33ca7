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
from statuspage.core import translation, vocabulary
from statuspage.core.languages import SOURCE_LANGUAGE, normalize
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.core.translation import N_
from statuspage.incidents.models import (
    Incident,
    IncidentUpdate,
    Maintenance,
    MaintenanceUpdate,
    PostIncidentReview,
    TaskStatus,
)
from statuspage.incidents.translations import Kind, Localizer
from statuspage.mail.templates import ComposedEmail, render_email
from statuspage.notifications.stakeholder_email import compose_stakeholder_summary
from statuspage.notifications.subscriptions import SubscriptionEmail

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
    K.MAINTENANCE_SCHEDULED: N_("Scheduled maintenance"),
    K.MAINTENANCE_REMINDER: N_("Maintenance reminder"),
    K.MAINTENANCE_STARTED: N_("Maintenance in progress"),
    K.MAINTENANCE_COMPLETED: N_("Maintenance completed"),
}


class _Shown:
    """A record with some of its texts replaced by their translation (the templates read the
    same attributes as before)."""

    def __init__(self, record: Any, **texts: str) -> None:
        self._record = record
        self.__dict__.update(texts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._record, name)


def _note(kind: Kind, language: str, default_language: str) -> str:
    """ "This update is available in English only", in `language`."""
    name = translation.language_name(default_language, language)
    if kind == Kind.CLOSURE_REPORT:
        message = N_("This closure report is available in %(language)s only.")
    elif kind == Kind.REVIEW:
        message = N_("This review is available in %(language)s only.")
    elif kind == Kind.MAINTENANCE:
        message = N_("This maintenance notice is available in %(language)s only.")
    else:
        message = N_("This update is available in %(language)s only.")
    return translation.gettext(message, language, language=name)


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
    language: str = "",
    default_language: str = SOURCE_LANGUAGE,
) -> ComposedEmail:
    """The email for one notification. `url(path)` makes absolute links into the site;
    `manage_url`, when given, is the recipient's own link to change or end the subscription.

    `language` is the recipients' ("" the page's default, `default_language`): the subject and
    the template's words in it, and staff texts translated into it where a translation exists,
    else in the default language with a note saying so."""
    language = normalize(language) or default_language
    localizer = Localizer(session, language, default_language)

    def gettext(message: str) -> str:
        return translation.gettext(message, language)

    kind = NotificationKind(notification.kind)
    if kind == K.STAKEHOLDER_SUMMARY:
        return compose_stakeholder_summary(
            session, notification, site_name=site_name, url=url, language=language
        )
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
        label = gettext(vocabulary.label(vocabulary.PUBLIC_STATUS, update.status))
        shown = localizer.update(update)
        context |= {
            "update": _Shown(update, body=shown.text),
            "text_language": shown.language,
            "translation_note": (
                _note(Kind.UPDATE, language, default_language) if shown.fallback else ""
            ),
            "changes": [
                # The template translates the status words (`translate`).
                (
                    change.component.name,
                    vocabulary.label(vocabulary.COMPONENT_STATUS, change.new_status),
                )
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
        report = incident.closure_report
        texts = {name: shown.text for name, shown in localizer.report(report).items()}
        context |= {
            "report": _Shown(report, **texts),
            "link": url(f"/incidents/{incident.id}"),
            "translation_note": (
                _note(Kind.CLOSURE_REPORT, language, default_language)
                if localizer.report_fallback(report)
                else ""
            ),
        }
        subject = f"[{gettext('Closure report')}] {incident.title}"
    elif kind == K.REVIEW_PUBLISHED:
        context |= _incident_context(session, notification)
        incident = context["incident"]
        review = session.query(PostIncidentReview).filter_by(incident_id=incident.id).one_or_none()
        if review is None:
            raise NothingToSend(f"notification {notification.id}: the review is gone")
        items = list(review.action_items)
        summary = localizer.field(Kind.REVIEW, review, "summary")
        context |= {
            "review": _Shown(review, summary=summary.text),
            "text_language": summary.language,
            "items_total": len(items),
            "items_done": sum(1 for item in items if item.status == TaskStatus.DONE),
            "link": url(f"/incidents/{incident.id}"),
        }
        subject = f"[{gettext('Post-incident review')}] {incident.title}"
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
        label = gettext(MAINTENANCE_LABELS[kind])
        texts = localizer.maintenance(maintenance)
        # What the email quotes: the update's text, else the maintenance's message.
        shown = localizer.maintenance_update(maintenance, update) if update else None
        if shown is None or not shown.text:
            shown = texts["body"]
        context |= {
            "maintenance": _Shown(maintenance, title=texts["title"].text),
            "title_language": texts["title"].language,
            "text": shown.text,
            "text_language": shown.language,
            "translation_note": (
                _note(Kind.MAINTENANCE, language, default_language)
                if texts["title"].fallback or (shown.fallback and shown.text)
                else ""
            ),
            "label": label,
            "components": [component.name for component in maintenance.components],
            "link": url(f"/maintenance/{maintenance.id}"),
        }
        subject = f"[{label}] {texts['title'].text}"
    return render_email(TEMPLATES[kind], subject, context, language=language)


def compose_subscription_email(
    kind: SubscriptionEmail,
    *,
    site_name: str,
    choices: list[str] | None,
    confirm_link: str | None = None,
    manage_link: str | None = None,
    confirm_days: int = 7,
    language: str = SOURCE_LANGUAGE,
) -> ComposedEmail:
    """A confirmation request or an "already subscribed" email, in `language`. `choices`
    None: everything."""
    language = normalize(language) or SOURCE_LANGUAGE
    context: dict[str, Any] = {
        "site_name": site_name,
        "choices": choices,
        "confirm_url": confirm_link,
        "manage_url": manage_link,
        "confirm_days": confirm_days,
    }
    if kind == SubscriptionEmail.CONFIRM:
        subject = translation.gettext(
            "Confirm your subscription to %(site)s", language, site=site_name
        )
        return render_email("confirm_subscription", subject, context, language=language)
    subject = translation.gettext(
        "You are already subscribed to %(site)s", language, site=site_name
    )
    return render_email("already_subscribed", subject, context, language=language)
