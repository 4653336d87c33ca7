"""Admin views: the closure report and the post-incident review of one incident.

Who does what: writing the closure report and publishing a review are public communication
(PUBLISH); editing a review and its action items is the team's work (WORK_INCIDENTS);
approving a review is a manager's call (CONFIGURE).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from statuspage.account.forms import EmptyForm
from statuspage.admin import actor_id, bp, require
from statuspage.admin.actions import run_domain
from statuspage.admin.conflicts import render_conflict
from statuspage.admin.forms import (
    ActionItemForm,
    ActionItemStatusForm,
    ClosureReportForm,
    PublishReviewForm,
    ReviewForm,
    timeline_text,
)
from statuspage.admin.incidents import _incident_or_404, _user_choices
from statuspage.auth.models import User
from statuspage.auth.permissions import Permission
from statuspage.core.db import utcnow
from statuspage.core.errors import ConflictError
from statuspage.extensions import db
from statuspage.incidents import reviews
from statuspage.incidents.closure import (
    SECTIONS,
    ClosureItem,
    ClosureReportText,
    closure_checklist,
    closure_report_prefill,
    write_closure_report,
)
from statuspage.incidents.models import Incident, PostIncidentReview, ReviewStatus
from statuspage.templating import term


def _checklist(incident: Incident) -> list[ClosureItem]:
    return closure_checklist(
        db.session,
        incident,
        review_required_for=current_app.config["REVIEW_REQUIRED_PRIORITIES"],
    )


@bp.route("/incidents/<int:incident_id>/closure-report", methods=["GET", "POST"])
def closure_report(incident_id: int) -> str | Response | tuple[str, int]:
    require(Permission.VIEW if request.method == "GET" else Permission.PUBLISH)
    incident = _incident_or_404(incident_id)
    report = incident.closure_report
    if request.method == "GET":
        form = ClosureReportForm(obj=report or closure_report_prefill(incident))
        # The version this form edits: 0 when there is no report yet (one written meanwhile
        # is a conflict too).
        form.version.data = str(report.version if report is not None else 0)
        return render_template(
            "admin/incidents/closure_report.html",
            incident=incident,
            form=form,
            prefilled=not report,
            closure_checklist=_checklist(incident),
        )
    form = ClosureReportForm()
    if form.validate_on_submit():
        first_publication = incident.is_public and (report is None or report.published_at is None)
        outcome = run_domain(
            lambda: write_closure_report(
                db.session,
                incident,
                ClosureReportText(
                    summary=form.summary.data or "",
                    impact=form.impact.data or "",
                    cause=form.cause.data or "",
                    resolution=form.resolution.data or "",
                    prevention=form.prevention.data or "",
                ),
                actor_id=actor_id(),
                now=utcnow(),
                expected_version=form.expected_version(),
            ),
            form=form,
            fallback="summary",
        )
        if isinstance(outcome.error, ConflictError):
            incident = _incident_or_404(incident_id)
            return render_conflict(
                heading=f"the closure report of incident #{incident.id}",
                conflict=outcome.error,
                form=form,
                saved=incident.closure_report,
                names=SECTIONS,
                back_url=url_for("admin.closure_report", incident_id=incident_id),
            )
        if not outcome.refused:
            if first_publication:
                flash(gettext("Closure report published; subscribers will be told."))
            elif incident.is_public:
                flash(gettext("Closure report updated on the public page (no new notification)."))
            else:
                flash(gettext("Closure report saved (internal: this incident is not public)."))
            return redirect(url_for("admin.incident", incident_id=incident_id))
    return render_template(
        "admin/incidents/closure_report.html",
        incident=incident,
        form=form,
        prefilled=False,
        closure_checklist=_checklist(incident),
    ), 400


# The review page


def _owner_names(review: PostIncidentReview | None) -> dict[int, str]:
    ids = {item.owner_id for item in (review.action_items if review else []) if item.owner_id}
    if not ids:
        return {}
    return {
        user.id: user.name or user.email
        for user in db.session.scalars(sa.select(User).where(User.id.in_(ids)))
    }


def _item_form(prefix: str = "item", **values: Any) -> ActionItemForm:
    form = ActionItemForm(prefix=prefix, **values)
    form.owner.choices = _user_choices(gettext("No owner"))
    return form


def _status_form(item_id: int, **values: Any) -> ActionItemStatusForm:
    return ActionItemStatusForm(prefix=f"status{item_id}", **values)


def _render_review(
    incident: Incident,
    current: PostIncidentReview | None,
    *,
    status: int = 200,
    form: ReviewForm | None = None,
    item_form: ActionItemForm | None = None,
    edit_item_id: int | None = None,
    edit_form: ActionItemForm | None = None,
    publish_form: PublishReviewForm | None = None,
    status_forms: dict[int, ActionItemStatusForm] | None = None,
) -> tuple[str, int]:
    if form is None:
        form = ReviewForm(obj=current)
        if current is not None:
            form.timeline.data = timeline_text(current.timeline)
    forms = {
        item.id: _status_form(item.id, status=item.status.value)
        for item in (current.action_items if current else [])
    }
    forms.update(status_forms or {})
    required = current_app.config["REVIEW_REQUIRED_PRIORITIES"]
    return render_template(
        "admin/incidents/review.html",
        incident=incident,
        review=current,
        form=form,
        button_form=EmptyForm(),
        item_form=item_form or _item_form(),
        edit_item_id=edit_item_id,
        edit_form=edit_form,
        publish_form=publish_form or PublishReviewForm(),
        status_forms=forms,
        owners=_owner_names(current),
        review_required=incident.priority is not None and incident.priority.value in required,
        review_public=reviews.is_public(current),
    ), status


def _review_or_404(incident: Incident) -> PostIncidentReview:
    current = reviews.get_review(db.session, incident)
    if current is None:
        abort(404, description="Start the review first.")
    return current


@bp.route("/incidents/<int:incident_id>/review", methods=["GET", "POST"])
def review(incident_id: int) -> str | Response | tuple[str, int]:
    require(Permission.VIEW if request.method == "GET" else Permission.WORK_INCIDENTS)
    incident = _incident_or_404(incident_id)
    current = reviews.get_review(db.session, incident)
    if request.method == "GET":
        return _render_review(incident, current)
    form = ReviewForm()
    if current is None:
        abort(404, description="Start the review first.")
    if form.validate_on_submit():
        outcome = run_domain(
            lambda: reviews.update_review(
                db.session,
                current,
                reviews.ReviewText(
                    **{name: getattr(form, name).data or "" for name in reviews.REVIEW_TEXT_FIELDS}
                ),
                form.parsed_timeline(),
                actor_id=actor_id(),
                now=utcnow(),
                expected_version=form.expected_version(),
            ),
            form=form,
            fallback="summary",
        )
        if isinstance(outcome.error, ConflictError):
            return render_conflict(
                heading=f"the review of incident #{incident_id}",
                conflict=outcome.error,
                form=form,
                saved=reviews.get_review(db.session, _incident_or_404(incident_id)),
                names=(*reviews.REVIEW_TEXT_FIELDS, "timeline"),
                back_url=url_for("admin.review", incident_id=incident_id),
                saved_text=lambda name, value: (
                    timeline_text(value) if name == "timeline" else str(value or "")
                ),
            )
        if not outcome.refused:
            flash(gettext("Review saved."))
            return redirect(url_for("admin.review", incident_id=incident_id))
    return _render_review(incident, current, status=400, form=form)


@bp.post("/incidents/<int:incident_id>/review/start")
def start_review(incident_id: int) -> Response | tuple[str, int]:
    require(Permission.WORK_INCIDENTS)
    incident = _incident_or_404(incident_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    run_domain(
        lambda: reviews.start_review(db.session, incident, actor_id=actor_id(), now=utcnow())
    )
    return redirect(url_for("admin.review", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/review/<target>")
def move_review(incident_id: int, target: str) -> Response:
    # Approving is a manager's call; sending to review or back to draft is the team's.
    require(
        Permission.CONFIGURE if target == ReviewStatus.APPROVED.value else Permission.WORK_INCIDENTS
    )
    try:
        status = ReviewStatus(target)
    except ValueError:
        abort(404)
    if status == ReviewStatus.PUBLISHED:
        abort(404)  # publishing is its own step (publish_review): who sees it is a choice
    incident = _incident_or_404(incident_id)
    current = _review_or_404(incident)
    if not EmptyForm().validate_on_submit():
        abort(400)
    run_domain(
        lambda: reviews.move_review(
            db.session, incident, current, status, actor_id=actor_id(), now=utcnow()
        )
    )
    flash(gettext("Review moved to %(status)s.", status=term(status)))
    return redirect(url_for("admin.review", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/review/publish")
def publish_review(incident_id: int) -> Response:
    """Approved -> published; on the public status page only when the box is ticked (and a
    review published internally can be put on the public page later)."""
    require(Permission.PUBLISH)
    incident = _incident_or_404(incident_id)
    current = _review_or_404(incident)
    form = PublishReviewForm()
    if not form.validate_on_submit():
        abort(400)
    publicly = bool(form.publish_publicly.data)
    run_domain(
        lambda: reviews.publish_review(
            db.session,
            incident,
            current,
            publish_publicly=publicly,
            actor_id=actor_id(),
            now=utcnow(),
        )
    )
    flash(
        gettext("Review published on the public status page; subscribers will be told.")
        if publicly
        else gettext("Review published internally; it is not on the public status page.")
    )
    return redirect(url_for("admin.review", incident_id=incident_id))


# Action items


def _item_input(form: ActionItemForm) -> reviews.ActionItemInput:
    return reviews.ActionItemInput(
        title=form.title.data or "",
        priority=form.priority.data or "",
        owner_id=form.owner.data,
        due_at=form.due_at(),
        status=form.status.data or "",
    )


@bp.post("/incidents/<int:incident_id>/review/items")
def add_review_action_item(incident_id: int) -> Response | tuple[str, int]:
    require(Permission.WORK_INCIDENTS)
    incident = _incident_or_404(incident_id)
    current = _review_or_404(incident)
    form = _item_form()
    if form.validate_on_submit():
        outcome = run_domain(
            lambda: reviews.add_action_item(
                db.session, incident, current, _item_input(form), actor_id=actor_id(), now=utcnow()
            ),
            form=form,
            fallback="title",
        )
        if not outcome.refused:
            flash(gettext("Action item added."))
            return redirect(url_for("admin.review", incident_id=incident_id) + "#action-items")
    return _render_review(incident, current, status=400, item_form=form)


def _item_of_or_404(current: PostIncidentReview, item_id: int) -> Any:
    for item in current.action_items:
        if item.id == item_id:
            return item
    abort(404)


@bp.route("/incidents/<int:incident_id>/review/items/<int:item_id>/edit", methods=["GET", "POST"])
def edit_review_action_item(incident_id: int, item_id: int) -> Response | tuple[str, int]:
    require(Permission.VIEW if request.method == "GET" else Permission.WORK_INCIDENTS)
    incident = _incident_or_404(incident_id)
    current = _review_or_404(incident)
    item = _item_of_or_404(current, item_id)
    if request.method == "GET":
        form = _item_form(
            "edit",
            data={
                "title": item.title,
                "owner": item.owner_id,
                "priority": item.priority.value,
                "due_on": item.due_at.date() if item.due_at else None,
                "status": item.status.value,
            },
        )
        return _render_review(incident, current, edit_item_id=item.id, edit_form=form)
    form = _item_form("edit")
    if form.validate_on_submit():
        outcome = run_domain(
            lambda: reviews.edit_action_item(
                db.session,
                incident,
                current,
                item.id,
                _item_input(form),
                actor_id=actor_id(),
                now=utcnow(),
            ),
            form=form,
            fallback="title",
        )
        if not outcome.refused:
            flash(gettext("Action item saved."))
            return redirect(url_for("admin.review", incident_id=incident_id) + "#action-items")
    return _render_review(incident, current, status=400, edit_item_id=item.id, edit_form=form)


@bp.post("/incidents/<int:incident_id>/review/items/<int:item_id>/status")
def review_action_item_status(incident_id: int, item_id: int) -> Response | tuple[str, int]:
    require(Permission.WORK_INCIDENTS)
    incident = _incident_or_404(incident_id)
    current = _review_or_404(incident)
    item = _item_of_or_404(current, item_id)
    form = _status_form(item.id)
    if form.validate_on_submit():
        outcome = run_domain(
            lambda: reviews.set_action_item_status(
                db.session,
                incident,
                current,
                item.id,
                form.status.data or "",
                actor_id=actor_id(),
                now=utcnow(),
            ),
            form=form,
            fallback="status",
        )
        if not outcome.refused:
            flash(gettext("Action item moved to %(status)s.", status=term(item.status)))
            return redirect(url_for("admin.review", incident_id=incident_id) + "#action-items")
    return _render_review(incident, current, status=400, status_forms={item.id: form})


@bp.post("/incidents/<int:incident_id>/review/items/<int:item_id>/remove")
def remove_review_action_item(incident_id: int, item_id: int) -> Response:
    require(Permission.WORK_INCIDENTS)
    incident = _incident_or_404(incident_id)
    current = _review_or_404(incident)
    item = _item_of_or_404(current, item_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    run_domain(
        lambda: reviews.remove_action_item(
            db.session, incident, current, item.id, actor_id=actor_id(), now=utcnow()
        )
    )
    flash(gettext("Action item removed."))
    return redirect(url_for("admin.review", incident_id=incident_id) + "#action-items")
