"""Admin views: the incident list."""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template

from statuspage.admin import bp
from statuspage.extensions import db
from statuspage.incidents.models import Incident

LIST_LIMIT = 100


@bp.get("/")
@bp.get("/incidents")
def incidents() -> str:
    rows = db.session.scalars(
        sa.select(Incident).order_by(Incident.created_at.desc()).limit(LIST_LIMIT)
    ).all()
    return render_template("admin/incidents/list.html", incidents=rows)
