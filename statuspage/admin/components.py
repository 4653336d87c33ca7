"""Admin views: the page's components and groups, under /admin/components.

Every page here needs the CONFIGURE permission. Each POST validates its form, calls one
function of `statuspage.components.manage`, commits once and redirects; a refusal is shown
next to its field with status 400 and nothing is saved. Ordering works without JavaScript:
each row has "Move up" and "Move down" buttons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    DateField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from statuspage.account.forms import EmptyForm
from statuspage.admin import actor_id, bp, require
from statuspage.admin.actions import run_domain
from statuspage.admin.forms import optional_int, options
from statuspage.audiences import manage as audience_manage
from statuspage.auth.permissions import Permission
from statuspage.components import manage
from statuspage.components.manage import ComponentFields, GroupFields
from statuspage.components.models import Component, ComponentGroup
from statuspage.components.queries import setup_listing
from statuspage.core.db import utcnow
from statuspage.extensions import db

Page = str | tuple[str, int] | Response


class ComponentForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=manage.NAME_MAX)])
    description = TextAreaField(
        _l("Description"), validators=[Optional(), Length(max=manage.DESCRIPTION_MAX)]
    )
    group = SelectField(_l("Group"), coerce=optional_int)
    is_public = BooleanField(_l("Listed on the public page, feeds and JSON"), default=True)
    audiences = SelectMultipleField(
        _l("Not listed: shown to these audiences' members"),
        coerce=int,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    showcase = BooleanField(_l("Show the uptime bar"), default=True)
    only_show_if_degraded = BooleanField(_l("List it only while it is not operational"))
    start_date = DateField(_l("Start date"), validators=[Optional()])


class GroupForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=manage.NAME_MAX)])
    description = TextAreaField(
        _l("Description"), validators=[Optional(), Length(max=manage.DESCRIPTION_MAX)]
    )


def _group_choices(form: ComponentForm) -> None:
    groups = setup_listing(db.session).groups
    form.group.choices = options([(None, gettext("No group"))] + [(g.id, g.name) for g in groups])
    form.audiences.choices = [(a.id, a.name) for a in audience_manage.list_audiences(db.session)]


def _fields(form: ComponentForm, *, editing: bool) -> ComponentFields:
    return ComponentFields(
        name=form.name.data or "",
        description=form.description.data or "",
        group_id=form.group.data,
        ungroup=editing and form.group.data is None,
        is_public=form.is_public.data,
        audience_ids=list(form.audiences.data or []),
        showcase=form.showcase.data,
        only_show_if_degraded=form.only_show_if_degraded.data,
        start_date=form.start_date.data,
    )


def _commit(form: FlaskForm, action: Callable[[], Any], fallback: str | None = None) -> bool:
    """Run one domain call and commit; a refusal is shown on the form (see run_domain)."""
    return not run_domain(action, form=form, fallback=fallback).refused


def _listing(component_form: ComponentForm | None = None, group_form: GroupForm | None = None):  # type: ignore[no-untyped-def]
    if component_form is None:
        component_form = ComponentForm(prefix="component")
    _group_choices(component_form)
    return render_template(
        "admin/components/list.html",
        listing=setup_listing(db.session),
        component_form=component_form,
        group_form=group_form or GroupForm(prefix="group"),
        button=EmptyForm(),
    )


@bp.get("/components")
def components() -> str:
    require(Permission.CONFIGURE)
    return _listing()


@bp.post("/components")
def create_component() -> Page:
    require(Permission.CONFIGURE)
    form = ComponentForm(prefix="component")
    _group_choices(form)
    if form.validate_on_submit():
        created: list[Component] = []

        def create() -> None:
            created.append(
                manage.create_component(
                    db.session,
                    _fields(form, editing=False),
                    actor_id=actor_id(),
                    now=utcnow(),
                )
            )

        if _commit(form, create, "name"):
            flash(gettext("Component “%(name)s” added.", name=created[0].name))
            return redirect(url_for("admin.components"))
    return _listing(component_form=form), 400


@bp.post("/components/groups")
def create_group() -> Page:
    require(Permission.CONFIGURE)
    form = GroupForm(prefix="group")
    if form.validate_on_submit():
        values = GroupFields(name=form.name.data or "", description=form.description.data or "")
        if _commit(
            form,
            lambda: manage.create_group(db.session, values, actor_id=actor_id(), now=utcnow()),
            "name",
        ):
            flash(gettext("Group “%(name)s” added.", name=values.name))
            return redirect(url_for("admin.components"))
    return _listing(group_form=form), 400


def _component_or_404(component_id: int) -> Component:
    component = db.session.get(Component, component_id)
    if component is None:
        abort(404)
    return component


@bp.route("/components/<int:component_id>/edit", methods=["GET", "POST"])
def edit_component(component_id: int) -> Page:
    require(Permission.CONFIGURE)
    component = _component_or_404(component_id)
    form = ComponentForm(obj=component)
    _group_choices(form)
    if not form.is_submitted():
        form.group.data = component.group_id
        form.audiences.data = [audience.id for audience in component.audiences]
    if form.validate_on_submit():
        values = _fields(form, editing=True)
        if _commit(
            form,
            lambda: manage.edit_component(
                db.session, component_id, values, actor_id=actor_id(), now=utcnow()
            ),
            "name",
        ):
            flash(gettext("Component saved."))
            return redirect(url_for("admin.components"))
        return render_template(
            "admin/components/edit.html", form=form, component=component, button=EmptyForm()
        ), 400
    status = 400 if form.is_submitted() else 200
    return render_template(
        "admin/components/edit.html", form=form, component=component, button=EmptyForm()
    ), status


@bp.post("/components/<int:component_id>/move/<any(up, down):direction>")
def move_component(component_id: int, direction: str) -> Response:
    require(Permission.CONFIGURE)
    if EmptyForm().validate_on_submit():
        run_domain(
            lambda: manage.move_component(
                db.session, component_id, direction, actor_id=actor_id(), now=utcnow()
            ),
        )
    return redirect(url_for("admin.components", _anchor=f"component-{component_id}"))


@bp.post("/components/<int:component_id>/remove")
def remove_component(component_id: int) -> Response:
    require(Permission.CONFIGURE)
    component = _component_or_404(component_id)
    name = component.name
    if EmptyForm().validate_on_submit():
        # A refusal without a form is a 409 (run_domain); past it, the change is committed.
        outcome = run_domain(
            lambda: manage.remove_component(
                db.session, component_id, actor_id=actor_id(), now=utcnow()
            )
        )
        if outcome.value == "archived":
            flash(
                gettext(
                    "“%(name)s” is archived: its history and incidents stay readable; "
                    "the page and the JSON API no longer list it.",
                    name=name,
                )
            )
        else:
            flash(gettext("“%(name)s” had no history and is deleted.", name=name))
    return redirect(url_for("admin.components"))


@bp.post("/components/<int:component_id>/restore")
def restore_component(component_id: int) -> Response:
    require(Permission.CONFIGURE)
    if EmptyForm().validate_on_submit():
        run_domain(
            lambda: manage.restore_component(
                db.session, component_id, actor_id=actor_id(), now=utcnow()
            ),
        )
        flash(gettext("Component restored."))
    return redirect(url_for("admin.components"))


def _group_or_404(group_id: int) -> ComponentGroup:
    group = db.session.get(ComponentGroup, group_id)
    if group is None:
        abort(404)
    return group


@bp.route("/components/groups/<int:group_id>/edit", methods=["GET", "POST"])
def edit_group(group_id: int) -> Page:
    require(Permission.CONFIGURE)
    group = _group_or_404(group_id)
    form = GroupForm(obj=group)
    if form.validate_on_submit():
        values = GroupFields(name=form.name.data or "", description=form.description.data or "")
        if _commit(
            form,
            lambda: manage.edit_group(
                db.session, group_id, values, actor_id=actor_id(), now=utcnow()
            ),
            "name",
        ):
            flash(gettext("Group saved."))
            return redirect(url_for("admin.components"))
    status = 400 if form.is_submitted() else 200
    return render_template(
        "admin/components/group.html", form=form, group=group, button=EmptyForm()
    ), status


@bp.post("/components/groups/<int:group_id>/move/<any(up, down):direction>")
def move_group(group_id: int, direction: str) -> Response:
    require(Permission.CONFIGURE)
    if EmptyForm().validate_on_submit():
        run_domain(
            lambda: manage.move_group(
                db.session, group_id, direction, actor_id=actor_id(), now=utcnow()
            ),
        )
    return redirect(url_for("admin.components", _anchor=f"group-{group_id}"))


@bp.post("/components/groups/<int:group_id>/delete")
def delete_group(group_id: int) -> Response:
    require(Permission.CONFIGURE)
    group = _group_or_404(group_id)
    name = group.name
    if EmptyForm().validate_on_submit():
        run_domain(
            lambda: manage.delete_group(db.session, group_id, actor_id=actor_id(), now=utcnow())
        )
        flash(
            gettext(
                "Group “%(name)s” deleted; its components are now outside any group.", name=name
            )
        )
    return redirect(url_for("admin.components"))
