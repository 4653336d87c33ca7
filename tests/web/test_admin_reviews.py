"""Closure report and post-incident review screens."""

import re

import sqlalchemy as sa

from statuspage.incidents.models import ClosureReport, PostIncidentReview, ReviewStatus


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_review_starts_with_the_incident_timeline_and_needs_a_manager_to_approve(
    app, client, session, make_user, login, make_incident
):
    incident = make_incident("Checkout down", body="We are looking into it.")
    incident_id = incident.id
    responder = make_user("responder")
    login(responder)
    url = f"/admin/incidents/{incident_id}/review"
    assert "Start the review" in text(client.get(url))
    assert client.post(f"{url}/start").status_code == 302
    assert client.post(f"{url}/start").status_code == 409  # one review per incident
    review = session.scalar(sa.select(PostIncidentReview))
    texts = [entry["text"] for entry in review.timeline]
    assert "Impact started" in texts
    assert "Public update (investigating): We are looking into it." in texts

    refused = client.post(f"{url}/in_review")
    assert refused.status_code == 409  # no summary yet
    bad = client.post(url, data={"summary": "x", "timeline": "yesterday | something"})
    assert bad.status_code == 400 and "Line 1: start with a time" in text(bad)
    saved = client.post(
        url,
        data={
            "summary": "A **bad** deploy",
            "went_well": "Fast rollback",
            "timeline": "2026-05-04T09:30:00+00:00 | Deploy started\n"
            "2026-05-04T09:41:00 | Errors seen",
        },
    )
    assert saved.status_code == 302
    assert client.post(f"{url}/in_review").status_code == 302
    assert client.post(f"{url}/approved").status_code == 403  # a manager's call
    manager = make_user("manager")
    other = app.test_client()
    assert (
        other.post(
            "/login", data={"email": manager.email, "password": "a perfectly long password"}
        ).status_code
        == 302
    )
    assert other.post(f"{url}/approved").status_code == 302
    session.expire_all()
    review = session.scalar(sa.select(PostIncidentReview))
    assert review.status == ReviewStatus.APPROVED and review.approved_by_id == manager.id
    assert review.timeline[1] == {"at": "2026-05-04T09:41:00+00:00", "text": "Errors seen"}
    page = text(client.get(url))
    assert "<strong>bad</strong>" in page and "Save review" not in page  # locked once approved


def test_closure_report_needs_publish_permission_and_every_section(
    app, client, session, make_user, login, make_incident
):
    incident = make_incident("API errors")
    incident_id = incident.id
    url = f"/admin/incidents/{incident_id}/closure-report"
    login(make_user("responder"))
    assert client.get(url).status_code == 200
    assert client.post(url, data={"summary": "s"}).status_code == 403
    communicator = app.test_client()
    user = make_user("communicator")
    communicator.post("/login", data={"email": user.email, "password": "a perfectly long password"})
    missing = communicator.post(url, data={"summary": "s", "impact": "i"})
    assert missing.status_code == 400
    assert session.scalar(sa.select(sa.func.count(ClosureReport.id))) == 0
    done = communicator.post(
        url,
        data={
            "summary": "Errors for 20 minutes",
            "impact": "All",
            "cause": "Deploy",
            "resolution": "Rollback",
            "prevention": "Canary <script>x()</script>",
        },
    )
    assert done.status_code == 302
    public = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "Errors for 20 minutes" in public and "<script>x()" not in public
