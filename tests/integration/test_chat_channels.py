"""Slack, Microsoft Teams, Discord and SMS end to end: from the public subscribe page to the
loopback stand-ins of each service (tests/fakes), through the outbox and the worker.

Each stand-in checks its service's documented format and limits and receives one incident's
updates. Also: a chat URL on another host is refused (the settings-free host list), the SMS
opt-in code (wrong, then right; only its hash stored), nothing texted before the code,
Twilio's signed STOP ends the subscription, an unsigned one is refused, and an opted-out
number (Twilio's 21610) disables the subscription at the first delivery.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from statuspage.core.db import utcnow
from statuspage.incidents.models import PublicStatus
from statuspage.incidents.operations import NewIncident, open_incident, post_update
from statuspage.notifications.chat.targets import on_service_host
from statuspage.notifications.models import ChannelKind, ChannelStatus, ChannelSubscription
from statuspage.worker.channels import run_channels
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import FakeSlack
from tests.fakes.teams_server import FakeTeams
from tests.fakes.twilio_server import FakeTwilio, count_segments

LOOPBACK = ["127.0.0.0/8"]
BODIES = [
    "We are looking into **elevated errors** at checkout & payment.",
    "The cause is a failing payment provider; we are switching to the backup.",
    "Fixed: payments work again.",
]
STATUSES = [PublicStatus.INVESTIGATING, PublicStatus.IDENTIFIED, PublicStatus.RESOLVED]
COMPONENT_STATUSES = ["major_outage", "partial_outage", "operational"]


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def chat_app(app: Flask, tmp_path: Path, twilio: FakeTwilio) -> Flask:
    app.config.update(
        CHANNEL_ALLOW_HTTP=True,
        CHANNEL_ALLOWED_TEST_NETWORKS=LOOPBACK,
        CHANNEL_TIMEOUT=5.0,
        CHANNEL_BACKOFF_BASE=0.01,
        CHANNEL_BACKOFF_CAP=0.05,
        MAIL_TRANSPORT="file",
        MAIL_FILE_DIR=str(tmp_path / "mail"),
        SITE_TIME_ZONE="Europe/Berlin",
        TWILIO_ACCOUNT_SID=twilio.account_sid,
        TWILIO_AUTH_TOKEN=twilio.auth_token,
        TWILIO_FROM_NUMBER=twilio.from_number,
        TWILIO_API_BASE_URL=twilio.url,
        TWILIO_TIMEOUT=5.0,
    )
    return app


def deliver(app: Flask) -> Any:
    with app.app_context():
        return run_channels()


def manage_link(html: str) -> str:
    return re.search(r'id="manage-link">([^<]+)<', html).group(1).replace("http://localhost", "")  # type: ignore[union-attr]


def publish_incident(session: Any, app: Flask, component_id: int, now: datetime) -> None:
    incident = open_incident(
        session,
        NewIncident(title="Checkout errors", impact_started_at=now, component_ids=[component_id]),
        actor_id=None,
        now=utcnow(),
    )
    for body, status, component_status in zip(BODIES, STATUSES, COMPONENT_STATUSES, strict=True):
        post_update(
            session,
            incident,
            status=status,
            body=body,
            component_statuses={component_id: component_status},
            actor_id=None,
            now=utcnow(),
        )
        session.commit()
        deliver(app)


def test_slack_teams_and_discord_each_receive_an_incident_from_the_subscribe_page(
    chat_app: Flask,
    client: FlaskClient,
    session: Any,
    make_component: Callable[..., Any],
    now: datetime,
) -> None:
    checkout = make_component("Checkout")
    session.commit()
    with FakeSlack() as slack, FakeTeams() as teams, FakeDiscord() as discord:
        links = {}
        for service, fake in (("slack", slack), ("teams", teams), ("discord", discord)):
            page = client.get(f"/subscribe/{service}")
            assert page.status_code == 200
            response = client.post(
                f"/subscribe/{service}", data={"url": fake.webhook_url, "scope": "all"}
            )
            assert response.status_code == 200, response.get_data(as_text=True)
            assert response.headers["Cache-Control"] == "no-store"
            links[service] = manage_link(response.get_data(as_text=True))
        rows = session.scalars(sa.select(ChannelSubscription)).all()
        assert {row.kind for row in rows} == {
            ChannelKind.SLACK,
            ChannelKind.TEAMS,
            ChannelKind.DISCORD,
        }
        assert all(row.status == ChannelStatus.ACTIVE for row in rows)

        publish_incident(session, chat_app, checkout.id, now)

        # Each update's incident event, and each of Checkout's status changes as a component
        # event (Statuspage's component webhook, in each client's words).
        for fake in (slack, teams, discord):
            assert [r.problem for r in fake.requests] == [""] * 6, fake.name
        slack_messages = [m for m in slack.messages if "errors" in m["blocks"][0]["text"]["text"]]
        component_messages = [m for m in slack.messages if m not in slack_messages]
        assert [m["blocks"][0]["text"]["text"] for m in component_messages] == [
            "[Major outage] Checkout",
            "[Partial outage] Checkout",
            "[Operational] Checkout",
        ]
        assert "Checkout is now Major outage (was Operational)." in str(component_messages[0])
        assert "Checkout is now Operational (was Partial outage)." in str(component_messages[2])
        assert [m["blocks"][0]["text"]["text"] for m in slack_messages] == [
            "[Investigating] Checkout errors",
            "[Identified] Checkout errors",
            "[Resolved] Checkout errors",
        ]
        first = slack_messages[0]["blocks"]
        assert "*elevated errors*" in first[2]["text"]["text"]
        assert "&amp; payment" in first[2]["text"]["text"]
        assert "Checkout: Major outage" in first[1]["fields"][-1]["text"]
        assert "(Europe/Berlin)" in first[3]["elements"][0]["text"]

        cards = [c for c in teams.cards if "errors" in c["body"][1]["text"]]
        assert [c["body"][1]["text"] for c in cards] == [
            "[Investigating] Checkout errors",
            "[Identified] Checkout errors",
            "[Resolved] Checkout errors",
        ]
        facts = next(e for e in cards[-1]["body"] if e["type"] == "FactSet")["facts"]
        assert {"title": "Checkout", "value": "Operational"} in facts

        embeds = [m["embeds"][0] for m in discord.messages if "errors" in m["embeds"][0]["title"]]
        assert len(embeds) == 3
        assert [e["title"] for e in embeds] == [
            "[Investigating] Checkout errors",
            "[Identified] Checkout errors",
            "[Resolved] Checkout errors",
        ]
        assert re.fullmatch(r"http://localhost/incidents/\d+", embeds[0]["url"])
        assert {"name": "Status", "value": "Resolved", "inline": True} in embeds[-1]["fields"]

        # The manage page works for chat subscriptions: unsubscribing stops the posts.
        manage = client.get(links["discord"])
        assert manage.status_code == 200 and "Active." in manage.get_data(as_text=True)
        left = client.post(links["discord"], data={"action": "unsubscribe"})
        assert left.status_code == 302
        publish_incident(session, chat_app, checkout.id, now)
        assert len(discord.messages) == 6 and len(slack.messages) == 12


def test_a_chat_url_on_another_host_is_refused_without_the_test_networks(
    chat_app: Flask, client: FlaskClient, session: Any
) -> None:
    chat_app.config.update(CHANNEL_ALLOWED_TEST_NETWORKS=[], CHANNEL_ALLOW_HTTP=False)
    for service, url in (
        ("slack", "https://hooks.example.com/services/T/B/x"),
        ("discord", "https://example.com/api/webhooks/1/x"),
        ("teams", "https://evil.example.com/workflows/1/triggers/manual/paths/invoke"),
        ("slack", "https://hooks.slack.com.evil.example/services/T/B/x"),
    ):
        response = client.post(f"/subscribe/{service}", data={"url": url, "scope": "all"})
        assert response.status_code == 400, (service, url)
        assert "URL" in response.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(ChannelSubscription)) == 0
    assert on_service_host(ChannelKind.SLACK, "https://hooks.slack.com/services/T1/B1/abc")
    assert on_service_host(ChannelKind.DISCORD, "https://discord.com/api/webhooks/1/abc")
    assert on_service_host(
        ChannelKind.TEAMS,
        "https://prod-01.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke",
    )
    assert not on_service_host(ChannelKind.SLACK, "http://hooks.slack.com/services/T1/B1/abc")


def sms_subscribe(client: FlaskClient, twilio: FakeTwilio, number: str) -> tuple[str, str]:
    """Subscribe `number`; the code page's address and the code Twilio was asked to text."""
    response = client.post("/subscribe/sms", data={"phone": number, "scope": "all"})
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    action = re.search(r'action="(/subscribe/sms/[^"]+)"', html).group(1)  # type: ignore[union-attr]
    text = twilio.messages[-1]["Body"]
    code = re.search(r"code is (\d{6})", text).group(1)  # type: ignore[union-attr]
    assert count_segments(text) == ("GSM-7", 1)
    return action, code


def test_sms_opt_in_updates_and_stop(
    chat_app: Flask,
    client: FlaskClient,
    session: Any,
    twilio: FakeTwilio,
    make_component: Callable[..., Any],
    now: datetime,
) -> None:
    checkout = make_component("Checkout")
    session.commit()
    number = "+14155550123"
    action, code = sms_subscribe(client, twilio, "+1 (415) 555-0123")
    subscription = session.scalar(sa.select(ChannelSubscription))
    assert subscription.status == ChannelStatus.PENDING and subscription.target == number
    assert code not in subscription.optin_code_hash

    # Nothing is texted before the code comes back.
    make_component("Other")
    publish_incident(session, chat_app, checkout.id, now)
    assert len(twilio.messages) == 1

    wrong = "000000" if code != "000000" else "111111"
    refused = client.post(action, data={"code": wrong})
    assert refused.status_code == 400 and "not the code" in refused.get_data(as_text=True)
    confirmed = client.post(action, data={"code": code[:3] + " " + code[3:]})
    assert confirmed.status_code == 200 and "Text messages are on" in confirmed.get_data(
        as_text=True
    )
    session.expire_all()
    assert session.get(ChannelSubscription, subscription.id).status == ChannelStatus.ACTIVE

    publish_incident(session, chat_app, checkout.id, now)
    assert len(twilio.messages) == 7  # three updates and Checkout's three status changes
    texts = [m["Body"] for m in twilio.messages[1:] if "Checkout errors" in m["Body"]]
    assert len(texts) == 3
    assert all(m["To"] == number for m in twilio.messages[1:])
    assert texts[0].startswith("Test Status: Investigating - Checkout errors. We are looking")
    assert all(count_segments(text) == ("GSM-7", 1) for text in texts)
    changes = [m["Body"] for m in twilio.messages[1:] if "Checkout errors" not in m["Body"]]
    assert "Checkout is now Major outage (was Operational)." in changes[0]
    assert all(count_segments(text) == ("GSM-7", 1) for text in changes)
    assert all(re.search(r"http://localhost/incidents/\d+$", text) for text in texts)

    # STOP: an unsigned or wrongly signed request is refused; a signed one ends it.
    url = "http://localhost/sms/inbound"
    form, signature = twilio.inbound_request(url, "STOP", number)
    assert client.post("/sms/inbound", data=form).status_code == 403
    forged = client.post(
        "/sms/inbound",
        data={**form, "From": "+14155550999"},
        headers={"X-Twilio-Signature": signature},
    )
    assert forged.status_code == 403
    session.expire_all()
    assert session.get(ChannelSubscription, subscription.id).status == ChannelStatus.ACTIVE
    stopped = client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": signature})
    assert stopped.status_code == 200 and stopped.data.startswith(b"<?xml")
    session.expire_all()
    assert session.get(ChannelSubscription, subscription.id).status == ChannelStatus.UNSUBSCRIBED
    publish_incident(session, chat_app, checkout.id, now)
    assert len(twilio.messages) == 7
    # The code page of an ended subscription leads to its manage page, not to "texts are on".
    ended = client.get(action)
    assert ended.status_code == 302 and "/channel/" in ended.headers["Location"]


def test_an_opted_out_number_is_disabled_at_its_first_delivery(
    chat_app: Flask,
    client: FlaskClient,
    session: Any,
    twilio: FakeTwilio,
    make_component: Callable[..., Any],
    now: datetime,
) -> None:
    component = make_component("API")
    session.commit()
    action, code = sms_subscribe(client, twilio, "+447700900123")
    client.post(action, data={"code": code})
    twilio.opt_out("+447700900123")  # STOP sent to Twilio, which we never heard about
    incident = open_incident(
        session,
        NewIncident(title="API down", impact_started_at=now, component_ids=[component.id]),
        actor_id=None,
        now=utcnow(),
    )
    post_update(
        session,
        incident,
        status=PublicStatus.INVESTIGATING,
        body="Looking.",
        component_statuses={component.id: "major_outage"},
        actor_id=None,
        now=utcnow(),
    )
    session.commit()
    deliver(chat_app)
    session.expire_all()
    subscription = session.scalar(sa.select(ChannelSubscription))
    assert subscription.status == ChannelStatus.DISABLED
    assert "21610" in subscription.disabled_reason


def test_sms_pages_are_absent_until_twilio_is_configured(app: Flask, client: FlaskClient) -> None:
    assert client.get("/subscribe/sms").status_code == 404
    assert client.post("/sms/inbound", data={"Body": "STOP"}).status_code == 404
    assert "by text message" not in client.get("/subscribe").get_data(as_text=True)
    assert client.get("/subscribe/slack").status_code == 200


def test_a_chat_subscription_gets_only_the_components_it_chose(
    chat_app: Flask,
    client: FlaskClient,
    session: Any,
    make_component: Callable[..., Any],
    now: datetime,
) -> None:
    api, web = make_component("API"), make_component("Web")
    session.commit()
    with FakeSlack() as slack:
        response = client.post(
            "/subscribe/slack",
            data={"url": slack.webhook_url, "scope": "some", "components": [str(web.id)]},
        )
        assert response.status_code == 200
        publish_incident(session, chat_app, api.id, now)
        assert slack.requests == []
        publish_incident(session, chat_app, web.id, now)
        assert len(slack.messages) == 6  # three updates, three of Web's status changes
        assert all("API" not in str(m) for m in slack.messages)


def test_the_inbound_webhook_and_the_forms_keep_their_csrf_rules(
    csrf_client: FlaskClient, twilio: FakeTwilio
) -> None:
    app = csrf_client.application
    app.config.update(
        TWILIO_ACCOUNT_SID=twilio.account_sid,
        TWILIO_AUTH_TOKEN=twilio.auth_token,
        TWILIO_FROM_NUMBER=twilio.from_number,
        TWILIO_API_BASE_URL=twilio.url,
    )
    # Twilio cannot carry our CSRF token: its signature is the credential.
    form, signature = twilio.inbound_request("http://localhost/sms/inbound", "HELP", "+15551230000")
    answer = csrf_client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200 and answer.content_type.startswith("text/xml")
    # The reader's forms need theirs.
    refused = csrf_client.post(
        "/subscribe/slack", data={"url": "https://hooks.slack.com/services/T/B/x", "scope": "all"}
    )
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    refused_sms = csrf_client.post("/subscribe/sms", data={"phone": "+15551230000", "scope": "all"})
    assert refused_sms.status_code == 400 and "CSRF" in refused_sms.get_data(as_text=True)
    assert twilio.requests == []


# --- languages ------------------------------------------------------------------------------

FRENCH_BODY = "Nous examinons des **erreurs** au paiement."
GERMAN_BODY = "Wir untersuchen Fehler beim Bezahlen."


def catalog(code: str) -> Callable[[str], str]:
    from babel.support import Translations

    from statuspage.i18n import TRANSLATIONS

    found = Translations.load(str(TRANSLATIONS), [code], domain="messages")

    def gettext(msgid: str) -> str:
        text = found.gettext(msgid)
        assert text != msgid, f"no {code} translation of {msgid!r}"
        return text

    return gettext


def publish_translated(session: Any, app: Flask, component_id: int, now: datetime) -> None:
    """One update, written in English with French and German translations, delivered."""
    from statuspage.incidents import translations as tr

    incident = open_incident(
        session,
        NewIncident(title="Checkout errors", impact_started_at=now, component_ids=[component_id]),
        actor_id=None,
        now=utcnow(),
    )
    update = post_update(
        session,
        incident,
        status=PublicStatus.INVESTIGATING,
        body="We are looking into **errors** at checkout.",
        component_statuses={component_id: "major_outage"},
        actor_id=None,
        now=utcnow(),
    )
    for code, body in (("fr", FRENCH_BODY), ("de", GERMAN_BODY)):
        tr.set_translation(
            session,
            "update",
            update.id,
            code,
            {"body": body},
            default_language="en",
            actor_id=None,
            now=utcnow(),
        )
    session.commit()
    deliver(app)


def test_a_french_slack_subscription_gets_french_words_and_the_french_text(
    chat_app: Flask,
    client: FlaskClient,
    session: Any,
    make_component: Callable[..., Any],
    now: datetime,
) -> None:
    fr = catalog("fr")
    checkout = make_component("Checkout")
    session.commit()
    with FakeSlack() as french_slack, FakeSlack() as english_slack, FakeDiscord() as webhook:
        assert (
            client.post(
                "/subscribe/slack",
                data={"url": french_slack.webhook_url, "scope": "all", "language": "fr"},
            ).status_code
            == 200
        )
        assert (
            client.post(
                "/subscribe/slack",
                data={"url": english_slack.webhook_url, "scope": "all", "language": "en"},
            ).status_code
            == 200
        )
        assert (
            client.post(
                "/subscribe/discord",
                data={"url": webhook.webhook_url, "scope": "all", "language": "fr"},
            ).status_code
            == 200
        )
        languages = {
            row.target: row.language for row in session.scalars(sa.select(ChannelSubscription))
        }
        assert languages[french_slack.webhook_url] == "fr"

        publish_translated(session, chat_app, checkout.id, now)

        assert [r.problem for r in french_slack.requests] == [""] * 2
        # The update, and Checkout's status change (in either order: sent side by side).
        update = next(m for m in french_slack.messages if "errors" in str(m["blocks"][0]))
        change = next(m for m in french_slack.messages if m is not update)
        blocks = update["blocks"]
        assert blocks[0]["text"]["text"] == f"[{fr('Investigating')}] Checkout errors"
        fields = [field["text"] for field in blocks[1]["fields"]]
        assert fields[0] == f"*{fr('Status')}*\n{fr('Investigating')}"
        assert f"*{fr('Affected components')}*" in fields[-1]
        assert f"Checkout: {fr('Major outage')}" in fields[-1]
        assert "*erreurs*" in blocks[2]["text"]["text"]  # the French text, as mrkdwn
        assert "looking into" not in str(update)
        assert blocks[-1]["elements"][0]["text"]["text"] == fr("View on status page")
        assert "(Europe/Berlin)" in blocks[-2]["elements"][0]["text"]
        # The component event's sentence and status words too.
        assert fr("%(component)s is now %(status)s (was %(old)s).") % {
            "component": "Checkout",
            "status": fr("Major outage"),
            "old": fr("Operational"),
        } in str(change)

        # The same event in English for an English subscription: built apart, not mixed.
        english = next(
            m["blocks"] for m in english_slack.messages if "errors" in str(m["blocks"][0])
        )
        assert english[0]["text"]["text"] == "[Investigating] Checkout errors"
        assert "*errors*" in english[2]["text"]["text"]
        assert "erreurs" not in str(english_slack.messages)

        # Discord in French as well (its own field names).
        embed = next(
            m["embeds"][0] for m in webhook.messages if "errors" in m["embeds"][0]["title"]
        )
        assert {"name": fr("Status"), "value": fr("Investigating"), "inline": True} in embed[
            "fields"
        ]
        assert "erreurs" in embed["description"]


def test_a_german_sms_subscription_gets_german_words_and_the_german_text(
    chat_app: Flask,
    client: FlaskClient,
    session: Any,
    twilio: FakeTwilio,
    make_component: Callable[..., Any],
    now: datetime,
) -> None:
    de = catalog("de")
    checkout = make_component("Checkout")
    session.commit()
    response = client.post(
        "/subscribe/sms", data={"phone": "+14155550124", "scope": "all", "language": "de"}
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    action = re.search(r'action="(/subscribe/sms/[^"]+)"', html).group(1)  # type: ignore[union-attr]
    code = re.search(r"(\d{6})", twilio.messages[-1]["Body"]).group(1)  # type: ignore[union-attr]
    assert client.post(action, data={"code": code}).status_code == 200
    assert session.scalar(sa.select(ChannelSubscription)).language == "de"

    publish_translated(session, chat_app, checkout.id, now)

    texts = [m["Body"] for m in twilio.messages[1:]]
    assert len(texts) == 2
    update = next(text for text in texts if "Checkout errors" in text)
    assert update.startswith(f"Test Status: {de('Investigating')} - Checkout errors. {GERMAN_BODY}")
    assert re.search(r"http://localhost/incidents/\d+$", update)
    change = next(text for text in texts if text is not update)
    assert de("Major outage") in change and "is now" not in change


def test_the_chat_and_sms_forms_preselect_the_pages_language(
    chat_app: Flask, client: FlaskClient
) -> None:
    for path in ("/subscribe/slack?lang=fr", "/subscribe/sms?lang=de"):
        html = client.get(path).get_data(as_text=True)
        code = path.rsplit("=", 1)[1]
        assert re.search(
            rf'<option selected value="{code}">|<option value="{code}" selected', html
        ), path


def test_the_opt_in_text_is_in_the_language_chosen_on_the_form(
    chat_app: Flask, client: FlaskClient, twilio: FakeTwilio
) -> None:
    from statuspage.core.translation import gettext
    from statuspage.notifications.chat.sms_optin import OPT_IN

    response = client.post(
        "/subscribe/sms?lang=de", data={"phone": "+14155550199", "scope": "all", "language": "de"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    text = twilio.messages[-1]["Body"]
    german = gettext(OPT_IN, "de", page="Test Status", code="000000")
    assert german != gettext(OPT_IN, "en", page="Test Status", code="000000")
    before, after = german.split("000000")
    assert text.startswith(before) and text.endswith(after), text
    assert "STOP" in text
    assert count_segments(text) == ("GSM-7", 1)  # German's letters are all in GSM-7
