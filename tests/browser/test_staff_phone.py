"""The staff area on a phone (390 x 800): every page reachable from the admin navigation, and an
incident, a maintenance and a problem page, fit the screen's width without sideways scrolling,
have no serious or critical axe finding, and keep chart labels readable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM_PATH, LiveSite, _serving, context_options
from tests.browser.support import BLOCKING_IMPACTS, describe, log_in, run_axe

PHONE = {"width": 390, "height": 800}


@pytest.fixture(scope="module")
def admin_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    """The demo site with an admin's account: an admin's navigation reaches every staff page."""
    with _serving(tmp_path_factory.mktemp("phone-site"), role="admin") as site:
        yield site


@pytest.fixture(scope="module")
def phone(browser: Any, admin_site: LiveSite) -> Iterator[Any]:
    context = browser.new_context(**{**context_options(admin_site), "viewport": PHONE})
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, admin_site.staff_email, admin_site.staff_password)
    # The demo has no problem record: record one, as staff would.
    page.goto("/admin/problems/new")
    page.get_by_label("Title").fill("Checkout times out under load")
    page.get_by_role("button", name="Record problem").click()
    page.wait_for_url(re.compile(r"/admin/problems/\d+$"))
    yield page
    context.close()


def _staff_links(page: Any) -> list[str]:
    """The paths of the admin navigation and of the account area (Two-factor)."""
    hrefs = page.evaluate(
        """() => [...document.querySelectorAll('nav[aria-label="Admin"] a, .account a')]
                 .map(a => new URL(a.href).pathname)"""
    )
    return [href for href in dict.fromkeys(hrefs) if href.startswith(("/admin", "/account"))]


def _first_link(page: Any, list_path: str, pattern: str) -> str:
    page.goto(list_path)
    hrefs = page.evaluate("() => [...document.querySelectorAll('main a')].map(a => a.pathname)")
    found = [href for href in hrefs if re.fullmatch(pattern, href)]
    assert found, f"no link matching {pattern} on {list_path}"
    return found[0]


def _check_fits(page: Any, path: str) -> list[str]:
    page.goto(path)
    problems = []
    width = page.evaluate("() => document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        widest = page.evaluate(
            """() => [...document.querySelectorAll('main *')]
                 .filter(e => e.getBoundingClientRect().right > 391)
                 .slice(0, 3).map(e => e.outerHTML.slice(0, 120))"""
        )
        problems.append(f"{path}: {width} px wide; overflowing: {widest}")
    blocking = [v for v in run_axe(page) if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        problems.append(f"{path}: axe\n{describe(blocking)}")
    return problems


def test_every_staff_page_fits_a_phone_and_passes_axe(phone: Any) -> None:
    page = phone
    page.goto("/admin/incidents")
    paths = _staff_links(page)
    # The whole staff area, as an admin sees it.
    for expected in ("/admin/incidents", "/admin/dashboard", "/admin/users", "/admin/settings"):
        assert expected in paths, paths
    paths += [
        _first_link(page, "/admin/incidents", r"/admin/incidents/\d+"),
        _first_link(page, "/admin/maintenance", r"/admin/maintenance/\d+(/edit)?"),
        _first_link(page, "/admin/problems", r"/admin/problems/\d+"),
    ]
    problems = [problem for path in paths for problem in _check_fits(page, path)]
    assert not problems, "\n".join(problems)


def test_the_menu_is_collapsed_on_a_phone_and_opens_without_script(
    browser: Any, admin_site: LiveSite
) -> None:
    context = browser.new_context(
        **{**context_options(admin_site), "viewport": PHONE, "java_script_enabled": False}
    )
    try:
        page = context.new_page()
        log_in(page, admin_site.staff_email, admin_site.staff_password)
        page.goto("/admin/incidents")
        nav = page.get_by_role("navigation", name="Admin", include_hidden=True)
        log_incident = nav.get_by_role("link", name="Log incident", include_hidden=True)
        assert not log_incident.is_visible()
        # The page's own heading comes before the menu's links on a small screen.
        assert page.get_by_role("heading", level=1).is_visible()
        page.get_by_text("Menu", exact=True).click()
        log_incident.wait_for()
        for group in ("Incidents", "Communication", "Configuration"):
            assert nav.get_by_role("list", name=group).is_visible()
        assert page.get_by_role("banner").get_by_role("button", name="Log out").is_visible()
    finally:
        context.close()


def test_dashboard_chart_labels_are_readable_on_a_phone(phone: Any) -> None:
    page = phone
    page.goto("/admin/dashboard")
    sizes = page.evaluate(
        """() => [...document.querySelectorAll('.chart svg text')].map(t => {
               const svg = t.ownerSVGElement;
               const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
               return parseFloat(getComputedStyle(t).fontSize) * scale;
           })"""
    )
    assert sizes, "no chart on the dashboard"
    assert min(sizes) >= 12, sizes


def test_incident_page_puts_the_current_work_first(phone: Any) -> None:
    page = phone
    path = _first_link(page, "/admin/incidents", r"/admin/incidents/\d+")
    page.goto(path)
    # What the status needs is open; the record of what happened is one tap away.
    assert page.get_by_role("heading", name="Lifecycle").is_visible()
    assert page.get_by_role("heading", name="SLA clocks").is_visible()
    assert page.get_by_role("heading", name="People").is_visible()
    for closed in ("Timeline", "Tasks", "Investigation: notes and evidence"):
        summary = page.locator("details.workspace-more > summary", has_text=closed)
        assert summary.is_visible(), closed
        assert summary.evaluate("s => !s.parentElement.open"), closed
    # A refused transition: an error summary at the top links to the field, which keeps its label.
    target = page.get_by_label("Move to")
    options = target.evaluate("s => [...s.options].map(o => o.value)")
    needs_reason = next((o for o in ("cancelled", "mitigated", "resolved") if o in options), None)
    assert needs_reason, options
    target.select_option(needs_reason)
    page.get_by_role("button", name="Change status").click()
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    summary.wait_for()
    first = summary.get_by_role("link").first
    href = first.get_attribute("href")
    assert href and href.startswith("#")
    first.click()
    assert (
        page.evaluate("() => document.activeElement.id") == href[1:]
        or page.locator(href).is_visible()
    )


assert CHROMIUM_PATH  # the shared browser fixture launches Debian's Chromium
