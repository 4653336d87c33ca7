"""Staff in a real browser: logging in, logging an incident, publishing a public update."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.conftest import LiveSite
from tests.browser.support import log_in


def test_admin_login(page: Any, live_site: LiveSite) -> None:
    page.goto("/admin/incidents")
    page.wait_for_url(re.compile(r"/login"))  # anonymous visitors are sent to the login page

    page.get_by_label("Email").fill(live_site.staff_email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("do not match an active account").wait_for()
    assert page.get_by_label("Password").get_attribute("aria-invalid") == "true"

    log_in(page, live_site.staff_email, live_site.staff_password)
    admin_nav = page.get_by_role("navigation", name="Admin")
    # "Log out" is after the navigation, not in it, with who is logged in next to it.
    assert admin_nav.get_by_role("button").count() == 0
    log_out = page.get_by_role("banner").get_by_role("button", name="Log out")
    assert log_out.is_visible()
    assert page.get_by_role("banner").get_by_text(live_site.staff_email).is_visible()
    assert admin_nav.get_by_role("link", name="Log incident").is_visible()


def test_log_an_incident_and_publish_an_update(staff_page: Any, screenshot: Any) -> None:
    page = staff_page
    page.goto("/admin/incidents")
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Log incident").click()
    page.get_by_label("Title").fill("Uploads fail for large files")
    page.get_by_label("Description (internal, Markdown)").fill("Seen by the **browser** test.")
    page.get_by_label("Affected components").select_option(label="File storage")
    page.get_by_role("button", name="Log incident").click()

    page.wait_for_url(re.compile(r"/admin/incidents/\d+$"))
    incident_id = int(page.url.rsplit("/", 1)[1])
    assert page.get_by_text(f"Incident #{incident_id} logged.").is_visible()
    assert page.get_by_role("heading", level=1).inner_text().count("Uploads fail for large files")
    screenshot(page, "admin-incident")

    page.get_by_role("link", name="Write a public update").click()
    page.wait_for_url(re.compile(rf"/admin/incidents/{incident_id}/updates/new"))
    page.get_by_label("Identified").check()
    message = "Uploads over 100 MB fail. We found the cause and are deploying a fix."
    page.get_by_label("Message (Markdown, shown to customers)").fill(message)
    page.get_by_label("File storage").select_option(label="Partial outage")
    # Preview first: nothing is published yet, the preview shows what customers will see.
    page.get_by_role("button", name="Preview").click()
    preview = page.get_by_role("region", name="Preview")
    assert message in preview.inner_text()
    assert "File storage: Partial outage" in preview.inner_text()
    screenshot(page, "admin-update-form")
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url(re.compile(rf"/admin/incidents/{incident_id}#updates-h$"))
    assert page.get_by_text("Update published. Subscribers will be notified.").is_visible()

    # Customers see it: on the incident's public page and on the front page.
    page.goto(f"/incidents/{incident_id}")
    assert page.get_by_role("heading", level=1).inner_text() == "Uploads fail for large files"
    update = page.locator(".updates .update").first
    assert message in update.inner_text()
    assert "Identified" in update.locator(".update-status").inner_text()
    assert "File storage: Partial outage" in update.inner_text()

    page.goto("/")
    active = page.get_by_role("region", name="Active incidents")
    assert active.get_by_role("link", name="Uploads fail for large files").is_visible()
    storage = page.locator(".component", has=page.locator("h3", has_text="File storage"))
    assert "Partial outage" in storage.locator(".status").inner_text()
