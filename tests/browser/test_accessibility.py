"""axe-core on every public page and the main admin pages: no serious or critical violations.

Public pages are checked at a desktop width and again at a phone width (the layout changes:
the menu wraps, uptime bars shorten); admin pages at a desktop width. Rules: WCAG 2.2 A/AA and
axe's best practices (`support.AXE_TAGS`). Moderate and minor findings are printed (`-s` shows
them); every page's findings are written to `test-artifacts/axe/<page>.json`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS_DIR, LiveSite, context_options
from tests.browser.support import (
    BLOCKING_IMPACTS,
    describe,
    emails_to,
    link_in,
    run_axe,
    subscribe,
)

PHONE = {"width": 375, "height": 800}
DESKTOP = {"width": 1280, "height": 900}
REPORT_DIR = ARTIFACTS_DIR / "axe"

# name -> the status the page answers with
PUBLIC_PAGES = {
    "front": 200,
    "component-uptime": 200,
    "history": 200,
    "incident": 200,
    "maintenance": 200,
    "subscribe": 200,
    "confirm": 200,
    "confirmed": 200,
    "manage": 200,
    "unsubscribe": 200,
    "login": 200,
    "not-found": 404,
}
ADMIN_PAGES = {
    "admin-incidents": 200,
    "admin-incident": 200,
    "admin-update-form": 200,
    "admin-new-incident": 200,
    "admin-maintenance": 200,
    "admin-dashboard": 200,
    "admin-subscribers": 200,
    "admin-tokens": 200,
}


@pytest.fixture(scope="session")
def page_paths(browser: Any, live_site: LiveSite) -> dict[str, str]:
    """The address of each page checked, found the way a visitor finds them: by links."""
    context = browser.new_context(**context_options(live_site))
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto("/")
        incident = page.locator("#active-heading ~ article h3 a").first.get_attribute("href")
        maintenance = page.locator(".maintenance-card h3 a").first.get_attribute("href")
        uptime_days = page.locator(".uptime-summary a").first.get_attribute("href")
        assert incident and maintenance, "the demo data has an active incident and maintenance"

        address = "axe.subscriber@example.com"
        subscribe(page, address)
        confirm = link_in(emails_to(live_site.mail_dir, address)[-1], "/subscribe/confirm/")
        page.goto(confirm)  # asks; the button confirms
        page.get_by_role("button", name="Confirm my subscription").click()
        manage = page.get_by_role("link", name="Manage your subscription").get_attribute("href")
        # A second address whose link is opened and not confirmed: the page that asks.
        waiting = "axe.unconfirmed@example.com"
        subscribe(page, waiting)
        ask = link_in(emails_to(live_site.mail_dir, waiting)[-1], "/subscribe/confirm/")
        assert manage and manage.startswith("/subscription/")
    finally:
        context.close()
    incident_id = re.sub(r"\D", "", incident)
    return {
        "front": "/",
        "component-uptime": uptime_days,
        "history": "/history",
        "incident": incident,
        "maintenance": maintenance,
        "subscribe": "/subscribe",
        "confirm": ask,
        "confirmed": confirm,
        "manage": manage,
        "unsubscribe": manage.replace("/subscription/", "/unsubscribe/", 1),
        "login": "/login",
        "not-found": "/incidents/999999",
        "admin-incidents": "/admin/incidents",
        "admin-incident": f"/admin/incidents/{incident_id}",
        "admin-update-form": f"/admin/incidents/{incident_id}/updates/new",
        "admin-new-incident": "/admin/incidents/new",
        "admin-maintenance": "/admin/maintenance",
        "admin-dashboard": "/admin/dashboard",
        "admin-subscribers": "/admin/subscribers",
        "admin-tokens": "/admin/tokens",
    }


def assert_accessible(page: Any, name: str, *, phone: bool = True) -> None:
    """axe on the page as loaded, at a desktop width and then (unless told) at a phone width."""
    blocking: list[str] = []
    report: dict[str, Any] = {}
    widths = [("desktop", DESKTOP), ("phone", PHONE)] if phone else [("desktop", DESKTOP)]
    for label, viewport in widths:
        page.set_viewport_size(viewport)
        violations = run_axe(page)
        report[label] = violations
        serious = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
        others = [v for v in violations if v["impact"] not in BLOCKING_IMPACTS]
        if others:
            print(f"\naxe on {name} ({label}), not blocking:\n{describe(others)}")
        if serious:
            blocking.append(f"{label}:\n{describe(serious)}")
    page.set_viewport_size(DESKTOP)
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / f"{name}.json").write_text(json.dumps(report, indent=2))
    assert not blocking, f"axe on {name} ({page.url}):\n" + "\n".join(blocking)


def _open(page: Any, path: str, status: int) -> None:
    response = page.goto(path)
    assert response.status == status, f"{path} answered {response.status}"
    # An HTML page, rendered as one (a text/plain answer shows the markup as text).
    assert response.headers["content-type"].startswith("text/html"), response.headers
    assert page.locator("main h1").count() == 1


@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_public_page_has_no_serious_violations(
    name: str, page: Any, page_paths: dict[str, str]
) -> None:
    _open(page, page_paths[name], PUBLIC_PAGES[name])
    assert_accessible(page, name)


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_page_has_no_serious_violations(
    name: str, staff_page: Any, page_paths: dict[str, str]
) -> None:
    _open(staff_page, page_paths[name], ADMIN_PAGES[name])
    # Staff work at desk widths; the admin menu wraps there already, which is what matters.
    assert_accessible(staff_page, name, phone=False)


def test_forms_showing_errors_have_no_serious_violations(page: Any, staff_page: Any) -> None:
    page.goto("/subscribe")
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Subscribe", exact=True).click()
    email_field = page.get_by_label("Email address")
    assert email_field.get_attribute("aria-invalid") == "true"
    assert_accessible(page, "subscribe-error")

    staff_page.goto("/admin/incidents/new")
    staff_page.get_by_role("button", name="Log incident").click()
    title = staff_page.get_by_label("Title")
    assert title.get_attribute("aria-invalid") == "true"
    error_id = title.get_attribute("aria-describedby")
    assert error_id and staff_page.locator(f"#{error_id}").inner_text().strip()
    assert_accessible(staff_page, "admin-new-incident-error", phone=False)


def test_uptime_bars_are_named_pictures(page: Any) -> None:
    """Each bar is one image with its summary as its name; no day is a colour alone."""
    page.goto("/")
    bars = page.locator("svg.uptime-bar")
    assert bars.count() >= 5
    for index in range(bars.count()):
        bar = bars.nth(index)
        assert bar.get_attribute("role") == "img"
        assert re.search(
            r"daily uptime, .* over 90 days; \d+ days? with outages",
            bar.get_attribute("aria-label"),
        )
