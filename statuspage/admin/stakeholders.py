"""Staff views for stakeholder lists and the stakeholder updates sent by hand.

- Lists (name, description, rules, members) and the templates of updates sent by hand:
  `configure` (managers, admins).
- An incident's stakeholder page (what was sent, and the form to send an update by hand):
  read with `view`; sending needs `publish` (the comms lead's permission). An update sent by
  hand is internal: it never becomes a public update.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import (
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from statuspage.account.forms import EmptyForm
from statuspage.admin import actor_id, bp, require
from statuspage.admin.actions import run_domain
from statuspage.admin.conflicts import render_conflict
from statuspage.admin.forms import VersionedForm, enum_choices, options
from statuspage.auth.permissions import Permission
from statuspage.auth.queries import user_choices, users_by_id
from statuspage.core.db import utcnow
from statuspage.core.errors import ConflictError
from statuspage.extensions import db
from statuspage.incidents.models import Incident
from statuspage.stakeholders import lists as domain
from statuspage.stakeholders import notify
from statuspage.stakeholders.models import (
    RULE_EVENTS,
    StakeholderList,
    StakeholderTemplate,
)
from statuspage.templating import term
from statuspage.web_converters import id_arg

Page = str | Response | tuple[str, int]


def _checkboxes(label: str, **kwargs: Any) -> SelectMultipleField:
    return SelectMultipleField(
        label,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=True,
        **kwargs,
    )


class StakeholderListForm(VersionedForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=domain.NAME_MAX)])
    description = TextAreaField(
        _l("What the list is for"), validators=[Length(max=domain.DESCRIPTION_MAX)]
    )
    priorities = _checkboxes(_l("Priorities that tell it"))
    events = _checkboxes(_l("Events that tell it"))
    user_ids = _checkboxes(_l("Staff members"), coerce=int)
    emails = TextAreaField(
        _l("Other email addresses, one per line"), validators=[Length(max=domain.EMAILS_MAX * 256)]
    )


class StakeholderTemplateForm(FlaskForm):
    name = StringField(
        _l("Template name"), validators=[DataRequired(), Length(max=domain.NAME_MAX)]
    )
    body = TextAreaField(
        _l("Text (Markdown)"), validators=[DataRequired(), Length(max=domain.TEMPLATE_BODY_MAX)]
    )


class StakeholderUpdateForm(FlaskForm):
    lists = _checkboxes(_l("Tell these lists"), coerce=int)
    template = SelectField(_l("Start from a template"), coerce=str, validate_choice=False)
    body = TextAreaField(
        _l("Update for stakeholders (Markdown; internal, never public)"),
        validators=[Length(max=domain.TEMPLATE_BODY_MAX)],
    )
    loaded = HiddenField()


def _list_form(**kwargs: Any) -> StakeholderListForm:
    form = StakeholderListForm(**kwargs)
    form.priorities.choices = options((p, p) for p in domain.PRIORITIES)
    form.events.choices = options(enum_choices(RULE_EVENTS))
    form.user_ids.choices = options(user_choices(db.session))
    return form


def _fields(form: StakeholderListForm) -> domain.ListFields:
    return domain.ListFields(
        name=form.name.data or "",
        description=form.description.data or "",
        priorities=form.priorities.data or [],
        events=form.events.data or [],
        user_ids=form.user_ids.data or [],
        emails=domain.parse_emails(form.emails.data or ""),
    )


def _list_data(stakeholder_list: StakeholderList) -> dict[str, Any]:
    members = domain.member_summary(stakeholder_list)
    return {
        "name": stakeholder_list.name,
        "description": stakeholder_list.description,
        "priorities": list(stakeholder_list.priorities or []),
        "events": list(stakeholder_list.events or []),
        "user_ids": members["user_ids"],
        "emails": "\n".join(members["emails"]),
        "version": stakeholder_list.version,
    }


@bp.get("/stakeholders")
def stakeholder_lists() -> str:
    require(Permission.CONFIGURE)
    all_lists = domain.all_lists(db.session)
    user_ids = {m.user_id for s in all_lists for m in s.members if m.user_id is not None}
    return render_template(
        "admin/stakeholders/index.html",
        lists=all_lists,
        users=users_by_id(db.session, user_ids),
        event_labels={e.value: term(e) for e in RULE_EVENTS},
        templates=domain.all_templates(db.session),
        template_form=StakeholderTemplateForm(prefix="tpl"),
        button_form=EmptyForm(),
    )


@bp.route("/stakeholders/new", methods=["GET", "POST"])
def new_stakeholder_list() -> Page:
    require(Permission.CONFIGURE)
    form = _list_form()
    if form.validate_on_submit():
        outcome = run_domain(
            lambda: domain.create_list(
                db.session, _fields(form), actor_id=actor_id(), now=utcnow()
            ),
            form=form,
            fallback="name",
        )
        if not outcome.refused and outcome.value is not None:
            flash(gettext("Stakeholder list %(name)s created.", name=repr(outcome.value.name)))
            return redirect(url_for("admin.stakeholder_lists"))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/stakeholders/form.html", form=form, stakeholder_list=None), status


@bp.route("/stakeholders/<int:list_id>", methods=["GET", "POST"])
def edit_stakeholder_list(list_id: int) -> Page:
    require(Permission.CONFIGURE)
    stakeholder_list = db.session.get(StakeholderList, list_id)
    if stakeholder_list is None:
        abort(404)
    if request.method == "GET":
        form = _list_form(data=_list_data(stakeholder_list))
    else:
        form = _list_form()
        if form.validate_on_submit():
            outcome = run_domain(
                lambda: domain.update_list(
                    db.session,
                    list_id,
                    _fields(form),
                    actor_id=actor_id(),
                    now=utcnow(),
                    expected_version=form.expected_version(),
                ),
                form=form,
                fallback="name",
            )
            if isinstance(outcome.error, ConflictError):
                current = db.session.get(StakeholderList, list_id)
                return render_conflict(
                    heading=f"the stakeholder list “{current.name if current else list_id}”",
                    conflict=outcome.error,
                    form=form,
                    saved=SimpleNamespace(**_list_data(current)) if current else None,
                    names=("name", "description", "emails"),
                    back_url=url_for("admin.edit_stakeholder_list", list_id=list_id),
                )
            if not outcome.refused:
                flash(gettext("Stakeholder list saved."))
                return redirect(url_for("admin.stakeholder_lists"))
            stakeholder_list = db.session.get(StakeholderList, list_id)
    return render_list_page(
        stakeholder_list, form=form, status=400 if request.method == "POST" else 200
    )


def render_list_page(
    stakeholder_list: StakeholderList,
    *,
    form: StakeholderListForm | None = None,
    channel_form: Any = None,
    status: int = 200,
) -> tuple[str, int]:
    """A list's page: its form, and its channels (`stakeholder_channels`)."""
    from statuspage.admin.stakeholder_channels import channel_context

    if form is None:
        form = _list_form(data=_list_data(stakeholder_list))
    return render_template(
        "admin/stakeholders/form.html",
        form=form,
        stakeholder_list=stakeholder_list,
        **channel_context(stakeholder_list.id, channel_form),
    ), status


@bp.post("/stakeholders/<int:list_id>/delete")
def delete_stakeholder_list(list_id: int) -> Response:
    require(Permission.CONFIGURE)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400, description="The form expired; reload the page and try again.")
    outcome = run_domain(
        lambda: domain.delete_list(db.session, list_id, actor_id=actor_id(), now=utcnow())
    )
    flash(gettext("Stakeholder list %(name)s deleted.", name=repr(outcome.value)))
    return redirect(url_for("admin.stakeholder_lists"))


@bp.post("/stakeholders/templates")
def new_stakeholder_template() -> Page:
    require(Permission.CONFIGURE)
    form = StakeholderTemplateForm(prefix="tpl")
    if form.validate_on_submit():
        outcome = run_domain(
            lambda: domain.create_template(
                db.session,
                form.name.data or "",
                form.body.data or "",
                actor_id=actor_id(),
                now=utcnow(),
            ),
            form=form,
            fallback="name",
        )
        if not outcome.refused:
            flash(gettext("Stakeholder template created."))
            return redirect(url_for("admin.stakeholder_lists"))
    all_lists = domain.all_lists(db.session)
    user_ids = {m.user_id for s in all_lists for m in s.members if m.user_id is not None}
    return render_template(
        "admin/stakeholders/index.html",
        lists=all_lists,
        users=users_by_id(db.session, user_ids),
        event_labels={e.value: term(e) for e in RULE_EVENTS},
        templates=domain.all_templates(db.session),
        template_form=form,
        button_form=EmptyForm(),
    ), 400


@bp.post("/stakeholders/templates/<int:template_id>/delete")
def delete_stakeholder_template(template_id: int) -> Response:
    require(Permission.CONFIGURE)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400, description="The form expired; reload the page and try again.")
    run_domain(
        lambda: domain.delete_template(db.session, template_id, actor_id=actor_id(), now=utcnow())
    )
    flash(gettext("Stakeholder template deleted."))
    return redirect(url_for("admin.stakeholder_lists"))


# --- an incident's stakeholders -----------------------------------------------------------


def _update_form(**kwargs: Any) -> StakeholderUpdateForm:
    form = StakeholderUpdateForm(**kwargs)
    form.lists.choices = options(domain.list_choices(db.session))
    form.template.choices = options(
        [("", gettext("No template"))]
        + [(str(t.id), t.name) for t in domain.all_templates(db.session)]
    )
    return form


def _render_incident_stakeholders(
    incident: Incident, form: StakeholderUpdateForm, status: int = 200
) -> tuple[str, int]:
    messages = notify.messages_for(db.session, incident.id)
    return render_template(
        "admin/stakeholders/incident.html",
        incident=incident,
        form=form,
        messages=messages,
        users=users_by_id(db.session, (m.actor_id for m, _ in messages)),
        resolution=notify.resolution_told(db.session, incident.id, incident.resolved_at),
    ), status


@bp.route("/incidents/<int:incident_id>/stakeholders", methods=["GET", "POST"])
def incident_stakeholders(incident_id: int) -> Page:
    require(Permission.VIEW)
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        abort(404)
    if request.method == "GET":
        form = _update_form()
        template_id = id_arg("template")
        template = db.session.get(StakeholderTemplate, template_id) if template_id else None
        if template is not None:
            form.template.data = str(template.id)
            form.body.data = template.body
        return _render_incident_stakeholders(incident, form)
    require(Permission.PUBLISH)
    form = _update_form()
    if not form.validate_on_submit():
        return _render_incident_stakeholders(incident, form, 400)
    if request.form.get("use_template"):
        # "Use this template" (the page works without JavaScript): fill the text, send nothing.
        return redirect(
            url_for(
                "admin.incident_stakeholders",
                incident_id=incident_id,
                template=form.template.data or None,
            )
        )
    outcome = run_domain(
        lambda: notify.send_stakeholder_update(
            db.session,
            incident_id=incident_id,
            list_ids=form.lists.data or [],
            body=form.body.data or "",
            actor_id=actor_id(),
            now=utcnow(),
        ),
        form=form,
        fallback="body",
    )
    if outcome.refused or outcome.value is None:
        return _render_incident_stakeholders(incident, form, 400)
    flash(
        gettext(
            "Stakeholder update queued for %(lists)s.", lists=", ".join(outcome.value.list_names)
        )
    )
    return redirect(url_for("admin.incident_stakeholders", incident_id=incident_id))
