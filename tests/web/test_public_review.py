"""The post-incident review in public: on the incident's page (templates/public/_review.html),
in the feeds and in the JSON API; only when staff chose to publish it publicly, never a draft,
and never the names of the staff who own its action items."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from html.parser import HTMLParser

import feedparser
import pytest
from flask import render_template

from statuspage.incidents import reviews
from statuspage.incidents.models import Incident, PostIncidentReview
from statuspage.incidents.queries import published_review
from statuspage.public.api_v2_format import timestamp
from statuspage.templating import iso8601

SITE = "http://localhost"
HOSTILE = '<script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror="alert(3)">'


def text(html: str) -> str:
    return re.sub(r"\s+", " ", html)


class Tags(HTMLParser):
    """Every tag and attribute, as a browser would see them (escaped text is not a tag)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


def assert_inert(html: str) -> None:
    found = Tags()
    found.feed(html)
    assert not {"script", "img", "iframe", "svg"} & set(found.tags)
    for name, value in found.attributes:
        assert not name.startswith("on"), (name, value)
        assert not value.strip().lower().startswith("javascript:"), (name, value)


@dataclass
class Story:
    public: Incident
    review: PostIncidentReview
    draft: Incident
    internal: Incident
    published_at: datetime
    completed_at: datetime


def review_of(session, incident, now, summary: str, **sections: str) -> PostIncidentReview:
    review = reviews.start_review(session, incident, actor_id=None, now=now)
    reviews.update_review(
        session,
        review,
        reviews.ReviewText(summary=summary, **sections),
        actor_id=None,
        now=now,
    )
    return review


def approve(session, incident, review, now) -> None:
    for status in ("in_review", "approved"):
        reviews.move_review(session, incident, review, status, actor_id=None, now=now)


@pytest.fixture
def story(session, make_user, make_component, make_incident, now) -> Story:
    owner = make_user("responder", email="olivia.owner@example.com", name="Olivia Owner")
    api = make_component("API")
    started = now - timedelta(days=3)
    incident = make_incident(
        "Checkout down",
        components={api.id: "major_outage"},
        started=started,
        resolved_after=timedelta(hours=1),
        body="We are looking into it.",
    )
    review = review_of(
        session,
        incident,
        now - timedelta(days=2),
        "A **bad** deploy broke checkout.",
        trigger="Deploy 42.",
        went_well="Fast rollback. " + HOSTILE,
    )
    approve(session, incident, review, now - timedelta(days=2))
    items = [
        ("Add a canary stage", "P1", "done"),
        ("Alert on checkout errors", "P2", "open"),
        ("Rewrite the deploy tool", "P4", "cancelled"),
    ]
    for title, priority, _ in items:
        reviews.add_action_item(
            session,
            incident,
            review,
            reviews.ActionItemInput(
                title=title, priority=priority, owner_id=owner.id, due_at=now - timedelta(days=1)
            ),
            actor_id=None,
            now=now - timedelta(days=2),
        )
    published_at = now - timedelta(days=1, hours=12)
    reviews.publish_review(
        session, incident, review, publish_publicly=True, actor_id=None, now=published_at
    )
    completed_at = now - timedelta(hours=5)
    for row, (_, _, status) in zip(review.action_items, items, strict=True):
        reviews.set_action_item_status(
            session, incident, review, row.id, status, actor_id=None, now=completed_at
        )

    draft_incident = make_incident("Search slow", started=now - timedelta(days=4))
    review_of(session, draft_incident, now, "DRAFT-SECRET words")
    internal_incident = make_incident(
        "Login errors", started=now - timedelta(days=5), resolved_after=timedelta(hours=1)
    )
    internal = review_of(session, internal_incident, now, "INTERNAL-SECRET words")
    approve(session, internal_incident, internal, now)
    reviews.publish_review(
        session, internal_incident, internal, publish_publicly=False, actor_id=None, now=now
    )
    session.commit()
    return Story(incident, review, draft_incident, internal_incident, published_at, completed_at)


def render_partial(app, session, incident_id: int, now: datetime) -> str:
    with app.test_request_context():
        return render_template(
            "public/_review.html", review=published_review(session, incident_id), now=now
        )


def test_the_partial_shows_sections_timeline_and_action_item_progress(app, session, story, now):
    html = render_partial(app, session, story.public.id, now)
    page = text(html)
    assert "<strong>bad</strong> deploy broke checkout." in page
    assert "<h3>Trigger</h3>" in page and "Deploy 42." in page
    assert "<h3>Leadup</h3>" not in page  # empty sections are left out
    assert f'<time datetime="{iso8601(story.published_at)}"' in html
    # The prefilled timeline, each moment with its zone.
    assert "Impact started" in page
    assert "Public update (investigating): We are looking into it." in page
    assert f'<time datetime="{iso8601(story.public.impact_started_at)}"' in html
    # Progress in words; each item's status in words, never colour alone.
    assert "Progress: 1 of 2 done (1 cancelled)." in page
    for words in ("Add a canary stage", "Done", "Alert on checkout errors", "Open", "Cancelled"):
        assert words in page
    assert "(past its due date)" in page  # the open one
    assert f'<time datetime="{iso8601(story.completed_at)}"' in html
    assert "P1" in page and "P4" in page
    # Staff names never reach customers; hostile Markdown stays inert.
    assert "Olivia" not in html and "olivia.owner" not in html
    assert "Fast rollback." in page
    assert_inert(html)


def test_the_partial_without_a_public_review_says_where_it_will_appear(app, session, story, now):
    for incident in (story.draft, story.internal):
        html = render_partial(app, session, incident.id, now)
        assert "If we publish a post-incident review" in html
        assert "SECRET" not in html


def test_the_incident_page_shows_the_published_review(client, story):
    # Needs `{% include "public/_review.html" %}` in templates/public/incident.html.
    page = text(client.get(f"/incidents/{story.public.id}").get_data(as_text=True))
    assert 'id="review"' in page
    assert "<strong>bad</strong> deploy broke checkout." in page
    assert "Progress: 1 of 2 done (1 cancelled)." in page
    assert "Olivia" not in page


def test_drafts_and_internal_reviews_never_leak(client, story):
    places = [
        f"/incidents/{story.draft.id}",
        f"/incidents/{story.internal.id}",
        "/history.rss",
        "/history.atom",
        "/api/v2/incidents.json",
        "/api/v2/summary.json",
    ]
    for path in places:
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.get_data(as_text=True)
        assert "DRAFT-SECRET" not in body and "INTERNAL-SECRET" not in body, path
        assert "olivia" not in body.lower(), path


def test_feeds_carry_the_public_review_summary_progress_and_link(client, story):
    for kind in ("rss", "atom"):
        parsed = feedparser.parse(client.get(f"/history.{kind}").data)
        entries = {entry.title: entry for entry in parsed.entries}
        entry = entries["Checkout down"]
        content = entry.content[0].value if kind == "atom" else entry.description
        assert "Post-incident review" in content
        assert "<strong>bad</strong> deploy broke checkout." in content
        assert "Action items: 1 of 2 done (1 cancelled)." in content
        assert f'href="{SITE}/incidents/{story.public.id}#review"' in content
        assert "Deploy 42." not in content  # the summary only; the rest is on the page
        # Updated: the latest public change, the action items' progress.
        assert entry.updated_parsed[:6] == story.completed_at.timetuple()[:6]
        for other in ("Search slow", "Login errors"):
            other_entry = entries[other]
            other_content = (
                other_entry.content[0].value if kind == "atom" else other_entry.description
            )
            assert "Post-incident review" not in other_content


def test_json_api_fills_the_postmortem_only_when_public(client, story):
    incidents = {i["name"]: i for i in client.get("/api/v2/incidents.json").get_json()["incidents"]}
    public = incidents["Checkout down"]
    assert public["status"] == "postmortem"
    assert public["postmortem_published_at"] == timestamp(story.published_at)
    body = public["postmortem_body"]
    assert body.startswith("## Summary\n\nA **bad** deploy broke checkout.")
    assert "## Trigger\n\nDeploy 42." in body
    assert "Action items: 1 of 2 done (1 cancelled)." in body
    assert body.endswith(f"{SITE}/incidents/{story.public.id}#review")
    assert "Olivia" not in body
    for name in ("Search slow", "Login errors"):
        assert incidents[name]["postmortem_body"] is None
        assert incidents[name]["postmortem_published_at"] is None
    assert incidents["Login errors"]["status"] == "resolved"


def test_page_statements_do_not_grow_with_action_items(client, session, story, count_queries, now):
    url = f"/incidents/{story.public.id}"
    few = count_queries(lambda: client.get(url))
    for number in range(8):
        reviews.add_action_item(
            session,
            story.public,
            story.review,
            reviews.ActionItemInput(title=f"Item {number}", priority="P3"),
            actor_id=None,
            now=now,
        )
    session.commit()
    assert count_queries(lambda: client.get(url)) == few
