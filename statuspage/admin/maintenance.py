"""Admin views: scheduled maintenance (schedule, edit, move through its statuses, post updates).

Reading needs VIEW; every form that writes needs PUBLISH (maintenance is public
communication). Each POST validates its form, calls one domain function, commits once and
redirects; a refusal is shown next to its field (400) or, for a state conflict, on the page
with 409, and nothing is written.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from statuspage.admin import actor_id, bp, require
from statuspage.admin.actions import show_refusal
from statuspage.admin.forms import as_utc, options
from statuspage.admin.maintenance_forms import (
    MaintenanceForm,
    MaintenanceMoveForm,
    MaintenanceUpdateForm,
    RunningMaintenanceForm,
)
from statuspage.auth.permissions import Permission
from statuspage.auth.queries import users_by_id
from statuspage.components.queries import component_choices
from statuspage.core.db import utcnow
from statuspage.core.errors import ConflictError, DomainError, InvalidTransition, NotFound
from statuspage.extensions import db
from statuspage.i18n import refusal_text
from statuspage.incidents import maintenance as domain
from statuspage.incidents.models import Maintenance, MaintenanceStatus
from statuspage.templating import term
from statuspage.web_converters import page_arg

M = MaintenanceStatus
MOVE_LABELS = {
    M.IN_PROGRESS: _l("Start the maintenance"),
    M.VERIFYING: _l("Move to verifying"),
    M.COMPLETED: _l("Complete the maintenance"),
}
RESUME_LABEL = _l("Back to in progress (verification failed)")


def _maintenance_or_404(maintenance_id: int) -> Maintenance:
    found = db.session.get(Maintenance, maintenance_id)
    if found is None:
        abort(404)
    return found


def _component_choices() -> list[SelectChoice]:
    return options(component_choices(db.session))


def _status_for(error: DomainError) -> int:
    """A refused move or a stale copy is a state conflict; anything else is bad input."""
    if isinstance(error, (InvalidTransition, ConflictError)) or error.field is None:
        return 409
    return 400


def _parse_loaded(raw: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None


# --- the list --------------------------------------------------------------------------------


@bp.get("/maintenance")
def maintenance_list() -> str:
    require(Permission.VIEW)
    page = page_arg()
    lists = domain.admin_maintenance_lists(db.session, page=page)
    return render_template("admin/maintenance/list.html", lists=lists, now=utcnow())


# --- schedule and edit -----------------------------------------------------------------------


def _command(form: FlaskForm) -> domain.NewMaintenance:
    return domain.NewMaintenance(
        title=form.title.data or "",
        body=form.body.data or "",
        scheduled_for=as_utc(form.scheduled_for.data),  # type: ignore[arg-type]
        scheduled_until=as_utc(form.scheduled_until.data),  # type: ignore[arg-type]
        component_ids=form.components.data or [],
        auto_start=bool(form.auto_start.data),
        auto_complete=bool(form.auto_complete.data),
        reminder_minutes_before=form.reminder_minutes_before.data,
    )


@bp.route("/maintenance/new", methods=["GET", "POST"])
def new_maintenance() -> str | Response | tuple[str, int]:
    require(Permission.PUBLISH)
    form = MaintenanceForm()
    form.components.choices = _component_choices()
    if request.method == "GET":
        start = (utcnow() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        form.scheduled_for.data = start.replace(tzinfo=None)
        form.scheduled_until.data = (start + timedelta(hours=2)).replace(tzinfo=None)
        return render_template("admin/maintenance/form.html", form=form, maintenance=None)
    status = 400
    if form.validate_on_submit():
        try:
            created = domain.schedule_maintenance(
                db.session,
                _command(form),
                actor_id=actor_id(),
                now=utcnow(),
                notify=not form.silent.data,
            )
        except DomainError as error:
            db.session.rollback()
            show_refusal(form, error, "title")
            status = _status_for(error)
        else:
            db.session.commit()
            flash(gettext("Maintenance #%(id)s scheduled.", id=created.id))
            return redirect(url_for("admin.maintenance_detail", maintenance_id=created.id))
    return render_template("admin/maintenance/form.html", form=form, maintenance=None), status


def _edit_form(maintenance: Maintenance, *, from_request: bool) -> FlaskForm:
    running = maintenance.status != M.SCHEDULED
    form_class = RunningMaintenanceForm if running else MaintenanceForm
    if from_request:
        form = form_class()
    else:
        data: dict[str, Any] = {
            "body": maintenance.body,
            "scheduled_until": maintenance.scheduled_until.replace(tzinfo=None),
            "auto_complete": maintenance.auto_complete,
            "loaded": maintenance.updated_at.isoformat(),
        }
        if not running:
            data.update(
                title=maintenance.title,
                scheduled_for=maintenance.scheduled_for.replace(tzinfo=None),
                components=[c.id for c in maintenance.components],
                auto_start=maintenance.auto_start,
                reminder_minutes_before=maintenance.reminder_minutes_before,
            )
        form = form_class(formdata=None, data=data)
    if not running:
        form.components.choices = _component_choices()
    return form


@bp.route("/maintenance/<int:maintenance_id>/edit", methods=["GET", "POST"])
def edit_maintenance(maintenance_id: int) -> str | Response | tuple[str, int]:
    require(Permission.PUBLISH)
    maintenance = _maintenance_or_404(maintenance_id)
    if request.method == "GET":
        if maintenance.status == M.COMPLETED:
            flash(gettext("Completed maintenance can no longer be edited."))
            return redirect(url_for("admin.maintenance_detail", maintenance_id=maintenance_id))
        form = _edit_form(maintenance, from_request=False)
        return render_template("admin/maintenance/form.html", form=form, maintenance=maintenance)
    form = _edit_form(maintenance, from_request=True)
    status = 400
    conflict: ConflictError | None = None
    if form.validate_on_submit():
        if isinstance(form, MaintenanceForm):
            command = _command(form)
        else:
            command = domain.NewMaintenance(
                title=maintenance.title,
                body=form.body.data or "",
                scheduled_for=maintenance.scheduled_for,
                scheduled_until=as_utc(form.scheduled_until.data),  # type: ignore[arg-type]
                component_ids=[c.id for c in maintenance.components],
                auto_start=maintenance.auto_start,
                auto_complete=bool(form.auto_complete.data),
                reminder_minutes_before=maintenance.reminder_minutes_before,
            )
        try:
            changes = domain.update_maintenance(
                db.session,
                maintenance,
                command,
                actor_id=actor_id(),
                now=utcnow(),
                expected_updated_at=_parse_loaded(form.loaded.data),
            )
        except DomainError as error:
            db.session.rollback()
            maintenance = _maintenance_or_404(maintenance_id)
            if isinstance(error, ConflictError):
                conflict = error
                form.form_errors.append(refusal_text(error))
            else:
                show_refusal(form, error, "body")
            status = _status_for(error)
        else:
            db.session.commit()
            flash(gettext("Maintenance saved.") if changes else gettext("Nothing changed."))
            return redirect(url_for("admin.maintenance_detail", maintenance_id=maintenance_id))
    return render_template(
        "admin/maintenance/form.html", form=form, maintenance=maintenance, conflict=conflict
    ), status


# --- the detail page, moves and updates ----------------------------------------------------


def _move_forms(maintenance: Maintenance) -> dict[MaintenanceStatus, MaintenanceMoveForm]:
    moves = domain.MAINTENANCE_MOVES[maintenance.status]
    return {
        target: MaintenanceMoveForm(formdata=None, prefix=f"move-{target.value}")
        for target in (M.IN_PROGRESS, M.VERIFYING, M.COMPLETED)
        if target in moves
    }


def _render_detail(
    maintenance: Maintenance, status: int = 200, **overrides: FlaskForm
) -> tuple[str, int]:
    moves: dict[Any, FlaskForm] = dict(_move_forms(maintenance))
    update_form: FlaskForm = MaintenanceUpdateForm(formdata=None, prefix="update")
    for key, form in overrides.items():
        if key == "update":
            update_form = form
        else:
            moves[M(key)] = form
    users = users_by_id(db.session, (update.author_id for update in maintenance.updates))
    move_labels = dict(MOVE_LABELS)
    if maintenance.status == M.VERIFYING:
        move_labels[M.IN_PROGRESS] = RESUME_LABEL
    return render_template(
        "admin/maintenance/detail.html",
        maintenance=maintenance,
        moves=moves,
        move_labels=move_labels,
        update_form=update_form,
        users=users,
        now=utcnow(),
    ), status


@bp.get("/maintenance/<int:maintenance_id>")
def maintenance_detail(maintenance_id: int) -> tuple[str, int]:
    require(Permission.VIEW)
    return _render_detail(_maintenance_or_404(maintenance_id))


@bp.post("/maintenance/<int:maintenance_id>/status/<status>")
def move_maintenance(maintenance_id: int, status: str) -> Response | tuple[str, int]:
    require(Permission.PUBLISH)
    maintenance = _maintenance_or_404(maintenance_id)
    try:
        target = MaintenanceStatus(status)
    except ValueError:
        abort(404)
    if target == M.SCHEDULED:
        abort(404)
    form = MaintenanceMoveForm(prefix=f"move-{target.value}")
    if not form.validate_on_submit():
        return _render_detail(maintenance, 400, **{target.value: form})
    try:
        domain.advance_maintenance(
            db.session,
            maintenance,
            target,
            body=form.body.data or "",
            actor_id=actor_id(),
            now=utcnow(),
            notify=not form.silent.data,
        )
    except DomainError as error:
        db.session.rollback()
        maintenance = _maintenance_or_404(maintenance_id)
        if error.field is None or error.field == "status":
            form.form_errors.append(refusal_text(error))
        else:
            show_refusal(form, error, "body")
        return _render_detail(maintenance, _status_for(error), **{target.value: form})
    db.session.commit()
    flash(gettext("Maintenance moved to %(status)s.", status=term(target)))
    return redirect(url_for("admin.maintenance_detail", maintenance_id=maintenance_id))


@bp.post("/maintenance/<int:maintenance_id>/updates")
def post_maintenance_update(maintenance_id: int) -> Response | tuple[str, int]:
    require(Permission.PUBLISH)
    maintenance = _maintenance_or_404(maintenance_id)
    form = MaintenanceUpdateForm(prefix="update")
    if not form.validate_on_submit():
        return _render_detail(maintenance, 400, update=form)
    try:
        domain.post_maintenance_update(
            db.session, maintenance, body=form.body.data or "", actor_id=actor_id(), now=utcnow()
        )
    except DomainError as error:
        db.session.rollback()
        maintenance = _maintenance_or_404(maintenance_id)
        if isinstance(error, (InvalidTransition, NotFound)) or error.field is None:
            form.form_errors.append(refusal_text(error))
        else:
            show_refusal(form, error, "body")
        return _render_detail(maintenance, _status_for(error), update=form)
    db.session.commit()
    flash(gettext("Update posted."))
    return redirect(url_for("admin.maintenance_detail", maintenance_id=maintenance_id))
