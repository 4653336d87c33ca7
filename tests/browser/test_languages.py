"""The public page in other languages in a real browser (issue 17): Arabic mirrored right to
left (the header's name on the right, the uptime bar running oldest to newest in reading
order), Japanese rendered with its own fonts, both at a phone's 390 px, and the language
switcher working without JavaScript. Screenshots: public-front-ar, public-front-ja,
public-phone-ar, public-phone-ja."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PHONE = {"width": 390, "height": 844}


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, selector
    return found


def no_sideways_scroll(page: Any) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths


def test_arabic_page_is_mirrored(page: Any, screenshot: Callable[..., Any]) -> None:
    page.goto("/?lang=en")
    name, nav = box(page, ".site-header .site-name"), box(page, ".site-header nav")
    assert name["x"] < nav["x"]  # English: the name on the left, the menu on the right
    english_summary = page.locator(".uptime-summary").first
    english_first = english_summary.locator("span").first.bounding_box()
    english_today = english_summary.locator("span").last.bounding_box()
    assert english_first["x"] < english_today["x"]  # "90 days ago" left of "Today"

    response = page.goto("/?lang=ar")
    assert response.status == 200
    html = page.locator("html")
    assert html.get_attribute("lang") == "ar" and html.get_attribute("dir") == "rtl"
    name, nav = box(page, ".site-header .site-name"), box(page, ".site-header nav")
    assert name["x"] > nav["x"]  # mirrored: the name on the right
    assert name["x"] + name["width"] > 1280 / 2
    # The bar runs oldest to newest in reading order: right to left, "Today" on the left.
    summary = page.locator(".uptime-summary").first
    oldest = summary.locator("span").first.bounding_box()
    today = summary.locator("span").last.bounding_box()
    assert today["x"] < oldest["x"]
    transform = page.evaluate(
        "() => getComputedStyle(document.querySelector('.uptime-bar')).transform"
    )
    assert transform.startswith("matrix(-1"), transform
    # The skip link waits off screen on the reading side.
    skip = page.locator(".skip-link").bounding_box()
    assert skip is None or skip["x"] > 1280 or skip["x"] + skip["width"] < 0
    screenshot(page, "public-front-ar")


def test_japanese_page_renders(page: Any, screenshot: Callable[..., Any]) -> None:
    response = page.goto("/?lang=ja")
    assert response.status == 200
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.locator("html").get_attribute("dir") == "ltr"
    # Dates are Japanese (Babel's CLDR data), whatever the catalogs hold yet.
    assert "年" in page.locator("main").inner_text()
    # A CJK font is there to draw them (fonts-noto-cjk): the glyph is not a fallback box.
    assert page.evaluate("() => document.fonts.check('16px \"Noto Sans CJK JP\"', '年')")
    screenshot(page, "public-front-ja")


def test_arabic_and_japanese_fit_a_phone(
    new_context: Callable[..., Any], screenshot: Callable[..., Any]
) -> None:
    phone = new_context(viewport=PHONE).new_page()
    for code in ("ar", "ja"):
        assert phone.goto(f"/?lang={code}").status == 200
        no_sideways_scroll(phone)
        # The 90-day bars show their last 30 days on a phone, and say so.
        assert phone.locator(".uptime-legend .narrow-only").first.is_visible()
        bar, component = box(phone, ".uptime-bar"), box(phone, ".component")
        assert bar["width"] > component["width"] * 2  # three times as wide, two thirds hidden
        screenshot(phone, f"public-phone-{code}")
    name, nav = box(phone, ".site-header .site-name"), box(phone, ".site-header nav")
    assert phone.evaluate("() => document.documentElement.dir") == "ltr"
    assert name["y"] <= nav["y"]


def test_the_switcher_works_without_javascript(new_context: Callable[..., Any]) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/history")
    page.locator(".language-switcher a[hreflang='de']").click()
    page.wait_for_url("**/history?lang=de")
    assert page.locator("html").get_attribute("lang") == "de"
    # The cookie remembers the choice on pages reached without ?lang=.
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "de"
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert cookies["statuspage_lang"]["value"] == "de"
    assert cookies["statuspage_lang"]["httpOnly"] is True
