"""Public updates in the domain: publish, drafts, edits, "next update by" and its reminder.

Runs on SQLite and PostgreSQL. Reminder tests use a frozen `T0` and the file transport.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.components.models import Component, ComponentStatus, ComponentStatusChange
from statuspage.core.errors import DomainError, NotFound
from statuspage.core.models import AuditEntry, SiteState, TimelineEvent
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.incidents import updates
from statuspage.incidents.casework import assign_incident, set_incident_role
from statuspage.incidents.models import (
    Incident,
    IncidentRole,
    IncidentRoleAssignment,
    IncidentStatus,
    IncidentTemplate,
    IncidentUpdate,
    IncidentUpdateComponent,
    PublicStatus,
)
from statuspage.incidents.operations import NewIncident, open_incident, post_update
from statuspage.incidents.publishing import PublishUpdate, publish_update
from statuspage.incidents.updates import UpdateText
from statuspage.mail.mailer import Mailer

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

# Each component status change also writes a component event (for webhook, chat and SMS).
NOT_COMPONENT = Notification.kind != NotificationKind.COMPONENT_STATUS


def minutes(value: float) -> datetime:
    return T0 + timedelta(minutes=value)


def sent(mail_dir: Path) -> list[EmailMessage]:
    if not mail_dir.exists():
        return []
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for path in sorted(mail_dir.glob("*.eml"))
    ]


class BrokenTransport:
    def send(self, message: EmailMessage) -> None:
        raise ConnectionRefusedError("the mail server is down")


@pytest.fixture
def site(session: Session, make_component: Callable[..., Component]) -> SimpleNamespace:
    """An incident (not public yet) affecting API and Website; Billing is not affected."""
    api, web, billing = make_component("API"), make_component("Website"), make_component("Billing")
    incident = open_incident(
        session,
        NewIncident(
            title="Errors", impact_started_at=T0, detected_at=T0, component_ids=[api.id, web.id]
        ),
        actor_id=None,
        now=T0,
    )
    session.commit()
    return SimpleNamespace(api=api, web=web, billing=billing, incident=incident)


def publish_as_staff(
    session: Session,
    incident: Incident,
    text: UpdateText,
    *,
    next_update_at: datetime | None = None,
    actor_id: int | None,
    now: datetime,
) -> IncidentUpdate:
    """Publish `text` the way the admin form does: affected components only."""
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
        ),
        actor_id=actor_id,
        now=now,
    )


def public_version(session: Session) -> int:
    return session.scalar(sa.select(SiteState.public_version).where(SiteState.id == 1))


def count(session: Session, model: Any, *where: Any) -> int:
    column = next(iter(sa.inspect(model).primary_key))
    return session.scalar(sa.select(sa.func.count(column)).where(*where))


def history(session: Session, component: Component) -> list[ComponentStatusChange]:
    return list(
        session.scalars(
            sa.select(ComponentStatusChange)
            .where(ComponentStatusChange.component_id == component.id)
            .order_by(ComponentStatusChange.id)
        )
    )


# Publishing


def test_publishing_changes_the_chosen_components_and_queues_one_notification(
    session: Session, site: Any
) -> None:
    version = public_version(session)
    update = publish_as_staff(
        session,
        site.incident,
        UpdateText(
            status="investigating",
            body="We are looking into errors.",
            component_statuses={
                site.api.id: "major_outage",
                site.web.id: "operational",  # unchanged: not recorded as a change
            },
        ),
        next_update_at=minutes(30),
        actor_id=None,
        now=minutes(5),
    )
    session.commit()

    assert update.published_at == minutes(5)
    assert site.incident.is_public and site.incident.public_status == PublicStatus.INVESTIGATING
    assert site.incident.next_update_at == minutes(30)
    assert site.api.status == ComponentStatus.MAJOR_OUTAGE
    assert [(c.component_id, c.old_status, c.new_status) for c in update.component_changes] == [
        (site.api.id, ComponentStatus.OPERATIONAL, ComponentStatus.MAJOR_OUTAGE)
    ]
    assert [row.status for row in history(session, site.api)] == [
        ComponentStatus.OPERATIONAL,
        ComponentStatus.MAJOR_OUTAGE,
    ]
    assert len(history(session, site.web)) == 1  # creation only
    assert public_version(session) == version + 1
    [notification] = session.scalars(sa.select(Notification).where(NOT_COMPONENT)).all()
    assert notification.kind == NotificationKind.INCIDENT_UPDATE
    [component_event] = session.scalars(sa.select(Notification).where(~NOT_COMPONENT)).all()
    assert component_event.component_ids == [site.api.id]
    assert notification.incident_id == site.incident.id
    assert notification.incident_update_id == update.id
    assert notification.component_ids == sorted([site.api.id, site.web.id])
    assert notification.created_at == minutes(5)


def test_with_notify_off_no_notification_is_queued(session: Session, site: Any) -> None:
    publish_as_staff(
        session,
        site.incident,
        UpdateText(status="investigating", body="Quietly.", deliver_notifications=False),
        actor_id=None,
        now=minutes(5),
    )
    session.commit()
    assert count(session, IncidentUpdate) == 1
    assert count(session, Notification) == 0


REFUSALS = {
    "empty message": (lambda site: UpdateText(status="investigating", body="   "), "body"),
    "unknown status": (lambda site: UpdateText(status="fixed", body="Done."), "status"),
    "unknown component status": (
        lambda site: UpdateText(
            status="investigating", body="x", component_statuses={site.api.id: "broken"}
        ),
        "components",
    ),
    "component outside the incident": (
        lambda site: UpdateText(
            status="investigating", body="x", component_statuses={site.billing.id: "major_outage"}
        ),
        "components",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_input_writes_nothing(session: Session, site: Any, case: str) -> None:
    build, field = REFUSALS[case]
    text = build(site)
    session.commit()
    version = public_version(session)
    with pytest.raises(DomainError) as refused:
        publish_as_staff(session, site.incident, text, actor_id=None, now=minutes(5))
    assert refused.value.field == field
    session.rollback()
    with pytest.raises(DomainError):
        updates.save_draft(session, site.incident, text, actor_id=None, now=minutes(5))
    session.rollback()
    assert count(session, IncidentUpdate) == 0
    assert count(session, Notification) == 0
    assert count(session, TimelineEvent, TimelineEvent.kind != "logged") == 0
    assert public_version(session) == version
    assert site.billing.status == ComponentStatus.OPERATIONAL
    assert site.api.status == ComponentStatus.OPERATIONAL
    assert site.incident.is_public is False


@pytest.mark.parametrize("status", [IncidentStatus.CLOSED, IncidentStatus.CANCELLED])
def test_closed_and_cancelled_incidents_take_no_updates(
    session: Session, site: Any, status: IncidentStatus
) -> None:
    site.incident.status = status
    session.commit()
    text = UpdateText(status="resolved", body="All good.")
    for action in (
        lambda: publish_as_staff(session, site.incident, text, actor_id=None, now=T0),
        lambda: updates.save_draft(session, site.incident, text, actor_id=None, now=T0),
        # The API's path refuses too.
        lambda: post_update(
            session, site.incident, status="resolved", body="x", actor_id=None, now=T0
        ),
    ):
        with pytest.raises(DomainError, match=status.value):
            action()
        session.rollback()
    assert count(session, IncidentUpdate) == 0


def test_next_update_time_must_be_in_the_future_and_not_with_resolved(
    session: Session, site: Any
) -> None:
    for status, at in (("investigating", minutes(5)), ("resolved", minutes(60))):
        with pytest.raises(DomainError) as refused:
            publish_as_staff(
                session,
                site.incident,
                UpdateText(status=status, body="x"),
                next_update_at=at,
                actor_id=None,
                now=minutes(5),
            )
        assert refused.value.field == "next_update_at"
        session.rollback()
    assert count(session, IncidentUpdate) == 0


def test_the_api_path_still_adds_components_to_the_incident(session: Session, site: Any) -> None:
    post_update(
        session,
        site.incident,
        status="identified",
        body="Billing too.",
        component_statuses={site.billing.id: "partial_outage"},
        actor_id=None,
        now=minutes(5),
    )
    assert site.billing.id in {link.component_id for link in site.incident.affected}
    assert site.billing.status == ComponentStatus.PARTIAL_OUTAGE


# Drafts


def test_a_draft_is_not_public_until_published(session: Session, site: Any) -> None:
    session.commit()
    version = public_version(session)
    draft = updates.save_draft(
        session,
        site.incident,
        UpdateText(
            status="identified",
            body="Cause found.",
            component_statuses={site.api.id: "partial_outage", site.web.id: "operational"},
            deliver_notifications=True,
        ),
        actor_id=None,
        now=minutes(5),
    )
    session.commit()
    assert draft.published_at is None
    assert site.incident.is_public is False and site.incident.public_updates == []
    assert site.api.status == ComponentStatus.OPERATIONAL
    assert [(c.component_id, c.new_status) for c in draft.component_changes] == [
        (site.api.id, ComponentStatus.PARTIAL_OUTAGE)
    ]
    assert count(session, Notification) == 0
    assert public_version(session) == version
    assert (
        count(session, ComponentStatusChange, ComponentStatusChange.incident_id.is_not(None)) == 0
    )

    # Meanwhile someone else puts API in major outage: the draft's old status is refreshed.
    post_update(
        session,
        site.incident,
        status="investigating",
        body="Down.",
        component_statuses={site.api.id: "major_outage"},
        deliver_notifications=False,
        actor_id=None,
        now=minutes(6),
    )
    published = updates.publish_draft(
        session, site.incident, draft.id, actor_id=None, now=minutes(9)
    )
    session.commit()
    assert published.id == draft.id and published.published_at == minutes(9)
    assert published.created_at == minutes(5)
    assert [(c.old_status, c.new_status) for c in published.component_changes] == [
        (ComponentStatus.MAJOR_OUTAGE, ComponentStatus.PARTIAL_OUTAGE)
    ]
    assert site.api.status == ComponentStatus.PARTIAL_OUTAGE
    assert site.incident.public_status == PublicStatus.IDENTIFIED
    [notification] = session.scalars(sa.select(Notification).where(NOT_COMPONENT)).all()
    assert notification.incident_update_id == draft.id
    assert public_version(session) == version + 2
    kinds = session.scalars(
        sa.select(TimelineEvent.summary)
        .where(TimelineEvent.incident_id == site.incident.id)
        .order_by(TimelineEvent.id)
    ).all()
    assert "Draft public update saved (identified)" in kinds
    assert "Draft published (identified)" in kinds


def test_a_draft_is_checked_again_when_published(session: Session, site: Any) -> None:
    draft = updates.save_draft(
        session,
        site.incident,
        UpdateText(status="identified", body="x", component_statuses={site.web.id: "major_outage"}),
        actor_id=None,
        now=minutes(5),
    )
    # The website is taken out of the incident after the draft was written.
    site.incident.affected = [
        link for link in site.incident.affected if link.component_id != site.web.id
    ]
    session.commit()
    with pytest.raises(DomainError) as refused:
        updates.publish_draft(session, site.incident, draft.id, actor_id=None, now=minutes(9))
    assert refused.value.field == "components"
    session.rollback()
    assert session.get(IncidentUpdate, draft.id).published_at is None
    assert site.web.status == ComponentStatus.OPERATIONAL

    site.incident.status = IncidentStatus.CLOSED
    session.commit()
    with pytest.raises(DomainError, match="closed"):
        updates.publish_draft(
            session,
            site.incident,
            draft.id,
            text=UpdateText(status="resolved", body="y"),
            actor_id=None,
            now=minutes(9),
        )
    session.rollback()
    assert count(session, Notification) == 0


def test_drafts_change_and_discard_with_an_audit_trail(session: Session, site: Any) -> None:
    draft = updates.save_draft(
        session, site.incident, UpdateText(status="identified", body="One"), actor_id=None, now=T0
    )
    updates.update_draft(
        session,
        site.incident,
        draft.id,
        UpdateText(
            status="monitoring",
            body="Two",
            component_statuses={site.api.id: "degraded_performance"},
            deliver_notifications=False,
        ),
        actor_id=None,
        now=minutes(1),
    )
    assert (draft.status, draft.body, draft.deliver_notifications) == ("monitoring", "Two", False)
    assert [c.new_status for c in draft.component_changes] == ["degraded_performance"]
    updates.update_draft(
        session,
        site.incident,
        draft.id,
        UpdateText(status="monitoring", body="Two", deliver_notifications=False),
        actor_id=None,
        now=minutes(2),
    )
    assert draft.component_changes == []
    draft_id = draft.id
    updates.discard_draft(session, site.incident, draft_id, actor_id=None, now=minutes(3))
    session.commit()
    assert session.get(IncidentUpdate, draft_id) is None
    assert count(session, IncidentUpdateComponent) == 0
    actions = session.scalars(
        sa.select(AuditEntry.action)
        .where(AuditEntry.entity_type == "incident_update", AuditEntry.entity_id == draft_id)
        .order_by(AuditEntry.id)
    ).all()
    assert actions == ["draft", "edit_draft", "edit_draft", "discard"]
    discarded = session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.action == "discard", AuditEntry.entity_id == draft_id
        )
    )
    assert discarded.changes["body"] == "Two"


def test_published_updates_are_not_drafts(session: Session, site: Any) -> None:
    update = publish_as_staff(
        session, site.incident, UpdateText(status="investigating", body="x"), actor_id=None, now=T0
    )
    for action in (updates.discard_draft, updates.publish_draft):
        with pytest.raises(DomainError, match="already published"):
            action(session, site.incident, update.id, actor_id=None, now=T0)
    other = open_incident(session, NewIncident(title="Other"), actor_id=None, now=T0)
    with pytest.raises(NotFound):
        updates.discard_draft(session, other, update.id, actor_id=None, now=T0)


# Editing


def test_editing_keeps_the_first_text_and_audits_each_edit_without_notifying(
    session: Session, site: Any
) -> None:
    update = publish_as_staff(
        session,
        site.incident,
        UpdateText(status="investigating", body="Frist text", deliver_notifications=False),
        actor_id=None,
        now=T0,
    )
    session.commit()
    version = public_version(session)
    updates.edit_update(
        session, site.incident, update.id, "First text", actor_id=None, now=minutes(2)
    )
    updates.edit_update(
        session, site.incident, update.id, "First text.", actor_id=None, now=minutes(4)
    )
    session.commit()
    assert update.body == "First text."
    assert update.original_body == "Frist text"
    assert update.edited_at == minutes(4)
    assert update.published_at == T0
    assert public_version(session) == version + 2
    assert count(session, Notification) == 0
    edits = session.scalars(
        sa.select(AuditEntry.changes)
        .where(AuditEntry.entity_id == update.id, AuditEntry.action == "edit")
        .order_by(AuditEntry.id)
    ).all()
    assert [e["body"] for e in edits] == [
        ["Frist text", "First text"],
        ["First text", "First text."],
    ]

    with pytest.raises(DomainError) as empty:
        updates.edit_update(session, site.incident, update.id, "  ", actor_id=None, now=minutes(5))
    assert empty.value.field == "body"
    draft = updates.save_draft(
        session, site.incident, UpdateText(status="identified", body="d"), actor_id=None, now=T0
    )
    with pytest.raises(DomainError, match="draft"):
        updates.edit_update(session, site.incident, draft.id, "new", actor_id=None, now=minutes(5))


# Templates


def test_message_templates_come_from_the_incident_template(session: Session, site: Any) -> None:
    assert updates.message_template(session, site.incident, "identified") == ""
    template = IncidentTemplate(
        name="API errors",
        message_templates={
            "investigating": "We are looking into API errors.",
            "identified": "",
            "bogus": "x",
        },
    )
    session.add(template)
    session.flush()
    site.incident.template_id = template.id
    assert updates.message_template(session, site.incident, "investigating") == (
        "We are looking into API errors."
    )
    assert updates.message_template(session, site.incident, "identified") == ""
    assert list(updates.message_templates(session, site.incident)) == [PublicStatus.INVESTIGATING]


# "Next update by" and its reminder


def public_incident(session: Session, site: Any, *, next_update_at: datetime | None) -> Incident:
    publish_as_staff(
        session,
        site.incident,
        UpdateText(status="investigating", body="Looking."),
        next_update_at=next_update_at,
        actor_id=None,
        now=T0,
    )
    session.commit()
    return site.incident


def test_set_next_update_refuses_past_times_and_non_public_incidents(
    session: Session, site: Any
) -> None:
    with pytest.raises(DomainError, match="not public"):
        updates.set_next_update(session, site.incident, minutes(30), actor_id=None, now=T0)
    session.rollback()
    incident = public_incident(session, site, next_update_at=None)
    with pytest.raises(DomainError) as past:
        updates.set_next_update(session, incident, T0, actor_id=None, now=T0)
    assert past.value.field == "next_update_at"
    session.rollback()
    version = public_version(session)
    updates.set_next_update(session, incident, minutes(30), actor_id=None, now=T0)
    session.commit()
    assert incident.next_update_at == minutes(30)
    assert public_version(session) == version + 1
    updates.set_next_update(session, incident, None, actor_id=None, now=T0)
    session.commit()
    assert incident.next_update_at is None
    audit = session.scalars(
        sa.select(AuditEntry.changes)
        .where(AuditEntry.action == "next_update")
        .order_by(AuditEntry.id)
    ).all()
    assert [a["next_update_at"] for a in audit] == [
        [None, minutes(30).isoformat()],
        [minutes(30).isoformat(), None],
    ]


def test_a_passed_next_update_reminds_the_comms_leads_once(
    session: Session, site: Any, make_user: Callable[..., Any], mailer: Mailer, mail_dir: Path
) -> None:
    lead = make_user("communicator", email="lead@example.com")
    other_lead = make_user("manager", email="lead2@example.com")
    assignee = make_user("responder", email="assignee@example.com")
    incident = public_incident(session, site, next_update_at=minutes(30))
    incident = session.get(Incident, incident.id)
    set_incident_role(session, incident, lead.id, IncidentRole.COMMS_LEAD, actor_id=None, now=T0)
    # The staff form keeps one comms lead; the table allows more, and all of them are told.
    session.add(
        IncidentRoleAssignment(
            incident_id=incident.id, user_id=other_lead.id, role=IncidentRole.COMMS_LEAD
        )
    )
    assign_incident(session, incident, assignee.id, actor_id=None, now=T0)
    session.commit()

    assert updates.check_next_updates(session, now=minutes(29), mailer=mailer) == 0
    assert sent(mail_dir) == []
    version = public_version(session)
    assert updates.check_next_updates(session, now=minutes(30), mailer=mailer) == 1
    session.commit()
    assert public_version(session) == version + 1  # the public page drops the passed time
    assert updates.check_next_updates(session, now=minutes(31), mailer=mailer) == 0
    assert updates.check_next_updates(session, now=minutes(90), mailer=mailer) == 0
    [message] = sent(mail_dir)
    assert {a.addr_spec for a in message["To"].addresses} == {
        "lead@example.com",
        "lead2@example.com",
    }
    assert message["Subject"] == f"[Next update due] #{incident.id} Errors"
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",)).get_content()
    assert "2026-03-02 08:30 UTC" in text
    assert f"http://localhost/admin/incidents/{incident.id}/updates/new" in text
    session.expire_all()
    incident = session.get(Incident, incident.id)
    assert incident.next_update_reminded_at == minutes(30)
    events = session.scalars(
        sa.select(TimelineEvent.summary).where(TimelineEvent.kind == "next_update_due")
    ).all()
    assert events == [
        "Next public update was due 2026-03-02 08:30 UTC; reminded the comms leads (2)"
    ]

    # A new promise: reminded again once it passes.
    updates.set_next_update(session, incident, minutes(120), actor_id=None, now=minutes(60))
    session.commit()
    assert incident.next_update_reminded_at is None
    assert updates.check_next_updates(session, now=minutes(119), mailer=mailer) == 0
    assert updates.check_next_updates(session, now=minutes(121), mailer=mailer) == 1
    session.commit()
    assert len(sent(mail_dir)) == 2


def test_the_reminder_comes_from_its_template_and_escapes_the_title(
    session: Session, site: Any, make_user: Callable[..., Any], mailer: Mailer, mail_dir: Path
) -> None:
    assignee = make_user("responder", email="assignee@example.com")
    site.incident.title = "<script>alert('x')</script> & co"
    incident = public_incident(session, site, next_update_at=minutes(30))
    assign_incident(session, incident, assignee.id, actor_id=None, now=T0)
    session.commit()
    assert updates.check_next_updates(session, now=minutes(45), mailer=mailer) == 1

    [message] = sent(mail_dir)
    html = message.get_body(("html",)).get_content()
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html  # the shared layout
    assert f"<title>Next update due: incident #{incident.id}</title>" in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in html
    assert "<script>" not in html
    assert "<strong>2026-03-02 08:30 UTC</strong>" in html
    link = f"http://localhost/admin/incidents/{incident.id}/updates/new"
    assert f'<a href="{link}">Write the update</a>' in html
    text = message.get_body(("plain",)).get_content()
    assert f"Incident #{incident.id} <script>alert('x')</script> & co promised" in text


def test_the_assignee_is_reminded_when_there_is_no_comms_lead(
    session: Session, site: Any, make_user: Callable[..., Any], mailer: Mailer, mail_dir: Path
) -> None:
    assignee = make_user("responder", email="assignee@example.com")
    incident = public_incident(session, site, next_update_at=minutes(30))
    assign_incident(session, incident, assignee.id, actor_id=None, now=T0)
    session.commit()
    assert updates.check_next_updates(session, now=minutes(45), mailer=mailer) == 1
    [message] = sent(mail_dir)
    assert [a.addr_spec for a in message["To"].addresses] == ["assignee@example.com"]
    assert "as the incident’s assignee" in message.get_body(("plain",)).get_content()


def test_nobody_to_remind_still_records_the_missed_time_once(
    session: Session, site: Any, mailer: Mailer, mail_dir: Path
) -> None:
    public_incident(session, site, next_update_at=minutes(30))
    assert updates.check_next_updates(session, now=minutes(45), mailer=mailer) == 1
    session.commit()
    assert updates.check_next_updates(session, now=minutes(46), mailer=mailer) == 0
    assert sent(mail_dir) == []
    [summary] = session.scalars(
        sa.select(TimelineEvent.summary).where(TimelineEvent.kind == "next_update_due")
    ).all()
    assert "nobody to remind" in summary


def test_publishing_fulfils_the_promise_and_resolved_incidents_are_not_reminded(
    session: Session, site: Any, mailer: Mailer
) -> None:
    incident = public_incident(session, site, next_update_at=minutes(30))
    publish_as_staff(
        session,
        incident,
        UpdateText(status="identified", body="Found it."),
        actor_id=None,
        now=minutes(20),
    )
    session.commit()
    assert incident.next_update_at is None
    assert updates.check_next_updates(session, now=minutes(45), mailer=mailer) == 0

    updates.set_next_update(session, incident, minutes(60), actor_id=None, now=minutes(21))
    incident.public_resolved_at = minutes(50)  # resolved publicly (as by a resolved update)
    session.commit()
    assert updates.check_next_updates(session, now=minutes(61), mailer=mailer) == 0


def test_a_failed_reminder_email_is_retried_by_the_next_run(
    session: Session, site: Any, make_user: Callable[..., Any], mailer: Mailer, mail_dir: Path
) -> None:
    assignee = make_user("responder", email="assignee@example.com")
    incident = public_incident(session, site, next_update_at=minutes(30))
    assign_incident(session, incident, assignee.id, actor_id=None, now=T0)
    session.commit()
    broken = Mailer(BrokenTransport(), sender="status@example.com", site_url="http://localhost")
    assert updates.check_next_updates(session, now=minutes(31), mailer=broken) == 0
    session.commit()
    assert count(session, TimelineEvent, TimelineEvent.kind == "next_update_due") == 0
    session.expire_all()
    assert session.get(Incident, incident.id).next_update_reminded_at is None
    assert updates.check_next_updates(session, now=minutes(32), mailer=mailer) == 1
    session.commit()
    assert len(sent(mail_dir)) == 1
