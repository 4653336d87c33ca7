"""The zone a staff member enters times in, and the account page where they choose it.

Pages show every time in the reader's zone (static/js/localtime.js); staff forms take times in
the staff member's own zone and store UTC (`admin.forms.ZonedDateTimeField`). The zone is the
account's `time_zone` (`auth.users.set_time_zone`), else the page's zone (branding settings),
else UTC. Each form field names it next to the label.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import current_app, flash, g, has_request_context, redirect, render_template, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import Length

from statuspage.account.blueprint import bp
from statuspage.auth.users import TIME_ZONE_MAX, UserError, set_time_zone
from statuspage.branding.settings import effective_page
from statuspage.core.db import utcnow
from statuspage.extensions import db
from statuspage.i18n import refusal_text

logger = logging.getLogger(__name__)

ENTRY_FORMAT = "%Y-%m-%dT%H:%M"


def _usable(name: str) -> str:
    if not name:
        return ""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ""
    return name


def page_zone() -> str:
    """The page's zone (what staff follow until they choose their own), else UTC."""
    page = g.get("page")
    if page is None:
        try:
            page = effective_page(db.session, current_app.config)
        except SQLAlchemyError:
            db.session.rollback()
            return _usable(str(current_app.config.get("SITE_TIME_ZONE") or "")) or "UTC"
    return _usable(page.time_zone) or "UTC"


def entry_zone() -> str:
    """The zone the logged-in staff member enters times in: theirs, else the page's, else UTC.
    Outside a request (or logged out) it is UTC. Read once per request."""
    if not has_request_context():
        return "UTC"
    if "entry_zone" not in g:
        own = ""
        if current_user and current_user.is_authenticated:
            own = _usable(getattr(current_user, "time_zone", "") or "")
        g.entry_zone = own or page_zone()
    return str(g.entry_zone)


def entry_time(value: datetime | None, zone: str | None = None) -> str:
    """`value` as a datetime-local input holds it, in `zone` (default: `entry_zone()`).
    A naive value is taken as UTC."""
    if value is None:
        return ""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(zone or entry_zone())).strftime(ENTRY_FORMAT)


@bp.app_context_processor
def zone_helpers() -> dict[str, Any]:
    return {"entry_zone": entry_zone, "entry_time": entry_time}


@cache
def zone_names() -> list[str]:
    """The IANA zones this system knows, for the field's suggestions."""
    return sorted(available_timezones())


class TimeZoneForm(FlaskForm):
    time_zone = StringField(_l("Your time zone"), validators=[Length(max=TIME_ZONE_MAX)])


def _render(form: TimeZoneForm, status: int = 200) -> tuple[str, int]:
    return (
        render_template(
            "auth/time_zone.html",
            form=form,
            page_zone=page_zone(),
            zone_names=zone_names(),
        ),
        status,
    )


@bp.route("/account/time-zone", methods=["GET", "POST"])
def time_zone() -> str | tuple[str, int] | Response:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=url_for("auth.time_zone")))
    form = TimeZoneForm()
    if not form.is_submitted():
        form.time_zone.data = current_user.time_zone
        return _render(form)
    if not form.validate():
        return _render(form, 400)
    try:
        set_time_zone(
            db.session,
            int(current_user.id),
            form.time_zone.data or "",
            actor_id=int(current_user.id),
            now=utcnow(),
        )
    except UserError as error:
        db.session.rollback()
        form.time_zone.errors = [*form.time_zone.errors, refusal_text(error)]
        return _render(form, 400)
    db.session.commit()
    g.pop("entry_zone", None)
    flash(gettext("Times you enter on staff forms are now in %(zone)s.", zone=entry_zone()))
    return redirect(url_for("auth.time_zone"))
