"""Admin views: settings managers edit. Categories, the priority matrix, SLA policies and
incident templates, under /admin/settings/.

Every page here, GET included, needs the CONFIGURE permission (managers and admins): other
roles see the results where they work (priorities and SLA clocks on incidents, templates when
logging one). Each POST validates its form, calls one function of
`statuspage.incidents.config`, commits once and redirects; a refusal is shown next to its field
with status 400 and nothing saved.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from statuspage.account.forms import EmptyForm
from statuspage.admin import actor_id, bp, require
from statuspage.admin.actions import run_domain
from statuspage.admin.conflicts import render_conflict
from statuspage.admin.forms import options
from statuspage.admin.settings_forms import (
    CategoryForm,
    DeleteCategoryForm,
    MatrixForm,
    RenameCategoryForm,
    SlaPolicyForm,
    TemplateForm,
    show_domain_error,
    split_addresses,
    split_lines,
)
from statuspage.auth.permissions import Permission
from statuspage.core.db import utcnow
from statuspage.core.errors import ConflictError, DomainError, NotFound
from statuspage.extensions import db
from statuspage.i18n import refusal_text
from statuspage.incidents import config, queries
from statuspage.incidents.models import Category, IncidentTemplate, Level, Priority
from statuspage.incidents.priority import DEFAULT_SLA

Page = str | tuple[str, int] | Response


def _commit(form: FlaskForm, action: Callable[[], Any], fallback: str | None) -> bool:
    """Run one domain call and commit; on a refusal roll back and show it on the form."""
    try:
        action()
    except NotFound as error:
        db.session.rollback()
        if error.field is None:
            abort(404, description=refusal_text(error))
        show_domain_error(form, error, fallback)
        return False
    except DomainError as error:
        db.session.rollback()
        show_domain_error(form, error, fallback)
        return False
    db.session.commit()
    return True


@bp.get("/settings")
def settings() -> str:
    require(Permission.CONFIGURE)
    return render_template("admin/settings/index.html")


# --- categories ---------------------------------------------------------------------------


def _category_form() -> CategoryForm:
    form = CategoryForm(prefix="new")
    form.parent.choices = options(
        queries.category_tree(db.session).top_level_choices(gettext("None: a top-level category"))
    )
    return form


def _render_categories(form: CategoryForm, status: int = 200) -> tuple[str, int]:
    categories = queries.category_tree(db.session)
    return render_template(
        "admin/settings/categories.html",
        top_level=categories.top_level(),
        children=categories.children_by_parent(),
        usage=config.usage_by_category(db.session),
        form=form,
    ), status


@bp.get("/settings/categories")
def categories() -> Page:
    require(Permission.CONFIGURE)
    return _render_categories(_category_form())


@bp.post("/settings/categories")
def create_category() -> Page:
    require(Permission.CONFIGURE)
    form = _category_form()
    if form.validate_on_submit():
        saved = _commit(
            form,
            lambda: config.create_category(
                db.session,
                form.name.data or "",
                parent_id=form.parent.data,
                actor_id=actor_id(),
                now=utcnow(),
            ),
            "name",
        )
        if saved:
            flash(gettext("Category %(name)s added.", name=repr(form.name.data.strip())))
            return redirect(url_for("admin.categories"))
    return _render_categories(form, 400)


def _category_or_404(category_id: int) -> Category:
    category = db.session.get(Category, category_id)
    if category is None:
        abort(404)
    return category


def _delete_form(category: Category, categories: queries.CategoryTree) -> DeleteCategoryForm:
    form = DeleteCategoryForm(prefix="delete")
    if category.parent_id is None:
        form.reassign_to.choices = options(categories.top_level_choices("—", exclude=category.id))
    else:
        siblings = categories.children(category.parent_id, exclude=category.id)
        form.reassign_to.choices = options([("", "—")] + [(c.id, c.name) for c in siblings])
    return form


def _render_category(
    category: Category,
    status: int = 200,
    rename_form: RenameCategoryForm | None = None,
    delete_form: DeleteCategoryForm | None = None,
) -> tuple[str, int]:
    categories = queries.category_tree(db.session)
    return render_template(
        "admin/settings/category.html",
        category=category,
        parent=categories.by_id.get(category.parent_id) if category.parent_id else None,
        subcategories=categories.children(category.id),
        usage=config.category_usage(db.session, category.id),
        rename_form=rename_form or RenameCategoryForm(prefix="rename", name=category.name),
        delete_form=delete_form or _delete_form(category, categories),
    ), status


@bp.get("/settings/categories/<int:category_id>")
def category(category_id: int) -> Page:
    require(Permission.CONFIGURE)
    return _render_category(_category_or_404(category_id))


@bp.post("/settings/categories/<int:category_id>/rename")
def rename_category(category_id: int) -> Page:
    require(Permission.CONFIGURE)
    found = _category_or_404(category_id)
    form = RenameCategoryForm(prefix="rename")
    if form.validate_on_submit():
        saved = _commit(
            form,
            lambda: config.rename_category(
                db.session, category_id, form.name.data or "", actor_id=actor_id(), now=utcnow()
            ),
            "name",
        )
        if saved:
            flash(gettext("Category renamed."))
            return redirect(url_for("admin.category", category_id=category_id))
        found = _category_or_404(category_id)
    return _render_category(found, 400, rename_form=form)


@bp.post("/settings/categories/<int:category_id>/delete")
def delete_category(category_id: int) -> Page:
    require(Permission.CONFIGURE)
    found = _category_or_404(category_id)
    name = found.name
    form = _delete_form(found, queries.category_tree(db.session))
    if form.validate_on_submit():
        moved: list[config.CategoryUsage] = []
        saved = _commit(
            form,
            lambda: moved.append(
                config.delete_category(
                    db.session,
                    category_id,
                    reassign_to=form.reassign_to.data,
                    actor_id=actor_id(),
                    now=utcnow(),
                )
            ),
            "reassign_to",
        )
        if saved:
            usage = moved[0]
            if usage.total:
                flash(
                    gettext(
                        "Category %(name)s deleted; moved %(usage)s.",
                        name=repr(name),
                        usage=usage.describe(),
                    )
                )
            else:
                flash(gettext("Category %(name)s deleted.", name=repr(name)))
            return redirect(url_for("admin.categories"))
        found = _category_or_404(category_id)
    return _render_category(found, 400, delete_form=form)


# --- priority matrix ----------------------------------------------------------------------


def _matrix_rows(form: MatrixForm) -> list[tuple[Level, list[Any]]]:
    return [
        (impact, [getattr(form, config.cell_field(impact, urgency)) for urgency in Level])
        for impact in Level
    ]


@bp.route("/settings/matrix", methods=["GET", "POST"])
def priority_matrix() -> Page:
    require(Permission.CONFIGURE)
    if request.method == "GET":
        current = config.priority_matrix(db.session)
        form = MatrixForm(data={config.cell_field(i, u): p.value for (i, u), p in current.items()})
    else:
        form = MatrixForm()
        if form.validate_on_submit():
            cells = {
                (impact, urgency): getattr(form, config.cell_field(impact, urgency)).data
                for impact in Level
                for urgency in Level
            }
            saved = _commit(
                form,
                lambda: config.set_priority_matrix(
                    db.session, cells, actor_id=actor_id(), now=utcnow()
                ),
                None,
            )
            if saved:
                flash(
                    gettext(
                        "Priority matrix saved. It applies to incidents categorized from now on."
                    )
                )
                return redirect(url_for("admin.priority_matrix"))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/settings/matrix.html", form=form, rows=_matrix_rows(form), levels=list(Level)
    ), status


# --- SLA policies -------------------------------------------------------------------------


@bp.get("/settings/sla")
def sla_policies() -> str:
    require(Permission.CONFIGURE)
    return render_template(
        "admin/settings/sla_list.html",
        policies=config.sla_policies(db.session),
        priorities=list(Priority),
    )


def _priority_or_404(priority: str) -> Priority:
    try:
        return Priority(priority)
    except ValueError:
        abort(404)


@bp.route("/settings/sla/<priority>", methods=["GET", "POST"])
def edit_sla_policy(priority: str) -> Page:
    require(Permission.CONFIGURE)
    level = _priority_or_404(priority)
    policy = queries.sla_policy_for(db.session, level)
    if request.method == "GET":
        if policy is not None:
            data = {
                "name": policy.name,
                "acknowledge_minutes": policy.acknowledge_minutes,
                "mitigate_minutes": policy.mitigate_minutes,
                "resolve_minutes": policy.resolve_minutes,
                "update_cadence_minutes": policy.update_cadence_minutes,
                "business_hours_only": policy.business_hours_only,
                "escalation_contacts": "\n".join(policy.escalation_contacts or []),
            }
        else:
            name, ack, mitigate, resolve, cadence, business = DEFAULT_SLA[level]
            data = {
                "name": name,
                "acknowledge_minutes": ack,
                "mitigate_minutes": mitigate,
                "resolve_minutes": resolve,
                "update_cadence_minutes": cadence,
                "business_hours_only": business,
                "escalation_contacts": "",
            }
        form = SlaPolicyForm(data=data)
    else:
        form = SlaPolicyForm()
        if form.validate_on_submit():
            targets = config.SlaTargets(
                name=form.name.data or "",
                acknowledge_minutes=form.acknowledge_minutes.data,
                mitigate_minutes=form.mitigate_minutes.data,
                resolve_minutes=form.resolve_minutes.data,
                update_cadence_minutes=form.update_cadence_minutes.data,
                business_hours_only=bool(form.business_hours_only.data),
                escalation_contacts=split_addresses(form.escalation_contacts.data),
            )
            saved = _commit(
                form,
                lambda: config.update_sla_policy(
                    db.session, level, targets, actor_id=actor_id(), now=utcnow()
                ),
                "name",
            )
            if saved:
                flash(gettext("SLA policy for %(priority)s saved.", priority=level.value))
                return redirect(url_for("admin.sla_policies"))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/settings/sla_edit.html", form=form, priority=level), status


# --- incident templates -------------------------------------------------------------------


def _template_form(**kwargs: Any) -> TemplateForm:
    form = TemplateForm(**kwargs)
    categories = queries.category_tree(db.session)
    form.category.choices = options(categories.top_level_choices("—"))
    form.subcategory.choices = options(categories.subcategory_choices("—"))
    return form


def _template_fields(form: TemplateForm) -> config.TemplateFields:
    return config.TemplateFields(
        name=form.name.data or "",
        title=form.title.data or "",
        description=form.description.data or "",
        category_id=form.category.data,
        subcategory_id=form.subcategory.data,
        impact=form.impact.data or None,
        urgency=form.urgency.data or None,
        task_checklist=split_lines(form.task_checklist.data),
        message_templates=form.messages(),
    )


@bp.get("/settings/templates")
def incident_templates() -> str:
    require(Permission.CONFIGURE)
    return render_template(
        "admin/settings/templates.html",
        templates=queries.templates_by_name(db.session),
        categories=queries.category_tree(db.session).by_id,
        button_form=EmptyForm(),
    )


@bp.route("/settings/templates/new", methods=["GET", "POST"])
def new_template() -> Page:
    require(Permission.CONFIGURE)
    form = _template_form()
    if form.validate_on_submit():
        created: list[IncidentTemplate] = []
        saved = _commit(
            form,
            lambda: created.append(
                config.create_template(
                    db.session, _template_fields(form), actor_id=actor_id(), now=utcnow()
                )
            ),
            "name",
        )
        if saved:
            flash(gettext("Template %(name)s created.", name=repr(created[0].name)))
            return redirect(url_for("admin.incident_templates"))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/settings/template_form.html", form=form, template=None), status


# The fields an edit conflict shows side by side (the person's words; choices are re-picked).
TEMPLATE_TEXT_FIELDS = (
    "name",
    "title",
    "description",
    "task_checklist",
    *(f"message_{status}" for status in config.MESSAGE_STATUSES),
)


def _template_data(template: IncidentTemplate) -> dict[str, Any]:
    """A saved template as its form's values, with the version the form edits."""
    messages = template.message_templates or {}
    return {
        "name": template.name,
        "title": template.title,
        "description": template.description,
        "category": template.category_id,
        "subcategory": template.subcategory_id,
        "impact": template.impact.value if template.impact else "",
        "urgency": template.urgency.value if template.urgency else "",
        "task_checklist": "\n".join(template.task_checklist or []),
        **{f"message_{status}": messages.get(status, "") for status in config.MESSAGE_STATUSES},
        "version": template.version,
    }


@bp.route("/settings/templates/<int:template_id>", methods=["GET", "POST"])
def edit_template(template_id: int) -> Page:
    require(Permission.CONFIGURE)
    template = db.session.get(IncidentTemplate, template_id)
    if template is None:
        abort(404)
    if request.method == "GET":
        form = _template_form(data=_template_data(template))
    else:
        form = _template_form()
        if form.validate_on_submit():
            outcome = run_domain(
                lambda: config.update_template(
                    db.session,
                    template_id,
                    _template_fields(form),
                    actor_id=actor_id(),
                    now=utcnow(),
                    expected_version=form.expected_version(),
                ),
                form=form,
                fallback="name",
            )
            if isinstance(outcome.error, ConflictError):
                current = db.session.get(IncidentTemplate, template_id)
                return render_conflict(
                    heading=f"the template “{current.name if current else template_id}”",
                    conflict=outcome.error,
                    form=form,
                    saved=SimpleNamespace(**_template_data(current)) if current else None,
                    names=TEMPLATE_TEXT_FIELDS,
                    back_url=url_for("admin.edit_template", template_id=template_id),
                )
            if not outcome.refused:
                flash(gettext("Template saved."))
                return redirect(url_for("admin.incident_templates"))
            template = db.session.get(IncidentTemplate, template_id)
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/settings/template_form.html", form=form, template=template
    ), status


@bp.post("/settings/templates/<int:template_id>/delete")
def delete_template(template_id: int) -> Page:
    require(Permission.CONFIGURE)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400, description="The form expired; reload the page and try again.")
    template = db.session.get(IncidentTemplate, template_id)
    if template is None:
        abort(404)
    name = template.name
    if _commit(
        form,
        lambda: config.delete_template(db.session, template_id, actor_id=actor_id(), now=utcnow()),
        None,
    ):
        flash(gettext("Template %(name)s deleted.", name=repr(name)))
    return redirect(url_for("admin.incident_templates"))
