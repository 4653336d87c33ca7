"""The page's own name, logo, favicon, colour and links, set in the app."""

from __future__ import annotations

import io
import re
import struct
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage.branding import settings as branding
from statuspage.core.errors import DomainError
from statuspage.core.models import AuditEntry, SiteState


def png(width: int = 4, height: int = 2) -> bytes:
    raw = b"".join(b"\x00" + b"\x00\x80\xff" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def version(session: Any) -> int:
    session.expire_all()
    return session.scalar(sa.select(SiteState.public_version).where(SiteState.id == 1))


def test_contrast_is_computed_as_wcag_says():
    assert branding.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert branding.contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert branding.contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


def test_a_favicon_is_served_without_setting_anything(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.data.startswith(b"\x89PNG")
    assert 'rel="icon"' in text(client.get("/"))


def test_staff_set_up_name_colour_links_and_readers_see_them(client, session, make_user, login):
    login(make_user("manager"))
    before = version(session)
    response = client.post(
        "/admin/settings/page",
        data={
            "name": "Acme Status",
            "about": "Live status of the Acme shop and API.",
            "brand_color": "#7b1fa2",
            "support_url": "https://help.acme.test/",
            "contact_url": "mailto:ops@acme.test",
            "time_zone": "Europe/Berlin",
            "email_sender_name": "Acme Ops",
            "footer_links-0-label": "Privacy",
            "footer_links-0-url": "https://acme.test/privacy",
        },
    )
    assert response.status_code == 302, text(response)[:600]
    assert version(session) == before + 1
    audit = session.scalar(sa.select(AuditEntry).where(AuditEntry.entity_type == "page_settings"))
    assert audit.changes["name"] == ["", "Acme Status"]

    page = client.get("/")
    html = text(page)
    assert "Acme Status" in html and "Live status of the Acme shop and API." in html
    assert 'href="https://help.acme.test/"' in html and ">Privacy</a>" in html
    stylesheet = re.search(r'href="(/branding/brand-[0-9a-f]+\.css)"', html).group(1)
    css = client.get(stylesheet)
    assert css.status_code == 200 and "#7b1fa2" in css.get_data(as_text=True)
    assert "immutable" in css.headers["Cache-Control"]
    assert client.get("/api/v2/summary.json").status_code == 200
    assert "Acme Status" in text(client.get("/history"))


def test_a_colour_white_text_cannot_be_read_on_is_refused_with_its_ratio(
    client, session, make_user, login
):
    login(make_user("manager"))
    response = client.post("/admin/settings/page", data={"brand_color": "#ffcc00"})
    assert response.status_code == 400
    assert "has a contrast of 1.5:1; WCAG AA needs 4.5:1" in text(response)
    assert branding.stored_page(session).brand_color == ""
    for bad in ("blue", "#12345", "#gggggg"):
        with pytest.raises(DomainError):
            branding.update_page(
                session, branding.PageFields(brand_color=bad), actor_id=None, now=None
            )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("support_url", "javascript:alert(1)"),
        ("contact_url", "//evil.test"),
        ("time_zone", "Mars/Base"),
        ("footer_links-0-url", "data:text/html,hi"),
    ],
)
def test_bad_links_and_zones_are_refused(client, session, make_user, login, field, value):
    login(make_user("manager"))
    data = {field: value}
    if field.startswith("footer_links"):
        data["footer_links-0-label"] = "Label"
    response = client.post("/admin/settings/page", data=data)
    assert response.status_code == 400
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


def test_logo_upload_is_raster_only_and_shown(client, session, make_user, login):
    login(make_user("manager"))
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    response = client.post(
        "/admin/settings/page/logo",
        data={"logo-file": (io.BytesIO(svg), "logo.svg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and "SVG is not accepted" in text(response)
    too_big = png() + b"\x00" * (branding.LOGO_MAX_BYTES + 1)
    response = client.post(
        "/admin/settings/page/logo",
        data={"logo-file": (io.BytesIO(too_big), "big.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and "under 200 KB" in text(response)

    logo = png()
    response = client.post(
        "/admin/settings/page/logo",
        data={"logo-file": (io.BytesIO(logo), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    html = text(client.get("/"))
    src = re.search(r'<img class="site-logo" src="([^"]+)" alt="Test Status">', html).group(1)
    served = client.get(src)
    assert served.data == logo and served.mimetype == "image/png"
    assert "sandbox" in served.headers["Content-Security-Policy"]
    assert client.get(src.replace(src.rsplit("/", 1)[1], "0" * 64)).status_code == 404

    client.post("/admin/settings/page/logo/remove")
    assert "site-logo" not in text(client.get("/"))


def test_an_uploaded_favicon_replaces_the_default(client, make_user, login):
    login(make_user("manager"))
    icon = b"\x00\x00\x01\x00" + b"\x01" * 40
    response = client.post(
        "/admin/settings/page/favicon",
        data={"favicon-file": (io.BytesIO(icon), "favicon.ico")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    served = client.get("/favicon.ico")
    assert served.data == icon and served.mimetype == "image/x-icon"
    assert (
        client.get("/favicon.ico", headers={"If-None-Match": served.headers["ETag"]}).status_code
        == 304
    )


def test_only_configurers_change_the_page(client, make_user, login):
    login(make_user("communicator"))
    assert client.get("/admin/settings/page").status_code == 403
    assert client.post("/admin/settings/page", data={"name": "X"}).status_code == 403


def test_config_show_names_the_database_as_the_source_of_page_settings(app, session, runner):
    branding.update_page(
        session, branding.PageFields(name="Acme Status"), actor_id=None, now=datetime.now(UTC)
    )
    session.commit()
    output = runner.invoke(args=["config", "show"]).output
    line = [row for row in output.splitlines() if "Acme Status" in row]
    assert line and line[0].split()[0] == "SITE_NAME" and "database" in line[0]


def test_the_name_and_sender_reach_feeds_json_calendar_and_email(
    app, client, session, make_component, immediate_huey, tmp_path
):
    from email import message_from_bytes, policy

    make_component("Website")
    app.config.update(
        MAIL_TRANSPORT="file", MAIL_FILE_DIR=str(tmp_path / "mail"), MAIL_FROM="status@acme.test"
    )
    branding.update_page(
        session,
        branding.PageFields(
            name="Acme Status", email_sender_name="Acme Ops", time_zone="Asia/Tokyo"
        ),
        actor_id=None,
        now=datetime.now(UTC),
    )
    session.commit()
    assert "<title>Acme Status history</title>" in client.get("/history.rss").get_data(as_text=True)
    page = client.get("/api/v2/summary.json").get_json()["page"]
    assert (page["name"], page["time_zone"]) == ("Acme Status", "Asia/Tokyo")
    assert "Acme Status maintenance" in client.get("/maintenance.ics").get_data(as_text=True)

    client.post("/subscribe", data={"email": "reader@example.com", "scope": "all"})
    [path] = sorted((tmp_path / "mail").glob("*.eml"))
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["Subject"] == "Confirm your subscription to Acme Status"
    assert message["From"] == "Acme Ops <status@acme.test>"


def test_uptime_days_are_days_of_the_page_time_zone(client, session, make_component):
    make_component("Website")
    branding.update_page(
        session, branding.PageFields(time_zone="Asia/Tokyo"), actor_id=None, now=datetime.now(UTC)
    )
    session.commit()
    html = text(client.get("/"))
    assert "One bar per day (Asia/Tokyo days)" in html
    assert "Days are calendar days in Asia/Tokyo" in html
    assert 'data-uptime-zone="Asia/Tokyo"' in html
