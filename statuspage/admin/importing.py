"""Admin view: move in from Atlassian Statuspage, under /admin/import (CONFIGURE permission).

The address staff type is untrusted (the server fetches it): `statuspage.importing.fetch`
refuses other schemes and private or loopback addresses unless the operator set
IMPORT_ALLOW_PRIVATE_NETWORK, and limits time, size and redirects. The import runs in the
request, commits once, and the page shows what was created and what was skipped and why.
"""

from __future__ import annotations

from flask import current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from statuspage.admin import actor_id, bp, require
from statuspage.admin.settings_forms import show_domain_error
from statuspage.auth.permissions import Permission
from statuspage.core.db import utcnow
from statuspage.core.errors import DomainError
from statuspage.extensions import db
from statuspage.importing.fetch import FetchLimits
from statuspage.importing.run import KIND_LABELS, ImportReport, run_import
from statuspage.importing.statuspage_v2 import read_page


class StatuspageImportForm(FlaskForm):
    url = StringField(
        _l("Address of the Statuspage page"),
        validators=[DataRequired(_l("Give the address of the status page.")), Length(max=2000)],
    )


def _render(
    form: StatuspageImportForm, status: int = 200, report: ImportReport | None = None
) -> tuple[str, int]:
    return render_template(
        "admin/import/index.html",
        form=form,
        report=report,
        kind_labels=KIND_LABELS,
    ), status


@bp.route("/import", methods=["GET", "POST"])
def import_page() -> tuple[str, int]:
    require(Permission.CONFIGURE)
    form = StatuspageImportForm()
    if not form.validate_on_submit():
        return _render(form, 400 if request.method == "POST" else 200)
    now = utcnow()
    limits = FetchLimits(
        allow_private=bool(current_app.config.get("IMPORT_ALLOW_PRIVATE_NETWORK")),
    )
    try:
        page = read_page(form.url.data or "", limits=limits, now=now)
        report = run_import(db.session, page, actor_id=actor_id(), now=now)
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        show_domain_error(form, error, "url")
        return _render(form, 400)
    return _render(form, 200, report)
