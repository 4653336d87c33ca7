"""The chat and SMS builders: each client's markup and documented limits, from one message."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from statuspage.notifications.chat import sms_optin
from statuspage.notifications.chat.discord import build_discord
from statuspage.notifications.chat.markup import to_discord, to_plain, to_slack, to_teams
from statuspage.notifications.chat.message import (
    AffectedComponent,
    ChannelMessage,
    EventKind,
    components_text,
    shorten,
)
from statuspage.notifications.chat.slack import build_slack, split_text
from statuspage.notifications.chat.sms import (
    build_sms,
    is_gsm7,
    segment_count,
    split_segments,
    units,
)
from statuspage.notifications.chat.teams import MAX_PAYLOAD_BYTES, build_teams
from tests.fakes.discord_server import embed_problem
from tests.fakes.slack_server import blocks_problem, mrkdwn_problem
from tests.fakes.teams_server import card_problem

WHEN = datetime(2026, 12, 4, 13, 5, tzinfo=UTC)


def make_message(**overrides: object) -> ChannelMessage:
    values: dict[str, object] = {
        "kind": EventKind.INCIDENT,
        "page_name": "Acme & Co",
        "title": "API errors",
        "status": "investigating",
        "status_label": "Investigating",
        "url": "https://status.example.com/incidents/7",
        "occurred_at": WHEN,
        "time_zone": "Europe/Paris",
        "impact": "major",
        "body_markdown": "We see **elevated errors** on the API. More in [the runbook](https://example.com/rb).",
        "components": (AffectedComponent("API", "Partial outage"),),
        "manage_url": "https://status.example.com/subscriptions/manage/abc",
    }
    values.update(overrides)
    return ChannelMessage(**values)  # type: ignore[arg-type]


def many_components(count: int) -> tuple[AffectedComponent, ...]:
    return tuple(AffectedComponent(f"Service number {i}", "Major outage") for i in range(count))


LONG_BODY = "\n\n".join(
    f"Paragraph {n}: " + " ".join(f"word{n}x{i} <b> & more" for i in range(120)) for n in range(60)
)


# --- the message ---


def test_a_message_needs_an_aware_time() -> None:
    with pytest.raises(ValueError):
        make_message(occurred_at=datetime(2026, 12, 4, 13, 5))


def test_time_text_names_the_page_zone() -> None:
    assert make_message().time_text() == "4 Dec 2026, 14:05 CET (Europe/Paris)"
    assert make_message(time_zone="UTC").time_text() == "4 Dec 2026, 13:05 UTC"
    assert make_message(time_zone="No/Such_Zone").time_text().endswith("UTC")


def test_the_time_and_the_fixed_words_follow_the_messages_language() -> None:
    german = make_message(language="de")
    assert german.time_text() == "4. Dez. 2026, 14:05 CET (Europe/Paris)"
    assert german.gettext("Affected components") != "Affected components"
    assert german.link_label not in ("", "View on status page")
    assert german.impact_label == german.gettext("Major") != "Major"
    payload = json.dumps(build_teams(german), ensure_ascii=False)
    assert german.gettext("Manage subscription") in payload and "Manage subscription" not in payload
    french = make_message(language="fr")
    text = components_text(many_components(200), 500, more=french.more_text)
    assert len(text) <= 500 and text.endswith(french.more_text(200 - text.count("Major outage")))
    assert french.more_text(3) != "and 3 more"
    assert make_message().more_text(3) == "and 3 more"


def test_shorten_cuts_between_words() -> None:
    assert shorten("one two three four", 12) == "one two…"
    assert shorten("short", 12) == "short"
    assert len(shorten("x" * 50, 10)) == 10


def test_components_text_keeps_under_its_limit_and_counts_the_rest() -> None:
    text = components_text(many_components(200), 500)
    assert len(text) <= 500
    assert text.endswith("more")
    shown = text.count("Major outage")
    assert f"and {200 - shown} more" in text


# --- markup ---


def test_slack_markup_escapes_and_converts() -> None:
    text = to_slack("**Bold** _it_ ~~gone~~ `a<b` & <script> [link](https://x.test/a?b=1&c=2)")
    assert "*Bold*" in text and "_it_" in text and "~gone~" in text
    assert "`a&lt;b`" in text and "&amp;" in text and "&lt;script&gt;" in text
    assert "<https://x.test/a?b=1&amp;c=2|link>" in text
    assert mrkdwn_problem(text) is None


def test_slack_markup_link_text_cannot_break_out() -> None:
    text = to_slack("[a|b>c](https://x.test/) and <https://evil.test|fake>")
    assert mrkdwn_problem(text) is None
    assert "<https://evil.test|" not in text


def test_lists_headings_quotes_and_code_in_each_flavour() -> None:
    source = "# Cause\n\n- one\n- two\n\n1. first\n2. second\n\n> quoted\n\n```\nx = 1\n```"
    slack = to_slack(source)
    assert slack.startswith("*Cause*")
    assert "• one\n• two" in slack and "1. first\n2. second" in slack
    assert "> quoted" in slack and "```\nx = 1\n```" in slack
    discord = to_discord(source)
    assert discord.startswith("**Cause**") and "- one" in discord and "> quoted" in discord
    teams = to_teams(source)
    assert teams.startswith("**Cause**") and "- one\n- two" in teams
    assert "```" not in teams and ">" not in teams
    plain = to_plain(source)
    assert "Cause" in plain and "*" not in plain and "x = 1" in plain


def test_discord_markup_escapes_markdown_and_mentions() -> None:
    text = to_discord("Ping @everyone with a * star and _under_score_")
    assert "\\@everyone" in text
    assert "\\*" in text


def test_links_with_other_schemes_never_become_links() -> None:
    source = "[click](javascript:alert(1))"
    assert "<javascript" not in to_slack(source)  # Slack links are <url|text> only
    assert to_discord(source).startswith("\\[click\\](")  # escaped: shown, not linked
    assert "](" not in to_teams(source)
    assert to_slack("[click](/relative/path)") == "click"
    assert to_teams("[click](/relative/path)") == "click"


# --- Slack ---


def test_slack_message_shape() -> None:
    payload = build_slack(make_message())
    blocks = payload["blocks"]
    assert blocks_problem(blocks) is None
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context", "actions"]
    assert blocks[0]["text"]["text"] == "[Investigating] API errors"
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert fields == [
        "*Status*\nInvestigating",
        "*Impact*\nMajor",
        "*Affected components*\nAPI: Partial outage",
    ]
    assert "*elevated errors*" in blocks[2]["text"]["text"]
    context = blocks[3]["elements"][0]["text"]
    assert "Acme &amp; Co" in context and "CET (Europe/Paris)" in context
    assert "<https://status.example.com/subscriptions/manage/abc|Manage subscription>" in context
    assert blocks[4]["elements"][0]["url"] == "https://status.example.com/incidents/7"
    assert payload["text"].startswith("[Investigating] API errors (Acme &amp; Co): We see")
    assert mrkdwn_problem(payload["text"]) is None


def test_slack_respects_block_kit_limits_with_long_text_and_many_components() -> None:
    payload = build_slack(
        make_message(title="T" * 400, body_markdown=LONG_BODY, components=many_components(300))
    )
    blocks = payload["blocks"]
    assert blocks_problem(blocks) is None
    assert len(blocks) <= 50
    assert len(blocks[0]["text"]["text"]) <= 150
    sections = [b for b in blocks if b["type"] == "section" and "text" in b]
    assert all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert "Read the full update" in sections[-1]["text"]["text"]
    assert all(len(f["text"]) <= 2000 for f in blocks[1]["fields"])
    assert "more" in blocks[1]["fields"][-1]["text"]


def test_split_text_never_exceeds_the_limit_and_loses_no_word() -> None:
    text = " ".join(f"w{i}" for i in range(3000)) + "\n\n" + "y" * 7000
    pieces = split_text(text, 3000)
    assert all(len(piece) <= 3000 for piece in pieces)
    assert "".join("".join(pieces).split()) == "".join(text.split())
    assert pieces[0].split()[0] == "w0" and all(not p.startswith(" ") for p in pieces)


# --- Teams ---


def test_teams_card_shape() -> None:
    payload = build_teams(make_message())
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card_problem(card) is None
    assert card["version"] == "1.4"
    texts = [e.get("text") for e in card["body"] if e["type"] == "TextBlock"]
    assert texts[0] == "Acme & Co" and texts[1] == "[Investigating] API errors"
    assert any("**elevated errors**" in (t or "") for t in texts)
    assert any("CET (Europe/Paris)" in (t or "") for t in texts)
    facts = next(e for e in card["body"] if e["type"] == "FactSet")["facts"]
    assert {"title": "Status", "value": "Investigating"} in facts
    assert {"title": "API", "value": "Partial outage"} in facts
    urls = [a["url"] for a in card["actions"]]
    assert urls == [
        "https://status.example.com/incidents/7",
        "https://status.example.com/subscriptions/manage/abc",
    ]


def test_teams_stays_under_its_size_with_long_non_latin_text() -> None:
    body = "\n\n".join("Сервис недоступен, мы работаем над устранением. " * 40 for _ in range(20))
    payload = build_teams(make_message(body_markdown=body, components=many_components(100)))
    size = len(json.dumps(payload, ensure_ascii=False).encode())
    assert size <= MAX_PAYLOAD_BYTES
    card = payload["attachments"][0]["content"]
    assert card_problem(card) is None
    assert any("Read the full update" in (e.get("text") or "") for e in card["body"])
    facts = next(e for e in card["body"] if e["type"] == "FactSet")["facts"]
    assert len(facts) <= 20 and facts[-1]["value"].startswith("and ")


# --- Discord ---


def test_discord_embed_shape() -> None:
    payload = build_discord(make_message())
    assert payload["allowed_mentions"] == {"parse": []}
    (embed,) = payload["embeds"]
    assert embed_problem(0, embed) is None
    assert embed["title"] == "[Investigating] API errors"
    assert embed["url"] == "https://status.example.com/incidents/7"
    assert embed["timestamp"] == "2026-12-04T13:05:00+00:00"
    assert embed["footer"]["text"] == "4 Dec 2026, 14:05 CET (Europe/Paris)"
    assert {"name": "Status", "value": "Investigating", "inline": True} in embed["fields"]
    assert "**elevated errors**" in embed["description"]
    assert embed["color"] != build_discord(make_message(status="resolved"))["embeds"][0]["color"]


def test_discord_respects_embed_limits() -> None:
    payload = build_discord(
        make_message(title="T" * 400, body_markdown=LONG_BODY, components=many_components(300))
    )
    (embed,) = payload["embeds"]
    assert embed_problem(0, embed) is None
    assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096
    assert embed["description"].endswith(
        "[Read the full update](https://status.example.com/incidents/7)"
    )


# --- SMS ---


def test_gsm7_and_ucs2_counting() -> None:
    assert is_gsm7("Hello @ £5 {ok}") and units("{}") == 4
    assert not is_gsm7("Привет")
    assert segment_count("a" * 160) == 1 and segment_count("a" * 161) == 2
    assert segment_count("€" * 80) == 1 and segment_count("€" * 81) == 2
    assert segment_count("Я" * 70) == 1 and segment_count("Я" * 71) == 2
    assert segment_count("😀" * 35) == 1 and segment_count("😀" * 36) == 2


def test_sms_fits_one_gsm7_segment_and_keeps_the_link() -> None:
    message = make_message(body_markdown="We are looking into " + "elevated error rates " * 20)
    sms = build_sms(message)
    assert sms.encoding == "GSM-7" and sms.segments == 1 and sms.units <= 160
    assert sms.text.startswith("Acme & Co: Investigating - API errors. We are looking into")
    assert sms.text.endswith(" https://status.example.com/incidents/7")
    assert "..." in sms.text
    # Never a word cut in two: every word in the text is a word of the source.
    source_words = set(("We are looking into " + "elevated error rates " * 20).split())
    body_words = sms.text.split(". ", 1)[1].rsplit(" ", 1)[0].replace("...", "").split()
    assert set(body_words) <= source_words


def test_sms_typography_stays_gsm7() -> None:
    sms = build_sms(make_message(body_markdown="It’s “fixed” – we think…"))
    assert sms.encoding == "GSM-7"
    assert 'It\'s "fixed" - we think...' in sms.text


def test_sms_non_latin_text_uses_ucs2_limits() -> None:
    message = make_message(
        page_name="Статус",
        title="Ошибки API",
        body_markdown="Мы наблюдаем повышенное число ошибок и работаем над исправлением " * 5,
    )
    sms = build_sms(message)
    assert sms.encoding == "UCS-2" and sms.segments == 1 and sms.units <= 70
    assert sms.text.endswith("https://status.example.com/incidents/7")
    two = build_sms(message, max_segments=2)
    assert two.segments <= 2 and two.units <= 134 and len(two.text) > len(sms.text)


def test_sms_segments_split_between_words() -> None:
    message = make_message(body_markdown="word " * 200)
    sms = build_sms(message, max_segments=3)
    assert sms.segments <= 3
    parts = split_segments(sms.text)
    assert len(parts) == sms.segments
    assert all(units(part) <= 153 for part in parts)
    assert " ".join(parts) == sms.text


# --- SMS consent ---

SECRET = "test-secret"
NUMBER = "+447700900123"


def test_numbers_are_normalised_to_e164_or_refused() -> None:
    assert sms_optin.normalise_number("+44 7700 900-123") == NUMBER
    assert sms_optin.normalise_number("0044 (7700) 900123") == NUMBER
    assert sms_optin.normalise_number("07700 900123") is None
    assert sms_optin.normalise_number("+44abc") is None
    assert sms_optin.mask_number(NUMBER) == "+44••••••0123"


def test_opt_in_code_passes_once_and_only_hashed() -> None:
    code, challenge = sms_optin.new_code(SECRET, NUMBER, now=WHEN)
    assert len(code) == 6 and code.isdigit()
    assert code not in challenge.code_hash
    verdict, after = sms_optin.check_code(
        SECRET, NUMBER, challenge, code[:3] + " " + code[3:], now=WHEN
    )
    assert verdict == sms_optin.CodeCheck.OK
    again, _ = sms_optin.check_code(SECRET, NUMBER, after, code, now=WHEN)
    assert again == sms_optin.CodeCheck.LOCKED


def test_opt_in_code_for_another_number_or_key_fails() -> None:
    code, challenge = sms_optin.new_code(SECRET, NUMBER, now=WHEN)
    assert sms_optin.check_code(SECRET, "+447700900999", challenge, code, now=WHEN)[0] == "wrong"
    assert sms_optin.check_code("other", NUMBER, challenge, code, now=WHEN)[0] == "wrong"


def test_opt_in_code_expires_and_locks_after_tries() -> None:
    code, challenge = sms_optin.new_code(SECRET, NUMBER, now=WHEN)
    late = WHEN + sms_optin.CODE_TTL
    assert sms_optin.check_code(SECRET, NUMBER, challenge, code, now=late)[0] == "expired"
    wrong = "000000" if code != "000000" else "111111"
    state = challenge
    verdicts = []
    for _ in range(sms_optin.MAX_ATTEMPTS):
        verdict, state = sms_optin.check_code(SECRET, NUMBER, state, wrong, now=WHEN)
        verdicts.append(verdict)
    assert verdicts[:-1] == ["wrong"] * (sms_optin.MAX_ATTEMPTS - 1) and verdicts[-1] == "locked"
    # The right code no longer helps once locked.
    assert (
        sms_optin.check_code(SECRET, NUMBER, state, code, now=WHEN + timedelta(seconds=1))[0]
        == "locked"
    )


def test_opt_in_text_is_one_gsm7_segment() -> None:
    text = sms_optin.opt_in_text("Acme Status", "123456")
    assert is_gsm7(text) and segment_count(text) == 1 and "STOP" in text


@pytest.mark.parametrize("language", ["de", "fr", "es", "ja", "ar"])
def test_opt_in_text_in_each_language_keeps_stop_and_stays_short(language: str) -> None:
    text = sms_optin.opt_in_text("Acme Status", "123456", language)
    assert text != sms_optin.opt_in_text("Acme Status", "123456")
    # Carriers and Twilio act on the English keyword whatever the language of the text.
    assert "STOP" in text and "123456" in text and "Acme Status" in text
    # German and French fit GSM-7 (one segment); the others need UCS-2, two at most.
    if language in ("de", "fr"):
        assert is_gsm7(text) and segment_count(text) == 1, text
    else:
        assert segment_count(text) <= 2, (text, segment_count(text))


@pytest.mark.parametrize(
    ("body", "opt_out_type", "expected"),
    [
        ("STOP", None, "stop"),
        (" stop! ", None, "stop"),
        ("Unsubscribe", None, "stop"),
        ("optout", None, "stop"),
        ("START", None, "start"),
        ("unstop", None, "start"),
        ("help", None, "help"),
        ("INFO", None, "help"),
        ("please stop texting me", None, None),
        ("hello", None, None),
        ("", None, None),
        ("Arrête", "STOP", "stop"),
        ("anything", "HELP", "help"),
    ],
)
def test_keywords(body: str, opt_out_type: str | None, expected: str | None) -> None:
    assert sms_optin.classify_keyword(body, opt_out_type) == expected


def test_twilio_signatures() -> None:
    url = "https://status.example.com/sms/inbound"
    form = {"From": NUMBER, "Body": "STOP", "To": "+15005550006"}
    signature = sms_optin.sign_twilio_request("token", url, form)
    assert sms_optin.valid_twilio_signature("token", url, form, signature)
    assert not sms_optin.valid_twilio_signature("other", url, form, signature)
    assert not sms_optin.valid_twilio_signature("token", url + "?x=1", form, signature)
    assert not sms_optin.valid_twilio_signature("token", url, {**form, "Body": "START"}, signature)
    assert not sms_optin.valid_twilio_signature("token", url, form, None)
    assert not sms_optin.valid_twilio_signature("token", url, form, "not base64 at all!")


# --- settings ---


def test_sms_is_off_until_configured() -> None:
    from statuspage.notifications.chat.sms import twilio_settings

    assert twilio_settings({}) is None
    assert twilio_settings({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"}) is None
    settings = twilio_settings(
        {
            "TWILIO_ACCOUNT_SID": "AC1",
            "TWILIO_AUTH_TOKEN": "t",
            "TWILIO_FROM_NUMBER": "+15005550006",
        }
    )
    assert settings is not None and settings.from_number == "+15005550006"


def test_the_twilio_stand_in_url_is_refused_in_production() -> None:
    from statuspage.config import ConfigError, check_settings

    config = {
        "APP_ENV": "production",
        "SECRET_KEY": "k" * 64,
        "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
    }
    with pytest.raises(ConfigError, match="TWILIO_API_BASE_URL"):
        check_settings(config)
    check_settings({**config, "APP_ENV": "testing"})


def test_staff_pages_show_a_phone_number_masked() -> None:
    from statuspage.notifications.channel_emails import target_host
    from statuspage.notifications.models import ChannelKind, ChannelSubscription

    sms = ChannelSubscription(kind=ChannelKind.SMS, target=NUMBER)
    assert target_host(sms) == "+44••••••0123"
    slack = ChannelSubscription(
        kind=ChannelKind.SLACK, target="https://hooks.slack.com/services/T/B/s"
    )
    assert target_host(slack) == "hooks.slack.com"


def test_code_in_teams_cannot_smuggle_a_link() -> None:
    assert "](" not in to_teams("`[x](javascript:alert(1))`")
    assert "](" not in to_teams("```\n[x](https://evil.example)\n```")


def test_component_names_are_escaped_in_slack_and_discord() -> None:
    components = (
        AffectedComponent("R&D <db>", "Major outage"),
        AffectedComponent("*Web*", "Operational"),
    )
    slack = build_slack(make_message(components=components))
    field = slack["blocks"][1]["fields"][-1]["text"]
    assert "R&amp;D &lt;db&gt;: Major outage" in field and mrkdwn_problem(field) is None
    discord = build_discord(make_message(components=components))
    value = next(f for f in discord["embeds"][0]["fields"] if f["name"] == "Affected components")
    assert "\\*Web\\*: Operational" in value["value"]
