"""The stakeholder summary: the internal email a stakeholder list gets (see
`statuspage.stakeholders`).

It is composed when it is sent, from the incident as it is then, and says what a manager or a
support lead needs in one glance: what happened (the event), priority, impact, affected
components (and audiences), who holds which role, the current status, the next public update
promised, and the link to the staff page. It is not the public text: it never quotes a public
update, and it goes only to the message's recipients, never to subscribers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.auth.models import User
from statuspage.core import translation, vocabulary
from statuspage.core.outbox import Notification
from statuspage.core.timetext import utc_text
from statuspage.core.translation import N_
from statuspage.incidents.models import (
    Incident,
    IncidentRole,
    IncidentRoleAssignment,
    SlaPolicy,
    SlaTarget,
)
from statuspage.incidents.sla import clocks_for
from statuspage.mail.templates import ComposedEmail, render_email
from statuspage.stakeholders.models import (
    StakeholderEvent,
    StakeholderMessage,
    StakeholderRecipient,
)
from statuspage.templating import status_label

ROLE_ORDER = (
    IncidentRole.INCIDENT_MANAGER,
    IncidentRole.COMMS_LEAD,
    IncidentRole.TECH_LEAD,
    IncidentRole.FIRST_LINE,
    IncidentRole.SECOND_LINE,
    IncidentRole.OBSERVER,
)
ROLE_LABELS = {
    IncidentRole.INCIDENT_MANAGER: N_("Incident commander"),
    IncidentRole.COMMS_LEAD: N_("Comms lead"),
    IncidentRole.TECH_LEAD: N_("Tech lead"),
    IncidentRole.FIRST_LINE: N_("First line"),
    IncidentRole.SECOND_LINE: N_("Second line"),
    IncidentRole.OBSERVER: N_("Observers"),
}
# The summary's words are in the current language (`translation.using_language`: the email
# is composed in the page's default language; chat and webhooks keep English).
_ = translation.gettext


def recipient_query(notification_id: int) -> sa.Select[tuple[int, str]]:
    """(id, email) of a stakeholder summary's recipients, by id (delivery walks them)."""
    return (
        sa.select(StakeholderRecipient.id, StakeholderRecipient.email)
        .join(StakeholderMessage, StakeholderMessage.id == StakeholderRecipient.message_id)
        .where(StakeholderMessage.notification_id == notification_id)
        .order_by(StakeholderRecipient.id)
    )


def recipients(session: Session, recipient_ids: Sequence[int]) -> list[tuple[int, str]]:
    if not recipient_ids:
        return []
    emails = dict(
        session.execute(
            sa.select(StakeholderRecipient.id, StakeholderRecipient.email).where(
                StakeholderRecipient.id.in_(list(recipient_ids))
            )
        ).all()
    )
    return [(rid, emails[rid]) for rid in recipient_ids if rid in emails]


def _people(session: Session, incident: Incident) -> list[tuple[str, list[str]]]:
    rows = session.execute(
        sa.select(IncidentRoleAssignment.role, User.name, User.email)
        .join(User, User.id == IncidentRoleAssignment.user_id)
        .where(IncidentRoleAssignment.incident_id == incident.id)
        .order_by(IncidentRoleAssignment.id)
    ).all()
    by_role: dict[IncidentRole, list[str]] = {}
    for role, name, email in rows:
        by_role.setdefault(IncidentRole(role), []).append(name or email)
    roles = [(_(ROLE_LABELS[role]), by_role[role]) for role in ROLE_ORDER if role in by_role]
    if incident.assignee_id is not None:
        assignee = session.get(User, incident.assignee_id)
        if assignee is not None:
            roles.append((_("Assignee"), [assignee.name or assignee.email]))
    return roles


def affected_audiences(session: Session, incident: Incident) -> list[str]:
    """The audiences the incident concerns, by name: the public once it is public, then the
    audiences it is shown to and those its published updates were addressed to."""
    named = {audience.name for audience in incident.audiences}
    for update in incident.published_updates:
        named.update(audience.name for audience in update.audiences)
    return ([_("Public")] if incident.is_public else []) + sorted(named, key=str.casefold)


def next_public_update(
    session: Session, incident: Incident, policy: SlaPolicy | None, *, now: datetime
) -> str:
    """What the next public update is, in words: the time promised on the public page, or
    else the time the priority's update cadence asks for (said to be derived)."""
    if incident.next_update_at is not None and incident.is_public:
        return _("%(time)s, as promised on the public page", time=utc_text(incident.next_update_at))
    cadence = next(
        (
            clock
            for clock in clocks_for(session, incident, now=now)
            if clock.target == SlaTarget.UPDATE
        ),
        None,
    )
    if cadence is not None and policy is not None:
        return _(
            "by %(time)s (none promised publicly; derived from the %(priority)s update "
            "cadence of every %(minutes)s minutes)",
            time=utc_text(cadence.due_at),
            priority=policy.priority.value,
            minutes=policy.update_cadence_minutes,
        )
    if not incident.is_public:
        if policy is not None:
            return _(
                "none: customers have not been told of this incident; once they are, the "
                "%(priority)s cadence asks for an update every %(minutes)s minutes",
                priority=policy.priority.value,
                minutes=policy.update_cadence_minutes,
            )
        return _("none: customers have not been told of this incident")
    return _("none promised")


@dataclass(frozen=True)
class StakeholderSummary:
    """What a summary says, the same on every channel: the email's template context, and the
    subject line (also the chat messages' title)."""

    subject: str
    context: dict[str, Any]

    @property
    def message(self) -> StakeholderMessage:
        return self.context["message"]

    @property
    def incident(self) -> Incident:
        return self.context["incident"]


def compose_stakeholder_summary(
    session: Session,
    notification: Notification,
    *,
    site_name: str,
    url: Callable[[str], str],
    language: str | None = None,
) -> ComposedEmail:
    """The summary email in `language` (the page's default language: the recipients are
    lists, not subscribers with a language of their own)."""
    with translation.using_language(language) as code:
        summary = stakeholder_summary(session, notification, site_name=site_name, url=url)
        return render_email("stakeholder_summary", summary.subject, summary.context, code)


def stakeholder_summary(
    session: Session,
    notification: Notification,
    *,
    site_name: str,
    url: Callable[[str], str],
) -> StakeholderSummary:
    """The summary of a stakeholder message's notification, from the incident as it is now.
    NothingToSend when the message or its incident is gone."""
    from statuspage.notifications.compose import NothingToSend

    message = session.scalar(
        sa.select(StakeholderMessage).where(StakeholderMessage.notification_id == notification.id)
    )
    incident = session.get(Incident, notification.incident_id) if notification.incident_id else None
    if message is None or incident is None:
        raise NothingToSend(f"notification {notification.id}: the incident is gone")
    policy = (
        session.scalar(sa.select(SlaPolicy).where(SlaPolicy.priority == incident.priority))
        if incident.priority is not None
        else None
    )
    event = StakeholderEvent(message.event)
    event_label = _(event.label)
    priority = incident.priority.value if incident.priority is not None else _("No priority")
    impact = (
        _(
            "%(impact)s impact, %(urgency)s urgency",
            impact=_(vocabulary.LEVEL[incident.impact.value]).lower(),
            urgency=_(vocabulary.LEVEL[incident.urgency.value]).lower(),
        )
        if incident.impact is not None and incident.urgency is not None
        else _("not assessed yet")
    )
    components = sorted(
        (link.component.name, status_label(link.status))
        for link in incident.affected
        if link.component is not None
    )
    context: dict[str, Any] = {
        "site_name": site_name,
        "incident": incident,
        "message": message,
        "event_label": event_label,
        "what": message.detail or event_label,
        "lists": ", ".join(message.list_names or []),
        "priority": priority,
        "policy_name": policy.name if policy is not None else "",
        "impact": impact,
        "components": components,
        "audiences": affected_audiences(session, incident),
        "roles": _people(session, incident),
        "status": _(vocabulary.INCIDENT_STATUS[incident.status.value]).lower(),
        "public_status": (
            incident.public_status.label if incident.public_status is not None else ""
        ),
        "next_update": next_public_update(session, incident, policy, now=message.created_at),
        "at": utc_text(message.created_at),
        "link": url(f"/admin/incidents/{incident.id}"),
    }
    subject = _(
        "[%(priority)s incident #%(number)s] %(event)s: %(title)s",
        priority=priority,
        number=incident.id,
        event=event_label,
        title=incident.title,
    )
    return StakeholderSummary(subject, context)
