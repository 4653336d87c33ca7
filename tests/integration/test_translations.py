"""Translations of what customers read (incidents/translations.py): set and remove one
language, refusals before anything is written, the "possibly outdated" marks, and what a reader
of each language gets."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from statuspage.core.errors import DomainError, NotFound
from statuspage.core.models import AuditEntry, SiteState
from statuspage.incidents import translations as tr
from statuspage.incidents.closure import ClosureReportText, write_closure_report
from statuspage.incidents.models import IncidentTemplate
from statuspage.incidents.translation_models import IncidentUpdateTranslation
from statuspage.incidents.updates import edit_update

K = tr.Kind
REPORT = ClosureReportText(
    summary="Checkout failed.",
    impact="5% of payments.",
    cause="A bad deploy.",
    resolution="Rolled back.",
    prevention="Canary deploys.",
)
FR_REPORT = {
    "summary": "Le paiement a échoué.",
    "impact": "5 % des paiements.",
    "cause": "Un mauvais déploiement.",
    "resolution": "Retour en arrière.",
    "prevention": "Déploiements canari.",
}


def version(session) -> int:
    return session.scalar(sa.select(SiteState.public_version).where(SiteState.id == 1))


def states(session, kind, record):
    return {
        s.language: s for s in tr.translation_states(session, kind, record, default_language="en")
    }


def put(session, kind, record_id, language, texts, now):
    return tr.set_translation(
        session, kind, record_id, language, texts, default_language="en", actor_id=None, now=now
    )


def test_a_translation_of_an_update_is_stored_audited_and_moves_the_public_version(
    session, make_incident, now
):
    update = make_incident().updates[0]
    before = version(session)
    put(session, K.UPDATE, update.id, "fr", {"body": "  Nous enquêtons.  "}, now)
    row = session.scalar(sa.select(IncidentUpdateTranslation))
    assert (row.update_id, row.language, row.body) == (update.id, "fr", "Nous enquêtons.")
    assert version(session) > before
    audit = session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "translation_added"))
    assert audit.entity_id == update.id and audit.changes["language"] == "fr"
    # Saving it again replaces it: one row per record and language.
    put(session, K.UPDATE, update.id, "fr", {"body": "Nous enquêtons toujours."}, now)
    assert session.scalar(sa.select(sa.func.count()).select_from(IncidentUpdateTranslation)) == 1


@pytest.mark.parametrize(
    ("language", "texts", "field"),
    [
        ("en", {"body": "x"}, "language"),  # the default language is the record's own text
        ("xx", {"body": "x"}, "language"),
        ("de-AT", {"body": "x"}, "language"),
        ("fr", {"body": "   "}, "body"),
        ("fr", {"body": "x" * (tr.TEXT_MAX + 1)}, "body"),
        ("fr", {}, "body"),
    ],
)
def test_bad_translations_are_refused_before_anything_is_written(
    session, make_incident, now, language, texts, field
):
    update = make_incident().updates[0]
    with pytest.raises(DomainError) as refused:
        put(session, K.UPDATE, update.id, language, texts, now)
    assert refused.value.field == field
    assert session.scalar(sa.select(sa.func.count()).select_from(IncidentUpdateTranslation)) == 0


def test_an_unknown_record_is_not_found(session, now):
    with pytest.raises(NotFound):
        put(session, K.UPDATE, 999, "fr", {"body": "x"}, now)


def test_a_closure_report_needs_every_section_and_a_review_at_least_one(
    session, make_incident, now
):
    incident = make_incident()
    report = write_closure_report(session, incident, REPORT, actor_id=None, now=now)
    with pytest.raises(DomainError) as refused:
        put(session, K.CLOSURE_REPORT, report.id, "fr", {**FR_REPORT, "cause": ""}, now)
    assert refused.value.field == "cause"
    put(session, K.CLOSURE_REPORT, report.id, "fr", FR_REPORT, now)
    assert (
        states(session, K.CLOSURE_REPORT, report)["fr"].text("cause") == "Un mauvais déploiement."
    )


def test_editing_the_default_text_marks_translations_possibly_outdated(session, make_incident, now):
    incident = make_incident()
    update = incident.updates[0]
    put(session, K.UPDATE, update.id, "fr", {"body": "Nous enquêtons."}, now)
    assert not states(session, K.UPDATE, update)["fr"].outdated
    edit_update(session, incident, update.id, "We found the cause.", actor_id=None, now=now)
    state = states(session, K.UPDATE, update)["fr"]
    assert state.outdated and state.source_changed and not state.other_edited
    # Saving the translation again (checked against the new text) clears the mark.
    put(session, K.UPDATE, update.id, "fr", {"body": "Nous avons trouvé la cause."}, now)
    assert not states(session, K.UPDATE, update)["fr"].outdated


def test_editing_one_language_marks_the_others_possibly_outdated(session, make_incident, now):
    update = make_incident().updates[0]
    put(session, K.UPDATE, update.id, "fr", {"body": "Nous enquêtons."}, now)
    put(session, K.UPDATE, update.id, "de", {"body": "Wir untersuchen."}, now)
    found = states(session, K.UPDATE, update)
    assert found["fr"].other_edited and not found["de"].outdated
    assert not found["es"].exists and not found["es"].outdated
    # Saving French again unchanged clears its mark and marks nothing else.
    put(session, K.UPDATE, update.id, "fr", {"body": "Nous enquêtons."}, now)
    assert not states(session, K.UPDATE, update)["fr"].outdated
    assert not states(session, K.UPDATE, update)["de"].outdated
    # Changing French marks German.
    put(session, K.UPDATE, update.id, "fr", {"body": "Nous enquêtons encore."}, now)
    assert states(session, K.UPDATE, update)["de"].other_edited


def test_removing_a_translation(session, make_incident, now):
    update = make_incident().updates[0]
    put(session, K.UPDATE, update.id, "fr", {"body": "Nous enquêtons."}, now)
    removed = tr.remove_translation(
        session, K.UPDATE, update.id, "fr", default_language="en", actor_id=None, now=now
    )
    assert removed
    assert not states(session, K.UPDATE, update)["fr"].exists
    assert not tr.remove_translation(
        session, K.UPDATE, update.id, "fr", default_language="en", actor_id=None, now=now
    )


def test_a_reader_gets_their_language_or_the_default_with_its_language_named(
    session, make_incident, now, count_queries
):
    incident = make_incident()
    update = incident.updates[0]
    put(session, K.UPDATE, update.id, "fr", {"body": "Nous enquêtons."}, now)
    french = tr.Localizer(session, "fr", "en").update(update)
    assert french == tr.Shown("Nous enquêtons.", "fr", fallback=False)
    german = tr.Localizer(session, "de", "en").update(update)
    assert german == tr.Shown("We are investigating.", "en", fallback=True)
    english = tr.Localizer(session, "en", "en")
    assert count_queries(lambda: english.update(update)) == 0
    assert english.update(update) == tr.Shown("We are investigating.", "en", fallback=False)


def test_a_template_holds_message_texts_per_language(session, now):
    template = IncidentTemplate(name="Outage", message_templates={"investigating": "Looking."})
    session.add(template)
    session.flush()
    with pytest.raises(DomainError):
        put(session, K.TEMPLATE, template.id, "fr", {"message_templates": {"bogus": "x"}}, now)
    put(
        session,
        K.TEMPLATE,
        template.id,
        "fr",
        {"message_templates": {"investigating": "Nous regardons.", "resolved": ""}},
        now,
    )
    assert tr.template_messages(session, template.id, "fr") == {"investigating": "Nous regardons."}
    assert tr.template_messages(session, template.id, "de") == {}
