"""Translations of what customers read, in the staff area: one page per record and language to
add or edit it, and a button to remove it (`incidents/translations.py` does the work).

The record's own page lists its languages with their state (`admin/_translations.html`,
included by the update, closure report, review, template and maintenance pages; the
maintenance page lists its updates' too). Public texts need PUBLISH, as their
default-language text does; template texts need CONFIGURE.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional

from statuspage.account.forms import EmptyForm
from statuspage.admin import actor_id, bp, require
from statuspage.admin.actions import run_domain
from statuspage.auth.permissions import Permission
from statuspage.core.db import utcnow
from statuspage.core.languages import BY_CODE
from statuspage.extensions import db
from statuspage.i18n import default_language
from statuspage.incidents import translations
from statuspage.incidents.config import MESSAGE_STATUSES
from statuspage.incidents.models import Incident
from statuspage.incidents.translations import SPECS, TEXT_MAX, TITLE_MAX, Kind
from statuspage.templating import language_name

LABELS = {
    "title": _l("Title"),
    "body": _l("Message"),
    "summary": _l("Summary"),
    "impact": _l("Impact"),
    "cause": _l("Cause"),
    "resolution": _l("Resolution"),
    "prevention": _l("What we are doing so it does not happen again"),
    "leadup": _l("Leadup"),
    "trigger": _l("Trigger"),
    "detection": _l("Detection"),
    "response": _l("Response"),
    "recovery": _l("Recovery"),
    "contributing_factors": _l("Contributing factors and root causes"),
    "went_well": _l("What went well"),
    "went_badly": _l("What went badly"),
    "got_lucky": _l("Where we got lucky"),
    "communications": _l("Our communication during the incident"),
}
# The page's title and its link back, one full sentence per kind of record.
TITLES = {
    Kind.UPDATE: _l("%(language)s translation of a public update"),
    Kind.CLOSURE_REPORT: _l("%(language)s translation of a closure report"),
    Kind.REVIEW: _l("%(language)s translation of a post-incident review"),
    Kind.TEMPLATE: _l("%(language)s translation of an incident template"),
    Kind.MAINTENANCE: _l("%(language)s translation of a scheduled maintenance"),
    Kind.MAINTENANCE_UPDATE: _l("%(language)s translation of a maintenance update"),
}
BACK_WORDS = {
    Kind.UPDATE: _l("Back to the public update"),
    Kind.CLOSURE_REPORT: _l("Back to the closure report"),
    Kind.REVIEW: _l("Back to the post-incident review"),
    Kind.TEMPLATE: _l("Back to the incident template"),
    Kind.MAINTENANCE: _l("Back to the maintenance"),
    Kind.MAINTENANCE_UPDATE: _l("Back to the maintenance"),
}


def _kind(value: str) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        abort(404)


def _permission(kind: Kind) -> Permission:
    return Permission.CONFIGURE if kind == Kind.TEMPLATE else Permission.PUBLISH


def _fields(kind: Kind) -> list[str]:
    if kind == Kind.TEMPLATE:
        return [f"message_{status}" for status in MESSAGE_STATUSES]
    return list(SPECS[kind].fields)


def _form_class(kind: Kind) -> type[FlaskForm]:
    attributes: dict[str, Any] = {}
    for name in _fields(kind):
        label = (
            _l("Message when %(status)s", status=name.removeprefix("message_"))
            if kind == Kind.TEMPLATE
            else LABELS[name]
        )
        if name in SPECS[kind].single_line:
            attributes[name] = StringField(label, validators=[Optional(), Length(max=TITLE_MAX)])
        else:
            attributes[name] = TextAreaField(label, validators=[Optional(), Length(max=TEXT_MAX)])
    return type(f"{kind.value.title()}TranslationForm", (FlaskForm,), attributes)


def _texts(kind: Kind, form: FlaskForm) -> dict[str, object]:
    if kind == Kind.TEMPLATE:
        return {
            "message_templates": {
                status: form[f"message_{status}"].data or "" for status in MESSAGE_STATUSES
            }
        }
    return {name: form[name].data or "" for name in _fields(kind)}


def _record_or_404(kind: Kind, record_id: int) -> Any:
    record = db.session.get(SPECS[kind].record, record_id)
    if record is None:
        abort(404)
    return record


def back_url(kind: Kind | str, record: Any) -> str:
    """The record's own staff page."""
    kind = Kind(kind)
    if kind == Kind.UPDATE:
        return url_for("admin.edit_update", incident_id=record.incident_id, update_id=record.id)
    if kind == Kind.CLOSURE_REPORT:
        return url_for("admin.closure_report", incident_id=record.incident_id)
    if kind == Kind.REVIEW:
        return url_for("admin.review", incident_id=record.incident_id)
    if kind == Kind.MAINTENANCE:
        return url_for("admin.maintenance_detail", maintenance_id=record.id)
    if kind == Kind.MAINTENANCE_UPDATE:
        return url_for("admin.maintenance_detail", maintenance_id=record.maintenance_id)
    return url_for("admin.edit_template", template_id=record.id)


def _language_or_404(code: str) -> str:
    if code not in translations.translatable_languages(default_language()):
        abort(404)
    return code


def _source(kind: Kind, record: Any) -> list[tuple[str, str]]:
    """(label, default-language text) for the page, beside the fields."""
    if kind == Kind.TEMPLATE:
        messages = record.message_templates or {}
        return [(f"Message when {s}", messages.get(s, "")) for s in MESSAGE_STATUSES]
    return [(LABELS[name], getattr(record, name) or "") for name in SPECS[kind].fields]


@bp.route("/translations/<what>/<int:record_id>/<language>", methods=["GET", "POST"])
def edit_translation(what: str, record_id: int, language: str) -> str | Response | tuple[str, int]:
    require(Permission.VIEW)
    found_kind = _kind(what)
    if request.method == "POST":
        require(_permission(found_kind))
    code = _language_or_404(language)
    record = _record_or_404(found_kind, record_id)
    state = next(
        s
        for s in translations.translation_states(
            db.session, found_kind, record, default_language=default_language()
        )
        if s.language == code
    )
    form_class = _form_class(found_kind)
    if request.method == "GET":
        data: dict[str, Any] = {}
        if state.row is not None:
            if found_kind == Kind.TEMPLATE:
                messages = state.row.message_templates or {}
                data = {f"message_{s}": messages.get(s, "") for s in MESSAGE_STATUSES}
            else:
                data = {name: getattr(state.row, name) for name in _fields(found_kind)}
        elif found_kind == Kind.UPDATE:
            # A new translation starts from the incident template's text in that language.
            incident = db.session.get(Incident, record.incident_id)
            messages = translations.template_messages(
                db.session, incident.template_id if incident else None, code
            )
            data = {"body": messages.get(str(record.status), "")}
        form = form_class(data=data)
        status = 200
    else:
        form = form_class()
        status = 400
        if form.validate_on_submit():
            outcome = run_domain(
                lambda: translations.set_translation(
                    db.session,
                    found_kind,
                    record_id,
                    code,
                    _texts(found_kind, form),
                    default_language=default_language(),
                    actor_id=actor_id(),
                    now=utcnow(),
                ),
                form=form,
                fallback=_fields(found_kind)[0],
            )
            if not outcome.refused:
                flash(_("%(language)s translation saved.", language=language_name(code)))
                return redirect(back_url(found_kind, record))
    return render_template(
        "admin/translation_form.html",
        kind=found_kind,
        title=TITLES[found_kind] % {"language": language_name(code)},
        back_words=BACK_WORDS[found_kind],
        record=record,
        target=BY_CODE[code],
        default=BY_CODE[default_language()],
        state=state,
        form=form,
        fields=_fields(found_kind),
        source=_source(found_kind, record),
        back=back_url(found_kind, record),
        permission=_permission(found_kind).value,
    ), status


@bp.post("/translations/<what>/<int:record_id>/<language>/remove")
def remove_translation(what: str, record_id: int, language: str) -> Response:
    require(Permission.VIEW)
    found_kind = _kind(what)
    require(_permission(found_kind))
    code = _language_or_404(language)
    record = _record_or_404(found_kind, record_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400, description=_("The form expired. Please reload the page and try again."))
    outcome = run_domain(
        lambda: translations.remove_translation(
            db.session,
            found_kind,
            record_id,
            code,
            default_language=default_language(),
            actor_id=actor_id(),
            now=utcnow(),
        )
    )
    if outcome.value:
        flash(_("%(language)s translation removed.", language=language_name(code)))
    return redirect(back_url(found_kind, record))


@bp.app_context_processor
def translation_helpers() -> dict[str, Any]:
    """For `admin/_translations.html`: each language's state of a record."""

    def translation_states(kind: str, record: Any) -> list[translations.TranslationState]:
        if record is None or getattr(record, "id", None) is None:
            return []
        return translations.translation_states(
            db.session, kind, record, default_language=default_language()
        )

    return {
        "translation_states": translation_states,
        "language_info": BY_CODE,
        "remove_translation_form": EmptyForm,
    }
