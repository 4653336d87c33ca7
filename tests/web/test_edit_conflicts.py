"""Two people editing the same thing: the second save, based on an older copy, is refused with
409, says what changed and keeps that person's text; the first person's text stays saved.
Also the public edit history of an update and the update rows on the staff audit log."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from statuspage.incidents import config, reviews
from statuspage.incidents.models import (
    ClosureReport,
    IncidentTemplate,
    IncidentUpdate,
    PostIncidentReview,
)
from tests.conftest import PASSWORD


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def client_for(app: Any, user: Any) -> Any:
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def version_in(response: Any) -> str:
    found = re.search(r'name="version" type="hidden" value="(\d*)"', text(response))
    assert found, "the form carries no version"
    return found.group(1)


def two_clients(app: Any, make_user: Any, role: str = "communicator") -> tuple[Any, Any]:
    return client_for(app, make_user(role)), client_for(app, make_user(role))


def published_update(session: Any, incident: Any) -> IncidentUpdate:
    session.expire_all()
    return session.scalar(
        sa.select(IncidentUpdate).where(
            IncidentUpdate.incident_id == incident.id, IncidentUpdate.published_at.is_not(None)
        )
    )


# --- public updates -----------------------------------------------------------------------


def test_second_edit_of_a_published_update_is_refused_and_keeps_both_texts(
    app, session, make_user, make_incident
):
    incident = make_incident("API errors", body="Teh API is down.")
    session.commit()
    update_id = published_update(session, incident).id
    edit = f"/admin/incidents/{incident.id}/updates/{update_id}"
    alice, bob = two_clients(app, make_user)
    alice_version = version_in(alice.get(f"{edit}/edit"))
    bob_version = version_in(bob.get(f"{edit}/edit"))
    first = alice.post(
        f"{edit}/text", data={"body": "Alice: the API is down.", "version": alice_version}
    )
    assert first.status_code == 302
    second = bob.post(f"{edit}/text", data={"body": "Bob: API down.", "version": bob_version})
    assert second.status_code == 409
    page = text(second)
    assert "changed meanwhile" in page and "edit: body" in page
    assert "Bob: API down.</textarea>" in page  # Bob wrote words are on the page, not lost
    assert "Alice: the API is down.</textarea>" in page  # beside what is saved now
    assert "Update edited" not in page
    assert published_update(session, incident).body == "Alice: the API is down."
    # Reloaded, Bob wrote form carries the new version and his save goes through.
    fresh = version_in(bob.get(f"{edit}/edit"))
    assert (
        bob.post(f"{edit}/text", data={"body": "Bob: API down.", "version": fresh}).status_code
        == 302
    )
    assert published_update(session, incident).body == "Bob: API down."


def test_second_save_of_a_draft_is_refused_and_so_is_publishing_an_old_copy(
    app, session, make_user, make_incident
):
    incident = make_incident("API errors")
    session.commit()
    base = f"/admin/incidents/{incident.id}/updates"
    alice, bob = two_clients(app, make_user)
    assert (
        alice.post(f"{base}/draft", data={"status": "identified", "body": "Draft one"}).status_code
        == 302
    )
    session.expire_all()
    draft_id = session.scalar(
        sa.select(IncidentUpdate.id).where(IncidentUpdate.published_at.is_(None))
    )
    alice_version = version_in(alice.get(f"{base}/{draft_id}/edit"))
    bob_version = version_in(bob.get(f"{base}/{draft_id}/edit"))
    saved = alice.post(
        f"{base}/{draft_id}/draft",
        data={"status": "identified", "body": "Alice wrote draft", "version": alice_version},
    )
    assert saved.status_code == 302
    bob_form = {"status": "monitoring", "body": "Bob wrote draft", "version": bob_version}
    refused = bob.post(f"{base}/{draft_id}/draft", data=bob_form)
    assert refused.status_code == 409
    page = text(refused)
    assert "Bob wrote draft</textarea>" in page and "Alice wrote draft</textarea>" in page
    published = bob.post(f"{base}/{draft_id}/publish", data=bob_form)
    assert published.status_code == 409 and "Bob wrote draft</textarea>" in text(published)
    session.expire_all()
    draft = session.get(IncidentUpdate, draft_id)
    assert draft.body == "Alice wrote draft" and draft.published_at is None


# --- closure report, review, template ------------------------------------------------------

REPORT = {
    "summary": "Payments failed.",
    "impact": "All card payments.",
    "cause": "A bad deploy.",
    "resolution": "Rolled back.",
    "prevention": "Canary deploys.",
}


def test_second_closure_report_save_is_refused_even_when_both_started_from_none(
    app, session, make_user, make_incident
):
    incident = make_incident("Payments failing")
    session.commit()
    url = f"/admin/incidents/{incident.id}/closure-report"
    alice, bob = two_clients(app, make_user)
    alice_version, bob_version = version_in(alice.get(url)), version_in(bob.get(url))
    assert alice_version == bob_version == "0"
    assert (
        alice.post(
            url, data={**REPORT, "cause": "Alice: a bad deploy.", "version": alice_version}
        ).status_code
        == 302
    )
    refused = bob.post(url, data={**REPORT, "cause": "Bob: a config push.", "version": bob_version})
    assert refused.status_code == 409
    assert "Bob: a config push.</textarea>" in text(refused)
    assert "Alice: a bad deploy.</textarea>" in text(refused)
    session.expire_all()
    assert session.scalar(sa.select(ClosureReport.cause)) == "Alice: a bad deploy."
    # An edit of the existing report races the same way.
    alice_version, bob_version = version_in(alice.get(url)), version_in(bob.get(url))
    assert (
        alice.post(
            url, data={**REPORT, "cause": "Alice again.", "version": alice_version}
        ).status_code
        == 302
    )
    assert (
        bob.post(url, data={**REPORT, "cause": "Bob again.", "version": bob_version}).status_code
        == 409
    )
    session.expire_all()
    assert session.scalar(sa.select(ClosureReport.cause)) == "Alice again."


def test_second_review_save_is_refused_and_keeps_the_text(
    app, session, make_user, make_incident, now
):
    incident = make_incident("Checkout down")
    reviews.start_review(session, incident, actor_id=None, now=now)
    session.commit()
    url = f"/admin/incidents/{incident.id}/review"
    alice, bob = two_clients(app, make_user, "responder")
    alice_version, bob_version = version_in(alice.get(url)), version_in(bob.get(url))
    saved = alice.post(url, data={"summary": "Alice wrote summary", "version": alice_version})
    assert saved.status_code == 302
    refused = bob.post(url, data={"summary": "Bob wrote summary", "version": bob_version})
    assert refused.status_code == 409
    page = text(refused)
    assert "Bob wrote summary</textarea>" in page and "Alice wrote summary</textarea>" in page
    assert "edit: fields" in page
    session.expire_all()
    assert session.scalar(sa.select(PostIncidentReview.summary)) == "Alice wrote summary"


def test_second_template_save_is_refused_and_keeps_the_text(app, session, make_user, now):
    template = config.create_template(
        session,
        config.TemplateFields(name="DNS outage", message_templates={"investigating": "Old"}),
        actor_id=None,
        now=now,
    )
    session.commit()
    url = f"/admin/settings/templates/{template.id}"
    alice, bob = two_clients(app, make_user, "admin")
    alice_version, bob_version = version_in(alice.get(url)), version_in(bob.get(url))
    form = {"name": "DNS outage", "impact": "", "urgency": "", "category": "", "subcategory": ""}
    saved = alice.post(
        url, data={**form, "message_investigating": "Alice wrote words", "version": alice_version}
    )
    assert saved.status_code == 302
    refused = bob.post(
        url, data={**form, "message_investigating": "Bob wrote words", "version": bob_version}
    )
    assert refused.status_code == 409
    page = text(refused)
    assert "Bob wrote words</textarea>" in page and "Alice wrote words</textarea>" in page
    session.expire_all()
    assert session.scalar(sa.select(IncidentTemplate.message_templates)) == {
        "investigating": "Alice wrote words"
    }


# --- the public edit history and the staff audit log ---------------------------------------


def test_public_page_shows_each_earlier_text_of_an_edited_update_collapsed(
    app, client, session, make_user, make_incident
):
    incident = make_incident("API errors", body="First <script>alert(1)</script> text.")
    session.commit()
    update_id = published_update(session, incident).id
    edit = f"/admin/incidents/{incident.id}/updates/{update_id}/text"
    staff = client_for(app, make_user("communicator"))
    assert staff.post(edit, data={"body": "Second **text**."}).status_code == 302
    assert staff.post(edit, data={"body": "Third text."}).status_code == 302

    page = text(client.get(f"/incidents/{incident.id}"))
    history = re.search(r'<details class="update-history">(.*?)</details>', page)
    assert history, "no edit history on the public page"
    assert "<details open" not in page  # collapsed by default
    earlier = history.group(1)
    assert "Earlier versions (2)" in earlier
    assert "<strong>text</strong>" in earlier  # rendered like the current body
    assert "First" in earlier and "<script>alert(1)" not in page  # and sanitized
    assert earlier.index("As edited") < earlier.index("As published")  # newest first
    assert "Third text." not in earlier  # the current text is the update itself


def test_full_audit_log_lists_the_incidents_update_publishes_and_edits(
    app, session, make_user, make_incident
):
    incident = make_incident("API errors", body="Teh API is down.")
    session.commit()
    update_id = published_update(session, incident).id
    staff = client_for(app, make_user("communicator"))
    edit = f"/admin/incidents/{incident.id}/updates/{update_id}/text"
    assert staff.post(edit, data={"body": "The API is down."}).status_code == 302
    other = make_incident("Other incident", body="Not this one.")
    session.commit()

    page = text(staff.get(f"/admin/incidents/{incident.id}/audit"))
    assert f"update #{update_id}" in page
    assert "<td>publish</td>" in page and "<td>edit</td>" in page
    assert "Teh API is down." in page and "The API is down." in page
    assert (
        "Not this one." not in page and f"update #{published_update(session, other).id}" not in page
    )
