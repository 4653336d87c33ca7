"""Staff pages for stakeholder lists, the stakeholder update sent by hand, the closure
checklist's stakeholder item and the timeline entries."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from statuspage.core.models import TimelineEvent
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.incidents.lifecycle import TransitionDetails, transition_incident
from statuspage.incidents.models import IncidentStatus, IncidentUpdate, Level
from statuspage.incidents.operations import NewIncident, categorize_incident, open_incident
from statuspage.stakeholders.lists import ListFields, update_list
from statuspage.stakeholders.models import (
    StakeholderList,
    StakeholderMessage,
    StakeholderTemplate,
)
from tests.conftest import csrf_token_from, login_with_csrf


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


def lists_by_name(session) -> dict[str, StakeholderList]:
    session.expire_all()
    return {s.name: s for s in session.scalars(sa.select(StakeholderList))}


def messages(session, incident_id):
    session.expire_all()
    return list(
        session.scalars(
            sa.select(StakeholderMessage)
            .where(StakeholderMessage.incident_id == incident_id)
            .order_by(StakeholderMessage.id)
        )
    )


def give_members(session, now, **emails_by_list):
    for name, emails in emails_by_list.items():
        found = lists_by_name(session)[name]
        update_list(
            session,
            found.id,
            ListFields(
                name=found.name,
                priorities=found.priorities,
                events=found.events,
                emails=emails,
            ),
            actor_id=None,
            now=now,
        )
    session.commit()


def declared(session, now, impact=Level.HIGH, urgency=Level.HIGH, title="Checkout down"):
    incident = open_incident(session, NewIncident(title=title), actor_id=None, now=now)
    categorize_incident(
        session,
        incident,
        category_id=None,
        subcategory_id=None,
        impact=impact,
        urgency=urgency,
        actor_id=None,
        now=now,
    )
    session.commit()
    return incident


@pytest.mark.parametrize("role", ["viewer", "responder", "communicator"])
def test_list_pages_need_the_configure_permission(client, login, make_user, session, role):
    login(make_user(role))
    leadership = lists_by_name(session)["Leadership"]
    assert client.get("/admin/stakeholders").status_code == 403
    assert client.get(f"/admin/stakeholders/{leadership.id}").status_code == 403
    assert client.post("/admin/stakeholders/new", data={"name": "X"}).status_code == 403
    assert client.post(f"/admin/stakeholders/{leadership.id}/delete").status_code == 403
    assert set(lists_by_name(session)) == {"Leadership", "Support"}


def test_the_defaults_are_listed_with_their_rules(client, login, make_user):
    login(make_user("manager"))
    page = client.get("/admin/stakeholders")
    assert page.status_code == 200
    body = text(page)
    assert "Leadership" in body and "Support" in body
    assert "P1, P2" in body  # Support's priorities
    assert "Nobody yet" in body  # the defaults have no members: said, not hidden
    assert "Stakeholder lists" in text(client.get("/admin/"))  # in the navigation


def test_create_edit_rules_and_members_then_delete(client, login, make_user, session, now):
    boss = make_user("manager", email="boss@example.com", name="Bea Boss")
    login(boss)
    refused = client.post(
        "/admin/stakeholders/new",
        data={"name": "Account managers", "priorities": ["P2"], "emails": "not-an-address"},
    )
    assert refused.status_code == 400
    assert "is not an email address" in text(refused)
    assert "Account managers" not in lists_by_name(session)

    created = client.post(
        "/admin/stakeholders/new",
        data={
            "name": "Account managers",
            "description": "Tell the big customers",
            "priorities": ["P1"],
            "events": ["declared"],
            "user_ids": [boss.id],
            "emails": "AM1@example.com, am2@example.com",
        },
    )
    assert created.status_code == 302
    accounts = lists_by_name(session)["Account managers"]
    assert accounts.priorities == ["P1"] and accounts.events == ["declared"]
    assert sorted(m.email or f"user{m.user_id}" for m in accounts.members) == sorted(
        ["am1@example.com", "am2@example.com", f"user{boss.id}"]
    )

    # A P2 does not tell it yet ...
    first = declared(session, now, impact=Level.HIGH, urgency=Level.MEDIUM, title="Slow API")
    assert all("Account managers" not in m.list_names for m in messages(session, first.id))

    # ... until its rules name P2 (the edit page shows what is saved).
    form = client.get(f"/admin/stakeholders/{accounts.id}")
    assert form.status_code == 200 and "am2@example.com" in text(form)
    edited = client.post(
        f"/admin/stakeholders/{accounts.id}",
        data={
            "name": "Account managers",
            "priorities": ["P1", "P2"],
            "events": ["declared", "resolved"],
            "emails": "am2@example.com",
            "version": accounts.version,
        },
    )
    assert edited.status_code == 302
    accounts = lists_by_name(session)["Account managers"]
    assert accounts.priorities == ["P1", "P2"] and accounts.events == ["declared", "resolved"]
    assert [m.email for m in accounts.members] == ["am2@example.com"]

    second = declared(session, now, impact=Level.HIGH, urgency=Level.MEDIUM, title="Slow web")
    (message,) = [m for m in messages(session, second.id) if "Account managers" in m.list_names]
    assert [r.email for r in message.recipients] == ["am2@example.com"]

    # An edit from a stale form is refused, not merged.
    stale = client.post(
        f"/admin/stakeholders/{accounts.id}",
        data={"name": "Renamed", "priorities": ["P1"], "version": accounts.version - 1},
    )
    assert stale.status_code == 409
    assert "Renamed" not in lists_by_name(session)

    accounts_id = accounts.id
    deleted = client.post(f"/admin/stakeholders/{accounts_id}/delete")
    assert deleted.status_code == 302
    assert "Account managers" not in lists_by_name(session)
    # What was sent keeps the list's name.
    assert messages(session, second.id)[0].list_names
    assert client.post(f"/admin/stakeholders/{accounts_id}/delete").status_code == 404


def test_forms_need_the_csrf_token(csrf_client, make_user, session):
    manager = make_user("manager")
    login_with_csrf(csrf_client, manager)
    forged = csrf_client.post("/admin/stakeholders/new", data={"name": "Forged"})
    assert forged.status_code == 400
    assert "Forged" not in lists_by_name(session)
    page = csrf_client.get("/admin/stakeholders/new")
    token = csrf_token_from(page.get_data(as_text=True))
    made = csrf_client.post(
        "/admin/stakeholders/new",
        data={"name": "Real", "priorities": ["P1"], "csrf_token": token},
    )
    assert made.status_code == 302
    assert "Real" in lists_by_name(session)


def test_declaring_records_the_notification_on_the_timeline(client, login, make_user, session, now):
    give_members(session, now, Leadership=["ceo@example.com"], Support=["help@example.com"])
    incident = declared(session, now)
    login(make_user("viewer"))
    page = client.get(f"/admin/incidents/{incident.id}")
    assert page.status_code == 200
    body = text(page)
    assert "Leadership and Support notified: P1 declared" in body
    assert "Send a stakeholder update" not in body  # a viewer cannot send
    assert "See what stakeholders were sent" in body


def test_a_comms_lead_sends_a_stakeholder_update_by_hand(client, login, make_user, session, now):
    give_members(session, now, Leadership=["ceo@example.com"], Support=["help@example.com"])
    incident = open_incident(session, NewIncident(title="Billing late"), actor_id=None, now=now)
    session.add(StakeholderTemplate(name="Holding line", body="Tell callers **we know**."))
    session.commit()
    support = lists_by_name(session)["Support"]
    template = session.scalars(sa.select(StakeholderTemplate)).one()
    url = f"/admin/incidents/{incident.id}/stakeholders"

    responder = make_user("responder")
    login(responder)
    assert client.get(url).status_code == 200  # staff may read what was sent
    assert client.post(url, data={"lists": [support.id], "body": "x"}).status_code == 403

    comms = make_user("communicator", email="cora@example.com")
    client.post("/logout")
    login(comms)
    filled = client.get(f"{url}?template={template.id}")
    assert "Tell callers **we know**." in text(filled)
    nothing = client.post(url, data={"lists": [], "body": "Hello"})
    assert nothing.status_code == 400 and "Choose at least one list." in text(nothing)
    sent = client.post(url, data={"lists": [support.id], "body": "Tell callers **we know**."})
    assert sent.status_code == 302

    (message,) = messages(session, incident.id)
    assert message.event == "manual" and message.list_names == ["Support"]
    assert message.body == "Tell callers **we know**." and message.actor_id == comms.id
    assert [r.email for r in message.recipients] == ["help@example.com"]
    notification = session.get(Notification, message.notification_id)
    assert notification.kind == NotificationKind.STAKEHOLDER_SUMMARY
    # Kept apart from public updates: nothing public was written.
    assert (
        session.scalars(
            sa.select(IncidentUpdate).where(IncidentUpdate.incident_id == incident.id)
        ).all()
        == []
    )
    assert session.get(type(incident), incident.id).is_public is False
    summaries = session.scalars(
        sa.select(TimelineEvent.summary).where(TimelineEvent.incident_id == incident.id)
    ).all()
    assert "Support notified: stakeholder update" in summaries
    page = text(client.get(url))
    assert "stakeholder update" in page and "Support" in page and "cora@example.com" in page


def test_the_closure_checklist_asks_whether_stakeholders_were_told(
    client, login, make_user, session, now
):
    give_members(session, now, Leadership=["ceo@example.com"], Support=["help@example.com"])
    told = declared(session, now, title="Told")
    quiet = declared(session, now, impact=Level.MEDIUM, urgency=Level.MEDIUM, title="Quiet")
    for incident in (told, quiet):
        transition_incident(session, incident, IncidentStatus.INVESTIGATING, actor_id=None, now=now)
        transition_incident(
            session,
            incident,
            IncidentStatus.RESOLVED,
            actor_id=None,
            now=now,
            details=TransitionDetails(
                resolution_code="fixed", resolution_summary="Fixed.", verification="Checked."
            ),
        )
    session.commit()
    assert [m.event for m in messages(session, told.id)][-1] == "resolved"
    assert messages(session, quiet.id) == []  # P3: no list's rules cover it

    login(make_user("communicator"))
    page = text(client.get(f"/admin/incidents/{told.id}/closure-report"))
    assert (
        "<strong>Done:</strong> Stakeholders told of the resolution? (Leadership and Support"
        not in page
    )
    assert (
        "<strong>Done:</strong> Stakeholders told of the resolution? "
        "(Leadership, Support told (sent by the lists' rules" in page
    )
    page = text(client.get(f"/admin/incidents/{quiet.id}/closure-report"))
    assert (
        "<strong>Check:</strong> Stakeholders told of the resolution? "
        "(no resolved notification was sent: no list's rules cover P3" in page
    )
    assert f"/admin/incidents/{quiet.id}/stakeholders" in page

    support = lists_by_name(session)["Support"]
    client.post(
        f"/admin/incidents/{quiet.id}/stakeholders",
        data={"lists": [support.id], "body": "Resolved; no customer impact left."},
    )
    page = text(client.get(f"/admin/incidents/{quiet.id}"))
    assert (
        "<strong>Done:</strong> Stakeholders told of the resolution? (Support told (by hand" in page
    )


def test_lists_without_members_tell_nobody_and_the_timeline_says_so(
    client, login, make_user, session, now
):
    incident = declared(session, now)  # the default lists have no members yet
    assert messages(session, incident.id) == []
    summaries = session.scalars(
        sa.select(TimelineEvent.summary).where(
            TimelineEvent.incident_id == incident.id,
            TimelineEvent.kind == "stakeholders_notified",
        )
    ).all()
    assert summaries == [
        "Leadership and Support not notified (P1 declared): "
        "no members with an address and no channels"
    ]
    login(make_user("communicator"))
    leadership = lists_by_name(session)["Leadership"]
    refused = client.post(
        f"/admin/incidents/{incident.id}/stakeholders",
        data={"lists": [leadership.id], "body": "Anyone there?"},
    )
    assert refused.status_code == 400
    assert "The chosen lists have no members or channels to tell." in text(refused)
    assert messages(session, incident.id) == []
