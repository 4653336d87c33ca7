"""Public updates written in the staff area: drafts, edits, "next update by".

Publishing itself is `incidents.publishing.publish_update`, the one entry point the admin form,
drafts and the write API share; this module keeps what the staff area needs around it:

- **Only the incident's affected components.** The form offers one status select per component
  in `incident.affected`; a status for any other component is refused (staff add components in
  the incident's details first). The write API may add components: it says so in its command
  (`PublishUpdate.add_unaffected_components`).
- **Unchanged components are left out.** The form shows every affected component with its
  current status preselected; only those whose chosen status differs are recorded as changes of
  the update, so the update's "affected components" say what it changed.
- **Drafts** are `IncidentUpdate` rows without `published_at`. Their planned component statuses
  are kept as `IncidentUpdateComponent` rows (old status as it was when saved); publishing
  recomputes the old statuses and drops the ones that no longer change anything. A draft does
  not keep a "next update by" time (there is no column for it): that time is given when
  publishing.
- **"Next update by"** (`Incident.next_update_at`) is a public promise. Every published update
  replaces it with the time given with that update, or removes it when none is given: the
  promised update has come. `set_next_update` sets or clears it between updates. When it
  passes without a new update, `check_next_updates` reminds staff once (timeline event, audit
  row, email to the comms leads, else the assignee) and stamps `next_update_reminded_at`;
  setting a new time or publishing clears that stamp.
- **Edits** of a published update change the text only; `original_body` keeps the first
  published text, `edited_at` the time of the latest edit, and each edit's before and after is
  in the audit log. Edits notify nobody.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from statuspage.auth.models import User
from statuspage.components.models import ComponentStatus
from statuspage.core.errors import DomainError
from statuspage.core.records import bump_public_version, record_audit, record_event, touch
from statuspage.core.translation import N_
from statuspage.incidents import versioning
from statuspage.incidents.models import (
    Incident,
    IncidentRole,
    IncidentRoleAssignment,
    IncidentStatus,
    IncidentTemplate,
    IncidentUpdate,
    PublicStatus,
)
from statuspage.incidents.publishing import (
    CheckedText,
    PublishUpdate,
    check_audiences,
    check_body,
    check_open_for_updates,
    check_text,
    get_draft,
    get_update,
    plan_component_changes,
    publish_update,
)
from statuspage.mail.message import InvalidAddress, format_address
from statuspage.mail.templates import render_email

if TYPE_CHECKING:
    from statuspage.mail.mailer import Mailer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpdateText:
    """What the staff form says: public status, message, components' new statuses, notify."""

    status: PublicStatus | str
    body: str
    component_statuses: Mapping[int, ComponentStatus | str] = field(default_factory=dict)
    deliver_notifications: bool = True
    # Empty: a public update; otherwise the audiences it is addressed to (a draft keeps them).
    audience_ids: tuple[int, ...] = ()


# --- message templates -----------------------------------------------------------------------


def message_templates(session: Session, incident: Incident) -> dict[PublicStatus, str]:
    """The incident template's public message per status (only statuses that have one)."""
    if incident.template_id is None:
        return {}
    template = session.get(IncidentTemplate, incident.template_id)
    if template is None:
        return {}
    found: dict[PublicStatus, str] = {}
    for key, text in (template.message_templates or {}).items():
        try:
            status = PublicStatus(key)
        except ValueError:
            continue
        if isinstance(text, str) and text.strip():
            found[status] = text
    return found


def message_template(session: Session, incident: Incident, status: PublicStatus | str) -> str:
    """The template text for `status`, or "" when the incident's template has none."""
    return message_templates(session, incident).get(PublicStatus(status), "")


def suggested_status(incident: Incident) -> PublicStatus:
    """The status a new update starts with: the incident's current public status."""
    return PublicStatus(incident.public_status or PublicStatus.INVESTIGATING)


# --- drafts ------------------------------------------------------------------------------------


def _check(session: Session, incident: Incident, text: UpdateText) -> CheckedText:
    """The same checks as publishing (affected components only), before anything is written."""
    return check_text(
        session,
        incident,
        status=text.status,
        body=text.body,
        component_statuses=text.component_statuses,
    )


def save_draft(
    session: Session,
    incident: Incident,
    text: UpdateText,
    *,
    actor_id: int | None,
    now: datetime,
) -> IncidentUpdate:
    """Keep an update as a draft; nothing public changes."""
    checked = _check(session, incident, text)
    update = IncidentUpdate(
        incident_id=incident.id,
        status=checked.status,
        body=checked.body,
        deliver_notifications=text.deliver_notifications,
        author_id=actor_id,
        created_at=now,
    )
    session.add(update)
    plan_component_changes(update, checked.changes, checked.components)
    update.audiences = check_audiences(session, text.audience_ids, checked)
    session.flush()
    record_event(
        session,
        incident.id,
        "update_draft",
        f"Draft public update saved ({checked.status.value})",
        actor_id=actor_id,
        now=now,
        data={"update_id": update.id},
    )
    record_audit(
        session,
        "incident_update",
        update.id,
        "draft",
        dict(_draft_fields(incident, update), version=update.version or 1),
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    logger.info("Incident %s: draft update %s saved by user %s", incident.id, update.id, actor_id)
    return update


def update_draft(
    session: Session,
    incident: Incident,
    update_id: int,
    text: UpdateText,
    *,
    actor_id: int | None,
    now: datetime,
    expected_version: int | None = None,
) -> IncidentUpdate:
    """Change a draft's status, message, planned component statuses or notify choice.

    `expected_version` is the draft's version the editor loaded; a newer one is a
    `ConflictError` (someone else saved the draft meanwhile)."""
    update = get_draft(session, incident, update_id)
    versioning.check(session, "incident_update", update, expected_version, what="draft")
    checked = _check(session, incident, text)
    before = _draft_fields(incident, update)
    _apply_draft(update, checked, text)
    update.audiences = check_audiences(session, text.audience_ids, checked)
    after = _draft_fields(incident, update)
    changes = {
        key: [before.get(key), after.get(key)]
        for key in [*after, *(k for k in before if k not in after)]
        if before.get(key) != after.get(key)
    }
    if not changes:
        return update
    changes["version"] = versioning.bump(update)
    record_event(
        session,
        incident.id,
        "update_draft",
        f"Draft public update changed ({checked.status.value})",
        actor_id=actor_id,
        now=now,
        data={"update_id": update.id},
    )
    record_audit(
        session, "incident_update", update.id, "edit_draft", changes, actor_id=actor_id, now=now
    )
    session.flush()
    return update


def check_update_version(
    session: Session, incident: Incident, update_id: int, expected_version: int | None
) -> None:
    """Refuse (`ConflictError`) to act on an update someone saved after `expected_version`
    was loaded: publishing a draft from its edit page publishes what that page showed."""
    update = get_update(session, incident, update_id)
    versioning.check(session, "incident_update", update, expected_version, what="draft")


def publish_draft(
    session: Session,
    incident: Incident,
    update_id: int,
    *,
    text: UpdateText | None = None,
    next_update_at: datetime | None = None,
    actor_id: int | None,
    now: datetime,
) -> IncidentUpdate:
    """Publish a draft, as saved or (from its edit page) with `text` applied first.

    Through the one publishing entry point, so it is checked again at publish time: the
    incident may have been closed, or a component taken out of it, since the draft was saved.
    """
    update = get_draft(session, incident, update_id)
    if text is None:
        text = UpdateText(
            status=update.status,
            body=update.body,
            component_statuses={c.component_id: c.new_status for c in update.component_changes},
            deliver_notifications=update.deliver_notifications,
            audience_ids=tuple(audience.id for audience in update.audiences),
        )
    return publish_update(
        session,
        PublishUpdate(
            incident_id=incident.id,
            status=text.status,
            body=text.body,
            component_statuses=text.component_statuses,
            deliver_notifications=text.deliver_notifications,
            next_update_at=next_update_at,
            add_unaffected_components=False,
            record_unchanged_components=False,
            draft_id=update.id,
            audience_ids=text.audience_ids,
        ),
        actor_id=actor_id,
        now=now,
    )


def _apply_draft(update: IncidentUpdate, checked: CheckedText, text: UpdateText) -> None:
    update.status = checked.status
    update.body = checked.body
    update.deliver_notifications = text.deliver_notifications
    plan_component_changes(update, checked.changes, checked.components)


def _draft_fields(incident: Incident, update: IncidentUpdate) -> dict[str, object]:
    return {
        "incident_id": incident.id,
        "status": PublicStatus(update.status).value,
        "body": update.body,
        "components": {
            str(change.component_id): ComponentStatus(change.new_status).value
            for change in sorted(update.component_changes, key=lambda c: c.component_id)
        },
        "deliver_notifications": update.deliver_notifications,
    } | ({"audiences": [a.id for a in update.audiences]} if update.audiences else {})


def discard_draft(
    session: Session,
    incident: Incident,
    update_id: int,
    *,
    actor_id: int | None,
    now: datetime,
) -> None:
    """Delete a draft; the audit log keeps what it said."""
    update = get_draft(session, incident, update_id)
    fields = _draft_fields(incident, update)
    record_event(
        session,
        incident.id,
        "update_draft",
        f"Draft public update discarded ({PublicStatus(update.status).value})",
        actor_id=actor_id,
        now=now,
        data={"update_id": update.id},
    )
    record_audit(
        session, "incident_update", update.id, "discard", fields, actor_id=actor_id, now=now
    )
    session.delete(update)
    session.flush()
    session.expire(incident, ["updates"])


# --- editing a published update ------------------------------------------------------------------


def edit_update(
    session: Session,
    incident: Incident,
    update_id: int,
    body: str,
    *,
    actor_id: int | None,
    now: datetime,
    expected_version: int | None = None,
) -> IncidentUpdate:
    """Correct a published update's message. The first published text is kept, and every
    edit's audit row holds the text before and after it (the public edit history,
    `queries.update_histories`); no one is notified.

    `expected_version` is the update's version the editor loaded; a newer one is a
    `ConflictError`, so a second editor never silently overwrites the first."""
    update = get_update(session, incident, update_id)
    if update.published_at is None:
        raise DomainError(N_("That update is a draft; edit it as a draft."))
    versioning.check(session, "incident_update", update, expected_version, what="update")
    body = check_body(body)
    before = update.body
    if body == before:
        return update
    if update.original_body is None:
        update.original_body = before
    update.body = body
    update.edited_at = now
    touch(incident, now)
    version = versioning.bump(update)
    record_event(
        session,
        incident.id,
        "public_update_edited",
        f"Published update edited ({PublicStatus(update.status).value}, "
        f"published {_utc(update.published_at)})",
        actor_id=actor_id,
        now=now,
        data={"update_id": update.id},
    )
    record_audit(
        session,
        "incident_update",
        update.id,
        "edit",
        # The update's version; the whole text before and after (read back as the history).
        {"incident_id": incident.id, "body": [before, body], "version": version},
        actor_id=actor_id,
        now=now,
    )
    bump_public_version(session, now)
    session.flush()
    logger.info("Incident %s: update %s edited by user %s", incident.id, update.id, actor_id)
    return update


# --- "next update by" ----------------------------------------------------------------------------


def set_next_update(
    session: Session,
    incident: Incident,
    at: datetime | None,
    *,
    actor_id: int | None,
    now: datetime,
) -> Incident:
    """Promise customers the next update by `at`, or withdraw the promise (None)."""
    if at is not None:
        check_open_for_updates(incident)
        if not incident.is_public:
            raise DomainError(
                N_("The incident is not public yet: give the time with its first update."),
                field="next_update_at",
            )
        if incident.public_resolved_at is not None:
            raise DomainError(
                N_("The incident is resolved publicly; no next update is expected."),
                field="next_update_at",
            )
        if at <= now:
            raise DomainError(
                N_("Choose a next-update time in the future."), field="next_update_at"
            )
    before = incident.next_update_at
    if before == at and incident.next_update_reminded_at is None:
        return incident
    incident.next_update_at = at
    incident.next_update_reminded_at = None
    version = touch(incident, now)
    record_event(
        session,
        incident.id,
        "next_update",
        f"Next public update promised by {_utc(at)}" if at else "Next-update time removed",
        actor_id=actor_id,
        now=now,
    )
    record_audit(
        session,
        "incident",
        incident.id,
        "next_update",
        {"next_update_at": [before, at], "version": version},
        actor_id=actor_id,
        now=now,
    )
    bump_public_version(session, now)
    session.flush()
    return incident


def check_next_updates(session: Session, *, now: datetime, mailer: Mailer) -> int:
    """Remind staff of every passed "next update by" time, once per time; returns how many.

    For the worker (every minute); flushes, never commits. Each reminder is claimed with a
    compare-and-set UPDATE first, so two overlapping runs remind once. The email goes out after
    the claim; if it fails, the claim is withdrawn and the next run tries again.
    """
    due = session.scalars(
        sa.select(Incident)
        .where(
            Incident.next_update_at.is_not(None),
            Incident.next_update_at <= now,
            Incident.next_update_reminded_at.is_(None),
            Incident.status.not_in((IncidentStatus.CLOSED, IncidentStatus.CANCELLED)),
            Incident.public_resolved_at.is_(None),
        )
        .order_by(Incident.next_update_at, Incident.id)
    ).all()
    reminded = 0
    for incident in due:
        promised = incident.next_update_at
        assert promised is not None
        claimed = session.execute(
            sa.update(Incident)
            .where(
                Incident.id == incident.id,
                Incident.next_update_at == promised,
                Incident.next_update_reminded_at.is_(None),
            )
            .values(next_update_reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            continue  # another run reminded, or someone set a new time meanwhile
        recipients, who = _reminder_recipients(session, incident)
        if recipients:
            try:
                mailer.send(_reminder_message(incident, promised, recipients, who, mailer, now))
            except Exception:
                logger.exception(
                    "Incident %s: the next-update reminder email failed; will retry", incident.id
                )
                session.execute(
                    sa.update(Incident)
                    .where(Incident.id == incident.id)
                    .values(next_update_reminded_at=None)
                    .execution_options(synchronize_session=False)
                )
                continue
        # The row has it already; tell the session without making the incident dirty (the
        # version is not bumped: a job's stamp must not make open forms fail as conflicts).
        set_committed_value(incident, "next_update_reminded_at", now)
        # The public page stops showing the passed time: cached copies must be renewed.
        bump_public_version(session, now)
        summary = f"Next public update was due {_utc(promised)}; " + (
            f"reminded the {who} ({len(recipients)})"
            if recipients
            else "nobody to remind: no comms lead or assignee"
        )
        record_event(
            session,
            incident.id,
            "next_update_due",
            summary,
            actor_id=None,
            now=now,
            data={"next_update_at": promised.isoformat(), "reminded": len(recipients)},
        )
        record_audit(
            session,
            "incident",
            incident.id,
            "next_update_reminder",
            {"next_update_at": promised, "reminded_count": len(recipients)},
            actor_id=None,
            now=now,
        )
        logger.info(
            "Incident %s: next update was due %s; reminded %d person(s)",
            incident.id,
            _utc(promised),
            len(recipients),
        )
        reminded += 1
    session.flush()
    return reminded


def _reminder_recipients(session: Session, incident: Incident) -> tuple[list[str], str]:
    """The comms leads' addresses, or else the assignee's; and who they are, in words."""
    leads = session.scalars(
        sa.select(User)
        .join(IncidentRoleAssignment, IncidentRoleAssignment.user_id == User.id)
        .where(
            IncidentRoleAssignment.incident_id == incident.id,
            IncidentRoleAssignment.role == IncidentRole.COMMS_LEAD,
            User.active.is_(True),
        )
        .order_by(User.id)
    ).all()
    addresses = _addresses(leads)
    if addresses:
        return addresses, "comms lead" + ("s" if len(addresses) > 1 else "")
    assignee = session.get(User, incident.assignee_id) if incident.assignee_id else None
    if assignee is not None and assignee.active:
        return _addresses([assignee]), "assignee"
    return [], ""


def _addresses(users: list[User]) -> list[str]:
    found: list[str] = []
    for user in users:
        try:
            address = format_address(user.email)
        except InvalidAddress:
            logger.warning("User %s has no usable email address; not reminded", user.id)
            continue
        if address not in found:
            found.append(address)
    return found


def _utc(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _reminder_message(
    incident: Incident,
    promised: datetime,
    recipients: list[str],
    who: str,
    mailer: Mailer,
    now: datetime,
) -> EmailMessage:
    """The reminder to the comms leads or assignee, from `email/next_update_reminder.*`."""
    email = render_email(
        "next_update_reminder",
        f"[Next update due] #{incident.id} {incident.title}",
        {
            "site_name": mailer.site_name,
            "incident": incident,
            "promised": _utc(promised),
            "who": who,
            "link": mailer.url(f"/admin/incidents/{incident.id}/updates/new"),
        },
    )
    return mailer.message(email, to=recipients, now=now)
