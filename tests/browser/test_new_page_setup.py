"""A new installation set up by hand in Chromium, as a new team would (issue 13's "done when").

An EMPTY database (only `db upgrade` and `users create --role admin` ran): the admin sets up
three groups and eight components, a logo and a colour, a reader subscribes, the admin logs
an incident and publishes an update; then the page, the JSON API, the feed, the reader's email
and the static snapshot all show it. No file or setting is edited along the way.
"""

from __future__ import annotations

import re
import struct
import urllib.request
import zlib
from typing import Any

from tests.browser.conftest import CHROMIUM_ARGS, context_options  # noqa: F401
from tests.browser.support import emails_to, link_in, log_in, run_axe, subscribe

GROUPS = {
    "Storefront": ["Website", "Checkout", "Search"],
    "Platform": ["Public API", "Webhooks", "Database"],
    "Communication": ["Email", "SMS"],
}
BRAND = "#7b1fa2"


def logo_png(path: Any) -> Any:
    width, height = 24, 12
    raw = b"".join(b"\x00" + bytes((123, 31, 162)) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return path


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
        return response.read().decode()


def test_a_new_team_sets_up_its_page_and_everything_shows_it(
    browser: Any, empty_site: Any, tmp_path: Any, screenshot: Any
) -> None:
    admin = browser.new_context(**context_options(empty_site))
    admin.set_default_timeout(15_000)
    page = admin.new_page()
    log_in(page, empty_site.staff_email, empty_site.staff_password)
    page.goto("/admin/incidents")
    assert page.get_by_role("heading", name="Set up your page").is_visible()

    # Three groups and eight components.
    page.goto("/admin/components")
    assert page.get_by_role("heading", name="No components yet").is_visible()
    for group in GROUPS:
        form = page.get_by_role("region", name="Add a group")
        form.get_by_label("Name").fill(group)
        form.get_by_role("button", name="Add group").click()
        page.get_by_text(f"Group “{group}” added.").wait_for()
    for group, names in GROUPS.items():
        for name in names:
            form = page.get_by_role("region", name="Add a component")
            form.get_by_label("Name").fill(name)
            form.get_by_label("Group").select_option(label=group)
            form.get_by_role("button", name="Add component").click()
            page.get_by_text(f"Component “{name}” added.").wait_for()
    assert not run_axe(page), "axe finds problems on the components page"

    # Name, colour and logo.
    page.goto("/admin/settings/page")
    page.get_by_label("Page name").fill("Acme Status")
    page.get_by_label("Brand colour").fill(BRAND)
    page.get_by_role("button", name="Save page settings").click()
    page.get_by_text("Page settings saved").wait_for()
    logo = page.get_by_role("region", name="Logo")
    logo.get_by_label("File").set_input_files(str(logo_png(tmp_path / "acme.png")))
    logo.get_by_role("button", name="Upload logo").click()
    page.get_by_text("Logo saved.").wait_for()

    # A reader subscribes and confirms.
    reader = browser.new_context(**context_options(empty_site)).new_page()
    subscribe(reader, "reader@example.com")
    [confirmation] = emails_to(empty_site.mail_dir, "reader@example.com")
    assert "Acme Status" in confirmation["Subject"]
    reader.goto(link_in(confirmation, "/subscribe/confirm"))
    reader.get_by_role("button", name=re.compile("Confirm")).click()

    # An incident, and a public update that takes Checkout down.
    page.goto("/admin/incidents/new")
    page.get_by_label("Title").fill("Checkout errors")
    page.get_by_label("Affected components").select_option(label="Checkout")
    page.get_by_role("button", name="Log incident").click()
    page.wait_for_url(re.compile(r"/admin/incidents/\d+$"))
    incident_id = int(page.url.rsplit("/", 1)[1])
    page.get_by_role("link", name="Write a public update").click()
    page.get_by_label("Investigating").check()
    page.get_by_label("Message (Markdown, shown to customers)").fill("Payments fail for some.")
    page.get_by_label("Checkout").select_option(label="Major outage")
    page.get_by_role("button", name="Publish").click()
    page.get_by_text("Update published.").wait_for()

    # The public page: name, logo, colour, groups in order, the incident.
    reader.goto("/")
    assert reader.locator("img.site-logo").get_attribute("alt") == "Acme Status"
    stylesheet = reader.locator('link[href*="/branding/brand-"]').get_attribute("href")
    assert BRAND in fetch(empty_site.url(stylesheet))
    headings = reader.locator(".group-name").all_inner_texts()
    assert headings == list(GROUPS)
    components = reader.locator("h3.component-name").all_inner_texts()
    assert components == [name for names in GROUPS.values() for name in names]
    assert reader.get_by_role("link", name="Checkout errors").first.is_visible()
    checkout = reader.locator(".component", has=reader.locator("h3", has_text="Checkout"))
    assert "Major outage" in checkout.locator(".status").inner_text()
    screenshot(reader, "new-page-set-up")
    assert not run_axe(reader), "axe finds problems on the set-up page"

    # The JSON API, the feed, the email, the snapshot.
    summary = __import__("json").loads(fetch(empty_site.url("/api/v2/summary.json")))
    assert summary["page"]["name"] == "Acme Status"
    listed = {c["name"]: c for c in summary["components"]}
    assert set(GROUPS) | {n for names in GROUPS.values() for n in names} == set(listed)
    assert listed["Checkout"]["status"] == "major_outage"
    assert [i["name"] for i in summary["incidents"]] == ["Checkout errors"]
    feed = fetch(empty_site.url("/history.rss"))
    assert "<title>Acme Status history</title>" in feed and "Checkout errors" in feed
    notices = [
        m for m in emails_to(empty_site.mail_dir, "reader@example.com") if m is not confirmation
    ]
    assert any("Checkout errors" in str(m["Subject"]) for m in notices[1:]), [
        str(m["Subject"]) for m in notices
    ]
    snapshot = empty_site.mail_dir.parent / "snapshot" / "current" / "index.html"
    text = snapshot.read_text()
    assert "Acme Status" in text and "Checkout errors" in text and "Communication" in text
    assert f"/incidents/{incident_id}" in text

    # The staff pages used here fit a phone.
    phone = browser.new_context(
        **{**context_options(empty_site), "viewport": {"width": 390, "height": 800}}
    )
    staff_phone = phone.new_page()
    log_in(staff_phone, empty_site.staff_email, empty_site.staff_password)
    for path in ("/admin/components", "/admin/settings/page"):
        staff_phone.goto(path)
        width = staff_phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width}px wide on a 390px phone"
    for context in (admin, reader.context, phone):
        context.close()
