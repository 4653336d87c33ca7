"""Admin views: public updates of one incident (write, preview, draft, publish, edit).

One form page, several actions: the page's buttons post to their own URLs (`formaction`,
plain HTML, no script), so that each URL needs exactly one permission:

| action | permission |
|---|---|
| see the form, preview (writes nothing) | view |
| save a draft, save changes to a draft | work incidents |
| publish (new or draft), edit a published update, discard a draft, set "next update by" | publish |

Each writing view validates its form and runs one domain function (publishing through
`incidents.publishing.publish_update`, the entry point the API shares; drafts, edits and
"next update by" through `incidents.updates`) with `actions.run_domain`: one commit, or a
rollback and the page again with the message next to its field (400; 409 for a button).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from statuspage.account.forms import EmptyForm
from statuspage.admin import actor_id, bp, require
from statuspage.admin.actions import run_domain
from statuspage.admin.forms import as_utc
from statuspage.admin.incidents import _incident_or_404, _render_incident
from statuspage.admin.update_forms import (
    NextUpdateForm,
    UpdateForm,
    UpdateTextForm,
    component_statuses,
)
from statuspage.audiences import manage as audience_manage
from statuspage.auth.permissions import Permission
from statuspage.components.models import ComponentStatus
from statuspage.core.db import utcnow
from statuspage.core.errors import ConflictError, DomainError
from statuspage.extensions import db
from statuspage.i18n import refusal_text
from statuspage.incidents import publishing
from statuspage.incidents import updates as public_updates
from statuspage.incidents.models import Incident, IncidentUpdate, PublicStatus

# Refusals shown beside the component rows rather than on a form field.
COMPONENT_ERRORS = ("components",)

# --- helpers ---------------------------------------------------------------------------------


def _update_or_404(incident: Incident, update_id: int) -> IncidentUpdate:
    update = db.session.get(IncidentUpdate, update_id)
    if update is None or update.incident_id != incident.id:
        abort(404)
    return update


def _text(form: UpdateForm) -> public_updates.UpdateText:
    return public_updates.UpdateText(
        status=form.status.data or "",
        body=form.body.data or "",
        component_statuses=component_statuses(request.form),
        deliver_notifications=bool(form.notify.data),
        audience_ids=tuple(form.audiences.data or ()),
    )


def _rows(
    incident: Incident, chosen: dict[int, str] | None, update: IncidentUpdate | None
) -> list[dict[str, Any]]:
    """One row per affected component: its current status and the one selected."""
    planned = {c.component_id: c.new_status for c in update.component_changes} if update else {}
    rows = []
    for link in sorted(incident.affected, key=lambda a: (a.component.position, a.component.name)):
        component = link.component
        if chosen is not None and link.component_id in chosen:
            selected = chosen[link.component_id]
        else:
            selected = planned.get(link.component_id, component.status)
        rows.append(
            {
                "component": component,
                "current": component.status,
                "selected": str(selected),
            }
        )
    return rows


def _render_form(
    incident: Incident,
    form: FlaskForm,
    *,
    update: IncidentUpdate | None = None,
    preview: bool = False,
    component_errors: list[str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    posted = request.method == "POST"
    if "audiences" in form:
        form.audiences.choices = [
            (a.id, a.name) for a in audience_manage.list_audiences(db.session)
        ]
    mode = "new" if update is None else ("draft" if update.published_at is None else "published")
    chosen = _posted_statuses() if posted and mode != "published" else None
    context = {
        "incident": incident,
        "form": form,
        "update": update,
        "mode": mode,
        "preview": preview,
        "rows": _rows(incident, chosen, update) if mode != "published" else [],
        "component_statuses": list(ComponentStatus),
        "templates": public_updates.message_templates(db.session, incident),
        "component_errors": component_errors or [],
    }
    return render_template("admin/incidents/update_form.html", **context), status


def _refused(
    incident_id: int,
    form: FlaskForm,
    error: DomainError,
    *,
    update_id: int | None = None,
) -> tuple[str, int]:
    """The form again with the refusal (400); `run_domain` has rolled back and, unless it is
    about the component rows, put it on the form. An edit conflict is a 409 page instead."""
    incident = _incident_or_404(incident_id)
    update = _update_or_404(incident, update_id) if update_id is not None else None
    if isinstance(error, ConflictError) and update is not None:
        return _conflict(incident, update, form, error)
    component_errors = [refusal_text(error)] if error.field in COMPONENT_ERRORS else []
    return _render_form(
        incident, form, update=update, component_errors=component_errors, status=400
    )


def _conflict(
    incident: Incident, update: IncidentUpdate, form: FlaskForm, conflict: ConflictError
) -> tuple[str, int]:
    """Someone saved this update after the form was loaded: nothing was saved; show what
    changed and the person's own text beside the saved one (409)."""
    fields = [{"label": gettext("Message"), "yours": form.body.data or "", "theirs": update.body}]
    if "status" in form and update.published_at is None:
        fields.append(
            {
                "label": gettext("Public status"),
                "yours": form.status.data or "",
                "theirs": PublicStatus(update.status).value,
            }
        )
    kind = "draft" if update.published_at is None else "update"
    return render_template(
        "admin/conflict.html",
        heading=f"the {kind} of incident #{incident.id}",
        conflict=conflict,
        fields=fields,
        back_url=url_for("admin.edit_update", incident_id=incident.id, update_id=update.id),
    ), 409


def _run(operation: Callable[[], object], form: FlaskForm) -> DomainError | None:
    """Run one domain operation for the update form; the refusal, if any."""
    return run_domain(operation, form=form, elsewhere=COMPONENT_ERRORS).error


def _component_errors() -> list[str]:
    """Malformed component field names, as errors to show (the domain checks the rest)."""
    try:
        component_statuses(request.form)
    except DomainError as error:
        return [refusal_text(error)]
    return []


def _posted_statuses() -> dict[int, str]:
    try:
        return component_statuses(request.form)
    except DomainError:
        return {}  # reported by `_component_errors`


# --- writing a new update ------------------------------------------------------------------


@bp.route("/incidents/<int:incident_id>/updates/new", methods=["GET", "POST"])
def new_update(incident_id: int) -> tuple[str, int]:
    """The form (GET) and its preview (POST, writes nothing)."""
    require(Permission.VIEW)
    incident = _incident_or_404(incident_id)
    if request.method == "GET":
        try:
            status = PublicStatus(request.args.get("status", ""))
        except ValueError:
            status = public_updates.suggested_status(incident)
        form = UpdateForm(
            formdata=None,
            data={
                "status": status.value,
                "body": public_updates.message_template(db.session, incident, status),
                "notify": True,
            },
        )
        return _render_form(incident, form)
    form = UpdateForm()
    valid = form.validate_on_submit()
    errors = _component_errors()
    return _render_form(
        incident,
        form,
        preview=valid and not errors,
        component_errors=errors,
        status=200 if valid and not errors else 400,
    )


@bp.post("/incidents/<int:incident_id>/updates/draft")
def save_update_draft(incident_id: int) -> tuple[str, int] | Response:
    require(Permission.DRAFT_UPDATES)
    incident = _incident_or_404(incident_id)
    form = UpdateForm()
    if not form.validate_on_submit():
        return _render_form(incident, form, status=400)
    error = _run(
        lambda: public_updates.save_draft(
            db.session, incident, _draft_text(form), actor_id=actor_id(), now=utcnow()
        ),
        form,
    )
    if error is not None:
        return _refused(incident_id, form, error)
    flash(gettext("Draft saved. It is not public until someone publishes it."))
    return redirect(url_for("admin.incident", incident_id=incident_id) + "#updates-h")


@bp.post("/incidents/<int:incident_id>/updates")
def publish_update(incident_id: int) -> tuple[str, int] | Response:
    require(Permission.PUBLISH)
    incident = _incident_or_404(incident_id)
    form = UpdateForm()
    if not form.validate_on_submit():
        return _render_form(incident, form, status=400)
    error = _run(
        lambda: publishing.publish_update(
            db.session, _publish_command(incident_id, form), actor_id=actor_id(), now=utcnow()
        ),
        form,
    )
    if error is not None:
        return _refused(incident_id, form, error)
    flash(_published_message(form))
    return redirect(url_for("admin.incident", incident_id=incident_id) + "#updates-h")


def _publish_command(
    incident_id: int, form: UpdateForm, *, draft_id: int | None = None
) -> publishing.PublishUpdate:
    """The form as a command: staff change only the incident's affected components, and the
    form names all of them, so only changed statuses count. Raises
    `DomainError` for a malformed component field: build it inside `_run`."""
    return publishing.PublishUpdate(
        incident_id=incident_id,
        status=form.status.data or "",
        body=form.body.data or "",
        component_statuses=component_statuses(request.form),
        deliver_notifications=bool(form.notify.data),
        next_update_at=as_utc(form.next_update_at.data),
        add_unaffected_components=False,
        record_unchanged_components=False,
        draft_id=draft_id,
        audience_ids=tuple(form.audiences.data or ()),
    )


def _draft_text(form: UpdateForm) -> public_updates.UpdateText:
    """The form as a draft's content, refused when it names a next-update time."""
    if form.next_update_at.data is not None:
        raise DomainError(
            "A draft does not keep a next-update time: give it when you publish, "
            "or leave it empty to save the draft.",
            field="next_update_at",
        )
    return _text(form)


def _published_message(form: UpdateForm) -> str:
    return "Update published." + (
        " Subscribers will be notified." if form.notify.data else " Subscribers are not notified."
    )


# --- drafts and published updates ------------------------------------------------------------


@bp.route("/incidents/<int:incident_id>/updates/<int:update_id>/edit", methods=["GET", "POST"])
def edit_update(incident_id: int, update_id: int) -> tuple[str, int]:
    """A draft's full form, or a published update's message (GET); the preview (POST)."""
    require(Permission.VIEW)
    incident = _incident_or_404(incident_id)
    update = _update_or_404(incident, update_id)
    published = update.published_at is not None
    if request.method == "GET":
        if published:
            form: FlaskForm = UpdateTextForm(
                formdata=None, data={"body": update.body, "version": update.version}
            )
        else:
            form = UpdateForm(
                formdata=None,
                data={
                    "status": update.status.value,
                    "body": update.body,
                    "notify": update.deliver_notifications,
                    "version": update.version,
                    "audiences": [audience.id for audience in update.audiences],
                },
            )
        return _render_form(incident, form, update=update)
    form = UpdateTextForm() if published else UpdateForm()
    valid = form.validate_on_submit()
    errors = [] if published else _component_errors()
    ok = valid and not errors
    return _render_form(
        incident,
        form,
        update=update,
        preview=ok,
        component_errors=errors,
        status=200 if ok else 400,
    )


@bp.post("/incidents/<int:incident_id>/updates/<int:update_id>/draft")
def save_draft_changes(incident_id: int, update_id: int) -> tuple[str, int] | Response:
    require(Permission.DRAFT_UPDATES)
    incident = _incident_or_404(incident_id)
    update = _update_or_404(incident, update_id)
    form = UpdateForm()
    if not form.validate_on_submit():
        return _render_form(incident, form, update=update, status=400)
    error = _run(
        lambda: public_updates.update_draft(
            db.session,
            incident,
            update_id,
            _draft_text(form),
            actor_id=actor_id(),
            now=utcnow(),
            expected_version=form.expected_version(),
        ),
        form,
    )
    if error is not None:
        return _refused(incident_id, form, error, update_id=update_id)
    flash(gettext("Draft saved."))
    return redirect(url_for("admin.incident", incident_id=incident_id) + "#updates-h")


@bp.post("/incidents/<int:incident_id>/updates/<int:update_id>/publish")
def publish_draft(incident_id: int, update_id: int) -> tuple[str, int] | Response:
    """Publish a draft: as saved (the button on the incident page) or with the draft form's
    contents (its edit page, which posts the whole form)."""
    require(Permission.PUBLISH)
    incident = _incident_or_404(incident_id)
    update = _update_or_404(incident, update_id)
    if "body" not in request.form:
        button = EmptyForm()
        if not button.validate_on_submit():
            abort(400)
        outcome = run_domain(
            lambda: public_updates.publish_draft(
                db.session, incident, update_id, actor_id=actor_id(), now=utcnow()
            ),
            form=button,
        )
        if outcome.refused:
            return _render_incident(_incident_or_404(incident_id), 409, button_form=button)
        flash(gettext("Draft published."))
        return redirect(url_for("admin.incident", incident_id=incident_id) + "#updates-h")
    form = UpdateForm()
    if not form.validate_on_submit():
        return _render_form(incident, form, update=update, status=400)

    def publish() -> object:
        public_updates.check_update_version(
            db.session, incident, update_id, form.expected_version()
        )
        return publishing.publish_update(
            db.session,
            _publish_command(incident_id, form, draft_id=update_id),
            actor_id=actor_id(),
            now=utcnow(),
        )

    error = _run(publish, form)
    if error is not None:
        return _refused(incident_id, form, error, update_id=update_id)
    flash(_published_message(form))
    return redirect(url_for("admin.incident", incident_id=incident_id) + "#updates-h")


@bp.post("/incidents/<int:incident_id>/updates/<int:update_id>/text")
def edit_published_update(incident_id: int, update_id: int) -> tuple[str, int] | Response:
    require(Permission.PUBLISH)
    incident = _incident_or_404(incident_id)
    update = _update_or_404(incident, update_id)
    form = UpdateTextForm()
    if not form.validate_on_submit():
        return _render_form(incident, form, update=update, status=400)
    error = _run(
        lambda: public_updates.edit_update(
            db.session,
            incident,
            update_id,
            form.body.data or "",
            actor_id=actor_id(),
            now=utcnow(),
            expected_version=form.expected_version(),
        ),
        form,
    )
    if error is not None:
        return _refused(incident_id, form, error, update_id=update_id)
    flash(gettext("Update edited. The public page shows it as edited; nobody was notified."))
    return redirect(url_for("admin.incident", incident_id=incident_id) + "#updates-h")


@bp.post("/incidents/<int:incident_id>/updates/<int:update_id>/discard")
def discard_draft(incident_id: int, update_id: int) -> tuple[str, int] | Response:
    require(Permission.PUBLISH)
    incident = _incident_or_404(incident_id)
    _update_or_404(incident, update_id)
    button = EmptyForm()
    if not button.validate_on_submit():
        abort(400)
    outcome = run_domain(
        lambda: public_updates.discard_draft(
            db.session, incident, update_id, actor_id=actor_id(), now=utcnow()
        ),
        form=button,
    )
    if outcome.refused:
        return _render_incident(_incident_or_404(incident_id), 409, button_form=button)
    flash(gettext("Draft discarded."))
    return redirect(url_for("admin.incident", incident_id=incident_id) + "#updates-h")


# --- "next update by" ----------------------------------------------------------------------------


@bp.post("/incidents/<int:incident_id>/next-update")
def set_next_update(incident_id: int) -> tuple[str, int] | Response:
    require(Permission.PUBLISH)
    incident = _incident_or_404(incident_id)
    form = NextUpdateForm()
    if not form.validate_on_submit():
        return _render_incident(incident, 400, next_update_form=form)
    at = None if "clear" in request.form else as_utc(form.next_update_at.data)
    outcome = run_domain(
        lambda: public_updates.set_next_update(
            db.session, incident, at, actor_id=actor_id(), now=utcnow()
        ),
        form=form,
        fallback="next_update_at",
    )
    if outcome.refused:
        return _render_incident(_incident_or_404(incident_id), 400, next_update_form=form)
    flash(
        gettext("Next update promised by %(when)s UTC.", when=f"{at:%Y-%m-%d %H:%M}")
        if at
        else gettext("Next-update time removed.")
    )
    return redirect(url_for("admin.incident", incident_id=incident_id) + "#updates-h")
