"""Audiences in a real browser (issue 15's "done when"): an Enterprise member signs in with an
emailed link, sees a private component and an audience-only update next to the public ones,
subscribes, and gets the next audience-only update by email; an anonymous reader and a member
of another audience see none of it, on any channel."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM_ARGS, CHROMIUM_PATH, LiveSite, _serving
from tests.browser.support import BLOCKING_IMPACTS, describe, emails_to, link_in, log_in, run_axe
from tests.web.audience_site import (
    AUDIENCE_NAME,
    MARKERS,
    MEMBER,
    OTHER_MEMBER,
    PRIVATE_COMPONENT,
    PRIVATE_UPDATE,
    PUBLIC_UPDATE,
    AudienceSite,
    build_site,
)

NEXT_PRIVATE = "Zq7BrowserPrivateFollowUp"
PUBLIC_SUBSCRIBER = "public.reader@example.org"


@pytest.fixture
def audience_site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveSite, AudienceSite]]:
    root = tmp_path_factory.mktemp("audience-site")
    with _serving(root, seed=False, role="manager") as live:
        from statuspage import create_app
        from statuspage.extensions import db

        app = create_app(
            {
                "APP_ENV": "testing",
                "SECRET_KEY": "browser-tests-secret-key-not-for-production",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'site.sqlite3'}",
                "SITE_URL": live.base_url,
            }
        )
        with app.app_context():
            site = build_site(db.session, datetime.now(UTC))
            db.session.remove()
            db.engine.dispose()
        yield live, site


@pytest.fixture
def browser_for(playwright_instance: Any) -> Iterator[Any]:
    chromium = playwright_instance.chromium.launch(
        executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


def new_page(browser: Any, live: LiveSite) -> Any:
    context = browser.new_context(
        base_url=live.base_url, viewport={"width": 390, "height": 844}, timezone_id="UTC"
    )
    context.set_default_timeout(10_000)
    return context.new_page()


def sign_in(page: Any, live: LiveSite, address: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(address)
    page.get_by_role("button", name="Email me a sign-in link").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    [message] = [m for m in emails_to(live.mail_dir, address) if "sign-in" in str(m["Subject"])]
    page.goto(link_in(message, "/sign-in/"))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))


def confirm_subscription(page: Any, live: LiveSite, address: str) -> None:
    page.goto("/subscribe")
    field = page.get_by_label("Email address")
    if not field.input_value():
        field.fill(address)
    assert field.input_value() == address
    page.get_by_role("button", name="Subscribe", exact=True).click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    [message] = [m for m in emails_to(live.mail_dir, address) if "Confirm" in str(m["Subject"])]
    page.goto(link_in(message, "/subscribe/confirm/"))
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="Your subscription is confirmed").wait_for()


def public_text(live: LiveSite, path: str) -> str:
    # Loopback only, a URL this test built.
    with urllib.request.urlopen(live.base_url + path, timeout=10) as response:  # noqa: S310
        return response.read().decode()


def test_an_enterprise_member_sees_and_hears_what_others_never_do(
    audience_site: tuple[LiveSite, AudienceSite], browser_for: Any
) -> None:
    live, site = audience_site
    member = new_page(browser_for, live)
    sign_in(member, live, MEMBER)
    front = member.locator("main").inner_text()
    assert PRIVATE_COMPONENT in front and "Public API" in front
    assert f"Visible to {AUDIENCE_NAME} only" in front
    member.goto(f"/incidents/{site.incident_id}")
    updates = member.locator(".updates").inner_text()
    assert PRIVATE_UPDATE in updates and PUBLIC_UPDATE in updates
    # The marks and the private view pass axe on a phone-sized page, as the public ones do.
    for path in ("/", f"/incidents/{site.incident_id}", "/sign-in"):
        member.goto(path)
        serious = [v for v in run_axe(member) if v["impact"] in BLOCKING_IMPACTS]
        assert not serious, f"{path}:\n{describe(serious)}"
    confirm_subscription(member, live, MEMBER)

    anonymous = new_page(browser_for, live)
    confirm_subscription(anonymous, live, PUBLIC_SUBSCRIBER)
    other = new_page(browser_for, live)
    sign_in(other, live, OTHER_MEMBER)

    # Staff address the next update to Enterprise customers only, in the usual form.
    staff = new_page(browser_for, live)
    log_in(staff, live.staff_email, live.staff_password)
    staff.goto(f"/admin/incidents/{site.incident_id}/updates/new")
    staff.get_by_label("Message (Markdown, shown to customers)").fill(
        f"{NEXT_PRIVATE}: your cluster is back on its primary."
    )
    staff.get_by_label(AUDIENCE_NAME).check()
    staff.get_by_role("button", name="Publish").click()
    staff.wait_for_url(re.compile(rf"/admin/incidents/{site.incident_id}"))

    to_member = [m for m in emails_to(live.mail_dir, MEMBER) if NEXT_PRIVATE in m.as_string()]
    assert len(to_member) == 1
    assert not [
        m for m in emails_to(live.mail_dir, PUBLIC_SUBSCRIBER) if NEXT_PRIVATE in m.as_string()
    ]

    for page in (anonymous, other):
        for path in ("/", f"/incidents/{site.incident_id}", "/history", "/subscribe"):
            page.goto(path)
            text = page.content()
            for marker in (*MARKERS, NEXT_PRIVATE):
                assert marker not in text, (path, marker)
        response = page.goto(f"/incidents/{site.private_incident_id}")
        assert response.status == 404
    for path in ("/history.atom", "/history.rss", "/api/v2/summary.json", "/badge.svg"):
        text = public_text(live, path)
        for marker in (*MARKERS, NEXT_PRIVATE):
            assert marker not in text, (path, marker)
    summary = json.loads(public_text(live, "/api/v2/summary.json"))
    assert [c["name"] for c in summary["components"]] == ["Public API"]
    for message in emails_to(live.mail_dir, PUBLIC_SUBSCRIBER):
        for marker in (*MARKERS, NEXT_PRIVATE):
            assert marker not in message.as_string()

    # The member still sees it all, and can sign out.
    member.goto(f"/incidents/{site.incident_id}")
    assert NEXT_PRIVATE in member.locator(".updates").inner_text()
    member.get_by_role("button", name="Sign out").click()
    member.wait_for_url(re.compile(r"/$"))
    assert PRIVATE_COMPONENT not in member.locator("main").inner_text()
