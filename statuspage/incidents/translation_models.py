"""Translations of what customers read: public incident updates, closure reports, published
post-incident reviews, the message texts of incident templates, and scheduled maintenance
(its title and message, and its updates).

The page's default language keeps its text where it always was (`incident_update.body`,
`closure_report.summary`, ...); each row here is one other language of one record. A row
remembers the digest of the default-language text it was made from (`source_digest`), so an
edit of the default text shows the translation as possibly outdated without any writer having
to remember it, and `outdated` is set when another translation of the same record is edited.
The domain functions are in `statuspage.incidents.translations`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from statuspage.core.db import Base, utcnow


class _TranslationRow:
    """The columns every translation table shares."""

    id: Mapped[int] = mapped_column(primary_key=True)
    language: Mapped[str] = mapped_column(sa.String(8))
    source_digest: Mapped[str] = mapped_column(sa.String(64), default="")
    outdated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @declared_attr
    def author_id(cls) -> Mapped[int | None]:  # noqa: N805 (declared_attr takes the class)
        return mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))


class IncidentUpdateTranslation(_TranslationRow, Base):
    __tablename__ = "incident_update_translation"
    __table_args__ = (
        sa.UniqueConstraint("update_id", "language", name="uq_incident_update_translation"),
    )

    update_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incident_update.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(sa.Text)


class ClosureReportTranslation(_TranslationRow, Base):
    __tablename__ = "closure_report_translation"
    __table_args__ = (
        sa.UniqueConstraint("report_id", "language", name="uq_closure_report_translation"),
    )

    report_id: Mapped[int] = mapped_column(
        sa.ForeignKey("closure_report.id", ondelete="CASCADE"), index=True
    )
    summary: Mapped[str] = mapped_column(sa.Text)
    impact: Mapped[str] = mapped_column(sa.Text)
    cause: Mapped[str] = mapped_column(sa.Text)
    resolution: Mapped[str] = mapped_column(sa.Text)
    prevention: Mapped[str] = mapped_column(sa.Text)


class ReviewTranslation(_TranslationRow, Base):
    """A published review's customer-facing sections; an empty one is shown in the default
    language."""

    __tablename__ = "review_translation"
    __table_args__ = (sa.UniqueConstraint("review_id", "language", name="uq_review_translation"),)

    review_id: Mapped[int] = mapped_column(
        sa.ForeignKey("post_incident_review.id", ondelete="CASCADE"), index=True
    )
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    impact: Mapped[str] = mapped_column(sa.Text, default="")
    leadup: Mapped[str] = mapped_column(sa.Text, default="")
    trigger: Mapped[str] = mapped_column(sa.Text, default="")
    detection: Mapped[str] = mapped_column(sa.Text, default="")
    response: Mapped[str] = mapped_column(sa.Text, default="")
    recovery: Mapped[str] = mapped_column(sa.Text, default="")
    contributing_factors: Mapped[str] = mapped_column(sa.Text, default="")
    went_well: Mapped[str] = mapped_column(sa.Text, default="")
    went_badly: Mapped[str] = mapped_column(sa.Text, default="")
    got_lucky: Mapped[str] = mapped_column(sa.Text, default="")
    communications: Mapped[str] = mapped_column(sa.Text, default="")


class IncidentTemplateTranslation(_TranslationRow, Base):
    """An incident template's public message texts (status -> text) in one language."""

    __tablename__ = "incident_template_translation"
    __table_args__ = (
        sa.UniqueConstraint("template_id", "language", name="uq_incident_template_translation"),
    )

    template_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incident_template.id", ondelete="CASCADE"), index=True
    )
    message_templates: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class MaintenanceTranslation(_TranslationRow, Base):
    """A scheduled maintenance's title and message in one language."""

    __tablename__ = "maintenance_translation"
    __table_args__ = (
        sa.UniqueConstraint("maintenance_id", "language", name="uq_maintenance_translation"),
    )

    maintenance_id: Mapped[int] = mapped_column(
        sa.ForeignKey("maintenance.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")


class MaintenanceUpdateTranslation(_TranslationRow, Base):
    """One update of a maintenance, its text in one language."""

    __tablename__ = "maintenance_update_translation"
    __table_args__ = (
        sa.UniqueConstraint("update_id", "language", name="uq_maintenance_update_translation"),
    )

    update_id: Mapped[int] = mapped_column(
        sa.ForeignKey("maintenance_update.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(sa.Text)
