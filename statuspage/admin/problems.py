"""Admin views: problems and known errors.

Every role may read them; creating and editing needs WORK_INCIDENTS (responders, managers,
admins). Incidents are linked to a problem from the incident's page (`admin.link_problem`);
the problem's page lists them.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from statuspage.admin import actor_id, bp, require
from statuspage.admin.forms import lazy_term, optional_int, options
from statuspage.admin.settings_forms import show_domain_error
from statuspage.auth.permissions import Permission
from statuspage.components.queries import component_choices
from statuspage.core.db import utcnow
from statuspage.core.errors import DomainError
from statuspage.extensions import db
from statuspage.incidents import queries
from statuspage.incidents.models import Problem, ProblemStatus
from statuspage.incidents.problems import ProblemText, create_problem, update_problem

LIST_LIMIT = queries.PROBLEM_LIST_LIMIT
STATUS_LABELS = {status: lazy_term(status) for status in ProblemStatus}

Page = str | tuple[str, int] | Response


class ProblemForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Length(max=20_000)])
    root_cause = TextAreaField(_l("Root cause"), validators=[Length(max=20_000)])
    workaround = TextAreaField(_l("Workaround"), validators=[Length(max=20_000)])
    status = SelectField(
        _l("Status"),
        choices=options((status.value, label) for status, label in STATUS_LABELS.items()),
        default=ProblemStatus.OPEN.value,
    )
    category = SelectField(_l("Category"), coerce=optional_int)
    components = SelectMultipleField(_l("Components"), coerce=int)


def _problem_form(**kwargs: object) -> ProblemForm:
    form = ProblemForm(**kwargs)
    form.category.choices = options(queries.category_tree(db.session).nested_choices("—"))
    form.components.choices = options(component_choices(db.session))
    return form


def _text(form: ProblemForm) -> ProblemText:
    return ProblemText(
        title=form.title.data or "",
        description=form.description.data or "",
        root_cause=form.root_cause.data or "",
        workaround=form.workaround.data or "",
        status=ProblemStatus(form.status.data),
        category_id=form.category.data,
        component_ids=tuple(form.components.data or ()),
    )


def _problem_or_404(problem_id: int) -> Problem:
    problem = db.session.get(Problem, problem_id)
    if problem is None:
        abort(404)
    return problem


@bp.get("/problems")
def problems() -> str:
    status_filter = request.args.get("status", "")
    try:
        status = ProblemStatus(status_filter) if status_filter else None
    except ValueError:
        abort(400, description="Filter by open, known_error or resolved.")
    listed = queries.list_problems(db.session, status=status, limit=LIST_LIMIT)
    return render_template(
        "admin/problems/list.html",
        problems=listed.problems,
        linked=listed.linked,
        status_filter=status_filter,
        statuses=STATUS_LABELS,
        limit=LIST_LIMIT,
    )


@bp.route("/problems/new", methods=["GET", "POST"])
def new_problem() -> Page:
    require(Permission.WORK_INCIDENTS)
    form = _problem_form()
    if form.validate_on_submit():
        try:
            problem = create_problem(db.session, _text(form), actor_id=actor_id(), now=utcnow())
        except DomainError as error:
            db.session.rollback()
            show_domain_error(form, error, "title")
        else:
            db.session.commit()
            flash(gettext("Problem #%(id)s recorded.", id=problem.id))
            return redirect(url_for("admin.problem", problem_id=problem.id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/problems/form.html", form=form, problem=None), status


@bp.get("/problems/<int:problem_id>")
def problem(problem_id: int) -> str:
    detail = queries.problem_detail(db.session, problem_id)
    if detail is None:
        abort(404)
    return render_template(
        "admin/problems/detail.html",
        problem=detail.problem,
        incidents=detail.incidents,
        category=detail.category,
        parent=detail.parent,
        statuses=STATUS_LABELS,
    )


@bp.route("/problems/<int:problem_id>/edit", methods=["GET", "POST"])
def edit_problem(problem_id: int) -> Page:
    require(Permission.WORK_INCIDENTS)
    found = _problem_or_404(problem_id)
    if request.method == "GET":
        form = _problem_form(
            data={
                "title": found.title,
                "description": found.description,
                "root_cause": found.root_cause,
                "workaround": found.workaround,
                "status": found.status.value,
                "category": found.category_id,
                "components": [c.id for c in found.components],
            }
        )
    else:
        form = _problem_form()
        if form.validate_on_submit():
            try:
                update_problem(db.session, found, _text(form), actor_id=actor_id(), now=utcnow())
            except DomainError as error:
                db.session.rollback()
                show_domain_error(form, error, "title")
                found = _problem_or_404(problem_id)
            else:
                db.session.commit()
                flash(gettext("Problem saved."))
                return redirect(url_for("admin.problem", problem_id=problem_id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/problems/form.html", form=form, problem=found), status
