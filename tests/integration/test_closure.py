"""Closure reports and post-incident reviews in the domain: what is required to close, what is
published, what notifies subscribers (once), and what never reaches customers."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from statuspage.config import ConfigError, parse_priorities
from statuspage.core.errors import DomainError, InvalidTransition, NotFound
from statuspage.core.models import AuditEntry, SiteState
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.incidents import reviews
from statuspage.incidents.closure import (
    SECTION_MAX,
    ClosureReportText,
    closure_report_prefill,
    write_closure_report,
)
from statuspage.incidents.lifecycle import TransitionDetails, transition_incident
from statuspage.incidents.models import (
    ClosureReport,
    IncidentStatus,
    Priority,
    ReviewActionItem,
    ReviewStatus,
    TaskStatus,
)
from statuspage.incidents.queries import published_review

S = IncidentStatus
REPORT = ClosureReportText(
    summary="Checkout failed for 20 minutes.",
    impact="About 5% of payments.",
    cause="A bad deploy.",
    resolution="Rolled back.",
    prevention="Canary deploys.",
)
RESOLUTION = TransitionDetails(
    resolution_code="rolled_back",
    resolution_summary="Rolled back deploy 42.",
    verification="Checked payments.",
)


def public_version(session) -> int:
    return session.scalar(sa.select(SiteState.public_version).where(SiteState.id == 1))


def notifications(session, kind: NotificationKind) -> list[Notification]:
    return list(session.scalars(sa.select(Notification).where(Notification.kind == kind)))


def resolve(session, incident, now) -> None:
    transition_incident(session, incident, S.INVESTIGATING, actor_id=None, now=now)
    transition_incident(session, incident, S.RESOLVED, actor_id=None, now=now, details=RESOLUTION)


# Closure reports


def test_closing_a_public_incident_needs_its_closure_report(session, make_incident, now):
    incident = make_incident("Checkout errors")
    resolve(session, incident, now)
    with pytest.raises(InvalidTransition, match="write its closure report"):
        transition_incident(session, incident, S.CLOSED, actor_id=None, now=now)
    write_closure_report(session, incident, REPORT, actor_id=None, now=now)
    transition_incident(session, incident, S.CLOSED, actor_id=None, now=now)
    assert incident.status == S.CLOSED


def test_an_internal_incident_closes_without_a_report(session, make_incident, now):
    incident = make_incident("Internal only", public=False)
    resolve(session, incident, now)
    transition_incident(session, incident, S.CLOSED, actor_id=None, now=now)
    assert incident.status == S.CLOSED


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cause", "   ", "needs its cause"),
        ("prevention", "", "so it does not happen again"),
        ("summary", "x" * (SECTION_MAX + 1), "under 20000 characters"),
    ],
)
def test_a_refused_report_writes_nothing(session, make_incident, now, field, value, message):
    incident = make_incident("API errors")
    session.commit()
    before = public_version(session)
    audits = session.scalar(sa.select(sa.func.count(AuditEntry.id)))
    text = ClosureReportText(**{**REPORT.__dict__, field: value})
    with pytest.raises(DomainError, match=message) as refused:
        write_closure_report(session, incident, text, actor_id=None, now=now)
    assert refused.value.field == field
    session.rollback()
    assert session.scalar(sa.select(sa.func.count(ClosureReport.id))) == 0
    assert notifications(session, NotificationKind.CLOSURE_REPORT) == []
    assert session.scalar(sa.select(sa.func.count(AuditEntry.id))) == audits
    assert public_version(session) == before


def test_publishing_notifies_once_and_edits_keep_the_first_publication(
    session, make_component, make_incident, now
):
    api = make_component("API")
    incident = make_incident("API errors", components={api.id: "major_outage"})
    session.commit()
    before = public_version(session)
    report = write_closure_report(session, incident, REPORT, actor_id=None, now=now)
    session.commit()
    assert report.published_at == now
    assert public_version(session) == before + 1
    [sent] = notifications(session, NotificationKind.CLOSURE_REPORT)
    assert sent.incident_id == incident.id and sent.component_ids == [api.id]

    later = now + timedelta(hours=1)
    edited = ClosureReportText(**{**REPORT.__dict__, "cause": "A bad config push."})
    write_closure_report(session, incident, edited, actor_id=None, now=later)
    session.commit()
    assert report.published_at == now  # the first publication stays
    assert report.cause == "A bad config push."
    assert public_version(session) == before + 2  # the page changed
    assert len(notifications(session, NotificationKind.CLOSURE_REPORT)) == 1  # no new email
    audit = session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.entity_type == "closure_report")
        .order_by(AuditEntry.id)
    ).all()
    assert [entry.action for entry in audit] == ["write", "edit"]
    assert audit[1].changes["fields"] == ["cause"]


def test_a_report_on_an_internal_incident_stays_unpublished(session, make_incident, now):
    incident = make_incident("Internal only", public=False)
    session.commit()
    before = public_version(session)
    report = write_closure_report(session, incident, REPORT, actor_id=None, now=now)
    session.commit()
    assert report.published_at is None
    assert notifications(session, NotificationKind.CLOSURE_REPORT) == []
    assert public_version(session) == before


def test_prefill_takes_duration_components_and_resolution_from_the_incident(
    session, make_component, make_incident, now
):
    api = make_component("API")
    web = make_component("Web app")
    incident = make_incident(
        "Slow",
        components={api.id: "degraded_performance", web.id: "partial_outage"},
        started=now - timedelta(hours=2),
        resolved_after=timedelta(minutes=95),
    )
    resolve(session, incident, now)
    text = closure_report_prefill(incident)
    assert "Duration: 1 h 35 min" in text.impact
    assert "Affected components: API, Web app." in text.impact
    assert text.resolution == "Rolled back deploy 42."
    assert text.summary == text.cause == text.prevention == ""


# Reviews


def approved_review(session, incident, now):
    review = reviews.start_review(session, incident, actor_id=None, now=now)
    reviews.update_review(
        session, review, reviews.ReviewText(summary="A bad deploy."), actor_id=None, now=now
    )
    reviews.move_review(session, incident, review, ReviewStatus.IN_REVIEW, actor_id=None, now=now)
    reviews.move_review(session, incident, review, ReviewStatus.APPROVED, actor_id=None, now=now)
    return review


def test_review_published_internally_then_publicly(session, make_incident, now):
    incident = make_incident("Checkout down")
    review = approved_review(session, incident, now)
    with pytest.raises(InvalidTransition, match="publish step"):
        reviews.move_review(
            session, incident, review, ReviewStatus.PUBLISHED, actor_id=None, now=now
        )
    session.commit()
    before = public_version(session)

    reviews.publish_review(
        session, incident, review, publish_publicly=False, actor_id=None, now=now
    )
    session.commit()
    assert review.status == ReviewStatus.PUBLISHED and review.published_at is None
    assert published_review(session, incident.id) is None
    assert notifications(session, NotificationKind.REVIEW_PUBLISHED) == []
    assert public_version(session) == before
    with pytest.raises(InvalidTransition, match="already published internally"):
        reviews.publish_review(
            session, incident, review, publish_publicly=False, actor_id=None, now=now
        )

    later = now + timedelta(days=1)
    reviews.publish_review(
        session, incident, review, publish_publicly=True, actor_id=None, now=later
    )
    session.commit()
    assert review.published_at == later and review.publish_publicly
    assert published_review(session, incident.id).summary == "A bad deploy."
    assert len(notifications(session, NotificationKind.REVIEW_PUBLISHED)) == 1
    assert public_version(session) == before + 1
    with pytest.raises(InvalidTransition, match="already published on the public"):
        reviews.publish_review(
            session, incident, review, publish_publicly=True, actor_id=None, now=later
        )


def test_only_an_approved_review_of_a_public_incident_is_published_publicly(
    session, make_incident, now
):
    draft_incident = make_incident("Draft one")
    draft = reviews.start_review(session, draft_incident, actor_id=None, now=now)
    with pytest.raises(InvalidTransition, match="needs to be approved"):
        reviews.publish_review(
            session, draft_incident, draft, publish_publicly=True, actor_id=None, now=now
        )
    internal = make_incident("Internal", public=False)
    review = approved_review(session, internal, now)
    with pytest.raises(InvalidTransition, match="never public"):
        reviews.publish_review(
            session, internal, review, publish_publicly=True, actor_id=None, now=now
        )
    assert review.status == ReviewStatus.APPROVED and review.published_at is None
    assert notifications(session, NotificationKind.REVIEW_PUBLISHED) == []


def test_action_items_are_audited_and_stamp_completion(session, make_user, make_incident, now):
    owner = make_user("responder")
    incident = make_incident("Checkout down")
    review = approved_review(session, incident, now)
    item = reviews.add_action_item(
        session,
        incident,
        review,
        reviews.ActionItemInput(
            title="Add a canary stage", priority="P2", owner_id=owner.id, due_at=now
        ),
        actor_id=owner.id,
        now=now,
    )
    assert item.status == TaskStatus.OPEN and item.completed_at is None
    for bad, field in (
        (reviews.ActionItemInput(title=" ", priority="P2"), "title"),
        (reviews.ActionItemInput(title="x", priority="P9"), "priority"),
        (reviews.ActionItemInput(title="x", priority="P2", owner_id=9999), "owner"),
    ):
        with pytest.raises(DomainError) as refused:
            reviews.add_action_item(session, incident, review, bad, actor_id=None, now=now)
        assert refused.value.field == field

    done_at = now + timedelta(days=2)
    reviews.set_action_item_status(
        session, incident, review, item.id, "done", actor_id=None, now=done_at
    )
    assert item.completed_at == done_at
    reviews.set_action_item_status(
        session, incident, review, item.id, "open", actor_id=None, now=done_at
    )
    assert item.completed_at is None
    reviews.edit_action_item(
        session,
        incident,
        review,
        item.id,
        reviews.ActionItemInput(title="Add two canary stages", priority="P1"),
        actor_id=None,
        now=done_at,
    )
    assert (item.title, item.priority, item.owner_id) == (
        "Add two canary stages",
        Priority.P1,
        None,
    )
    with pytest.raises(NotFound):
        reviews.set_action_item_status(
            session, incident, review, 9999, "done", actor_id=None, now=now
        )
    actions = session.scalars(
        sa.select(AuditEntry.action)
        .where(AuditEntry.entity_type == "review_action_item")
        .order_by(AuditEntry.id)
    ).all()
    assert actions == ["add", "status", "status", "edit"]

    reviews.remove_action_item(session, incident, review, item.id, actor_id=None, now=now)
    assert session.scalar(sa.select(sa.func.count(ReviewActionItem.id))) == 0


def test_action_items_of_a_public_review_bump_the_public_version(session, make_incident, now):
    incident = make_incident("Checkout down")
    review = approved_review(session, incident, now)
    item = reviews.add_action_item(
        session,
        incident,
        review,
        reviews.ActionItemInput(title="Canary", priority="P2"),
        actor_id=None,
        now=now,
    )
    reviews.publish_review(
        session, incident, review, publish_publicly=False, actor_id=None, now=now
    )
    session.commit()
    before = public_version(session)
    reviews.set_action_item_status(
        session, incident, review, item.id, "done", actor_id=None, now=now
    )
    assert public_version(session) == before  # internal only: customers see no change
    with pytest.raises(InvalidTransition, match="cancel the action item"):
        reviews.remove_action_item(session, incident, review, item.id, actor_id=None, now=now)

    reviews.publish_review(session, incident, review, publish_publicly=True, actor_id=None, now=now)
    session.commit()
    before = public_version(session)
    reviews.set_action_item_status(
        session, incident, review, item.id, "cancelled", actor_id=None, now=now
    )
    session.commit()
    assert public_version(session) == before + 1


# The review-required setting


def test_review_required_priorities_are_what_the_caller_passes(session, make_incident, now):
    incident = make_incident("Minor glitch", public=False)
    incident.priority = Priority.P3
    resolve(session, incident, now)
    with pytest.raises(InvalidTransition, match="P3 incidents need an approved"):
        transition_incident(
            session, incident, S.CLOSED, actor_id=None, now=now, review_required_for={"P3"}
        )
    transition_incident(session, incident, S.CLOSED, actor_id=None, now=now)  # default P1, P2
    assert incident.status == S.CLOSED

    major = make_incident("Major outage", public=False)
    major.priority = Priority.P1
    resolve(session, major, now)
    with pytest.raises(InvalidTransition, match="P1 incidents need an approved"):
        transition_incident(session, major, S.CLOSED, actor_id=None, now=now)
    transition_incident(
        session, major, S.CLOSED, actor_id=None, now=now, review_required_for=frozenset()
    )
    assert major.status == S.CLOSED


def test_review_required_priorities_setting_is_parsed_and_checked():
    assert parse_priorities("P1,P2") == {"P1", "P2"}
    assert parse_priorities(" p3 , P4 ") == {"P3", "P4"}
    assert parse_priorities(["P1"]) == {"P1"}
    assert parse_priorities("") == frozenset()
    assert parse_priorities("none") == frozenset()
    with pytest.raises(ConfigError, match="P5"):
        parse_priorities("P1,P5")
    with pytest.raises(ConfigError):
        parse_priorities(3)


def test_the_prefills_show_times_to_the_second_and_name_their_zone(
    session, make_incident, make_component, now
):
    from statuspage.admin.forms import timeline_text

    started = now.replace(microsecond=0) - timedelta(hours=2, microseconds=-123456)
    incident = make_incident(
        "Slow",
        components={make_component("API").id: "degraded_performance"},
        started=started,
        resolved_after=timedelta(minutes=95),
    )
    resolve(session, incident, now.replace(microsecond=654321))

    entries = reviews.prefilled_timeline(session, incident)

    assert entries and all("." not in entry["at"] for entry in entries)
    assert all(entry["at"].endswith("+00:00") for entry in entries)
    # A review saved with microseconds shows them to the second in the editor too.
    assert timeline_text([{"at": "2026-03-02T08:00:05.123456+00:00", "text": "Paged"}]) == (
        "2026-03-02T08:00:05+00:00 | Paged"
    )
    impact = closure_report_prefill(incident).impact
    start_text = f"{started:%H:%M} UTC"
    assert f"{start_text} to " in impact  # the zone named, as the page's local times are not
