"""One row of page settings (id 1); empty values fall back to the settings of the same name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from statuspage.core.db import Base, utcnow


class PageSettings(Base):
    __tablename__ = "page_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), default="")
    about: Mapped[str] = mapped_column(sa.Text, default="")
    brand_color: Mapped[str] = mapped_column(sa.String(7), default="")
    support_url: Mapped[str] = mapped_column(sa.String(500), default="")
    contact_url: Mapped[str] = mapped_column(sa.String(500), default="")
    # [{"label": ..., "url": ...}], shown in the footer of every public page.
    footer_links: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    time_zone: Mapped[str] = mapped_column(sa.String(64), default="")
    email_sender_name: Mapped[str] = mapped_column(sa.String(120), default="")
    logo_data: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    logo_type: Mapped[str] = mapped_column(sa.String(40), default="")
    logo_digest: Mapped[str] = mapped_column(sa.String(64), default="")
    favicon_data: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    favicon_type: Mapped[str] = mapped_column(sa.String(40), default="")
    favicon_digest: Mapped[str] = mapped_column(sa.String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
