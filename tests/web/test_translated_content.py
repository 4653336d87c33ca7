"""Readers in their language: a French reader gets the French text of an update, closure
report and review where one exists, else the English text marked `lang="en"` with a note;
feeds per language; the Statuspage v2 JSON stays English unless `?lang=` asks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import feedparser
import pytest
from babel.support import Translations

from statuspage.i18n import TRANSLATIONS
from statuspage.incidents import reviews
from statuspage.incidents import translations as tr
from statuspage.incidents.closure import ClosureReportText, write_closure_report
from statuspage.incidents.models import Incident, PublicStatus
from statuspage.incidents.operations import post_update


@dataclass
class Story:
    incident: Incident


def note(kind: str, reader: str, language_name: str) -> str:
    """The reader's catalog's note that a text exists only in `language_name`."""
    msgid = f"This {kind} is available in %(language)s only."
    found = Translations.load(str(TRANSLATIONS), [reader], domain="messages").gettext(msgid)
    assert found != msgid, f"no {reader} translation of {msgid!r}"
    return squash(found % {"language": language_name})


def translate(session, kind, record_id, language, texts, now):
    tr.set_translation(
        session, kind, record_id, language, texts, default_language="en", actor_id=None, now=now
    )


@pytest.fixture
def story(session, make_component, make_incident, now) -> Story:
    api = make_component("API")
    started = now - timedelta(hours=3)
    incident = make_incident(
        "Checkout down",
        components={api.id: "major_outage"},
        started=started,
        body="We are looking into checkout errors.",
    )
    post_update(
        session,
        incident,
        status=PublicStatus.RESOLVED,
        body="Checkout works again.",
        component_statuses={api.id: "operational"},
        actor_id=None,
        now=started + timedelta(hours=1),
    )
    first, resolved = sorted(incident.updates, key=lambda u: u.published_at)
    translate(
        session, "update", resolved.id, "fr", {"body": "Le paiement fonctionne de nouveau."}, now
    )
    report = write_closure_report(
        session,
        incident,
        ClosureReportText(
            summary="Checkout failed.",
            impact="Some payments.",
            cause="A bad deploy.",
            resolution="Rolled back.",
            prevention="Canary deploys.",
        ),
        actor_id=None,
        now=now,
    )
    translate(
        session,
        "closure_report",
        report.id,
        "fr",
        {
            "summary": "Le paiement a échoué.",
            "impact": "Quelques paiements.",
            "cause": "Un mauvais déploiement.",
            "resolution": "Retour en arrière.",
            "prevention": "Déploiements canari.",
        },
        now,
    )
    review = reviews.start_review(session, incident, actor_id=None, now=now)
    reviews.update_review(
        session,
        review,
        reviews.ReviewText(summary="A deploy broke checkout.", trigger="Deploy 42."),
        actor_id=None,
        now=now,
    )
    for status in ("in_review", "approved"):
        reviews.move_review(session, incident, review, status, actor_id=None, now=now)
    reviews.publish_review(session, incident, review, publish_publicly=True, actor_id=None, now=now)
    translate(
        session, "review", review.id, "fr", {"summary": "Un déploiement a cassé le paiement."}, now
    )
    session.commit()
    return Story(incident)


def squash(html: str) -> str:
    return re.sub(r"\s+", " ", html)


def test_a_french_reader_sees_french_where_translated_and_a_marked_note_elsewhere(client, story):
    page = squash(client.get(f"/incidents/{story.incident.id}?lang=fr").get_data(as_text=True))
    assert "Le paiement fonctionne de nouveau." in page
    # The untranslated update: English, marked so, with the note naming English in French.
    assert re.search(
        r'<div class="prose" lang="en" dir="ltr">\s*<p>We are looking into checkout errors.', page
    )
    assert note("update", "fr", "anglais") in page
    updates = page.split('id="report-heading"', 1)[0]  # (the review's timeline stays English)
    assert "Checkout works again." not in updates
    # The closure report and the review's summary in French; the review's trigger in English.
    assert "Un mauvais déploiement." in page and "A bad deploy." not in page
    assert "Un déploiement a cassé le paiement." in page
    assert re.search(r'lang="en" dir="ltr"><p>Deploy 42.</p>', page)
    assert note("closure report", "fr", "anglais") not in page


def test_an_english_reader_sees_english_and_no_note(client, story):
    page = squash(client.get(f"/incidents/{story.incident.id}").get_data(as_text=True))
    assert "Checkout works again." in page and "We are looking into checkout errors." in page
    assert "Le paiement" not in page and "available in" not in page
    assert '<div class="prose" lang=' not in page


def test_a_german_reader_gets_english_with_the_note_in_every_part(client, story):
    page = squash(client.get(f"/incidents/{story.incident.id}?lang=de").get_data(as_text=True))
    assert note("update", "de", "Englisch") in page
    assert note("closure report", "de", "Englisch") in page
    assert note("review", "de", "Englisch") in page
    assert "Le paiement" not in page


def test_the_front_page_shows_the_latest_update_in_the_readers_language(client, session, story):
    # Reopen the incident so it is active on the front page.
    post_update(
        session,
        story.incident,
        status=PublicStatus.INVESTIGATING,
        body="Errors again.",
        component_statuses={},
        actor_id=None,
        now=story.incident.updates[0].published_at + timedelta(minutes=5),
    )
    session.commit()
    page = squash(client.get("/", headers={"Accept-Language": "fr"}).get_data(as_text=True))
    assert 'lang="en" dir="ltr"><p>Errors again.</p>' in page
    assert note("update", "fr", "anglais") in page


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_feeds_per_language(client, story, kind):
    french = feedparser.parse(client.get(f"/history.{kind}?lang=fr").data)
    assert french.feed.language == "fr"
    content = french.entries[0].get("content", [{}])[0].get("value") or french.entries[0].summary
    assert "Le paiement fonctionne de nouveau." in content
    assert "Un mauvais déploiement." in content
    english = feedparser.parse(client.get(f"/history.{kind}").data)
    assert english.feed.language == "en"
    content = english.entries[0].get("content", [{}])[0].get("value") or english.entries[0].summary
    assert "Checkout works again." in content and "Le paiement" not in content


def test_the_v2_json_stays_english_unless_lang_asks(client, story):
    def bodies(url, **headers):
        data = client.get(url, headers=headers).get_json()
        incident = data["incidents"][0]
        return [u["body"] for u in incident["incident_updates"]], incident["postmortem_body"]

    english, postmortem = bodies("/api/v2/incidents.json", **{"Accept-Language": "fr"})
    assert english == ["Checkout works again.", "We are looking into checkout errors."]
    assert "A deploy broke checkout." in postmortem
    french, postmortem = bodies("/api/v2/incidents.json?lang=fr")
    # Only where a translation exists.
    assert french == ["Le paiement fonctionne de nouveau.", "We are looking into checkout errors."]
    assert "Un déploiement a cassé le paiement." in postmortem
    unknown, _ = bodies("/api/v2/incidents.json?lang=xx")
    assert unknown == english
    # And the English copy cached first is not what a ?lang=fr request gets, nor the reverse.
    assert bodies("/api/v2/incidents.json?lang=fr")[0] == french
    assert bodies("/api/v2/incidents.json")[0] == english


def test_english_text_on_an_arabic_page_keeps_left_to_right(client, story):
    page = squash(client.get(f"/incidents/{story.incident.id}?lang=ar").get_data(as_text=True))
    assert '<html lang="ar" dir="rtl">' in page
    assert re.search(
        r'<div class="prose" lang="en" dir="ltr">\s*<p>We are looking into checkout errors.', page
    )
    assert note("update", "ar", "الإنجليزية") in page
