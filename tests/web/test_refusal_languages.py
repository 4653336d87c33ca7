"""Domain refusals in the reader's language (issue 17): the domain raises English errors that
carry their msgid and parameters; staff pages and the public subscribe pages show them
translated (status words included), while `str(error)` and the API's JSON stay English.

As in test_admin_languages.py, each expected text is read from the German catalog (`de()`),
so rewording a translation does not break the test but an unmarked refusal does.
"""

import io
import re
from datetime import timedelta

import pytest

from statuspage.auth.tokens import create_token
from statuspage.core.errors import DomainError, InvalidTransition, Term, Terms
from statuspage.incidents import reviews
from statuspage.incidents.maintenance import NewMaintenance, schedule_maintenance
from statuspage.incidents.models import IncidentStatus, Maintenance
from tests.conftest import PASSWORD
from tests.web.german_catalog import (  # noqa: F401 (the fixtures app and incident)
    de,
    german_app,
    staff_incident,
    text,
)


@pytest.fixture
def maintenance(session, make_component, now):
    database = make_component("Database")
    scheduled = schedule_maintenance(
        session,
        NewMaintenance(
            title="Storage move",
            scheduled_for=now + timedelta(hours=3),
            scheduled_until=now + timedelta(hours=5),
            body="We move the storage.",
            component_ids=[database.id],
        ),
        actor_id=None,
        now=now,
    )
    session.commit()
    return scheduled


def test_an_error_keeps_its_english_text_and_carries_msgid_and_parameters():
    error = InvalidTransition(
        "An incident that is %(current)s cannot move to %(target)s; it may move to: %(allowed)s.",
        current=Term("new", "New"),
        target=Term("closed", "Closed"),
        allowed=Terms([Term("triage", "Triage"), Term("cancelled", "Cancelled")]),
    )
    assert (
        str(error)
        == error.message
        == ("An incident that is new cannot move to closed; it may move to: triage, cancelled.")
    )
    assert error.msgid.startswith("An incident that is %(current)s")
    assert error.params["current"].label == "New"
    # Messages built without parameters (an f-string) work as before, "%" included.
    assert str(DomainError("100% sure", field="x")) == "100% sure"


def test_staff_see_incident_refusals_in_german_with_translated_status_words(
    client, session, incident
):
    impossible = client.post(
        f"/admin/incidents/{incident.id}/transition?lang=de",
        data={"move-target": "closed", "move-version": incident.version},
    )
    assert impossible.status_code == 409
    allowed = ", ".join(de(word) for word in ("Cancelled", "Investigating", "Triage"))
    expected = de(
        "An incident that is %(current)s cannot move to %(target)s; it may move to: %(allowed)s.",
        current=de("New"),
        target=de("Closed"),
        allowed=allowed,
    )
    assert expected in text(impossible)
    assert "cannot move to closed" not in text(impossible)

    assert (
        client.post(
            f"/admin/incidents/{incident.id}/transition",
            data={"move-target": "triage", "move-version": incident.version},
        ).status_code
        == 302
    )
    session.refresh(incident)
    refused = client.post(
        f"/admin/incidents/{incident.id}/transition?lang=de",
        data={"move-target": "investigating", "move-version": incident.version},
    )
    assert refused.status_code == 409
    missing = ", ".join(de(word) for word in ("Category", "Impact", "Urgency"))
    assert de("Leaving triage needs %(missing)s to be set first.", missing=missing) in text(refused)
    session.refresh(incident)
    assert incident.status == IncidentStatus.TRIAGE

    # The same refusal in English is the domain's own text, word for word.
    english = client.post(
        f"/admin/incidents/{incident.id}/transition?lang=en",
        data={"move-target": "investigating", "move-version": incident.version},
    )
    assert "Leaving triage needs category, impact, urgency to be set first." in text(english)


def test_staff_see_maintenance_refusals_and_a_conflict_in_german(
    client, session, make_user, login, maintenance, now
):
    login(make_user("communicator"))
    base = f"/admin/maintenance/{maintenance.id}"
    move = client.post(f"{base}/status/verifying?lang=de", data={"move-verifying-body": "x"})
    assert move.status_code == 409
    assert de(
        "Maintenance that is %(current)s cannot move to %(target)s.",
        current=de("Scheduled"),
        target=de("Verifying"),
    ) in text(move)

    page = client.get(f"{base}/edit").get_data(as_text=True)
    loaded = re.search(r'name="loaded" type="hidden" value="([^"]+)"', page).group(1)
    starts = (now + timedelta(days=1)).replace(second=0)
    data = {
        "title": "Storage move, part one",
        "body": "We move the storage.",
        "scheduled_for": starts.strftime("%Y-%m-%dT%H:%M"),
        "scheduled_until": (starts + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "components": [str(maintenance.components[0].id)],
        "loaded": loaded,
    }
    assert client.post(f"{base}/edit", data=data).status_code == 302
    stale = client.post(f"{base}/edit?lang=de", data=dict(data, title="Other"))
    assert stale.status_code == 409
    assert de(
        "This maintenance changed since you opened it. Reload it and make your change again."
    ) in text(stale)

    assert client.post(f"{base}/status/in_progress").status_code == 302
    assert client.post(f"{base}/status/completed").status_code == 302
    completed = client.post(
        f"{base}/edit?lang=de",
        data={"body": "x", "scheduled_until": data["scheduled_until"]},
    )
    assert completed.status_code == 409
    assert de("Completed maintenance can no longer be edited.") in text(completed)
    session.expire_all()
    assert session.get(Maintenance, maintenance.id).title == "Storage move, part one"


def test_the_edit_conflict_page_says_why_in_german(app, session, make_user, make_incident, now):
    incident = make_incident("Checkout down")
    reviews.start_review(session, incident, actor_id=None, now=now)
    session.commit()
    url = f"/admin/incidents/{incident.id}/review"
    alice, bob = app.test_client(), app.test_client()
    for person in (alice, bob):
        user = make_user("responder")
        assert person.post("/login", data={"email": user.email, "password": PASSWORD}).status_code
    version = re.search(r'name="version" type="hidden" value="(\d*)"', text(alice.get(url)))[1]
    assert alice.post(url, data={"summary": "Alice", "version": version}).status_code == 302
    refused = bob.post(f"{url}?lang=de", data={"summary": "Bob", "version": version})
    assert refused.status_code == 409
    assert de(
        "Someone else changed this review after you opened it. Nothing was saved; your text "
        "is below: compare it with theirs, then make your change again."
    ) in text(refused)


def test_public_subscribe_and_confirmation_refusals_in_german(client, make_component, session):
    make_component("Website")
    session.commit()
    bad = client.post(
        "/subscribe?lang=de", data={"email": "not-an-address", "scope": "all", "language": "de"}
    )
    assert bad.status_code == 400
    assert de("Enter an email address such as name@example.com.") in text(bad)

    invalid = client.get("/subscribe/confirm/not-a-token?lang=de")
    assert invalid.status_code == 400
    assert de("This confirmation link is not valid. Please subscribe again.") in text(invalid)


def test_the_api_keeps_refusals_in_english(client, session, make_user, now):
    user = make_user("admin")
    _, secret = create_token(session, user, "tests", actor_id=None, now=now)
    session.commit()
    headers = {"Authorization": f"Bearer {secret}", "Accept-Language": "de"}
    created = client.post("/api/v1/incidents?lang=de", json={"title": "x"}, headers=headers)
    assert created.status_code == 201, created.get_json()
    incident_id = created.get_json()["incident"]["id"]
    refused = client.post(
        f"/api/v1/incidents/{incident_id}/transitions?lang=de",
        json={"target": "closed"},
        headers=headers,
    )
    assert refused.status_code == 409
    assert refused.get_json()["error"]["message"] == (
        "An incident that is new cannot move to closed; it may move to: "
        "cancelled, investigating, triage."
    )


def test_settings_refusals_in_german_name_formats_and_numbers_as_german_says(
    client, make_user, login
):
    login(make_user("manager"))
    colour = client.post("/admin/settings/page?lang=de", data={"brand_color": "#ffcc00"})
    assert colour.status_code == 400
    expected = de(
        "White text on %(color)s has a contrast of %(ratio)s:1; WCAG AA needs %(needed)s:1. "
        "Choose a darker colour.",
        color="#ffcc00",
        ratio="1.5",
        needed=4.5,
    )
    assert expected in text(colour)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    logo = client.post(
        "/admin/settings/page/logo?lang=de",
        data={"logo-file": (io.BytesIO(svg), "logo.svg")},
        content_type="multipart/form-data",
    )
    assert logo.status_code == 400
    # The formats are a Term: English says "PNG, JPEG, GIF or WebP", German its own words.
    accepted = de("PNG, JPEG, GIF or WebP")
    assert de(
        "SVG is not accepted (it can carry scripts); upload %(accepted)s.", accepted=accepted
    ) in text(logo)
    assert accepted != "PNG, JPEG, GIF or WebP"


@pytest.mark.parametrize(
    ("service", "url", "hint"),
    [
        (
            "slack",
            "https://hooks.example.com/services/T/B/x",
            "A Slack incoming-webhook URL starts with https://hooks.slack.com/services/.",
        ),
        (
            "discord",
            "https://example.com/api/webhooks/1/x",
            "A Discord webhook URL starts with https://discord.com/api/webhooks/.",
        ),
    ],
)
def test_a_chat_url_on_another_host_is_refused_in_german(client, service, url, hint):
    response = client.post(f"/subscribe/{service}?lang=de", data={"url": url, "scope": "all"})
    assert response.status_code == 400
    assert de(hint) in text(response)
    assert hint not in text(response)


@pytest.mark.parametrize(
    ("url", "msgid", "values"),
    [
        (
            "https://127.0.0.1/hook",
            "%(host)s may not be called: %(address)s is a private, local, reserved or "
            "metadata address.",
            {"host": "127.0.0.1", "address": "127.0.0.1"},
        ),
        (
            "https://[::ffff:10.0.0.1]/hook",
            "%(host)s may not be called: %(address)s carries %(inner)s, which may not be called.",
            {"host": "::ffff:a00:1", "address": "::ffff:a00:1", "inner": "10.0.0.1"},
        ),
    ],
)
def test_a_webhook_address_that_may_not_be_called_is_refused_in_german(client, url, msgid, values):
    response = client.post("/subscribe/webhook?lang=de", data={"url": url, "scope": "all"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert de(msgid, **values) in page, page[page.find('class="error"') :][:400]
    assert "may not be called" not in page


def test_staff_setup_and_import_refusals_in_german(client, make_user, login, session):
    login(make_user("admin"))
    first = client.post("/admin/settings/categories?lang=de", data={"new-name": "Network"})
    assert first.status_code == 302
    again = client.post("/admin/settings/categories?lang=de", data={"new-name": "network"})
    assert again.status_code == 400
    assert de(
        "There is already a category named %(name)r at the top level.", name="network"
    ) in text(again).replace("&#39;", "'")

    audience = client.post(
        "/admin/audiences?lang=de", data={"name": "Partners", "allowed_domains": "not a domain!"}
    )
    assert audience.status_code == 400
    assert de("%(value)r is not an email domain.", value="not") in text(audience).replace(
        "&#39;", "'"
    )

    csv_file = {"file": (io.BytesIO(b'email\n"unclosed@example.com\n'), "people.csv")}
    broken = client.post(
        "/admin/subscribers/import?lang=de", data=csv_file, content_type="multipart/form-data"
    )
    assert broken.status_code == 400
    line_word = de("The file cannot be read as CSV (line %(line)s: %(error)s).").split("%(")[0]
    assert line_word.strip() and line_word.strip() in text(broken)

    for url, msgid in (
        (
            "https://user:secret@status.example.com/",
            "Leave the user name and password out of the address.",
        ),
        ("https:///", "The address has no host name."),
    ):
        refused = client.post("/admin/import?lang=de", data={"url": url})
        assert refused.status_code == 400
        assert de(msgid) in text(refused), url
    private = client.post("/admin/import?lang=de", data={"url": "http://127.0.0.1:9/"})
    assert private.status_code == 400
    assert de(
        "%(host)s is a private, local or reserved address (%(address)s); importing from there "
        "is not allowed here.",
        host="127.0.0.1",
        address="127.0.0.1",
    ) in text(private)


def test_a_form_reached_with_lang_answers_its_post_in_that_language(client):
    """`/subscribe/slack?lang=de` (a link from a German email, say) posts to `/subscribe/slack`:
    the language asked for in the URL is kept in the cookie, so the refusal is German even
    when the browser's own languages say English. Cached pages never set it."""
    english = {"Accept-Language": "en-US,en;q=0.9"}
    form = client.get("/subscribe/slack?lang=de", headers=english)
    assert form.status_code == 200
    assert any(c.startswith("statuspage_lang=de;") for c in form.headers.getlist("Set-Cookie"))
    hint = "A Slack incoming-webhook URL starts with https://hooks.slack.com/services/."
    refused = client.post(
        "/subscribe/slack",
        data={"url": "https://hooks.example.com/services/T/B/x", "scope": "all"},
        headers=english,
    )
    assert refused.status_code == 400
    assert de(hint) in text(refused)

    front = client.get("/?lang=fr", headers=english)
    assert front.status_code == 200 and "public" in front.headers["Cache-Control"]
    assert all("statuspage_lang" not in cookie for cookie in front.headers.getlist("Set-Cookie"))


def test_the_error_label_next_to_a_field_is_in_the_pages_language(client):
    data = {"url": "https://hooks.example.com/services/T/B/x", "scope": "all"}
    german = text(client.post("/subscribe/slack?lang=de", data=data))
    english = text(client.post("/subscribe/slack?lang=en", data=data))
    label = '<span class="error__label">{}</span>'
    assert label.format(de("Error:")) in german and "Error:" not in german
    assert label.format("Error:") in english
