"""The webhook pages in Chromium on a phone (390 px): subscribing a URL from the public page
(the verification reaches a loopback consumer), the page that shows the secret once, the
manage page, and the staff list and detail with the delivery; each fits the screen's width
and has no serious or critical axe finding."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import LiveSite, _serving, context_options
from tests.browser.support import BLOCKING_IMPACTS, describe, log_in, run_axe
from tests.fakes.webhook_receiver import WebhookReceiver

PHONE = {"width": 390, "height": 800}


@pytest.fixture(scope="module")
def channel_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    extra = {"CHANNEL_ALLOW_HTTP": "true", "CHANNEL_ALLOWED_TEST_NETWORKS": "127.0.0.0/8"}
    with _serving(tmp_path_factory.mktemp("channel-site"), role="admin", extra=extra) as site:
        yield site


def _fits(page: Any) -> list[str]:
    problems = []
    width = page.evaluate("() => document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        problems.append(f"{page.url}: {width} px wide")
    blocking = [v for v in run_axe(page) if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        problems.append(f"{page.url}: axe\n{describe(blocking)}")
    return problems


def test_subscribe_manage_and_staff_pages_on_a_phone(browser: Any, channel_site: LiveSite) -> None:
    context = browser.new_context(**{**context_options(channel_site), "viewport": PHONE})
    context.set_default_timeout(15_000)
    problems: list[str] = []
    with WebhookReceiver() as receiver:
        try:
            page = context.new_page()
            page.goto("/subscribe")
            page.get_by_role("link", name="Get updates by webhook instead").click()
            problems += _fits(page)
            page.get_by_label("Webhook URL").fill(receiver.url("/from-browser"))
            page.get_by_role("button", name="Subscribe this URL").click()
            page.get_by_role("heading", name=re.compile("Webhook added")).wait_for()
            problems += _fits(page)
            secret = page.locator("#signing-secret").inner_text()
            manage = page.locator("#manage-link").inner_text()
            assert secret.startswith("whsec_")
            # The verification went out (the site runs its tasks at once here).
            [verification] = receiver.received("/from-browser")
            assert verification.body["type"] == "verification"
            receiver.secrets["/from-browser"] = secret

            page.goto(manage)
            assert "Active" in page.get_by_role("status").inner_text()
            problems += _fits(page)

            log_in(page, channel_site.staff_email, channel_site.staff_password)
            page.goto("/admin/channels")
            problems += _fits(page)
            page.get_by_role("link", name="webhook").first.click()
            page.get_by_role("heading", name=re.compile("Webhook subscription #")).wait_for()
            assert "HTTP 200" in page.locator("#channel-deliveries").inner_text()
            problems += _fits(page)
        finally:
            context.close()
    assert not problems, "\n".join(problems)
