"""Blameless post-incident reviews: start (timeline prefilled), edit, submit, approve.

Required before closing P1 and P2 incidents (`lifecycle.REVIEW_REQUIRED_FOR`). Publishing a
review publicly is a separate choice made once it is approved.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.incidents.errors import DomainError, InvalidTransition
from statuspage.incidents.models import (
    Incident,
    IncidentUpdate,
    PostIncidentReview,
    ReviewStatus,
)
from statuspage.incidents.records import record_audit, record_event, touch

TEXT_MAX = 50_000

MILESTONE_WORDS = (
    ("impact_started_at", "Impact started"),
    ("detected_at", "Detected"),
    ("reported_at", "Logged"),
    ("acknowledged_at", "Acknowledged"),
    ("identified_at", "Cause identified"),
    ("mitigated_at", "Mitigated"),
    ("resolved_at", "Resolved"),
)

R = ReviewStatus
REVIEW_MOVES = {
    R.DRAFT: frozenset({R.IN_REVIEW}),
    R.IN_REVIEW: frozenset({R.DRAFT, R.APPROVED}),
    R.APPROVED: frozenset({R.IN_REVIEW, R.PUBLISHED}),
    R.PUBLISHED: frozenset(),
}


@dataclass(frozen=True)
class ReviewText:
    summary: str = ""
    impact: str = ""
    leadup: str = ""
    trigger: str = ""
    detection: str = ""
    response: str = ""
    recovery: str = ""
    contributing_factors: str = ""
    went_well: str = ""
    went_badly: str = ""
    got_lucky: str = ""
    communications: str = ""


REVIEW_TEXT_FIELDS = tuple(f.name for f in fields(ReviewText))


def prefilled_timeline(session: Session, incident: Incident) -> list[dict[str, str]]:
    """Milestones and public updates, in time order, as the review's starting timeline."""
    entries = [
        (getattr(incident, attribute), words)
        for attribute, words in MILESTONE_WORDS
        if getattr(incident, attribute) is not None
    ]
    updates = session.scalars(
        sa.select(IncidentUpdate)
        .where(IncidentUpdate.incident_id == incident.id, IncidentUpdate.published_at.is_not(None))
        .order_by(IncidentUpdate.published_at)
    )
    entries += [
        (update.published_at, f"Public update ({update.status.value}): {update.body}")
        for update in updates
        if update.published_at is not None
    ]
    entries.sort(key=lambda entry: entry[0])
    return [{"at": at.isoformat(), "text": text} for at, text in entries]


def get_review(session: Session, incident: Incident) -> PostIncidentReview | None:
    return session.scalar(
        sa.select(PostIncidentReview).where(PostIncidentReview.incident_id == incident.id)
    )


def start_review(
    session: Session, incident: Incident, *, actor_id: int | None, now: datetime
) -> PostIncidentReview:
    if get_review(session, incident) is not None:
        raise DomainError("This incident has a review already.")
    review = PostIncidentReview(
        incident_id=incident.id,
        status=R.DRAFT,
        timeline=prefilled_timeline(session, incident),
        created_at=now,
        updated_at=now,
    )
    session.add(review)
    session.flush()
    version = touch(incident, now)
    record_event(
        session, incident.id, "review", "Post-incident review started", actor_id=actor_id, now=now
    )
    record_audit(
        session,
        "incident",
        incident.id,
        "start_review",
        {"review_id": review.id, "version": version},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return review


def update_review(
    session: Session,
    review: PostIncidentReview,
    text: ReviewText,
    timeline: list[dict[str, str]] | None = None,
    *,
    actor_id: int | None,
    now: datetime,
) -> PostIncidentReview:
    if review.status not in (R.DRAFT, R.IN_REVIEW):
        raise DomainError("An approved review is locked; send it back to review to edit it.")
    changed = []
    for name in REVIEW_TEXT_FIELDS:
        value = getattr(text, name).strip()
        if len(value) > TEXT_MAX:
            raise DomainError(f"Keep each section under {TEXT_MAX} characters.", field=name)
        if getattr(review, name) != value:
            setattr(review, name, value)
            changed.append(name)
    if timeline is not None and timeline != review.timeline:
        review.timeline = timeline
        changed.append("timeline")
    if changed:
        review.updated_at = now
        record_audit(
            session,
            "post_incident_review",
            review.id,
            "edit",
            {"fields": changed},
            actor_id=actor_id,
            now=now,
        )
    session.flush()
    return review


def move_review(
    session: Session,
    incident: Incident,
    review: PostIncidentReview,
    target: ReviewStatus,
    *,
    actor_id: int | None,
    now: datetime,
) -> PostIncidentReview:
    target = ReviewStatus(target)
    if target not in REVIEW_MOVES[review.status]:
        raise InvalidTransition(
            f"A review that is {review.status.value.replace('_', ' ')} cannot become "
            f"{target.value.replace('_', ' ')}."
        )
    if target in (R.IN_REVIEW, R.APPROVED) and not review.summary.strip():
        raise InvalidTransition("Write at least the summary before sending the review on.")
    before = review.status
    review.status = target
    review.updated_at = now
    if target == R.APPROVED:
        review.approved_at = now
        review.approved_by_id = actor_id
    version = touch(incident, now)
    words = target.value.replace("_", " ")
    record_event(
        session, incident.id, "review", f"Post-incident review {words}", actor_id=actor_id, now=now
    )
    record_audit(
        session,
        "incident",
        incident.id,
        "review_status",
        {"review_status": [before, target], "version": version},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return review


def review_is_approved(session: Session, incident_id: int) -> bool:
    status = session.scalar(
        sa.select(PostIncidentReview.status).where(PostIncidentReview.incident_id == incident_id)
    )
    return status in (R.APPROVED, R.PUBLISHED)
