"""Admin views: the closure report and the post-incident review of one incident."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from statuspage.admin import actor_id, bp, require
from statuspage.admin.forms import ClosureReportForm, ReviewForm, timeline_text
from statuspage.admin.incidents import _incident_or_404
from statuspage.auth.forms import EmptyForm
from statuspage.auth.permissions import Permission
from statuspage.db import utcnow
from statuspage.extensions import db
from statuspage.incidents import reviews
from statuspage.incidents.errors import DomainError
from statuspage.incidents.models import ReviewStatus
from statuspage.incidents.operations import ClosureReportText, write_closure_report


@bp.route("/incidents/<int:incident_id>/closure-report", methods=["GET", "POST"])
def closure_report(incident_id: int) -> str | Response | tuple[str, int]:
    require(Permission.VIEW if request.method == "GET" else Permission.PUBLISH)
    incident = _incident_or_404(incident_id)
    report = incident.closure_report
    form = ClosureReportForm(obj=report) if request.method == "GET" else ClosureReportForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                write_closure_report(
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
                )
            except DomainError as error:
                db.session.rollback()
                getattr(form, error.field or "summary").errors.append(error.message)
            else:
                db.session.commit()
                flash("Closure report saved.")
                return redirect(url_for("admin.incident", incident_id=incident_id))
        return render_template(
            "admin/incidents/closure_report.html", incident=incident, form=form
        ), 400
    return render_template("admin/incidents/closure_report.html", incident=incident, form=form)


@bp.route("/incidents/<int:incident_id>/review", methods=["GET", "POST"])
def review(incident_id: int) -> str | Response | tuple[str, int]:
    require(Permission.VIEW if request.method == "GET" else Permission.WORK_INCIDENTS)
    incident = _incident_or_404(incident_id)
    current = reviews.get_review(db.session, incident)
    if request.method == "GET":
        form = ReviewForm(obj=current)
        if current is not None:
            form.timeline.data = timeline_text(current.timeline)
        return render_template(
            "admin/incidents/review.html",
            incident=incident,
            review=current,
            form=form,
            button_form=EmptyForm(),
        )
    form = ReviewForm()
    if current is None:
        abort(404, description="Start the review first.")
    if form.validate_on_submit():
        try:
            reviews.update_review(
                db.session,
                current,
                reviews.ReviewText(
                    **{name: getattr(form, name).data or "" for name in reviews.REVIEW_TEXT_FIELDS}
                ),
                form.parsed_timeline(),
                actor_id=actor_id(),
                now=utcnow(),
            )
        except DomainError as error:
            db.session.rollback()
            getattr(form, error.field or "summary").errors.append(error.message)
        else:
            db.session.commit()
            flash("Review saved.")
            return redirect(url_for("admin.review", incident_id=incident_id))
    return render_template(
        "admin/incidents/review.html",
        incident=incident,
        review=current,
        form=form,
        button_form=EmptyForm(),
    ), 400


@bp.post("/incidents/<int:incident_id>/review/start")
def start_review(incident_id: int) -> Response | tuple[str, int]:
    require(Permission.WORK_INCIDENTS)
    incident = _incident_or_404(incident_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        reviews.start_review(db.session, incident, actor_id=actor_id(), now=utcnow())
    except DomainError as error:
        db.session.rollback()
        abort(409, description=error.message)
    db.session.commit()
    return redirect(url_for("admin.review", incident_id=incident_id))


@bp.post("/incidents/<int:incident_id>/review/<target>")
def move_review(incident_id: int, target: str) -> Response:
    try:
        status = ReviewStatus(target)
    except ValueError:
        abort(404)
    if status == ReviewStatus.PUBLISHED:
        abort(404)  # publishing reviews is part of public communication, not built here yet
    # Approving is a manager's call; sending to review or back to draft is the team's.
    require(Permission.CONFIGURE if status == ReviewStatus.APPROVED else Permission.WORK_INCIDENTS)
    incident = _incident_or_404(incident_id)
    current = reviews.get_review(db.session, incident)
    if current is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        reviews.move_review(
            db.session, incident, current, status, actor_id=actor_id(), now=utcnow()
        )
    except DomainError as error:
        db.session.rollback()
        abort(409, description=error.message)
    db.session.commit()
    flash(f"Review is now {status.value.replace('_', ' ')}.")
    return redirect(url_for("admin.review", incident_id=incident_id))
