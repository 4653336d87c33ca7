"""Slack, Teams, Discord and Twilio senders against loopback stand-ins of each service."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from statuspage.notifications.chat.discord import send_discord
from statuspage.notifications.chat.message import AffectedComponent, ChannelMessage, EventKind
from statuspage.notifications.chat.sending import post_json
from statuspage.notifications.chat.slack import send_slack
from statuspage.notifications.chat.sms import TwilioSettings, send_sms, send_sms_text
from statuspage.notifications.chat.teams import send_teams
from statuspage.notifications.netguard import NetworkPolicy
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import FakeSlack
from tests.fakes.teams_server import FakeTeams
from tests.fakes.twilio_server import FakeTwilio, count_segments

TIMEOUT = 5.0
POLICY = NetworkPolicy(
    allow_http=True, allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),), timeout=TIMEOUT
)
LONG_BODY = "\n\n".join(
    f"Update part {n}: " + " ".join(f"detail{n}-{i} <tag> & co" for i in range(150))
    for n in range(50)
)


def make_message(**overrides: object) -> ChannelMessage:
    values: dict[str, object] = {
        "kind": EventKind.INCIDENT,
        "page_name": "Acme Status",
        "title": "Checkout errors",
        "status": "identified",
        "status_label": "Identified",
        "url": "https://status.example.com/incidents/12",
        "occurred_at": datetime(2026, 12, 4, 9, 30, tzinfo=UTC),
        "time_zone": "America/New_York",
        "impact": "critical",
        "body_markdown": "The **payment provider** is failing; we are switching to the backup.",
        "components": (
            AffectedComponent("Checkout", "Major outage"),
            AffectedComponent("API", "Degraded performance"),
        ),
        "manage_url": "https://status.example.com/subscriptions/manage/t0k",
    }
    values.update(overrides)
    return ChannelMessage(**values)  # type: ignore[arg-type]


def many_components(count: int) -> tuple[AffectedComponent, ...]:
    return tuple(AffectedComponent(f"Region {i} gateway", "Partial outage") for i in range(count))


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def teams() -> Iterator[FakeTeams]:
    with FakeTeams() as fake:
        yield fake


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake:
        yield fake


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


def twilio_settings(fake: FakeTwilio, **overrides: str) -> TwilioSettings:
    values = {
        "account_sid": fake.account_sid,
        "auth_token": fake.auth_token,
        "from_number": fake.from_number,
        "api_base_url": fake.url,
    }
    values.update(overrides)
    return TwilioSettings(**values)


# --- the stand-ins refuse what the services refuse ---


def test_the_stand_ins_refuse_bad_payloads(
    slack: FakeSlack, teams: FakeTeams, discord: FakeDiscord
) -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    bad_slack = post_json(slack.webhook_url, {"blocks": [header]}, POLICY)
    assert bad_slack.status == 400
    assert bad_slack.body == b"invalid_blocks"
    unescaped = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a < b"}}]}
    assert post_json(slack.webhook_url, unescaped, POLICY).status == 400
    bad_card = {"type": "message", "attachments": [{"contentType": "text/html", "content": {}}]}
    assert post_json(teams.webhook_url, bad_card, POLICY).status == 400
    bad_embed = {"embeds": [{"title": "t" * 257}]}
    answer = post_json(discord.webhook_url, bad_embed, POLICY)
    assert answer.status == 400 and b"50035" in answer.body
    assert not slack.accepted and not teams.accepted and not discord.accepted


# --- Slack ---


def test_slack_delivers_a_message_slack_accepts(slack: FakeSlack) -> None:
    result = send_slack(slack.webhook_url, make_message(), POLICY)
    assert result.ok and result.status_code == 200 and result.response_excerpt == "ok"
    assert result.latency_ms is not None and not result.gone
    (received,) = slack.messages
    assert received["blocks"][0]["text"]["text"] == "[Identified] Checkout errors"
    assert "*payment provider*" in received["blocks"][2]["text"]["text"]
    assert "EST (America/New_York)" in received["blocks"][3]["elements"][0]["text"]


def test_slack_takes_very_long_updates_and_many_components(slack: FakeSlack) -> None:
    message = make_message(body_markdown=LONG_BODY, components=many_components(400))
    result = send_slack(slack.webhook_url, message, POLICY)
    assert result.ok, slack.requests[-1].problem
    assert len(slack.messages[0]["blocks"]) <= 50


def test_slack_rate_limit_gone_and_refusal(slack: FakeSlack) -> None:
    slack.respond_with(429, "rate_limited", headers={"Retry-After": "7"})
    limited = send_slack(slack.webhook_url, make_message(), POLICY)
    assert not limited.ok and limited.status_code == 429 and limited.retry_after == 7.0
    assert not limited.permanent and not limited.gone
    slack.respond_with(410, "channel_is_archived")
    archived = send_slack(slack.webhook_url, make_message(), POLICY)
    assert archived.gone and archived.error == "channel_is_archived" and archived.permanent
    unknown = send_slack(slack.url + "/services/T0/B0/nope", make_message(), POLICY)
    assert unknown.gone and unknown.status_code == 404 and unknown.error == "no_service"


# --- Teams ---


def test_teams_delivers_an_adaptive_card(teams: FakeTeams) -> None:
    result = send_teams(teams.webhook_url, make_message(), POLICY)
    assert result.ok and result.status_code == 202
    (card,) = teams.cards
    facts = next(e for e in card["body"] if e["type"] == "FactSet")["facts"]
    assert {"title": "Checkout", "value": "Major outage"} in facts
    assert card["actions"][0]["url"] == "https://status.example.com/incidents/12"


def test_teams_takes_very_long_updates(teams: FakeTeams) -> None:
    message = make_message(body_markdown=LONG_BODY, components=many_components(400))
    result = send_teams(teams.webhook_url, message, POLICY)
    assert result.ok, teams.requests[-1].problem


def test_teams_refusals(teams: FakeTeams) -> None:
    wrong_signature = teams.webhook_url.replace(teams.signature, "forged")
    refused = send_teams(wrong_signature, make_message(), POLICY)
    assert not refused.ok and refused.status_code == 401 and not refused.gone
    missing = send_teams(
        teams.url + "/workflows/0/triggers/manual/paths/invoke", make_message(), POLICY
    )
    assert missing.gone and missing.status_code == 404
    teams.respond_with(503, headers={"Retry-After": "3"})
    busy = send_teams(teams.webhook_url, make_message(), POLICY)
    assert not busy.permanent and busy.retry_after == 3.0


# --- Discord ---


def test_discord_delivers_an_embed(discord: FakeDiscord) -> None:
    result = send_discord(discord.webhook_url, make_message(), POLICY)
    assert result.ok and result.status_code == 204
    (received,) = discord.messages
    embed = received["embeds"][0]
    assert embed["title"] == "[Identified] Checkout errors"
    assert received["allowed_mentions"] == {"parse": []}


def test_discord_takes_very_long_updates_and_many_components(discord: FakeDiscord) -> None:
    message = make_message(
        title="A" * 300, body_markdown=LONG_BODY, components=many_components(400)
    )
    result = send_discord(discord.webhook_url, message, POLICY)
    assert result.ok, discord.requests[-1].problem


def test_discord_rate_limit_and_unknown_webhook(discord: FakeDiscord) -> None:
    discord.rate_limit(1.25)
    limited = send_discord(discord.webhook_url, make_message(), POLICY)
    assert limited.status_code == 429 and limited.retry_after == 1.25 and not limited.permanent
    assert "rate limited" in limited.error
    gone = send_discord(discord.url + "/api/webhooks/1/x", make_message(), POLICY)
    assert gone.gone and gone.status_code == 404


# --- network failures ---


def test_no_answer_is_a_retryable_failure_without_the_url_in_the_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/T1/B1/secret-token"
    result = send_slack(url, make_message(), POLICY)
    assert not result.ok and result.status_code is None and not result.permanent
    assert "secret-token" not in result.error


def test_a_slow_receiver_times_out(slack: FakeSlack) -> None:
    slack.respond_with(200, "ok", delay=2.0)
    quick = NetworkPolicy(allow_http=True, allowed_networks=POLICY.allowed_networks, timeout=0.3)
    result = send_slack(slack.webhook_url, make_message(), quick)
    assert not result.ok and "no answer" in result.error and not result.permanent


def test_redirects_are_not_followed(slack: FakeSlack, discord: FakeDiscord) -> None:
    slack.respond_with(302, "", headers={"Location": discord.webhook_url})
    result = send_slack(slack.webhook_url, make_message(), POLICY)
    assert not result.ok and result.status_code == 302 and result.permanent
    assert not discord.requests


def test_addresses_the_guard_refuses_are_permanent_failures(slack: FakeSlack) -> None:
    strict = NetworkPolicy(allow_http=True, timeout=TIMEOUT)  # loopback not allowed
    result = send_slack(slack.webhook_url, make_message(), strict)
    assert not result.ok and result.permanent and result.error.startswith("refused")
    assert not slack.requests


# --- Twilio ---


def test_sms_through_the_twilio_client(twilio: FakeTwilio) -> None:
    result = send_sms(twilio_settings(twilio), "+14155550123", make_message(), timeout=TIMEOUT)
    assert result.ok and result.response_excerpt.startswith("SM")
    (sent,) = twilio.messages
    assert sent["To"] == "+14155550123" and sent["From"] == twilio.from_number
    assert sent["Body"].startswith("Acme Status: Identified - Checkout errors.")
    assert sent["Body"].endswith("https://status.example.com/incidents/12")
    assert count_segments(sent["Body"]) == ("GSM-7", 1)


def test_sms_in_a_non_latin_script_stays_in_one_ucs2_segment(twilio: FakeTwilio) -> None:
    message = make_message(
        page_name="状态页",
        title="结账错误",
        body_markdown="支付服务提供商出现故障，我们正在切换到备用服务。" * 6,
    )
    result = send_sms(twilio_settings(twilio), "+8613800138000", message, timeout=TIMEOUT)
    assert result.ok
    body = twilio.messages[0]["Body"]
    assert count_segments(body) == ("UCS-2", 1)
    assert body.endswith("https://status.example.com/incidents/12")


def test_sms_through_a_messaging_service(twilio: FakeTwilio) -> None:
    settings = twilio_settings(
        twilio, from_number="", messaging_service_sid=twilio.messaging_service_sid
    )
    assert send_sms_text(settings, "+14155550123", "hello", timeout=TIMEOUT).ok
    assert twilio.messages[0]["MessagingServiceSid"] == twilio.messaging_service_sid
    assert "From" not in twilio.messages[0]


def test_sms_refusals(twilio: FakeTwilio) -> None:
    settings = twilio_settings(twilio)
    twilio.opt_out("+14155550199")
    opted_out = send_sms_text(settings, "+14155550199", "hi", timeout=TIMEOUT)
    assert not opted_out.ok and opted_out.gone and opted_out.status_code == 400
    assert opted_out.error == "Twilio error 21610"
    invalid = send_sms_text(settings, "12345", "hi", timeout=TIMEOUT)
    assert invalid.gone and invalid.error == "Twilio error 21211"
    wrong_token = twilio_settings(twilio, auth_token="0" * 32)
    refused = send_sms_text(wrong_token, "+14155550123", "hi", timeout=TIMEOUT)
    assert refused.status_code == 401 and not refused.gone and refused.permanent
    twilio.respond_with(
        429,
        {"code": 20429, "message": "Too Many Requests", "status": 429},
        headers={"Retry-After": "2"},
    )
    limited = send_sms_text(settings, "+14155550123", "hi", timeout=TIMEOUT)
    assert not limited.permanent and limited.retry_after == 2.0
    assert len(twilio.messages) == 0


def test_sms_with_twilio_unreachable_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = TwilioSettings(
        "AC" + "0" * 32, "token", "+15005550006", api_base_url=f"http://127.0.0.1:{port}"
    )
    result = send_sms_text(settings, "+14155550123", "hi", timeout=1.0)
    assert not result.ok and result.status_code is None and not result.permanent
