"""What was imported from where: one row per source record, so an import can run again."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from statuspage.core.db import Base, utcnow

EXTERNAL_ID_MAX = 64


class ImportedRecord(Base):
    """A record of the source (`source` names the page, e.g. `statuspage:kctbh9vrtdwd`) and the
    local row it became. `kind` is the local table: component, component_group, incident,
    incident_update, maintenance, maintenance_update.

    The local row may be deleted later; the mapping stays, so the next run does not bring back
    what staff removed on purpose.
    """

    __tablename__ = "imported_record"
    __table_args__ = (
        sa.UniqueConstraint("source", "kind", "external_id", name="uq_imported_record_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(40))
    external_id: Mapped[str] = mapped_column(sa.String(EXTERNAL_ID_MAX))
    local_id: Mapped[int]
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
