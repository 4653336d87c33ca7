"""Translations in the staff area: the "Translations" section on an update's, a closure
report's, a review's and a template's page; add, edit and remove one language; role checks,
CSRF, refusals shown as form errors with nothing written; possibly-outdated marks shown."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from statuspage.incidents.closure import ClosureReportText, write_closure_report
from statuspage.incidents.models import IncidentTemplate
from statuspage.incidents.translation_models import (
    ClosureReportTranslation,
    IncidentTemplateTranslation,
    IncidentUpdateTranslation,
)
from statuspage.incidents.updates import edit_update
from tests.conftest import PASSWORD, csrf_token_from, login_with_csrf


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def published(session, make_incident):
    incident = make_incident("Checkout down", body="We are investigating.")
    session.commit()
    return incident, incident.updates[0]


def url(update, language="fr", what="update") -> str:
    return f"/admin/translations/{what}/{update.id}/{language}"


def test_a_communicator_adds_edits_and_removes_a_french_update(
    client, login, make_user, session, published
):
    incident, update = published
    login(make_user("communicator"))
    page = client.get(f"/admin/incidents/{incident.id}/updates/{update.id}/edit")
    html = page.get_data(as_text=True)
    assert "Translations" in html and "No translation" in html
    assert f'href="/admin/translations/update/{update.id}/fr"' in html
    assert f"/admin/translations/update/{update.id}/en" not in html  # the default is above

    form = client.get(url(update)).get_data(as_text=True)
    assert "We are investigating." in form  # the English text beside the field
    response = client.post(url(update), data={"body": "Nous enquêtons."})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/updates/{update.id}/edit")
    row = session.scalar(sa.select(IncidentUpdateTranslation))
    assert (row.language, row.body) == ("fr", "Nous enquêtons.")
    public = client.get(f"/incidents/{incident.id}?lang=fr").get_data(as_text=True)
    assert "Nous enquêtons." in public

    removed = client.post(url(update) + "/remove")
    assert removed.status_code == 302
    assert count(session, IncidentUpdateTranslation) == 0


def test_bad_input_is_a_form_error_and_writes_nothing(client, login, make_user, session, published):
    _, update = published
    login(make_user("communicator"))
    response = client.post(url(update), data={"body": "   "})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    # The page is in the staff member's language; only the form is in the translation's.
    assert (
        '<html lang="en" dir="ltr">' in page
        and '<form method="post" novalidate class="stack" lang="fr"' in page
    )
    assert re.search(
        r'class="error"[^>]*>(?:<span class="error__label">[^<]*</span> )?[^<]*required',
        response.get_data(as_text=True),
    )
    too_long = client.post(url(update), data={"body": "x" * 50_001})
    assert too_long.status_code == 400
    assert count(session, IncidentUpdateTranslation) == 0
    # Not a language of the page, or the default language itself: no such page.
    assert client.get(url(update, "xx")).status_code == 404
    assert client.post(url(update, "en"), data={"body": "x"}).status_code == 404
    assert client.get(url(update, what="bogus")).status_code == 404
    assert client.get("/admin/translations/update/999/fr").status_code == 404
    assert count(session, IncidentUpdateTranslation) == 0


@pytest.mark.parametrize("role", ["viewer", "responder"])
def test_roles_without_publish_may_look_but_not_write(
    client, login, make_user, session, published, role
):
    _, update = published
    login(make_user(role))
    assert client.get(url(update)).status_code == 200
    assert client.post(url(update), data={"body": "Nous enquêtons."}).status_code == 403
    assert client.post(url(update) + "/remove").status_code == 403
    assert count(session, IncidentUpdateTranslation) == 0


def test_the_forms_check_their_csrf_token(csrf_client, make_user, session, published):
    _, update = published
    login_with_csrf(csrf_client, make_user("communicator"))
    refused = csrf_client.post(url(update), data={"body": "Nous enquêtons."})
    assert refused.status_code == 400
    assert count(session, IncidentUpdateTranslation) == 0
    token = csrf_token_from(csrf_client.get(url(update)).get_data(as_text=True))
    accepted = csrf_client.post(url(update), data={"body": "Nous enquêtons.", "csrf_token": token})
    assert accepted.status_code == 302
    assert count(session, IncidentUpdateTranslation) == 1
    assert csrf_client.post(url(update) + "/remove").status_code == 400
    assert count(session, IncidentUpdateTranslation) == 1


def test_possibly_outdated_marks_are_shown_to_staff(
    client, login, make_user, session, published, now
):
    incident, update = published
    login(make_user("communicator"))
    client.post(url(update), data={"body": "Nous enquêtons."})
    client.post(url(update, "de"), data={"body": "Wir untersuchen."})
    page = client.get(f"/admin/incidents/{incident.id}/updates/{update.id}/edit")
    assert "another language was edited since" in page.get_data(as_text=True)
    edit_update(session, incident, update.id, "We found it.", actor_id=None, now=now)
    session.commit()
    html = client.get(f"/admin/incidents/{incident.id}/updates/{update.id}/edit").get_data(
        as_text=True
    )
    assert html.count("Possibly outdated") == 2
    assert "the English text changed since it was written" in html
    form = client.get(url(update, "de")).get_data(as_text=True)
    assert "Possibly outdated" in form and "We found it." in form


def test_closure_report_and_template_translations(
    app, client, login, make_user, session, make_incident, now
):
    incident = make_incident("Checkout down")
    report = write_closure_report(
        session,
        incident,
        ClosureReportText(summary="S.", impact="I.", cause="C.", resolution="R.", prevention="P."),
        actor_id=None,
        now=now,
    )
    template = IncidentTemplate(name="Outage", message_templates={"investigating": "Looking."})
    session.add(template)
    session.commit()
    communicator = make_user("communicator")
    login(communicator)
    page = client.get(f"/admin/incidents/{incident.id}/closure-report").get_data(as_text=True)
    assert "Translations" in page
    fields = {
        "summary": "S fr",
        "impact": "I fr",
        "cause": "",
        "resolution": "R fr",
        "prevention": "P fr",
    }
    missing = client.post(url(report, what="closure_report"), data=fields)
    assert missing.status_code == 400 and count(session, ClosureReportTranslation) == 0
    fields["cause"] = "C fr"
    assert client.post(url(report, what="closure_report"), data=fields).status_code == 302
    assert count(session, ClosureReportTranslation) == 1
    # Templates are configuration: a communicator may not, a manager may.
    data = {"message_investigating": "Nous regardons."}
    assert client.post(url(template, what="template"), data=data).status_code == 403
    manager = app.test_client()
    manager.post("/login", data={"email": make_user("manager").email, "password": PASSWORD})
    page = manager.get(f"/admin/settings/templates/{template.id}").get_data(as_text=True)
    assert "Translations" in page
    assert manager.post(url(template, what="template"), data=data).status_code == 302
    row = session.scalar(sa.select(IncidentTemplateTranslation))
    assert row.message_templates == {"investigating": "Nous regardons."}


def test_a_new_update_translation_starts_from_the_templates_text_in_that_language(
    client, login, make_user, session, make_incident, now
):
    template = IncidentTemplate(name="Outage", message_templates={"investigating": "Looking."})
    session.add(template)
    session.flush()
    from statuspage.incidents import translations as tr

    tr.set_translation(
        session,
        "template",
        template.id,
        "fr",
        {"message_templates": {"investigating": "Nous regardons de près."}},
        default_language="en",
        actor_id=None,
        now=now,
    )
    incident = make_incident("Checkout down")
    incident.template_id = template.id
    session.commit()
    login(make_user("communicator"))
    page = client.get(url(incident.updates[0])).get_data(as_text=True)
    assert "Nous regardons de près." in page
    assert "Nous regardons de près." not in client.get(url(incident.updates[0], "de")).get_data(
        as_text=True
    )
