"""A French reader in a real browser: the page, an update and the closure report in French
(translated by staff), subscribing with French preselected, and the French email.

The fixed strings of the interface may still be English until the catalogs are translated;
this test asserts on what staff translated and on what the email says about its language."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests.browser.conftest import LiveSite, _serving, context_options
from tests.browser.support import emails_to, link_in

FRENCH_UPDATE = "Les paiements échouent ; nous enquêtons."
FRENCH_SUMMARY = "Les paiements ont échoué pendant vingt minutes."
FRENCH_NEWS = "Les paiements fonctionnent de nouveau."


@pytest.fixture(scope="module")
def french_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    with _serving(tmp_path_factory.mktemp("french-site"), seed=False) as site:
        yield site


def site_session(site: LiveSite) -> Session:
    engine = sa.create_engine(f"sqlite:///{site.mail_dir.parent / 'site.sqlite3'}")
    return Session(engine)


def set_french(session: Session, kind: str, record_id: int, texts: dict[str, str]) -> None:
    from statuspage.incidents.translations import set_translation

    set_translation(
        session,
        kind,
        record_id,
        "fr",
        texts,
        default_language="en",
        actor_id=None,
        now=datetime.now(UTC),
    )


def publish_story(site: LiveSite) -> int:
    """A public incident with an update and a published closure report, translated (the domain
    functions the staff pages call, on the site's own database)."""
    from statuspage.components.status import add_component
    from statuspage.incidents.closure import ClosureReportText, write_closure_report
    from statuspage.incidents.models import PublicStatus
    from statuspage.incidents.operations import NewIncident, open_incident, post_update

    now = datetime.now(UTC) - timedelta(minutes=30)
    with site_session(site) as session:
        component = add_component(session, name="Payments", group_id=None, now=now)
        incident = open_incident(
            session,
            NewIncident(title="Payments failing", component_ids=[component.id]),
            actor_id=None,
            now=now,
        )
        update = post_update(
            session,
            incident,
            status=PublicStatus.INVESTIGATING,
            body="Payments are failing; we are investigating.",
            component_statuses={component.id: "major_outage"},
            actor_id=None,
            now=now,
        )
        set_french(session, "update", update.id, {"body": FRENCH_UPDATE})
        report = write_closure_report(
            session,
            incident,
            ClosureReportText(
                summary="Payments failed for twenty minutes.",
                impact="Card payments.",
                cause="An expired certificate.",
                resolution="Renewed it.",
                prevention="Renewal alerts.",
            ),
            actor_id=None,
            now=now,
        )
        set_french(
            session,
            "closure_report",
            report.id,
            {
                "summary": FRENCH_SUMMARY,
                "impact": "Les paiements par carte.",
                "cause": "Un certificat expiré.",
                "resolution": "Nous l'avons renouvelé.",
                "prevention": "Des alertes de renouvellement.",
            },
        )
        session.commit()
        return incident.id


def test_a_french_reader_reads_subscribes_and_gets_french_email(
    browser: Any, french_site: LiveSite
) -> None:
    incident_id = publish_story(french_site)
    context = browser.new_context(**{**context_options(french_site), "locale": "fr-FR"})
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto(f"/incidents/{incident_id}")
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.get_by_text(FRENCH_UPDATE).is_visible()
        assert page.get_by_text(FRENCH_SUMMARY).is_visible()
        assert page.get_by_text("Un certificat expiré.").is_visible()
        assert page.get_by_text("Payments are failing").count() == 0

        # Subscribing: French is preselected from the page's language.
        address = "lecteur@example.com"
        page.goto("/subscribe")
        language = page.locator("select[name=language]")
        assert language.input_value() == "fr"
        page.locator("input[name=email]").fill(address)
        page.locator("form[action$='/subscribe'] button[type=submit]").click()
        page.wait_for_load_state()
        confirmations = emails_to(french_site.mail_dir, address)
        assert len(confirmations) == 1
        assert confirmations[0]["Content-Language"] == "fr"
        assert 'lang="fr"' in confirmations[0].get_body(preferencelist=("html",)).get_content()
        page.goto(link_in(confirmations[0], "/subscribe/confirm/"))
        page.locator("form button[type=submit]").first.click()
        page.wait_for_load_state()
    finally:
        context.close()

    # Staff publish a translated update; the worker's delivery (the same code, run here over
    # the site's database and its file transport) writes the French email.
    from statuspage.incidents.models import Incident, PublicStatus
    from statuspage.incidents.operations import post_update
    from statuspage.mail.transports import transport_from_config
    from statuspage.notifications.delivery import DeliverySettings, deliver

    with site_session(french_site) as session:
        incident = session.get(Incident, incident_id)
        update = post_update(
            session,
            incident,
            status=PublicStatus.RESOLVED,
            body="Payments work again.",
            component_statuses={link.component_id: "operational" for link in incident.affected},
            actor_id=None,
            now=datetime.now(UTC),
        )
        set_french(session, "update", update.id, {"body": FRENCH_NEWS})
        session.commit()
        transport = transport_from_config(
            {"MAIL_TRANSPORT": "file", "MAIL_FILE_DIR": str(french_site.mail_dir)},
            instance_path=str(french_site.mail_dir.parent),
        )
        settings = DeliverySettings(
            site_name="Browser Test Status",
            site_url=french_site.base_url,
            secret_key="browser-tests-secret-key-not-for-production",
            sender="status@example.com",
        )
        deliver(session, transport, settings, clock=lambda: datetime.now(UTC))
    messages = emails_to(french_site.mail_dir, address)
    news = [m for m in messages if "Payments failing" in str(m["Subject"])]
    assert news, [str(m["Subject"]) for m in messages]
    french = news[-1]
    assert french["Content-Language"] == "fr"
    text = french.get_body(preferencelist=("plain",)).get_content()
    assert FRENCH_NEWS in text and "Payments work again." not in text
