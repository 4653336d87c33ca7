"""The stakeholder pages in Chromium on a phone (390 px): the lists, a list's edit page, a new
list made through the form, and an incident's stakeholder page with the update sent by hand.
Each fits the screen's width and has no serious or critical axe finding."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import LiveSite, _serving, context_options
from tests.browser.support import BLOCKING_IMPACTS, describe, log_in, run_axe

PHONE = {"width": 390, "height": 800}


@pytest.fixture(scope="module")
def admin_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    with _serving(tmp_path_factory.mktemp("stakeholder-site"), role="admin") as site:
        yield site


@pytest.fixture(scope="module")
def phone(browser: Any, admin_site: LiveSite) -> Iterator[Any]:
    context = browser.new_context(**{**context_options(admin_site), "viewport": PHONE})
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, admin_site.staff_email, admin_site.staff_password)
    yield page
    context.close()


def _problems(page: Any) -> list[str]:
    problems = []
    width = page.evaluate("() => document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        problems.append(f"{page.url}: {width} px wide")
    blocking = [v for v in run_axe(page) if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        problems.append(f"{page.url}: axe\n{describe(blocking)}")
    return problems


def test_stakeholder_pages_work_on_a_phone(phone: Any) -> None:
    page = phone
    problems: list[str] = []

    page.goto("/admin/stakeholders")
    assert page.get_by_role("heading", name="Stakeholder lists", level=1).is_visible()
    assert page.get_by_role("link", name="Leadership", exact=True).is_visible()
    problems += _problems(page)

    page.get_by_role("link", name="Edit Support").click()
    page.wait_for_url(re.compile(r"/admin/stakeholders/\d+$"))
    assert page.get_by_label("P2").is_checked()
    problems += _problems(page)

    page.goto("/admin/stakeholders/new")
    page.get_by_label("Name").fill("Account managers")
    page.get_by_label("P1").check()
    page.get_by_label("Declared").check()
    page.get_by_label("Other email addresses, one per line").fill("am@example.com")
    problems += _problems(page)
    page.get_by_role("button", name="Create list").click()
    page.wait_for_url(re.compile(r"/admin/stakeholders$"))
    assert page.get_by_role("link", name="Account managers", exact=True).is_visible()

    page.goto("/admin/incidents")
    hrefs = page.evaluate("() => [...document.querySelectorAll('main a')].map(a => a.pathname)")
    incident = next(h for h in hrefs if re.fullmatch(r"/admin/incidents/\d+", h))
    page.goto(incident)
    page.get_by_role("link", name=re.compile("Send a stakeholder update")).first.click()
    page.wait_for_url(re.compile(r"/admin/incidents/\d+/stakeholders$"))
    problems += _problems(page)
    page.get_by_label("Account managers").check()
    page.get_by_label(re.compile("Update for stakeholders")).fill("Checkout is slow; we are on it.")
    page.get_by_role("button", name="Send to stakeholders").click()
    page.wait_for_url(re.compile(r"/admin/incidents/\d+/stakeholders$"))
    row = page.locator("tbody tr").first
    assert "Account managers" in row.inner_text()
    problems += _problems(page)
    assert not problems, "\n".join(problems)
