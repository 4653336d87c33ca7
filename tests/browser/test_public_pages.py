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


def test_uptime_day_details_open_with_the_keyboard(page: Any) -> None:
    page.goto("/")
    first_detail = page.locator(".day[tabindex='0'] .day-detail").first
    assert first_detail.is_hidden()  # shown only on hover or focus
    # Tab from the top of the page to a day of an uptime bar that links to its incidents.
    for _ in range(400):
        page.keyboard.press("Tab")
        if page.evaluate(
            "() => document.activeElement.matches('.day[tabindex]:has(.day-detail a)')"
        ):
            break
    else:
        raise AssertionError("no day of an uptime bar can be reached with Tab")
    day = page.locator(".day:focus")
    day_id = day.locator(".day-detail").get_attribute("id")
    details = page.locator(f"#{day_id}")
    assert details.is_visible()
    assert re.search(r"\d{1,2} [A-Z][a-z]{2} \d{4}", details.inner_text())
    # Screen readers hear the same details: the day is described by them.
    assert day.get_attribute("aria-describedby") == day_id

    # The incident links inside stay reachable: Tab moves into the details, which stay open.
    page.keyboard.press("Tab")
    assert page.evaluate(f"() => document.activeElement.closest('#{day_id}') !== null")
    assert details.is_visible()
    incident_title = page.evaluate("() => document.activeElement.textContent").strip()
    assert incident_title
    # Leaving the day closes its details.
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => document.activeElement.closest('#{day_id}') === null"):
            break
    assert details.is_hidden()


def test_status_page_works_without_javascript(
    new_context: Any, live_site: LiveSite, screenshot: Any
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/")
    assert page.locator("#overall-heading").inner_text().strip()
    assert page.locator(".component .status").count() >= 5
    assert page.locator(".uptime-bar .day").count() > 0
    # Without the local-time script times stay in UTC, and the page says so.
    assert "UTC" in page.locator("#zone-note").inner_text()
    assert "UTC" in page.locator("time").first.inner_text()
    # Links still lead somewhere: the first active incident's page renders in full.
    page.locator("#active-heading ~ article h3 a").first.click()
    assert page.locator("h2#updates-heading").is_visible()
    assert page.locator(".updates .update").count() >= 1


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
    return page.evaluate(
        "() => [...document.querySelector('.uptime-bar').children]"
        ".filter(day => day.getBoundingClientRect().width > 0).length"
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
