"""The Slack and SMS subscribe pages in Chromium, as a reader on a phone uses them: found by
links from the subscribe page, filled in, confirmed; each page checked with axe (no serious or
critical violations) at a phone width, with nothing wider than the screen.

The site runs with a Twilio stand-in (tests/fakes/twilio_server.py) so the opt-in code really
goes out by the Twilio client, and with a Slack stand-in whose loopback URL the SSRF guard's
test-only networks let through.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import LiveSite, _serving, context_options
from tests.browser.support import BLOCKING_IMPACTS, describe, run_axe
from tests.fakes.slack_server import FakeSlack
from tests.fakes.twilio_server import FakeTwilio

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="module")
def chat_site(tmp_path_factory: pytest.TempPathFactory, twilio: FakeTwilio) -> Iterator[LiveSite]:
    extra = {
        "CHANNEL_ALLOW_HTTP": "1",
        "CHANNEL_ALLOWED_TEST_NETWORKS": "127.0.0.0/8",
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_FROM_NUMBER": twilio.from_number,
        "TWILIO_API_BASE_URL": twilio.url,
    }
    with _serving(tmp_path_factory.mktemp("chat-site"), extra=extra) as site:
        yield site


@pytest.fixture
def phone_page(browser: Any, chat_site: LiveSite) -> Iterator[Any]:
    context = browser.new_context(**{**context_options(chat_site), "viewport": PHONE})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def check(page: Any, name: str) -> None:
    blocking = [v for v in run_axe(page) if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"{name}:\n{describe(blocking)}"
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} is {width}px wide on a {PHONE['width']}px phone"


def test_a_reader_adds_slack_on_a_phone(phone_page: Any) -> None:
    page = phone_page
    page.goto("/subscribe")
    page.get_by_role("link", name="Slack").click()
    page.wait_for_url(re.compile(r"/subscribe/slack$"))
    check(page, "slack-subscribe")
    with FakeSlack() as slack:
        page.get_by_label("Webhook URL").fill("https://example.com/not-slack")
        page.get_by_role("button", name="Post updates to Slack").click()
        # Refused, next to the field (a click waits for the next page to load, not to be drawn).
        page.locator("input[aria-invalid='true']").wait_for()
        assert page.get_by_label("Webhook URL").get_attribute("aria-invalid") == "true"
        assert page.get_by_role("heading", name="Updates will be posted to Slack").count() == 0
        page.get_by_label("Webhook URL").fill(slack.webhook_url)
        page.get_by_role("button", name="Post updates to Slack").click()
        page.get_by_role("heading", name="Updates will be posted to Slack").wait_for()
    check(page, "slack-created")
    assert "/channel/" in page.locator("#manage-link").inner_text()


def test_a_reader_turns_on_text_messages_on_a_phone(phone_page: Any, twilio: FakeTwilio) -> None:
    page = phone_page
    page.goto("/subscribe")
    page.get_by_role("link", name="by text message").click()
    check(page, "sms-subscribe")
    page.get_by_label("Mobile number, with its country code").fill("+1 415 555 0142")
    page.get_by_role("button", name="Text me a code").click()
    page.get_by_role("heading", name="Type the code we texted you").wait_for()
    check(page, "sms-code")
    text = twilio.messages[-1]["Body"]
    assert twilio.messages[-1]["To"] == "+14155550142"
    code = re.search(r"code is (\d{6})", text).group(1)  # type: ignore[union-attr]
    page.get_by_label("The code we texted you").fill(code)
    page.get_by_role("button", name="Start the texts").click()
    page.get_by_role("heading", name="Text messages are on").wait_for()
    check(page, "sms-confirmed")
