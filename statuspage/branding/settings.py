"""Reading and changing the page settings.

`effective_page` merges the stored row over the configuration (SITE_NAME, SITE_TIME_ZONE):
what a reader sees. `update_page` and `set_image` validate, write an audit row and bump the
public version in the caller's transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formataddr, parseaddr
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.branding.models import PageSettings
from statuspage.core.errors import DomainError, Term
from statuspage.core.records import bump_public_version, record_audit
from statuspage.core.text import single_line
from statuspage.core.translation import N_

NAME_MAX = 120
ABOUT_MAX = 1000
URL_MAX = 500
FOOTER_LINKS_MAX = 8
LOGO_MAX_BYTES = 200 * 1024
FAVICON_MAX_BYTES = 64 * 1024
DEFAULT_BRAND_COLOR = "#0b57d0"  # the stylesheet's link colour: 6.3:1 with white text
WCAG_AA_TEXT = 4.5
ImageKind = Literal["logo", "favicon"]


# --- contrast -----------------------------------------------------------------------------


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(hex_color: str) -> float:
    """WCAG 2 relative luminance of #rrggbb."""
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _color(value: str) -> str:
    color = value.strip().lower()
    if not color:
        return ""
    if len(color) == 4 and color.startswith("#"):  # #abc -> #aabbcc
        color = "#" + "".join(ch * 2 for ch in color[1:])
    if len(color) != 7 or not color.startswith("#"):
        raise DomainError(
            N_("Give the colour as #rrggbb, for example #1f5fbf."), field="brand_color"
        )
    try:
        int(color[1:], 16)
    except ValueError:
        raise DomainError(
            N_("Give the colour as #rrggbb, for example #1f5fbf."), field="brand_color"
        ) from None
    ratio = contrast_ratio(color, "#ffffff")
    if ratio < WCAG_AA_TEXT:
        raise DomainError(
            N_(
                "White text on %(color)s has a contrast of %(ratio)s:1; WCAG AA needs "
                "%(needed)s:1. Choose a darker colour."
            ),
            color=color,
            ratio=f"{ratio:.1f}",
            needed=WCAG_AA_TEXT,
            field="brand_color",
        )
    return color


# --- the other fields ---------------------------------------------------------------------


def _line(value: str, field_name: str, limit: int) -> str:
    text = single_line(value or "")
    if len(text) > limit:
        raise DomainError(N_("Keep it under %(max)s characters."), max=limit, field=field_name)
    return text


def _url(value: str, field_name: str) -> str:
    text = (value or "").strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https", "mailto") or (
        parts.scheme != "mailto" and not parts.netloc
    ):
        raise DomainError(N_("Give a full https:// address (or mailto:)."), field=field_name)
    if len(text) > URL_MAX or any(ch in text for ch in "\r\n\t <>\"'"):
        raise DomainError(N_("That address is not usable."), field=field_name)
    return text


def _zone(value: str) -> str:
    text = (value or "").strip()
    if not text:
        return ""
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError(
            N_("Give a time zone name such as Europe/Berlin or America/New_York."),
            field="time_zone",
        ) from None
    return text


def _footer_links(links: list[tuple[str, str]]) -> list[dict[str, str]]:
    cleaned = []
    for label, url in links:
        if not (label or "").strip() and not (url or "").strip():
            continue
        label_text = _line(label, "footer_links", 60)
        if not label_text:
            raise DomainError(N_("Each footer link needs a label."), field="footer_links")
        cleaned.append({"label": label_text, "url": _url(url, "footer_links")})
    if len(cleaned) > FOOTER_LINKS_MAX:
        raise DomainError(
            N_("At most %(max)s footer links."), max=FOOTER_LINKS_MAX, field="footer_links"
        )
    return cleaned


@dataclass(frozen=True)
class PageFields:
    """What staff change; None leaves a field as it is, "" clears it."""

    name: str | None = None
    about: str | None = None
    brand_color: str | None = None
    support_url: str | None = None
    contact_url: str | None = None
    footer_links: list[tuple[str, str]] | None = None
    time_zone: str | None = None
    email_sender_name: str | None = None


def stored_page(session: Session) -> PageSettings:
    row = session.get(PageSettings, 1)
    if row is None:
        row = PageSettings(id=1, footer_links=[])
        session.add(row)
        session.flush()
    return row


def update_page(
    session: Session, values: PageFields, *, actor_id: int | None, now: datetime
) -> PageSettings:
    wanted: dict[str, Any] = {}
    if values.name is not None:
        wanted["name"] = _line(values.name, "name", NAME_MAX)
    if values.about is not None:
        about = values.about.replace("\r\n", "\n").strip()
        if len(about) > ABOUT_MAX:
            raise DomainError(N_("Keep it under %(max)s characters."), max=ABOUT_MAX, field="about")
        wanted["about"] = about
    if values.brand_color is not None:
        wanted["brand_color"] = _color(values.brand_color)
    if values.support_url is not None:
        wanted["support_url"] = _url(values.support_url, "support_url")
    if values.contact_url is not None:
        wanted["contact_url"] = _url(values.contact_url, "contact_url")
    if values.footer_links is not None:
        wanted["footer_links"] = _footer_links(values.footer_links)
    if values.time_zone is not None:
        wanted["time_zone"] = _zone(values.time_zone)
    if values.email_sender_name is not None:
        wanted["email_sender_name"] = _line(values.email_sender_name, "email_sender_name", 120)
    row = stored_page(session)
    changes = {
        key: [getattr(row, key), value]
        for key, value in wanted.items()
        if getattr(row, key) != value
    }
    if not changes:
        return row
    for key, (_, value) in changes.items():
        setattr(row, key, value)
    row.updated_at = now
    record_audit(session, "page_settings", 1, "edit", changes, actor_id=actor_id, now=now)
    bump_public_version(session, now)
    session.flush()
    return row


# --- images ------------------------------------------------------------------------------

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(data: bytes, kind: ImageKind) -> str:
    """The type of a raster image by its first bytes; DomainError for anything else.

    SVG is refused: it is a document that can carry scripts and links, and a raster image is
    enough for a logo."""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if kind == "favicon" and data[:4] == b"\x00\x00\x01\x00":
        return "image/x-icon"
    # English keeps its words; other languages get the formats as the settings page lists them.
    accepted = Term(
        "PNG, JPEG, GIF or WebP" + (" or ICO" if kind == "favicon" else ""),
        N_("PNG, ICO, JPEG, GIF or WebP") if kind == "favicon" else N_("PNG, JPEG, GIF or WebP"),
    )
    head = data[:256].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) or b"<svg" in head:
        raise DomainError(
            N_("SVG is not accepted (it can carry scripts); upload %(accepted)s."),
            field=kind,
            accepted=accepted,
        )
    raise DomainError(
        N_("That file is not an image we accept; upload %(accepted)s."),
        accepted=accepted,
        field=kind,
    )


def set_image(
    session: Session,
    kind: ImageKind,
    data: bytes | None,
    *,
    actor_id: int | None,
    now: datetime,
) -> PageSettings:
    """Store (or with None remove) the logo or the favicon."""
    row = stored_page(session)
    if data is None:
        media_type, digest = "", ""
    else:
        limit = LOGO_MAX_BYTES if kind == "logo" else FAVICON_MAX_BYTES
        if not data:
            raise DomainError(N_("The file is empty."), field=kind)
        if len(data) > limit:
            raise DomainError(
                N_("Keep the file under %(size)s KB."), size=limit // 1024, field=kind
            )
        media_type = image_type(data, kind)
        digest = hashlib.sha256(data).hexdigest()
    old_digest = getattr(row, f"{kind}_digest")
    if old_digest == digest:
        return row
    setattr(row, f"{kind}_data", data)
    setattr(row, f"{kind}_type", media_type)
    setattr(row, f"{kind}_digest", digest)
    row.updated_at = now
    record_audit(
        session,
        "page_settings",
        1,
        f"{kind}_{'removed' if data is None else 'set'}",
        {kind: [old_digest or None, digest or None]},
        actor_id=actor_id,
        now=now,
    )
    bump_public_version(session, now)
    session.flush()
    return row


# --- what readers see --------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    name: str
    about: str
    brand_color: str
    support_url: str
    contact_url: str
    footer_links: list[dict[str, str]] = field(default_factory=list)
    time_zone: str = "UTC"
    email_sender_name: str = ""
    logo_digest: str = ""
    logo_type: str = ""
    favicon_digest: str = ""
    favicon_type: str = ""
    customized: bool = False  # anything set in the app at all

    @property
    def sender_name(self) -> str:
        return self.email_sender_name or self.name


def effective_page(session: Session, config: Mapping[str, Any]) -> Page:
    """The stored settings over the configuration's defaults. One query, images not loaded."""
    columns = [
        c for c in PageSettings.__table__.columns if c.name not in ("logo_data", "favicon_data")
    ]
    row = session.execute(sa.select(*columns).where(PageSettings.id == 1)).mappings().first()
    stored: Mapping[str, Any] = row or {}
    return Page(
        name=stored.get("name") or str(config.get("SITE_NAME") or "Status"),
        about=stored.get("about") or "",
        brand_color=stored.get("brand_color") or "",
        support_url=stored.get("support_url") or "",
        contact_url=stored.get("contact_url") or "",
        footer_links=list(stored.get("footer_links") or []),
        time_zone=stored.get("time_zone") or str(config.get("SITE_TIME_ZONE") or "UTC"),
        email_sender_name=stored.get("email_sender_name") or "",
        logo_digest=stored.get("logo_digest") or "",
        logo_type=stored.get("logo_type") or "",
        favicon_digest=stored.get("favicon_digest") or "",
        favicon_type=stored.get("favicon_type") or "",
        customized=row is not None,
    )


def image(session: Session, kind: ImageKind) -> tuple[bytes, str, str] | None:
    """(data, media type, digest) of the logo or favicon, or None."""
    row = session.execute(
        sa.select(
            getattr(PageSettings, f"{kind}_data"),
            getattr(PageSettings, f"{kind}_type"),
            getattr(PageSettings, f"{kind}_digest"),
        ).where(PageSettings.id == 1)
    ).first()
    if row is None or row[0] is None:
        return None
    return bytes(row[0]), row[1], row[2]


def page_config(session: Session, config: Mapping[str, Any]) -> dict[str, Any]:
    """`config` with what staff set in the app laid over it, for code that reads settings
    (emails sent by the worker): the page name, its time zone, and the sender's name."""
    page = effective_page(session, config)
    merged = dict(config)
    merged["SITE_NAME"] = page.name
    merged["SITE_TIME_ZONE"] = page.time_zone
    sender = str(config.get("MAIL_FROM") or "")
    name, address = parseaddr(sender)
    if address and not name and page.sender_name:
        merged["MAIL_FROM"] = formataddr((page.sender_name, address))
    return merged
