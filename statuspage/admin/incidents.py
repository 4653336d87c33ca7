"""Staff views for one incident: log it, then work it through its lifecycle.

Each POST handler validates its form, calls one domain function, commits once and redirects
back to the incident; a domain refusal is shown next to the field or as a 409/404.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from statuspage.account.forms import EmptyForm
from statuspage.admin import actor_id, bp, require
from statuspage.admin.actions import show_refusal
from statuspage.admin.forms import (
    AssignForm,
    CategorizeForm,
    EvidenceFileForm,
    EvidenceLinkForm,
    EvidenceLogForm,
    IncidentForm,
    LinkForm,
    NoteForm,
    PriorityOverrideForm,
    ProblemLinkForm,
    RoleForm,
    TaskForm,
    TransitionForm,
    as_utc,
    enum_choices,
    options,
)
from statuspage.auth.permissions import Permission
from statuspage.auth.queries import user_choices, users_by_id
from statuspage.components.queries import component_choices
from statuspage.core.db import utcnow
from statuspage.core.errors import ConflictError, DomainError, NotFound
from statuspage.extensions import db
from statuspage.i18n import refusal_text
from statuspage.incidents import casework, problems, queries
from statuspage.incidents.closure import closure_checklist
from statuspage.incidents.lifecycle import (
    ALLOWED_MOVES,
    TransitionDetails,
    transition_incident,
)
from statuspage.incidents.models import (
    Evidence,
    EvidenceKind,
    Incident,
    IncidentSource,
    IncidentStatus,
    IncidentTemplate,
    TaskStatus,
)
from statuspage.incidents.operations import NewIncident, categorize_incident, open_incident
from statuspage.incidents.sla import summarize
from statuspage.stakeholders import notify
from statuspage.templating import term
from statuspage.web_converters import id_arg


def evidence_directory() -> Path:
    return Path(current_app.config["EVIDENCE_DIR"])


def _incident_or_404(incident_id: int) -> Incident:
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        abort(404)
    return incident


def _user_choices(blank: str) -> list[SelectChoice]:
    """The active accounts, for a select whose empty choice reads `blank`."""
    return options([("", blank)] + user_choices(db.session))


def _set_category_choices(form: CategorizeForm, categories: queries.CategoryTree) -> None:
    form.category.choices = options(categories.top_level_choices("—"))
    # Grouped by category (<optgroup>); static/js/subcategories.js hides the other categories'
    # groups once a category is chosen. The domain refuses a pair that does not belong.
    form.subcategory.choices = {
        label: options(pairs)
        for label, pairs in categories.grouped_subcategory_choices("—").items()
    }


def _component_choices() -> list[SelectChoice]:
    return options(component_choices(db.session))


def _template_choices() -> list[SelectChoice]:
    return options(queries.template_choices(db.session))


# --- logging a new incident -------------------------------------------------------------


@bp.route("/incidents/new", methods=["GET", "POST"])
def new_incident() -> str | Response:
    require(Permission.WORK_INCIDENTS)
    form = IncidentForm()
    form.components.choices = _component_choices()
    form.template.choices = _template_choices()
    if request.method == "GET":
        template_id = id_arg("template")
        template = db.session.get(IncidentTemplate, template_id) if template_id else None
        if template is not None:
            form.template.data = template.id
            form.title.data = template.title
            form.description.data = template.description
    if form.validate_on_submit():
        now = utcnow()
        try:
            incident = open_incident(
                db.session,
                NewIncident(
                    title=form.title.data or "",
                    description=form.description.data or "",
                    source=IncidentSource(form.source.data),
                    reporter_name=form.reporter_name.data or "",
                    reporter_contact=form.reporter_contact.data or "",
                    impact_started_at=as_utc(form.impact_started_at.data),
                    detected_at=as_utc(form.detected_at.data),
                    component_ids=form.components.data or [],
                ),
                actor_id=actor_id(),
                now=now,
            )
            if form.template.data:
                casework.apply_template(
                    db.session, incident, form.template.data, actor_id=actor_id(), now=now
                )
        except DomainError as error:
            db.session.rollback()
            show_refusal(form, error, "title")
        else:
            db.session.commit()
            flash(gettext("Incident #%(id)s logged.", id=incident.id))
            return redirect(url_for("admin.incident", incident_id=incident.id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/incidents/new.html", form=form), status


# --- the incident page ------------------------------------------------------------------


def _forms(workspace: queries.IncidentWorkspace) -> dict[str, FlaskForm]:
    incident = workspace.incident
    categorize = CategorizeForm(
        prefix="cat",
        data={
            "category": incident.category_id,
            "subcategory": incident.subcategory_id,
            "impact": incident.impact.value if incident.impact else None,
            "urgency": incident.urgency.value if incident.urgency else None,
            "version": incident.version,
        },
    )
    _set_category_choices(categorize, workspace.categories)
    details = IncidentForm(
        prefix="edit",
        data={
            "title": incident.title,
            "description": incident.description,
            "reporter_name": incident.reporter_name,
            "reporter_contact": incident.reporter_contact,
            "source": incident.source.value,
            "impact_started_at": incident.impact_started_at.replace(tzinfo=None),
            "detected_at": incident.detected_at.replace(tzinfo=None)
            if incident.detected_at
            else None,
            "components": [link.component_id for link in incident.affected],
            "version": incident.version,
        },
    )
    details.components.choices = options(workspace.component_choices)
    details.template.choices = options(workspace.template_choices)
    transition = TransitionForm(prefix="move", data={"version": incident.version})
    transition.target.choices = options(
        enum_choices(sorted(ALLOWED_MOVES[incident.status], key=list(IncidentStatus).index))
    )
    assign = AssignForm(
        prefix="assign", data={"assignee": incident.assignee_id, "version": incident.version}
    )
    assign.assignee.choices = options([("", "Nobody")] + workspace.user_choices)
    role = RoleForm(prefix="role")
    role.user.choices = options([("", gettext("Choose a person"))] + workspace.user_choices)
    task = TaskForm(prefix="task")
    task.owner.choices = options([("", gettext("No owner"))] + workspace.user_choices)
    return {
        "categorize_form": categorize,
        "override_form": PriorityOverrideForm(prefix="prio", data={"version": incident.version}),
        "details_form": details,
        "transition_form": transition,
        "assign_form": assign,
        "role_form": role,
        "task_form": task,
        "note_form": NoteForm(prefix="note"),
        "link_evidence_form": EvidenceLinkForm(prefix="elink"),
        "log_evidence_form": EvidenceLogForm(prefix="elog"),
        "file_evidence_form": EvidenceFileForm(prefix="efile"),
        "link_form": LinkForm(prefix="link"),
        "problem_form": ProblemLinkForm(prefix="problem"),
        "button_form": EmptyForm(),
    }


def _render_workspace(
    workspace: queries.IncidentWorkspace, status: int = 200, **overrides: Any
) -> tuple[str, int]:
    forms = _forms(workspace)
    forms.update(overrides)
    action_errors = [error for form in overrides.values() for error in form.form_errors]
    context = {
        "incident": workspace.incident,
        "users": workspace.users,
        "now": utcnow(),
        "clocks": workspace.clocks,
        # The header's SLA pill reads the same clocks as the table, computed for this request.
        "sla": summarize(workspace.clocks),
        "roles": workspace.roles,
        "tasks": workspace.tasks,
        "notes": workspace.notes,
        "evidence": workspace.evidence,
        "links": workspace.links,
        "timeline": workspace.timeline,
        "categories": workspace.categories.by_id,
        "linked_problems": workspace.linked_problems,
        "review": workspace.review,
        "suggestions": workspace.suggestions,
        "allowed_moves": ALLOWED_MOVES[workspace.incident.status],
        "task_statuses": TaskStatus,
        "action_errors": action_errors,
        "closure_checklist": closure_checklist(
            db.session,
            workspace.incident,
            review_required_for=current_app.config["REVIEW_REQUIRED_PRIORITIES"],
            tasks=workspace.tasks,
            review=workspace.review,
        ),
        "stakeholder_messages": notify.messages_for(db.session, workspace.incident.id),
        **forms,
    }
    return render_template("admin/incidents/detail.html", **context), status


def _render_incident(incident: Incident, status: int = 200, **overrides: Any) -> tuple[str, int]:
    """The incident page, with `overrides` replacing the blank forms (a refused form keeps
    what was typed and its errors)."""
    workspace = queries.incident_workspace(db.session, incident.id, now=utcnow())
    if workspace is None:
        abort(404)
    return _render_workspace(workspace, status, **overrides)


@bp.get("/incidents/<int:incident_id>")
def incident(incident_id: int) -> tuple[str, int]:
    workspace = queries.incident_workspace(db.session, incident_id, now=utcnow())
    if workspace is None:
        abort(404)
    return _render_workspace(workspace)


@bp.get("/incidents/<int:incident_id>/audit")
def incident_audit(incident_id: int) -> str:
    incident = _incident_or_404(incident_id)
    entries = queries.incident_audit(db.session, incident.id)
    return render_template(
        "admin/incidents/audit.html",
        incident=incident,
        entries=entries,
        users=users_by_id(db.session, (entry.actor_id for entry in entries)),
    )


def _handle(
    incident_id: int,
    permission: Permission,
    form_name: str,
    form_factory: Callable[[Incident], FlaskForm],
    action: Callable[[Incident, FlaskForm], str],
    fallback_field: str,
) -> tuple[str, int] | Response:
    """The shape every incident action shares: permission, form, one domain call, one commit."""
    require(permission)
    incident = _incident_or_404(incident_id)
    form = form_factory(incident)
    if not form.validate_on_submit():
        return _render_incident(incident, 400, **{form_name: form})
    try:
        message = action(incident, form)
    except ConflictError as conflict:
        db.session.rollback()
        incident = _incident_or_404(incident_id)
        return render_template(
            "admin/incidents/conflict.html", incident=incident, conflict=conflict
        ), 409
    except NotFound as error:
        db.session.rollback()
        if error.field is None:
            abort(404, description=refusal_text(error))
        incident = _incident_or_404(incident_id)
        show_refusal(form, error, fallback_field)
        return _render_incident(incident, 400, **{form_name: form})
    except DomainError as error:
        db.session.rollback()
        incident = _incident_or_404(incident_id)
        show_refusal(form, error, fallback_field)
        return _render_incident(incident, 409 if error.field is None else 400, **{form_name: form})
    db.session.commit()
    flash(message)
    return redirect(url_for("admin.incident", incident_id=incident_id))


def _with_choices(form_class: type[FlaskForm], prefix: str, **choices: Callable[[], Any]):  # type: ignore[no-untyped-def]
    def build(incident: Incident) -> FlaskForm:
        form = form_class(prefix=prefix)
        for name, factory in choices.items():
            getattr(form, name).choices = factory()
        return form

    return build


@bp.post("/incidents/<int:incident_id>/details")
def edit_incident(incident_id: int):  # type: ignore[no-untyped-def]
    def act(incident: Incident, form: IncidentForm) -> str:
        casework.update_details(
            db.session,
            incident,
            casework.IncidentDetails(
                title=form.title.data or "",
                description=form.description.data or "",
                reporter_name=form.reporter_name.data or "",
                reporter_contact=form.reporter_contact.data or "",
                source=IncidentSource(form.source.data),
                impact_started_at=as_utc(form.impact_started_at.data) or incident.impact_started_at,
                detected_at=as_utc(form.detected_at.data),
                component_ids=form.components.data or [],
            ),
            expected_version=form.expected_version(),
            actor_id=actor_id(),
            now=utcnow(),
        )
        return gettext("Details saved.")

    return _handle(
        incident_id,
        Permission.WORK_INCIDENTS,
        "details_form",
        _with_choices(
            IncidentForm, "edit", components=_component_choices, template=_template_choices
        ),
        act,
        "title",
    )


def _categorize_form(incident: Incident) -> CategorizeForm:
    form = CategorizeForm(prefix="cat")
    _set_category_choices(form, queries.category_tree(db.session))
    return form


@bp.post("/incidents/<int:incident_id>/categorize")
def categorize(incident_id: int):  # type: ignore[no-untyped-def]
    def act(incident: Incident, form: CategorizeForm) -> str:
        casework.check_version(db.session, incident, form.expected_version())
        categorize_incident(
            db.session,
            incident,
            category_id=form.category.data,
            subcategory_id=form.subcategory.data,
            impact=form.impact.data,
            urgency=form.urgency.data,
            actor_id=actor_id(),
            now=utcnow(),
        )
        return gettext("Categorized; priority is %(priority)s.", priority=incident.priority.value)

    return _handle(
        incident_id,
        Permission.WORK_INCIDENTS,
        "categorize_form",
        _categorize_form,
        act,
        "category",
    )


@bp.post("/incidents/<int:incident_id>/priority")
def override_priority(incident_id: int):  # type: ignore[no-untyped-def]
    def act(incident: Incident, form: PriorityOverrideForm) -> str:
        casework.override_priority(
            db.session,
            incident,
            form.priority.data,
            form.reason.data or "",
            expected_version=form.expected_version(),
            actor_id=actor_id(),
            now=utcnow(),
        )
        return gettext("Priority set to %(priority)s.", priority=incident.priority.value)

    return _handle(
        incident_id,
        Permission.WORK_INCIDENTS,
        "override_form",
        _with_choices(PriorityOverrideForm, "prio"),
        act,
        "reason",
    )


@bp.post("/incidents/<int:incident_id>/transition")
def transition(incident_id: int):  # type: ignore[no-untyped-def]
    def act(incident: Incident, form: TransitionForm) -> str:
        casework.check_version(db.session, incident, form.expected_version())
        target = IncidentStatus(form.target.data)
        verification = ""
        if target == IncidentStatus.RESOLVED:
            missing = [
                label
                for name, label in TransitionForm.CHECKS.items()
                if not getattr(form, name).data
            ]
            if missing:
                raise DomainError(
                    gettext(
                        "Tick every verification check before resolving: %(checks)s.",
                        checks=", ".join(missing),
                    ),
                    field="check_side_effects",
                )
            incident.verification_checks = list(TransitionForm.CHECKS.values())
            verification = (form.verification.data or "").strip() or "; ".join(
                TransitionForm.CHECKS.values()
            )
        transition_incident(
            db.session,
            incident,
            target,
            actor_id=actor_id(),
            now=utcnow(),
            details=TransitionDetails(
                reason=form.reason.data or "",
                workaround=form.workaround.data or "",
                resolution_code=form.resolution_code.data or "",
                resolution_summary=form.resolution_summary.data or "",
                verification=verification,
            ),
            review_required_for=current_app.config["REVIEW_REQUIRED_PRIORITIES"],
        )
        return gettext("Incident moved to %(status)s.", status=term(target))

    def build(incident: Incident) -> TransitionForm:
        form = TransitionForm(prefix="move")
        form.target.choices = options((s.value, s.value) for s in IncidentStatus)
        return form

    return _handle(incident_id, Permission.WORK_INCIDENTS, "transition_form", build, act, "target")


@bp.post("/incidents/<int:incident_id>/acknowledge")
def acknowledge(incident_id: int):  # type: ignore[no-untyped-def]
    def act(incident: Incident, form: EmptyForm) -> str:
        casework.acknowledge_incident(db.session, incident, actor_id=actor_id(), now=utcnow())
        return gettext("Acknowledged.")

    return _handle(
        incident_id,
        Permission.WORK_INCIDENTS,
        "button_form",
        lambda incident: EmptyForm(),
        act,
        "csrf_token",
    )


@bp.post("/incidents/<int:incident_id>/assign")
def assign(incident_id: int):  # type: ignore[no-untyped-def]
    def act(incident: Incident, form: AssignForm) -> str:
        casework.check_version(db.session, incident, form.expected_version())
        casework.assign_incident(
            db.session, incident, form.assignee.data, actor_id=actor_id(), now=utcnow()
        )
        return gettext("Assignment saved.")

    return _handle(
        incident_id,
        Permission.WORK_INCIDENTS,
        "assign_form",
        _with_choices(AssignForm, "assign", assignee=lambda: _user_choices("Nobody")),
        act,
        "assignee",
    )


@bp.post("/incidents/<int:incident_id>/roles")
def add_role(incident_id: int):  # type: ignore[no-untyped-def]
    def act(incident: Incident, form: RoleForm) -> str:
        if form.user.data is None:
            raise DomainError(gettext("Choose a person."), field="user")
        casework.set_incident_role(
            db.session, incident, form.user.data, form.role.data, actor_id=actor_id(), now=utcnow()
        )
        return gettext("Role assigned.")

    return _handle(
        incident_id,
        Permission.WORK_INCIDENTS,
        "role_form",
        _with_choices(RoleForm, "role", user=lambda: _user_choices(gettext("Choose a person"))),
        act,
        "user",
    )


@bp.post("/incidents/<int:incident_id>/roles/<int:assignment_id>/remove")
def remove_role(incident_id: int, assignment_id: int):  # type: ignore[no-untyped-def]
    def act(incident: Incident, form: EmptyForm) -> str:
        casework.remove_incident_role(
            db.session, incident, assignment_id, actor_id=actor_id(), now=utcnow()
        )
        return gettext("Role removed.")

    return _handle(
        incident_id,
        Permission.WORK_INCIDENTS,
        "button_form",
        lambda incident: EmptyForm(),
        act,
        "csrf_token",
    )


@bp.post("/incidents/<int:incident_id>/tasks")
def add_task(incident_id: int):  # type: ignore[no-untyped-def]
    def act(incident: Incident, form: TaskForm) -> str:
        casework.add_task(
            db.session,
            incident,
            kind=form.kind.data,
            title=form.title.data or "",
            owner_id=form.owner.data,
            due_at=as_utc(form.due_at.data),
            actor_id=actor_id(),
            now=utcnow(),
        )
        return gettext("Task added.")

    return _handle(
        incident_id,
        Permission.WORK_INCIDENTS,
        "task_form",
        _with_choices(TaskForm, "task", owner=lambda: _user_choices(gettext("No owner"))),
        act,
        "title",
    )


@bp.post("/incidents/<int:incident_id>/tasks/<int:task_id>/<status>")
def set_task_status(incident_id: int, task_id: int, status: str):  # type: ignore[no-untyped-def]
    if status not in {s.value for s in TaskStatus}:
        abort(404)

    def act(incident: Incident, form: EmptyForm) -> str:
        task = casework.set_task_status(
            db.session, incident, task_id, TaskStatus(status), actor_id=actor_id(), now=utcnow()
        )
        return gettext("Task moved to %(status)s.", status=term(task.status))

    return _handle(
        incident_id,
        Permission.WORK_INCIDENTS,
        "button_form",
        lambda incident: EmptyForm(),
        act,
        "csrf_token",
    )


@bp.post("/incidents/<int:incident_id>/notes")
def add_note(incident_id: int):  # type: ignore[no-untyped-def]
    def act(incident: Incident, form: NoteForm) -> str:
        casework.add_note(
            db.session, incident, form.body.data or "", actor_id=actor_id(), now=utcnow()
        )
        return gettext("Note added.")

    return _handle(
        incident_id,
        Permission.WORK_INCIDENTS,
        "note_form",
        _with_choices(NoteForm, "note"),
        act,
        "body",
    )


@bp.post("/incidents/<int:incident_id>/evidence/link")
def add_evidence_link(incident_id: int):  # type: ignore[no-untyped-def]
    def act(incident: Incident, form: EvidenceLinkForm) -> str:
        casework.add_evidence_link(
            db.session,
            incident,
            title=form.title.data or "",
            url=form.url.data or "",
            actor_id=actor_id(),
            now=utcnow(),
        )
        return gettext("Link added.")

    return _handle(
        incident_id,
        Permission.WORK_INCIDENTS,
        "link_evidence_form",
        _with_choices(EvidenceLinkForm, "elink"),
        act,
        "url",
    )


@bp.post("/incidents/<int:incident_id>/evidence/log")
def add_evidence_log(incident_id: int):  # type: ignore[no-untyped-def]
    def act(incident: Incident, form: EvidenceLogForm) -> str:
        casework.add_evidence_log(
            db.session,
            incident,
            title=form.title.data or "",
            text=form.log_text.data or "",
            actor_id=actor_id(),
            now=utcnow(),
        )
        return gettext("Log added.")

    return _handle(
        incident_id,
        Permission.WORK_INCIDENTS,
        "log_evidence_form",
        _with_choices(EvidenceLogForm, "elog"),
        act,
        "log_text",
    )


@bp.post("/incidents/<int:incident_id>/evidence/file")
def add_evidence_file(incident_id: int):  # type: ignore[no-untyped-def]
    def act(incident: Incident, form: EvidenceFileForm) -> str:
        upload = form.file.data
        if upload is None or not getattr(upload, "filename", ""):
            raise DomainError(gettext("Choose a file to upload."), field="file")
        limit = current_app.config["EVIDENCE_MAX_BYTES"]
        data = upload.stream.read(limit + 1)
        casework.add_evidence_file(
            db.session,
            incident,
            title=form.title.data or "",
            filename=upload.filename,
            data=data,
            directory=evidence_directory(),
            actor_id=actor_id(),
            now=utcnow(),
            max_bytes=limit,
        )
        return gettext("File added.")

    return _handle(
        incident_id,
        Permission.WORK_INCIDENTS,
        "file_evidence_form",
        _with_choices(EvidenceFileForm, "efile"),
        act,
        "file",
    )


@bp.get("/incidents/<int:incident_id>/evidence/<int:evidence_id>")
def evidence_file(incident_id: int, evidence_id: int) -> Response:
    evidence = db.session.get(Evidence, evidence_id)
    if (
        evidence is None
        or evidence.incident_id != incident_id
        or evidence.kind != EvidenceKind.FILE
    ):
        abort(404)
    # Always a download, never rendered by the browser: an uploaded HTML or SVG file cannot
    # run in the site's origin.
    response = send_from_directory(
        evidence_directory(),
        evidence.stored_name,
        as_attachment=True,
        download_name=evidence.filename,
        mimetype=evidence.content_type,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.post("/incidents/<int:incident_id>/links")
def add_link(incident_id: int):  # type: ignore[no-untyped-def]
    def act(incident: Incident, form: LinkForm) -> str:
        casework.link_incidents(
            db.session,
            incident,
            form.other_id.data,
            form.kind.data,
            actor_id=actor_id(),
            now=utcnow(),
        )
        return gettext("Incidents linked.")

    return _handle(
        incident_id,
        Permission.WORK_INCIDENTS,
        "link_form",
        _with_choices(LinkForm, "link"),
        act,
        "other_id",
    )


@bp.post("/incidents/<int:incident_id>/problems")
def link_problem(incident_id: int):  # type: ignore[no-untyped-def]
    def act(incident: Incident, form: ProblemLinkForm) -> str:
        problem = problems.link_problem(
            db.session, incident, form.problem_id.data, actor_id=actor_id(), now=utcnow()
        )
        return gettext("Linked to problem #%(id)s.", id=problem.id)

    return _handle(
        incident_id,
        Permission.WORK_INCIDENTS,
        "problem_form",
        _with_choices(ProblemLinkForm, "problem"),
        act,
        "problem_id",
    )
