"""The staff area speaks the staff member's language (issue 17): the same choice as the public
pages (`?lang=`, then the `statuspage_lang` cookie, then Accept-Language), applied to the admin
templates, the forms' lazy labels and the views' flash messages.

The German catalog in translations/de proves the marking is wired: each expected text is looked
up there (`de(msgid)`), so rewording a translation does not break the test but an unmarked
string does. The catalog is compiled into a temporary directory (no `make catalogs` needed).
"""

import enum
import re
import sys
from datetime import timedelta
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from statuspage.core.outbox import Notification
from statuspage.core.vocabulary import TERMS
from statuspage.i18n import COOKIE
from statuspage.incidents.casework import add_task, set_incident_role
from statuspage.incidents.maintenance import NewMaintenance, schedule_maintenance
from statuspage.incidents.models import (
    IncidentRole,
    IncidentSource,
    Level,
    SlaPolicy,
    TaskKind,
)
from statuspage.incidents.operations import NewIncident, categorize_incident, open_incident
from statuspage.stakeholders.models import StakeholderList
from tests.web.german_catalog import (  # noqa: F401 (the fixtures app and incident)
    GERMAN,
    de,
    german_app,
    staff_incident,
    text,
)


def test_main_staff_pages_are_german_with_lang_de(client, incident):
    dashboard = text(client.get("/admin/dashboard?lang=de"))
    assert '<html lang="de"' in dashboard
    assert f"<h1>{de('Dashboard')}</h1>" in dashboard
    assert de("How these numbers are counted") in dashboard
    assert f">{de('Menu')}</summary>" in dashboard and f">{de('Sign out')}</button>" in dashboard

    listing = text(client.get("/admin/incidents?lang=de"))
    assert f"<h1>{de('Incidents')}</h1>" in listing
    assert f">{de('Any status')}</option>" in listing
    assert (
        de("%(num)d incident. Sorted by: %(sort)s.", 0, num=1, sort="§").split("§")[0] in listing
    )  # ngettext, singular

    page = text(client.get(f"/admin/incidents/{incident.id}?lang=de"))
    assert de("Write a public update") in page
    assert de("Timeline and audit log (%(count)s events)").split("%(count)s")[0] in page
    assert re.search(
        r"<label for=\"[\w-]*title\">" + re.escape(de("Title")) + "</label>", page
    )  # a lazy form label

    settings = text(client.get("/admin/settings?lang=de"))
    assert f"<h1>{de('Settings')}</h1>" in settings
    assert f">{de('Your page')}</a>" in settings


def test_english_stays_the_default_and_the_cookie_carries_the_choice(client, incident):
    english = text(client.get("/admin/dashboard"))
    assert "<h1>Dashboard</h1>" in english and de("Dashboard") not in english

    client.set_cookie(COOKIE, "de")
    form = {
        "edit-title": "API errors (EU)",
        "edit-source": "staff",
        "edit-impact_started_at": incident.impact_started_at.strftime("%Y-%m-%dT%H:%M"),
        "edit-version": incident.version,
    }
    refused = client.post(
        f"/admin/incidents/{incident.id}/details", data={**form, "edit-title": ""}
    )
    assert refused.status_code == 400
    assert "Dieses Feld wird benötigt." in text(refused)  # WTForms' own messages follow too

    saved = client.post(f"/admin/incidents/{incident.id}/details", data=form, follow_redirects=True)
    page = text(saved)
    assert de("Details saved.") in page  # a view's flash message, through gettext
    assert de("Write a public update") in page


def test_the_account_page_sets_the_language_cookie(client, make_user, login):
    login(make_user("responder"))
    form = text(client.get("/account/language"))
    assert '<option selected value="en">English</option>' in form
    assert '<option value="de">Deutsch</option>' in form

    refused = client.post("/account/language", data={"language": "xx"})
    assert refused.status_code == 400
    assert client.get_cookie(COOKIE) is None

    chosen = client.post("/account/language", data={"language": "de"})
    assert chosen.status_code == 302
    cookie = client.get_cookie(COOKIE)
    assert cookie.value == "de" and cookie.http_only
    confirmed = text(client.get("/account/language"))
    assert f"<h1>{de('Your language')}</h1>" in confirmed
    assert de("Pages are now shown in this language.") in confirmed  # flashed in German
    page = text(client.get("/admin/incidents"))
    assert f"<h1>{de('Incidents')}</h1>" in page and '<html lang="de"' in page
    assert "<h1>Incidents</h1>" in text(client.get("/admin/incidents?lang=en"))


# --- the domain's words (core/vocabulary.TERMS) ----------------------------------------------


@pytest.fixture
def casework(session, client, make_user, make_component, make_incident, login, now):
    """A P1 incident long past its acknowledge target, with a tech lead and a response task;
    a scheduled maintenance; a public incident whose notification is queued."""
    admin = make_user("admin", email="ada@example.com")
    responder = make_user("responder", email="rita@example.com")
    login(admin)
    detected = now - timedelta(hours=10)
    incident = open_incident(
        session,
        NewIncident(
            title="Checkout fails",
            source=IncidentSource.MONITORING,
            detected_at=detected,
            impact_started_at=detected,
        ),
        actor_id=None,
        now=detected,
    )
    categorize_incident(
        session,
        incident,
        category_id=None,
        subcategory_id=None,
        impact=Level.HIGH,
        urgency=Level.HIGH,
        actor_id=None,
        now=detected,
    )
    set_incident_role(
        session, incident, responder.id, IncidentRole.TECH_LEAD, actor_id=None, now=detected
    )
    task = add_task(
        session,
        incident,
        kind=TaskKind.RESPONSE,
        title="Roll back the release",
        owner_id=None,
        due_at=None,
        actor_id=None,
        now=detected,
    )
    maintenance = schedule_maintenance(
        session,
        NewMaintenance(
            title="Storage move",
            scheduled_for=now + timedelta(hours=3),
            scheduled_until=now + timedelta(hours=5),
            body="We move the storage.",
            component_ids=[],
            reminder_minutes_before=None,
        ),
        actor_id=None,
        now=now,
    )
    api = make_component("API")
    make_incident("API errors", components={api.id: "major_outage"})
    session.commit()
    notification = session.scalar(sa.select(Notification).order_by(Notification.id))
    return {
        "incident": incident,
        "maintenance": maintenance,
        "responder": responder,
        "notification": notification,
        "task": task,
    }


def test_staff_pages_name_statuses_roles_and_states_in_german(client, casework):
    incident, maintenance = casework["incident"], casework["maintenance"]
    english = text(client.get(f"/admin/incidents/{incident.id}"))
    assert "Status: New" in english and "SLA: Breached" in english  # the maps' English words

    page = text(client.get(f"/admin/incidents/{incident.id}?lang=de"))
    assert de("Status: %(status)s", status=de("New")) in page
    assert de("Priority: %(priority)s", priority="P1") in page
    assert de("SLA: %(state)s", state=de("Breached")) in page
    assert f"<td>{de('Acknowledge')}</td>" in page  # the clock table: target and state
    assert f'<span class="sla sla--breached">{de("Breached")}</span>' in page
    assert f"{de('Tech lead')}: rita@example.com" in page
    assert f"<strong>{de('Response')}</strong>: Roll back the release · {de('Open')}" in page
    assert (
        f"<dd>{de('Monitoring')}</dd>" in page and f"<dd>{de('High')} / {de('High')}</dd>" in page
    )
    assert f'<option value="triage">{de("Triage")}</option>' in page  # a transition choice

    listing = text(client.get("/admin/incidents?lang=de"))
    assert f'<td data-label="{de("Status")}">{de("New")}</td>' in listing
    assert f'<span class="sla sla--breached">{de("Breached")}</span>' in listing
    assert f'<option value="post_incident">{de("Post incident")}</option>' in listing
    assert f'<option value="at_risk">{de("At risk")}</option>' in listing

    scheduled = text(client.get(f"/admin/maintenance/{maintenance.id}?lang=de"))
    assert de("Status: %(status)s", status=de("Scheduled")) in scheduled
    assert f"<td>{de('Scheduled')}</td>" in text(client.get("/admin/maintenance?lang=de"))

    users = text(client.get("/admin/users?lang=de"))
    assert f"<td>{de('Responder')}</td>" in users
    responder = text(client.get(f"/admin/users/{casework['responder'].id}?lang=de"))
    assert f"<dt>{de('Communicator')}</dt>" in responder  # what each role may do
    assert de("manage users") in responder
    assert f"<dd>{de('Responder')}</dd>" in responder
    assert f'<option selected value="responder">{de("Responder")}</option>' in responder

    deliveries = text(client.get("/admin/deliveries?lang=de"))
    assert f">{de('Incident update')}</a>" in deliveries
    assert f'<option value="pending">{de("Queued")}</option>' in deliveries


def test_flash_messages_name_the_new_status_in_german(client, casework):
    incident = casework["incident"]
    moved = client.post(
        f"/admin/incidents/{incident.id}/transition?lang=de",
        data={"move-target": "triage", "move-version": incident.version},
        follow_redirects=True,
    )
    assert de("Incident moved to %(status)s.", status=de("Triage")) in text(moved)
    done = client.post(
        f"/admin/incidents/{incident.id}/tasks/{casework['task'].id}/done?lang=de",
        follow_redirects=True,
    )
    assert de("Task moved to %(status)s.", status=de("Done")) in text(done)


class _VisibleText(HTMLParser):
    """The words a reader sees: text outside <script> and <style>, option labels included.
    The incident's timeline is left out: its entries are records written when the event
    happened ("Status changed from new to triage"), in English, like the audit log."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hiding: str | None = None  # the tag whose content is left out
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        if self._hiding is None:
            timeline = tag == "ol" and "timeline" in (dict(attrs).get("class") or "").split()
            if tag in ("script", "style") or timeline:
                self._hiding, self._depth = tag, 1
        elif tag == self._hiding:
            self._depth += 1

    def handle_endtag(self, tag):
        if tag == self._hiding:
            self._depth -= 1
            if not self._depth:
                self._hiding = None

    def handle_data(self, data):
        if self._hiding is None:
            self.parts.append(data)


def visible_text(response) -> str:
    parser = _VisibleText()
    parser.feed(response.get_data(as_text=True))
    return " ".join(parser.parts)


def test_no_english_domain_word_is_left_on_german_staff_pages(client, session, casework):
    incident, maintenance = casework["incident"], casework["maintenance"]
    # SLA policy names and stakeholder list descriptions are the staff's own words (the
    # migrations seed English ones, "Low", "critical (P1) incidents"): data, not vocabulary.
    session.execute(sa.update(SlaPolicy).values(name="SLA"))
    session.execute(sa.update(StakeholderList).values(description=""))
    session.commit()
    pages = [
        "/admin/dashboard",
        "/admin/incidents",
        f"/admin/incidents/{incident.id}",
        f"/admin/incidents/{incident.id}/review",
        "/admin/maintenance",
        f"/admin/maintenance/{maintenance.id}",
        "/admin/users",
        f"/admin/users/{casework['responder'].id}",
        "/admin/deliveries",
        f"/admin/deliveries/{casework['notification'].id}",
        "/admin/problems",
        "/admin/settings/sla",
        "/admin/settings/matrix",
        "/admin/subscribers",
        "/admin/channels",
        "/admin/tokens",
        "/admin/stakeholders",
        f"/admin/incidents/{incident.id}/stakeholders",
        f"/admin/incidents/{incident.id}/closure-report",
        "/admin/settings/templates",
        "/admin/components",
    ]
    # Every word of the maps whose German differs; the pages show many of them (the values
    # in the data, and every value of an enum offered in a select or a filter).
    # The maps' words and the raw values as pages used to show them ("at risk", "post
    # incident"), in any case. An English word that German uses too ("Link hinzufügen") or
    # that German translates the same is no sign of a missed one.
    german_text = " ".join(t for t in GERMAN.values() if isinstance(t, str))
    english_words = {
        word
        for vocabulary_map in TERMS.values()
        for value, english in vocabulary_map.items()
        if english in GERMAN and GERMAN[english].lower() != english.lower()
        for word in (english, value, value.replace("_", " "))
        if not re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", german_text, re.IGNORECASE)
    }
    for path in pages:
        response = client.get(f"{path}?lang=de")
        assert response.status_code == 200, path
        seen = visible_text(response)
        left = sorted(
            w
            for w in english_words
            if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", seen, re.IGNORECASE)
        )
        assert not left, f"{path} shows English words: {left}"


def test_every_enum_the_staff_see_has_its_words(app):
    """TERMS is keyed by class name: each name must be one enum, and each map must give
    words for every value of it (a new status needs its words here)."""
    enums = {}
    for module_name in sorted(sys.modules):
        if not module_name.startswith("statuspage."):
            continue
        for value in vars(sys.modules[module_name]).values():
            if (
                isinstance(value, type)
                and issubclass(value, enum.Enum)
                and value.__module__ == module_name
            ):
                enums.setdefault(value.__name__, set()).add(value)
    for name, words in TERMS.items():
        assert len(enums.get(name, ())) == 1, f"{name}: {enums.get(name)}"
        (enum_class,) = enums[name]
        assert set(words) == {member.value for member in enum_class}, name


def test_translation_pages_name_languages_in_the_staff_members_language(
    client, session, make_incident, make_user, login
):
    incident = make_incident("Checkout down", body="We are investigating.")
    session.commit()
    update = incident.updates[0]
    login(make_user("communicator"))
    english = text(client.get(f"/admin/incidents/{incident.id}/updates/{update.id}/edit"))
    assert '<span lang="fr">Français</span> (French)' in english

    german = text(client.get(f"/admin/incidents/{incident.id}/updates/{update.id}/edit?lang=de"))
    assert '<span lang="fr">Français</span> (Französisch)' in german  # Babel's German names
    assert '<span lang="de">Deutsch</span> <' in german.replace("</th>", " <")  # no "(Deutsch)"
    assert "(French)" not in german and "English text" not in german
    form = text(client.get(f"/admin/translations/update/{update.id}/ja?lang=de"))
    assert de("Save %(language)s translation", language="Japanisch") in form
    assert de("The %(language)s text", language="Englisch") in form
