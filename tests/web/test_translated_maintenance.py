"""Scheduled maintenance in several languages: staff add a title and message per language and a
text per update on the maintenance page (PUBLISH, CSRF); an edit of the English text marks
them possibly outdated; readers get their language on the maintenance page, the front page,
the feeds and the v2 JSON with `?lang=`, and subscribers in their email (subject too), else
English with the note."""

from __future__ import annotations

import re
from datetime import timedelta

import feedparser
import pytest
import sqlalchemy as sa
from babel.support import Translations

from statuspage.core.errors import DomainError
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.i18n import TRANSLATIONS
from statuspage.incidents import maintenance as domain
from statuspage.incidents import translations as tr
from statuspage.incidents.translation_models import (
    MaintenanceTranslation,
    MaintenanceUpdateTranslation,
)
from statuspage.notifications.compose import compose_notification
from tests.conftest import csrf_token_from, login_with_csrf

TITLE_FR = "Mise à niveau de la base de données"
BODY_FR = "Le paiement sera indisponible pendant dix minutes."
UPDATE_FR = "Les travaux prennent un peu plus de temps."


def squash(html: str) -> str:
    return re.sub(r"\s+", " ", html)


def note(kind: str, reader: str, language_name: str) -> str:
    msgid = f"This {kind} is available in %(language)s only."
    found = Translations.load(str(TRANSLATIONS), [reader], domain="messages").gettext(msgid)
    assert found != msgid, f"no {reader} translation of {msgid!r}"
    return found % {"language": language_name}


def translate(session, kind, record_id, language, texts, now):
    return tr.set_translation(
        session, kind, record_id, language, texts, default_language="en", actor_id=None, now=now
    )


@pytest.fixture
def window(session, make_component, now):
    api = make_component("API")
    maintenance = domain.schedule_maintenance(
        session,
        domain.NewMaintenance(
            title="Database upgrade",
            body="Checkout will be unavailable for ten minutes.",
            scheduled_for=now + timedelta(hours=2),
            scheduled_until=now + timedelta(hours=3),
            component_ids=[api.id],
        ),
        actor_id=None,
        now=now,
    )
    session.commit()
    return maintenance


@pytest.fixture
def translated(session, window, now):
    """The window started, with an update; the maintenance and that update in French."""
    domain.advance_maintenance(session, window, "in_progress", actor_id=None, now=now)
    later = domain.post_maintenance_update(
        session, window, body="The work is taking a little longer.", actor_id=None, now=now
    )
    translate(session, "maintenance", window.id, "fr", {"title": TITLE_FR, "body": BODY_FR}, now)
    translate(session, "maintenance_update", later.id, "fr", {"body": UPDATE_FR}, now)
    session.commit()
    return window


# --- domain ---------------------------------------------------------------------------------


def test_the_title_is_required_the_message_is_not_and_edits_mark_others_outdated(
    session, window, now
):
    with pytest.raises(DomainError) as refused:
        translate(session, "maintenance", window.id, "fr", {"title": " ", "body": "x"}, now)
    assert refused.value.field == "title"
    with pytest.raises(DomainError):
        translate(session, "maintenance", window.id, "fr", {"title": "x" * 201}, now)
    with pytest.raises(DomainError):  # the default language is the record's own text
        translate(session, "maintenance", window.id, "en", {"title": "Upgrade"}, now)
    row = translate(session, "maintenance", window.id, "fr", {"title": "Mise\nà niveau"}, now)
    assert (row.title, row.body) == ("Mise à niveau", "")  # one line, message optional
    translate(session, "maintenance", window.id, "de", {"title": "Datenbank-Upgrade"}, now)
    states = {
        s.language: s
        for s in tr.translation_states(session, "maintenance", window, default_language="en")
    }
    assert states["fr"].other_edited and not states["de"].outdated

    # Editing the English message (any writer) marks every translation possibly outdated.
    domain.update_maintenance(
        session,
        window,
        domain.MaintenanceChanges(
            title=window.title,
            body="Checkout will be unavailable for twenty minutes.",
            scheduled_for=window.scheduled_for,
            scheduled_until=window.scheduled_until,
            component_ids=[c.id for c in window.components],
        ),
        actor_id=None,
        now=now,
    )
    states = {
        s.language: s
        for s in tr.translation_states(session, "maintenance", window, default_language="en")
    }
    assert states["de"].source_changed and states["fr"].source_changed
    assert not states["es"].exists


# --- staff ----------------------------------------------------------------------------------


def test_a_communicator_translates_a_maintenance_and_its_update_on_its_page(
    client, login, make_user, session, window, now
):
    update = domain.post_maintenance_update(
        session, window, body="Still on schedule.", actor_id=None, now=now
    )
    session.commit()
    login(make_user("communicator"))
    page = client.get(f"/admin/maintenance/{window.id}").get_data(as_text=True)
    assert "Translations of the title and message" in page
    assert f'href="/admin/translations/maintenance/{window.id}/fr"' in page
    assert f'href="/admin/translations/maintenance_update/{update.id}/fr"' in page
    # The announcement repeats the message: translated with it, no table of its own.
    announcement = next(u for u in window.updates if u.id != update.id)
    assert f"/admin/translations/maintenance_update/{announcement.id}/" not in page

    form = client.get(f"/admin/translations/maintenance/{window.id}/fr").get_data(as_text=True)
    assert "Checkout will be unavailable for ten minutes." in form
    missing_title = client.post(
        f"/admin/translations/maintenance/{window.id}/fr", data={"title": "", "body": BODY_FR}
    )
    assert missing_title.status_code == 400
    saved = client.post(
        f"/admin/translations/maintenance/{window.id}/fr",
        data={"title": TITLE_FR, "body": BODY_FR},
    )
    assert saved.status_code == 302
    assert saved.headers["Location"].endswith(f"/admin/maintenance/{window.id}")
    saved = client.post(
        f"/admin/translations/maintenance_update/{update.id}/fr", data={"body": "Dans les temps."}
    )
    assert saved.status_code == 302
    session.expire_all()
    row = session.scalar(sa.select(MaintenanceTranslation))
    assert (row.language, row.title, row.body) == ("fr", TITLE_FR, BODY_FR)
    assert session.scalar(sa.select(MaintenanceUpdateTranslation)).body == "Dans les temps."
    assert "Up to date" in client.get(f"/admin/maintenance/{window.id}").get_data(as_text=True)

    removed = client.post(f"/admin/translations/maintenance/{window.id}/fr/remove")
    assert removed.status_code == 302
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(MaintenanceTranslation)) == 0


def test_a_viewer_may_look_but_not_translate(client, login, make_user, session, window):
    login(make_user("viewer"))
    address = f"/admin/translations/maintenance/{window.id}/fr"
    assert client.get(address).status_code == 200
    assert client.post(address, data={"title": TITLE_FR}).status_code == 403
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(MaintenanceTranslation)) == 0


def test_the_maintenance_translation_form_checks_its_csrf_token(
    csrf_client, make_user, session, window
):
    login_with_csrf(csrf_client, make_user("communicator"))
    address = f"/admin/translations/maintenance/{window.id}/fr"
    assert csrf_client.post(address, data={"title": TITLE_FR}).status_code == 400
    token = csrf_token_from(csrf_client.get(address).get_data(as_text=True))
    accepted = csrf_client.post(address, data={"title": TITLE_FR, "csrf_token": token})
    assert accepted.status_code == 302
    session.expire_all()
    assert session.scalar(sa.select(MaintenanceTranslation)).title == TITLE_FR


# --- readers --------------------------------------------------------------------------------


def test_a_french_reader_sees_the_maintenance_page_in_french(client, translated):
    page = squash(client.get(f"/maintenance/{translated.id}?lang=fr").get_data(as_text=True))
    assert f"<h1>{TITLE_FR}</h1>" in page and f"<title>{TITLE_FR} ·" in page
    assert BODY_FR in page and UPDATE_FR in page
    assert "Database upgrade" not in page and "taking a little longer" not in page
    # The standard "has started" message has no French text: English, marked, with the note.
    assert re.search(r'lang="en" dir="ltr"><p>The scheduled maintenance has started.', page)
    assert note("update", "fr", "anglais") in squash(page)
    assert note("maintenance notice", "fr", "anglais") not in page


def test_readers_without_a_translation_get_english_with_the_note(client, translated):
    english = squash(client.get(f"/maintenance/{translated.id}").get_data(as_text=True))
    assert "<h1>Database upgrade</h1>" in english and "available in" not in english
    assert TITLE_FR not in english
    german = squash(client.get(f"/maintenance/{translated.id}?lang=de").get_data(as_text=True))
    assert '<span lang="en" dir="ltr">Database upgrade</span>' in german
    assert note("maintenance notice", "de", "Englisch") in german


def test_the_front_page_and_the_history_show_the_readers_language(client, translated):
    front = squash(client.get("/", headers={"Accept-Language": "fr"}).get_data(as_text=True))
    section = front.split('id="maintenance-heading"', 1)[1]
    assert TITLE_FR in section and BODY_FR in section
    assert "Database upgrade" not in section
    assert TITLE_FR not in squash(client.get("/").get_data(as_text=True))


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_feeds_carry_the_maintenance_in_the_feeds_language(client, translated, kind):
    french = feedparser.parse(client.get(f"/history.{kind}?lang=fr").data)
    entry = next(e for e in french.entries if "maintenance" in e.id)
    content = entry.get("content", [{}])[0].get("value") or entry.summary
    assert TITLE_FR in entry.title
    assert BODY_FR in content and UPDATE_FR in content
    english = feedparser.parse(client.get(f"/history.{kind}").data)
    entry = next(e for e in english.entries if "maintenance" in e.id)
    assert "Database upgrade" in entry.title and TITLE_FR not in str(entry)


def test_the_v2_json_gives_french_only_when_lang_asks(client, translated):
    def first(url, **headers):
        return client.get(url, headers=headers).get_json()["scheduled_maintenances"][0]

    english = first("/api/v2/scheduled-maintenances.json", **{"Accept-Language": "fr"})
    assert english["name"] == "Database upgrade"
    assert "The work is taking a little longer." in [u["body"] for u in english["incident_updates"]]
    french = first("/api/v2/scheduled-maintenances.json?lang=fr")
    assert french["name"] == TITLE_FR
    bodies = [u["body"] for u in french["incident_updates"]]
    assert UPDATE_FR in bodies
    assert BODY_FR in bodies  # the announcement, through the message's translation
    # Untranslated: English, as before.
    assert "The scheduled maintenance has started." in bodies[1]
    assert first("/api/v2/summary.json?lang=fr")["name"] == TITLE_FR


def test_maintenance_emails_follow_the_subscribers_language(session, translated, now):
    notification = session.scalars(
        sa.select(Notification).where(
            Notification.kind == NotificationKind.MAINTENANCE_SCHEDULED,
            Notification.maintenance_id == translated.id,
        )
    ).one()

    def compose(language):
        return compose_notification(
            session,
            notification,
            site_name="Status",
            url=lambda path: f"http://localhost{path}",
            language=language,
            default_language="en",
        )

    label = Translations.load(str(TRANSLATIONS), ["fr"], domain="messages").gettext(
        "Scheduled maintenance"
    )
    assert label != "Scheduled maintenance"
    french = compose("fr")
    assert french.subject == f"[{label}] {TITLE_FR}"
    assert BODY_FR in french.text and BODY_FR in french.html
    assert note("maintenance notice", "fr", "anglais") not in french.text
    english = compose("")
    assert english.subject == "[Scheduled maintenance] Database upgrade"
    assert "Checkout will be unavailable for ten minutes." in english.text
    german = compose("de")
    assert german.subject.endswith("] Database upgrade")
    assert note("maintenance notice", "de", "Englisch") in german.text
    assert 'lang="en"' in german.html
