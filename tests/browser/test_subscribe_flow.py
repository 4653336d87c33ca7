"""Subscribing in a real browser: the form, the confirmation email, the link, the manage page."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.conftest import LiveSite
from tests.browser.support import emails_to, link_in, subscribe


def test_subscribe_confirm_and_manage(page: Any, live_site: LiveSite) -> None:
    address = "browser.subscriber@example.com"
    assert emails_to(live_site.mail_dir, address) == []

    subscribe(page, address)
    assert page.get_by_text("Open the link in it to confirm").is_visible()

    # The worker ran inside the request (HUEY_IMMEDIATE): the email is in the mail folder.
    messages = emails_to(live_site.mail_dir, address)
    assert len(messages) == 1
    assert "Confirm your subscription" in str(messages[0]["Subject"])
    confirm_path = link_in(messages[0], "/subscribe/confirm/")

    # Opening the link asks; the button confirms (a mail scanner following links does not).
    page.goto(confirm_path)
    assert page.get_by_role("heading", name="Confirm your subscription").is_visible()
    page.get_by_role("button", name="Confirm my subscription").click()
    # (A click waits for the next page to start loading, not to be drawn.)
    page.get_by_role("heading", name="Your subscription is confirmed").wait_for()

    page.get_by_role("link", name="Manage your subscription").click()
    page.wait_for_url(re.compile(r"/subscription/"))
    assert page.get_by_role("heading", level=1).inner_text().strip()
    # Subscribed to everything, as chosen by default on the form.
    assert page.get_by_label("All components").is_checked()

    # Opening the link again tells the person they are subscribed, without a second email.
    page.goto(confirm_path)
    assert page.get_by_role("heading", name="You are already subscribed").is_visible()
    assert len(emails_to(live_site.mail_dir, address)) == 1
