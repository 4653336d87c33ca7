"""The public pages in a real browser: status, incident, history, with and without JavaScript."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.conftest import LiveSite

STATUS_WORDS = re.compile(
    r"Operational|Degraded performance|Partial outage|Major outage|Under maintenance"
)


def test_status_page_shows_overall_status_and_components(page: Any, screenshot: Any) -> None:
    response = page.goto("/")
    assert response.status == 200
    overall = page.locator("#overall-heading")
    # The demo has an open incident (identified): the overall status says so in words.
    assert overall.inner_text().strip() != ""
    assert re.search(r"[A-Za-z]{4,}", overall.inner_text())
    components = page.locator(".component")
    assert components.count() >= 5
    for index in range(components.count()):
        component = components.nth(index)
        assert component.locator(".component-name").inner_text().strip()
        assert STATUS_WORDS.search(component.locator(".status").inner_text())
    assert page.get_by_role("heading", name="Active incidents").is_visible()
    screenshot(page, "public-front")


def test_skip_link_comes_first_and_shows_on_focus(page: Any) -> None:
    page.goto("/incidents/1")
    skip = page.get_by_role("link", name="Skip to content")
    assert not skip.is_visible() or skip.bounding_box()["x"] < 0  # off screen until focused
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Skip to content"
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")


def test_uptime_days_open_with_the_keyboard(page: Any) -> None:
    """Each bar is one picture with a summary in words; the day-by-day page behind it is a
    Tab and an Enter away, and its incident links are reachable in turn."""
    page.goto("/")
    bar = page.get_by_role("img", name=re.compile(r"daily uptime, .* over 90 days; \d+ days?"))
    assert bar.count() >= 5
    # Tab from the top of the page to a component's day-by-day link.
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('.uptime-summary a')"):
            break
    else:
        raise AssertionError("no day-by-day link can be reached with Tab")
    name = page.evaluate("() => document.activeElement.textContent")
    assert "day by day" in name and re.search(r"\d+\.\d\d% uptime|No data", name)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/components/\d+/uptime$"))
    table = page.get_by_role("table")
    assert table.locator("tbody tr").count() == 90
    assert "UTC days" in table.locator("caption").inner_text()
    # Days with incidents link to them, and Tab reaches those links: on the page of a
    # component the demo's open incident affects.
    page.goto("/")
    links = page.locator(".uptime-summary a")
    addresses = [links.nth(i).get_attribute("href") for i in range(links.count())]
    for address in addresses:
        page.goto(address)
        if page.locator("table a[href*='/incidents/']").count():
            break
    else:
        raise AssertionError("no day-by-day page lists an incident")
    for _ in range(300):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('table a[href*=\"/incidents/\"]')"):
            break
    else:
        raise AssertionError("no incident of a day can be reached with Tab")


def test_status_page_works_without_javascript(
    new_context: Any, live_site: LiveSite, screenshot: Any
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/")
    assert page.locator("#overall-heading").inner_text().strip()
    assert page.locator(".component .status").count() >= 5
    assert page.locator(".uptime-bar path").count() > 0
    # Without the local-time script times stay in UTC, and the page says so.
    assert "UTC" in page.locator("#zone-note").inner_text()
    assert "UTC" in page.locator("time").first.inner_text()
    # Links still lead somewhere: the first active incident's page renders in full.
    page.locator("#active-heading ~ article h3 a").first.click()
    page.locator("h2#updates-heading").wait_for()
    assert page.locator(".updates .update").count() >= 1
    # The days behind a bar: a plain link to a plain table.
    page.goto("/")
    page.locator(".uptime-summary a").first.click()
    page.locator("table.uptime-days").wait_for()
    assert page.locator("table.uptime-days tbody tr").count() == 90


def test_incident_page_from_the_front_page(page: Any, screenshot: Any) -> None:
    page.goto("/")
    link = page.locator("#active-heading ~ article h3 a").first
    title = link.inner_text().strip()
    link.click()
    page.wait_for_url(re.compile(r"/incidents/\d+$"))
    assert page.get_by_role("heading", level=1).inner_text().strip() == title
    assert page.get_by_role("heading", name="Updates", exact=True).is_visible()
    assert page.locator(".updates .update").count() >= 1
    assert page.locator(".update-status").first.inner_text().strip()
    screenshot(page, "public-incident")


def test_history_page(page: Any, screenshot: Any) -> None:
    page.goto("/")
    page.get_by_role("navigation", name="Site").get_by_role("link", name="History").click()
    page.wait_for_url(re.compile(r"/history"))
    assert page.locator("main a[href*='/incidents/']").count() >= 5
    screenshot(page, "public-history")


def _visible_days(page: Any) -> int:
    """Days of the first bar inside its component's box (on a phone the bar is wider than
    the box, its oldest days past the left edge)."""
    return page.evaluate(
        "() => { const bar = document.querySelector('.uptime-bar');"
        " const shown = bar.parentElement.getBoundingClientRect().width;"
        " return Math.round(90 * shown / bar.getBoundingClientRect().width); }"
    )


def test_the_uptime_text_says_how_many_days_the_bars_show(
    new_context: Any, screenshot: Any
) -> None:
    """On a phone the bars show fewer days than on a desktop: the words say which."""
    wide = new_context().new_page()
    wide.goto("/")
    assert _visible_days(wide) == 90
    assert "last 90 days" in wide.locator(".uptime-legend").inner_text()
    assert wide.locator(".uptime-summary").first.inner_text().startswith("90 days ago")

    phone = new_context(viewport={"width": 390, "height": 844}).new_page()
    phone.goto("/")
    shown = _visible_days(phone)
    assert shown < 90
    legend = phone.locator(".uptime-legend").inner_text()
    assert f"the bars show the last {shown} days" in legend
    assert phone.locator(".uptime-summary").first.inner_text().startswith(f"{shown} days ago")
    # Nothing overflows the phone's width.
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= 390
    screenshot(phone, "public-front-phone")
