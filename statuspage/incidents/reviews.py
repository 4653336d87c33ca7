"""Blameless post-incident reviews: start (timeline prefilled), edit, submit, approve, publish;
and their action items.

Required before closing P1 and P2 incidents by default (the site's REVIEW_REQUIRED_PRIORITIES,
passed to `lifecycle.transition_incident`). Once approved, a review is published: either
internally only (status published, nothing on the public site) or publicly as well, which
puts it on the incident's public page, in the feeds and the JSON API, and tells subscribers.
A review published internally can be made public later. "Publicly published" is
`status == published` with `published_at` set; nothing else reaches customers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.auth.models import User
from statuspage.core.errors import DomainError, InvalidTransition, NotFound, Term
from statuspage.core.outbox import NotificationKind, queue_notification
from statuspage.core.records import bump_public_version, record_audit, record_event, touch
from statuspage.core.text import single_line
from statuspage.core.translation import N_
from statuspage.incidents import stakeholder_events, versioning
from statuspage.incidents.models import (
    Incident,
    IncidentUpdate,
    PostIncidentReview,
    Priority,
    ReviewActionItem,
    ReviewStatus,
    TaskStatus,
)

logger = logging.getLogger(__name__)

TEXT_MAX = 50_000
ACTION_TITLE_MAX = 200

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
    # Only public updates: a review may be published, and updates to audiences are private.
    entries += [
        (update.published_at, f"Public update ({update.status.value}): {update.body}")
        for update in updates
        if update.published_at is not None and not update.audiences
    ]
    entries.sort(key=lambda entry: entry[0])
    # To the second, as the editor's other times: microseconds are noise to a reader.
    return [{"at": timeline_time(at), "text": text} for at, text in entries]


def timeline_time(at: datetime) -> str:
    """A timeline entry's time as stored and edited: ISO 8601 in UTC, whole seconds."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).replace(microsecond=0).isoformat()


def get_review(session: Session, incident: Incident) -> PostIncidentReview | None:
    return session.scalar(
        sa.select(PostIncidentReview).where(PostIncidentReview.incident_id == incident.id)
    )


def start_review(
    session: Session, incident: Incident, *, actor_id: int | None, now: datetime
) -> PostIncidentReview:
    if get_review(session, incident) is not None:
        raise DomainError(N_("This incident has a review already."))
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
    expected_version: int | None = None,
) -> PostIncidentReview:
    """Save the review's text. `expected_version` is the review's version the editor loaded;
    a newer one is a `ConflictError` (someone else saved meanwhile)."""
    if review.status not in (R.DRAFT, R.IN_REVIEW):
        raise DomainError(N_("An approved review is locked; send it back to review to edit it."))
    versioning.check(session, "post_incident_review", review, expected_version, what="review")
    changed = []
    for name in REVIEW_TEXT_FIELDS:
        value = getattr(text, name).strip()
        if len(value) > TEXT_MAX:
            raise DomainError(
                N_("Keep each section under %(max)s characters."), max=TEXT_MAX, field=name
            )
        if getattr(review, name) != value:
            setattr(review, name, value)
            changed.append(name)
    if timeline is not None and timeline != review.timeline:
        review.timeline = timeline
        changed.append("timeline")
    if changed:
        review.updated_at = now
        version = versioning.bump(review)
        record_audit(
            session,
            "post_incident_review",
            review.id,
            "edit",
            {"fields": changed, "version": version},
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
    if target == R.PUBLISHED:
        # Publishing asks whether customers see it; `publish_review` is that step.
        raise InvalidTransition(
            N_("Publish the review with the publish step, choosing who sees it.")
        )
    if target not in REVIEW_MOVES[review.status]:
        raise InvalidTransition(
            N_("A review that is %(current)s cannot become %(target)s."),
            current=review_status_term(review.status),
            target=review_status_term(target),
        )
    if target in (R.IN_REVIEW, R.APPROVED) and not review.summary.strip():
        raise InvalidTransition(N_("Write at least the summary before sending the review on."))
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


def is_public(review: PostIncidentReview | None) -> bool:
    """Whether customers may see the review."""
    return review is not None and review.status == R.PUBLISHED and review.published_at is not None


def publish_review(
    session: Session,
    incident: Incident,
    review: PostIncidentReview,
    *,
    publish_publicly: bool,
    actor_id: int | None,
    now: datetime,
) -> PostIncidentReview:
    """Approved -> published, internally only or publicly as well.

    Publicly: `published_at` is set, the public version bumped and subscribers notified; only
    for an incident customers know about (it had public updates). A review published
    internally may be published publicly later by calling this again with
    `publish_publicly=True`.
    """
    if review.status == R.PUBLISHED:
        if review.published_at is not None:
            raise InvalidTransition(
                N_("This review is already published on the public status page.")
            )
        if not publish_publicly:
            raise InvalidTransition(N_("This review is already published internally."))
    elif review.status != R.APPROVED:
        raise InvalidTransition(
            N_("A review that is %(current)s cannot be published; it needs to be approved first."),
            current=review_status_term(review.status),
        )
    if publish_publicly and not incident.is_public:
        raise InvalidTransition(
            N_(
                "This incident was never public, so its review cannot be published on the public "
                "status page; publish it internally instead."
            ),
        )
    before = review.status
    review.status = R.PUBLISHED
    review.updated_at = now
    changes: dict[str, object] = {"review_id": review.id}
    if before != R.PUBLISHED:
        changes["review_status"] = [before, R.PUBLISHED]
    if publish_publicly:
        review.publish_publicly = True
        review.published_at = now
        changes["published_at"] = now
    changes["public"] = publish_publicly
    changes["version"] = touch(incident, now)
    summary = (
        "Post-incident review published on the public status page"
        if publish_publicly
        else "Post-incident review published internally"
    )
    record_event(session, incident.id, "review", summary, actor_id=actor_id, now=now)
    record_audit(
        session, "incident", incident.id, "publish_review", changes, actor_id=actor_id, now=now
    )
    if before != R.PUBLISHED:
        stakeholder_events.review_published(session, incident, actor_id=actor_id, now=now)
    if publish_publicly:
        bump_public_version(session, now)
        queue_notification(
            session,
            NotificationKind.REVIEW_PUBLISHED,
            incident_id=incident.id,
            component_ids=[link.component_id for link in incident.affected],
            now=now,
        )
    logger.info(
        "review %s of incident %s published (public: %s) by %s",
        review.id,
        incident.id,
        publish_publicly,
        actor_id,
    )
    session.flush()
    return review


# Action items


ACTION_STATUS_WORDS = {
    TaskStatus.OPEN: "open",
    TaskStatus.DONE: "done",
    TaskStatus.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class ActionItemInput:
    title: str
    priority: Priority | str
    owner_id: int | None = None
    due_at: datetime | None = None
    status: TaskStatus | str = TaskStatus.OPEN


def _checked_item(session: Session, item: ActionItemInput) -> tuple[str, Priority, TaskStatus]:
    title = single_line(item.title)
    if not title:
        raise DomainError(N_("An action item needs a title."), field="title")
    if len(title) > ACTION_TITLE_MAX:
        raise DomainError(
            N_("Keep the title under %(max)s characters."), max=ACTION_TITLE_MAX, field="title"
        )
    try:
        priority = Priority(item.priority)
    except ValueError:
        raise DomainError(N_("Choose a priority from P1 to P4."), field="priority") from None
    try:
        status = TaskStatus(item.status)
    except ValueError:
        raise DomainError(N_("Choose open, done or cancelled."), field="status") from None
    if item.owner_id is not None:
        owner = session.get(User, item.owner_id)
        if owner is None or not owner.active:
            raise NotFound(N_("There is no active user with that id."), field="owner")
    return title, priority, status


def _item_of(review: PostIncidentReview, item_id: int) -> ReviewActionItem:
    for item in review.action_items:
        if item.id == item_id:
            return item
    raise NotFound(N_("That action item does not exist on this review."))


def _item_changed(
    session: Session,
    incident: Incident,
    review: PostIncidentReview,
    item_id: int,
    action: str,
    summary: str,
    changes: dict[str, object],
    *,
    actor_id: int | None,
    now: datetime,
) -> None:
    """History of an action item change; customers see the items of a public review."""
    review.updated_at = now
    record_event(
        session,
        incident.id,
        "review",
        summary,
        actor_id=actor_id,
        now=now,
        data={"review_id": review.id, "action_item_id": item_id},
    )
    record_audit(
        session,
        "review_action_item",
        item_id,
        action,
        {"incident_id": incident.id, "review_id": review.id, **changes},
        actor_id=actor_id,
        now=now,
    )
    if is_public(review):
        bump_public_version(session, now)


def add_action_item(
    session: Session,
    incident: Incident,
    review: PostIncidentReview,
    item: ActionItemInput,
    *,
    actor_id: int | None,
    now: datetime,
) -> ReviewActionItem:
    title, priority, status = _checked_item(session, item)
    row = ReviewActionItem(
        title=title,
        priority=priority,
        owner_id=item.owner_id,
        due_at=item.due_at,
        status=status,
        created_at=now,
        completed_at=now if status != TaskStatus.OPEN else None,
    )
    review.action_items.append(row)
    session.flush()
    _item_changed(
        session,
        incident,
        review,
        row.id,
        "add",
        f"Review action item added: {title}",
        {
            "title": title,
            "priority": priority,
            "owner_id": item.owner_id,
            "due_at": item.due_at,
            "status": status,
        },
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return row


def edit_action_item(
    session: Session,
    incident: Incident,
    review: PostIncidentReview,
    item_id: int,
    item: ActionItemInput,
    *,
    actor_id: int | None,
    now: datetime,
) -> ReviewActionItem:
    """Change an item's title, owner, priority, due date and status (the status as in
    `set_action_item_status`)."""
    row = _item_of(review, item_id)
    title, priority, status = _checked_item(session, item)
    changes: dict[str, object] = {}
    for name, value in (
        ("title", title),
        ("priority", priority),
        ("owner_id", item.owner_id),
        ("due_at", item.due_at),
    ):
        if getattr(row, name) != value:
            changes[name] = [getattr(row, name), value]
            setattr(row, name, value)
    if row.status != status:
        changes["status"] = [row.status, status]
        row.status = status
        row.completed_at = now if status != TaskStatus.OPEN else None
    if changes:
        _item_changed(
            session,
            incident,
            review,
            row.id,
            "edit",
            f"Review action item edited: {title}",
            changes,
            actor_id=actor_id,
            now=now,
        )
    session.flush()
    return row


def set_action_item_status(
    session: Session,
    incident: Incident,
    review: PostIncidentReview,
    item_id: int,
    status: TaskStatus | str,
    *,
    actor_id: int | None,
    now: datetime,
) -> ReviewActionItem:
    """Open, done or cancelled; leaving open stamps `completed_at`, reopening clears it."""
    row = _item_of(review, item_id)
    try:
        status = TaskStatus(status)
    except ValueError:
        raise DomainError(N_("Choose open, done or cancelled."), field="status") from None
    before = row.status
    if before == status:
        return row
    row.status = status
    row.completed_at = now if status != TaskStatus.OPEN else None
    _item_changed(
        session,
        incident,
        review,
        row.id,
        "status",
        f"Review action item {ACTION_STATUS_WORDS[status]}: {row.title}",
        {"status": [before, status]},
        actor_id=actor_id,
        now=now,
    )
    session.flush()
    return row


def remove_action_item(
    session: Session,
    incident: Incident,
    review: PostIncidentReview,
    item_id: int,
    *,
    actor_id: int | None,
    now: datetime,
) -> None:
    """Remove an item, while the review is not published (after that, cancel it instead)."""
    if review.status == R.PUBLISHED:
        raise InvalidTransition(
            N_("The review is published: cancel the action item instead of removing it.")
        )
    row = _item_of(review, item_id)
    review.action_items.remove(row)
    session.flush()
    _item_changed(
        session,
        incident,
        review,
        item_id,
        "remove",
        f"Review action item removed: {row.title}",
        {"title": row.title},
        actor_id=actor_id,
        now=now,
    )
    session.flush()


def parse_timeline_time(value: object) -> datetime | None:
    """A stored timeline entry's time, or None when it does not parse."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


REVIEW_STATUS_WORDS = {
    "draft": N_("Draft"),
    "in_review": N_("In review"),
    "approved": N_("Approved"),
    "published": N_("Published"),
}


def review_status_term(status: ReviewStatus) -> Term:
    """A review status in a refusal: "in review" in English, its label translated."""
    value = ReviewStatus(status).value
    return Term(value.replace("_", " "), REVIEW_STATUS_WORDS[value])
