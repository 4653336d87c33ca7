"""Email in each subscriber's language, against the loopback SendGrid stand-in: batches hold
one language each (one provider request per batch-size recipients of a language), the subject,
the words and the update's text are in that language when translated, else the default text
with a note; Content-Language says which."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage.core import translation
from statuspage.core.outbox import Notification
from statuspage.incidents import translations as tr
from statuspage.incidents.models import IncidentUpdate
from statuspage.notifications.delivery import deliver
from statuspage.notifications.models import DeliveryBatch, Subscriber
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.integration.test_delivery import fixed, settings, transport_for


@pytest.fixture
def sendgrid():
    with FakeSendGrid() as fake:
        yield fake


@pytest.fixture
def announce(session, make_component, make_incident):
    def make(title: str) -> Notification:
        component = make_component("API")
        incident = make_incident(title, components={component.id: "major_outage"})
        session.commit()
        return session.scalars(
            sa.select(Notification).where(Notification.incident_id == incident.id)
        ).one()

    return make


# Subscribers per language ("" is an old subscription: the page's default language).
COUNTS = {"": 4, "en": 21, "de": 12, "fr": 10, "es": 3, "ja": 1, "ar": 9}
FRENCH = "Nous enquêtons sur des erreurs de l'API."
GERMAN = "Wir untersuchen API-Fehler."


def add_mixed_subscribers(session: Any, confirmed: Any) -> dict[str, str]:
    """Languages interleaved by id, so grouping cannot come from the insertion order."""
    languages = [code for code, count in COUNTS.items() for _ in range(count)]
    random.Random(7).shuffle(languages)
    rows = [
        {
            "email": f"reader{index}@example.com",
            "all_components": True,
            "created_at": confirmed,
            "confirmed_at": confirmed,
            "imported": False,
            "suppressed_reason": "",
            "language": language,
        }
        for index, language in enumerate(languages)
    ]
    session.execute(sa.insert(Subscriber), rows)
    session.commit()
    return {row["email"]: row["language"] or "en" for row in rows}


def test_each_subscriber_gets_their_language_in_batches_of_one_language(
    session, announce, sendgrid, now
):
    from datetime import timedelta

    language_of = add_mixed_subscribers(session, now - timedelta(days=1))
    notification: Notification = announce("API errors")
    update = session.get(IncidentUpdate, notification.incident_update_id)
    for code, body in (("fr", FRENCH), ("de", GERMAN)):
        tr.set_translation(
            session,
            "update",
            update.id,
            code,
            {"body": body},
            default_language="en",
            actor_id=None,
            now=now,
        )
    session.commit()

    report = deliver(
        session, transport_for(sendgrid), settings(), clock=fixed(now), rng=random.Random(1)
    )
    total = sum(COUNTS.values())
    assert report.recipients_sent == total
    # One request per 10 (the batch size here) recipients of one language; "" and "en" are
    # stored apart (old rows and explicit choices), one request more at most.
    expected_calls = sum(math.ceil(count / 10) for count in COUNTS.values())
    assert len(sendgrid.requests) == expected_calls == 10
    delivered: Counter[str] = Counter()
    for request in sendgrid.requests:
        languages = {language_of[address] for address in request.recipients}
        assert len(languages) == 1, languages  # one language per provider request
        (language,) = languages
        delivered.update(request.recipients)
        body = request.body
        text = next(c["value"] for c in body["content"] if c["type"] == "text/plain")
        html = next(c["value"] for c in body["content"] if c["type"] == "text/html")
        for personalization in request.personalizations:
            assert personalization["headers"]["Content-Language"] == language
        assert f'<html lang="{language}"' in html
        status = translation.gettext("Investigating", language)
        assert body["subject"] == f"[{status}] API errors"
        if language == "fr":
            assert FRENCH in text and "We are investigating." not in text
            assert "available in" not in text
        elif language == "de":
            assert GERMAN in text
        elif language == "en":
            assert "We are investigating." in text and "available in" not in text
        else:
            name = translation.language_name("en", language)
            assert "We are investigating." in text
            assert 'lang="en"' in html
            note = translation.gettext(
                "This update is available in %(language)s only.", language, language=name
            )
            assert note in text
    assert delivered == Counter({address: 1 for address in language_of})
    # Every batch row holds one language.
    rows = session.scalars(
        sa.select(DeliveryBatch).where(DeliveryBatch.notification_id == notification.id)
    ).all()
    for row in rows:
        stored = set(
            session.scalars(
                sa.select(Subscriber.language).where(Subscriber.id.in_(row.subscriber_ids))
            )
        )
        assert stored == {row.language}


def test_the_note_names_the_default_language_in_the_readers_language():
    assert translation.language_name("en", "es") == "inglés"
    assert translation.language_name("en", "de") == "Englisch"
    assert translation.language_name("en", "ja") == "英語"
