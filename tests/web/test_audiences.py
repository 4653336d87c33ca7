"""Audiences through the test client: signing in by email link, what a member sees and how
it is marked, the cache and robots headers, IP ranges, staff, the publish rules for updates
to audiences, the admin pages, feed tokens, and email subscriptions per audience."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from statuspage.audiences import access, manage
from statuspage.audiences.models import Audience, AudienceFeedToken, ReaderSignInToken
from statuspage.core.errors import DomainError
from statuspage.incidents.models import Incident, IncidentUpdate
from statuspage.incidents.publishing import post_update
from statuspage.notifications.models import Subscriber
from tests.web.audience_site import (
    AUDIENCE_NAME,
    MEMBER,
    OTHER_MEMBER,
    PRIVATE_COMPONENT,
    PRIVATE_INCIDENT_TITLE,
    PRIVATE_UPDATE,
    PUBLIC_UPDATE,
    AudienceSite,
    build_site,
    mails,
    sign_in_link,
    text_of,
)


@pytest.fixture
def mail_dir(app: Flask, tmp_path: Path, immediate_huey: Any) -> Path:
    directory = tmp_path / "mail"
    app.config.update(MAIL_TRANSPORT="file", MAIL_FILE_DIR=str(directory))
    return directory


@pytest.fixture
def site(session: Any, now: datetime) -> AudienceSite:
    return build_site(session, now)


def sign_in(client: FlaskClient, mail_dir: Path, address: str) -> None:
    response = client.post("/sign-in", data={"email": address})
    assert response.status_code == 200
    link = sign_in_link(mail_dir, address)
    assert "Sign in" in client.get(link).get_data(as_text=True)  # GET only asks
    response = client.post(link)
    assert response.status_code == 303


# --- signing in ----------------------------------------------------------------------------


def test_a_member_signs_in_with_a_single_use_link(
    client: FlaskClient, mail_dir: Path, site: AudienceSite, session: Any
) -> None:
    client.post("/sign-in", data={"email": "CTO@Enterprise.example"})
    link = sign_in_link(mail_dir, MEMBER)
    # Only the hash is stored.
    stored = session.scalars(sa.select(ReaderSignInToken.token_hash)).all()
    assert stored and link.rsplit("/", 1)[1] not in stored
    response = client.post(link)
    assert response.status_code == 303
    assert "statuspage_reader=" in response.headers.get("Set-Cookie", "")
    page = client.get("/").get_data(as_text=True)
    assert PRIVATE_COMPONENT in page and f"Visible to {AUDIENCE_NAME} only" in page
    assert f"Signed in as {MEMBER}" in page
    # A second use of the same link fails, even from another browser.
    other = client.application.test_client()
    assert other.post(link).status_code == 400
    assert PRIVATE_COMPONENT not in other.get("/").get_data(as_text=True)


def test_the_answer_is_the_same_for_any_address_and_only_allowed_ones_get_mail(
    client: FlaskClient, mail_dir: Path, site: AudienceSite
) -> None:
    allowed = client.post("/sign-in", data={"email": MEMBER})
    unknown = client.post("/sign-in", data={"email": "someone@elsewhere.example"})
    sub_domain = client.post("/sign-in", data={"email": "x@mail.enterprise.example"})
    assert allowed.status_code == unknown.status_code == sub_domain.status_code == 200
    assert allowed.get_data() == unknown.get_data() == sub_domain.get_data()
    assert allowed.headers["Cache-Control"] == "private, no-store"
    recipients = [str(message["To"]) for message in mails(mail_dir)]
    assert recipients == [MEMBER]


def test_expired_and_made_up_links_do_not_sign_in(
    client: FlaskClient, mail_dir: Path, site: AudienceSite, session: Any
) -> None:
    client.post("/sign-in", data={"email": MEMBER})
    link = sign_in_link(mail_dir, MEMBER)
    session.execute(
        sa.update(ReaderSignInToken).values(
            expires_at=datetime.now().astimezone() - timedelta(seconds=1)
        )
    )
    session.commit()
    assert client.post(link).status_code == 400
    assert client.post("/sign-in/not-a-real-token").status_code == 400
    assert PRIVATE_COMPONENT not in client.get("/").get_data(as_text=True)


def test_an_address_taken_off_the_audience_loses_access_at_once(
    client: FlaskClient, mail_dir: Path, site: AudienceSite, session: Any
) -> None:
    sign_in(client, mail_dir, MEMBER)
    assert PRIVATE_COMPONENT in client.get("/").get_data(as_text=True)
    manage.update_audience(
        session,
        site.enterprise_id,
        manage.AudienceFields(name=AUDIENCE_NAME, allowed_domains=[]),
        actor_id=None,
        now=datetime.now().astimezone(),
    )
    session.commit()
    assert PRIVATE_COMPONENT not in client.get("/").get_data(as_text=True)


def test_sign_in_links_are_rate_limited_per_address(
    app: Flask, client: FlaskClient, mail_dir: Path, site: AudienceSite
) -> None:
    app.config["READER_LINK_LIMIT"] = 2
    for _ in range(4):
        assert client.post("/sign-in", data={"email": MEMBER}).status_code == 200
    assert len(mails(mail_dir)) == 2


def test_sign_out_ends_the_private_view(
    client: FlaskClient, mail_dir: Path, site: AudienceSite
) -> None:
    sign_in(client, mail_dir, MEMBER)
    response = client.post("/sign-out")
    assert response.status_code == 303
    page = client.get("/")
    assert PRIVATE_COMPONENT not in page.get_data(as_text=True)


# --- what each reader sees --------------------------------------------------------------------


def test_a_member_sees_private_parts_marked_and_the_public_sees_none(
    client: FlaskClient, mail_dir: Path, site: AudienceSite
) -> None:
    anonymous = client.application.test_client()
    other = client.application.test_client()
    sign_in(client, mail_dir, MEMBER)
    sign_in(other, mail_dir, OTHER_MEMBER)
    for path in ("/", f"/incidents/{site.incident_id}", "/history"):
        member_page = client.get(path)
        assert member_page.status_code == 200
        text = member_page.get_data(as_text=True)
        assert f"Visible to {AUDIENCE_NAME} only" in text, path
        assert member_page.headers["Cache-Control"] == "private, no-store"
        assert "Cookie" in member_page.headers.get("Vary", "")
        assert member_page.headers["X-Robots-Tag"] == "noindex"
        assert '<meta name="robots" content="noindex">' in text
        assert "X-Public-Cache" not in member_page.headers
        for reader in (anonymous, other):
            seen = reader.get(path).get_data(as_text=True)
            assert PRIVATE_UPDATE not in seen and PRIVATE_COMPONENT not in seen, path
            assert AUDIENCE_NAME not in seen, path
    incident_page = client.get(f"/incidents/{site.incident_id}").get_data(as_text=True)
    assert PRIVATE_UPDATE in incident_page and PUBLIC_UPDATE in incident_page
    assert PRIVATE_INCIDENT_TITLE in client.get("/").get_data(as_text=True)
    assert client.get(f"/incidents/{site.private_incident_id}").status_code == 200
    assert anonymous.get(f"/incidents/{site.private_incident_id}").status_code == 404
    assert other.get(f"/incidents/{site.private_incident_id}").status_code == 404
    # The anonymous page is still the shared, cached one.
    assert anonymous.get("/").headers["Cache-Control"].startswith("public")


def test_requests_from_an_audience_ip_range_are_members(
    app: Flask, client: FlaskClient, site: AudienceSite, session: Any
) -> None:
    manage.update_audience(
        session,
        site.enterprise_id,
        manage.AudienceFields(name=AUDIENCE_NAME, ip_ranges=["203.0.113.0/24"]),
        actor_id=None,
        now=datetime.now().astimezone(),
    )
    session.commit()
    from statuspage.public.readers import forget_networks

    forget_networks(app)
    inside = client.get("/", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    outside = client.get("/", environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert PRIVATE_COMPONENT in inside.get_data(as_text=True)
    assert inside.headers["Cache-Control"] == "private, no-store"
    assert PRIVATE_COMPONENT not in outside.get_data(as_text=True)


def test_the_ip_range_is_read_behind_the_configured_proxy(
    another_app: Any, site: AudienceSite, session: Any
) -> None:
    manage.update_audience(
        session,
        site.enterprise_id,
        manage.AudienceFields(name=AUDIENCE_NAME, ip_ranges=["203.0.113.0/24"]),
        actor_id=None,
        now=datetime.now().astimezone(),
    )
    session.commit()
    behind = another_app(PROXY_FIX_X_FOR=1).test_client()
    forwarded = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    assert PRIVATE_COMPONENT in behind.get("/", environ_base=forwarded).get_data(as_text=True)
    direct = another_app().test_client()
    assert PRIVATE_COMPONENT not in direct.get("/", environ_base=forwarded).get_data(as_text=True)


def test_staff_see_every_audience(
    client: FlaskClient, site: AudienceSite, make_user: Any, login: Any
) -> None:
    login(make_user("viewer"))
    client.get("/admin/")  # sets the hint the cache reads
    page = client.get("/").get_data(as_text=True)
    assert PRIVATE_COMPONENT in page and PRIVATE_INCIDENT_TITLE in page


# --- publishing to audiences ----------------------------------------------------------------


def test_an_update_to_an_audience_leaves_the_public_face_alone(
    site: AudienceSite, session: Any
) -> None:
    incident = session.get(Incident, site.incident_id)
    assert incident.is_public and incident.public_status.value == "investigating"
    assert incident.public_impact.value == "minor"  # not raised by the private outage
    private = session.get(Incident, site.private_incident_id)
    assert not private.is_public and [a.name for a in private.audiences] == [AUDIENCE_NAME]
    assert [u.body for u in incident.public_updates] == [PUBLIC_UPDATE]
    assert len(incident.updates_for([site.enterprise_id])) == 2
    assert len(incident.updates_for([site.acme_id])) == 1


def test_an_update_to_an_audience_cannot_change_a_public_component(
    site: AudienceSite, session: Any
) -> None:
    incident = session.get(Incident, site.incident_id)
    with pytest.raises(DomainError) as refused:
        post_update(
            session,
            incident,
            status="identified",
            body="Secret words.",
            component_statuses={site.public_component_id: "major_outage"},
            audience_ids=[site.enterprise_id],
            actor_id=None,
            now=datetime.now().astimezone(),
        )
    assert refused.value.field == "components"


def test_an_audience_with_updates_cannot_be_deleted(site: AudienceSite, session: Any) -> None:
    with pytest.raises(DomainError):
        manage.delete_audience(
            session, site.enterprise_id, actor_id=None, now=datetime.now().astimezone()
        )
    manage.delete_audience(session, site.acme_id, actor_id=None, now=datetime.now().astimezone())
    session.commit()
    assert session.get(Audience, site.acme_id) is None


def test_staff_address_an_update_from_the_form(
    client: FlaskClient, site: AudienceSite, session: Any, make_user: Any, login: Any
) -> None:
    login(make_user("communicator"))
    form = client.get(f"/admin/incidents/{site.incident_id}/updates/new").get_data(as_text=True)
    assert "Who sees this update" in form and AUDIENCE_NAME in form
    response = client.post(
        f"/admin/incidents/{site.incident_id}/updates",
        data={
            "status": "identified",
            "body": "Only for Acme: we found it.",
            "audiences": [str(site.acme_id)],
            "notify": "y",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    session.expire_all()
    update = session.scalars(
        sa.select(IncidentUpdate).where(IncidentUpdate.body == "Only for Acme: we found it.")
    ).one()
    assert [a.id for a in update.audiences] == [site.acme_id]
    unknown = client.post(
        f"/admin/incidents/{site.incident_id}/updates",
        data={"status": "identified", "body": "x", "audiences": ["99999"]},
    )
    assert unknown.status_code == 400
    detail = client.get(f"/admin/incidents/{site.incident_id}").get_data(as_text=True)
    assert "Visible to Acme Corp only" in detail


# --- the admin pages -------------------------------------------------------------------------


def test_admins_manage_audiences_and_feed_tokens(
    client: FlaskClient, site: AudienceSite, session: Any, make_user: Any, login: Any
) -> None:
    login(make_user("manager"))
    assert client.get("/admin/audiences").status_code == 200
    response = client.post(
        "/admin/audiences",
        data={
            "name": "Employees",
            "allowed_domains": "corp.example\nstaff.example",
            "ip_ranges": "10.0.0.0/8",
            "oidc_group": "employees",
        },
    )
    assert response.status_code == 302
    employees = session.scalars(sa.select(Audience).where(Audience.name == "Employees")).one()
    assert employees.slug == "employees" and employees.allowed_domains == [
        "corp.example",
        "staff.example",
    ]
    assert access.audiences_for_groups(session, ["x", "employees"]) == [employees.id]
    assert access.audiences_for_ip(session, "10.1.2.3") == [employees.id]
    assert access.audiences_for_email(session, "a@staff.example") == [employees.id]
    bad = client.post("/admin/audiences", data={"name": "Bad", "ip_ranges": "not-a-network"})
    assert bad.status_code == 400 and "not an IP network" in bad.get_data(as_text=True)

    created = client.post(
        f"/admin/audiences/{site.enterprise_id}/feed-tokens", data={"label": "Their NOC"}
    )
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    page = created.get_data(as_text=True)
    feed_path = page.split('id="feed-atom">', 1)[1].split("<", 1)[0].replace("http://localhost", "")
    json_path = page.split('id="feed-json">', 1)[1].split("<", 1)[0].replace("http://localhost", "")
    anonymous = client.application.test_client()
    feed = anonymous.get(feed_path)
    assert feed.status_code == 200 and PRIVATE_UPDATE in feed.get_data(as_text=True)
    assert feed.headers["Cache-Control"] == "private, no-store"
    summary = anonymous.get(json_path)
    assert summary.status_code == 200 and PRIVATE_COMPONENT in summary.get_data(as_text=True)
    token = session.scalars(sa.select(AudienceFeedToken)).one()
    revoked = client.post(f"/admin/audiences/{site.enterprise_id}/feed-tokens/{token.id}/revoke")
    assert revoked.status_code == 302
    assert anonymous.get(feed_path).status_code == 404
    assert anonymous.get(json_path).status_code == 404


def test_viewers_cannot_manage_audiences(
    client: FlaskClient, site: AudienceSite, make_user: Any, login: Any
) -> None:
    login(make_user("viewer"))
    assert client.get("/admin/audiences").status_code == 403
    assert client.post("/admin/audiences", data={"name": "X"}).status_code == 403


# --- email subscriptions per audience ------------------------------------------------------


def test_a_member_subscriber_gets_audience_updates_and_a_public_one_does_not(
    app: Flask, client: FlaskClient, mail_dir: Path, site: AudienceSite, session: Any
) -> None:
    from statuspage.worker.delivery import run_delivery

    sign_in(client, mail_dir, MEMBER)
    assert MEMBER in client.get("/subscribe").get_data(as_text=True)  # prefilled
    public = client.application.test_client()
    for reader, address in ((client, MEMBER), (public, "reader@public.example")):
        assert reader.post("/subscribe", data={"email": address, "scope": "all"}).status_code == 200
    for message in mails(mail_dir):
        if "Confirm" in str(message["Subject"]):
            link = text_of(message).split("/subscribe/confirm/", 1)[1].split()[0]
            assert client.post(f"/subscribe/confirm/{link}").status_code in (200, 302, 303)
    session.expire_all()
    member = session.scalars(sa.select(Subscriber).where(Subscriber.email == MEMBER)).one()
    assert [a.id for a in member.audiences] == [site.enterprise_id]
    before = len(mails(mail_dir))
    incident = session.get(Incident, site.incident_id)
    post_update(
        session,
        incident,
        status="monitoring",
        body="Zq7SecondPrivate: failover done.",
        audience_ids=[site.enterprise_id],
        actor_id=None,
        now=datetime.now().astimezone(),
    )
    post_update(
        session,
        incident,
        status="monitoring",
        body="Public: monitoring.",
        actor_id=None,
        now=datetime.now().astimezone(),
    )
    session.commit()
    with app.app_context():
        run_delivery()
    sent = mails(mail_dir)[before:]
    private = [m for m in sent if "Zq7SecondPrivate" in text_of(m)]
    assert [str(m["To"]) for m in private] == [MEMBER]
    public_mail = [m for m in sent if "Public: monitoring." in text_of(m)]
    assert sorted(str(m["To"]) for m in public_mail) == sorted([MEMBER, "reader@public.example"])
    for message in public_mail:
        assert PRIVATE_COMPONENT not in text_of(message)


def test_a_draft_keeps_its_audiences_until_published(
    client: FlaskClient, site: AudienceSite, session: Any, make_user: Any, login: Any
) -> None:
    login(make_user("manager"))
    saved = client.post(
        f"/admin/incidents/{site.incident_id}/updates/draft",
        data={"status": "identified", "body": "Draft for Acme.", "audiences": [str(site.acme_id)]},
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)[:500]
    session.expire_all()
    draft = session.scalars(
        sa.select(IncidentUpdate).where(IncidentUpdate.body == "Draft for Acme.")
    ).one()
    assert [a.id for a in draft.audiences] == [site.acme_id]
    edit = client.get(f"/admin/incidents/{site.incident_id}/updates/{draft.id}/edit")
    assert "checked" in edit.get_data(as_text=True).split("Who sees this update", 1)[1][:2000]
    # The incident page's button publishes it as saved: still to Acme only.
    published = client.post(f"/admin/incidents/{site.incident_id}/updates/{draft.id}/publish")
    assert published.status_code == 302
    anonymous = client.application.test_client()
    assert "Draft for Acme." not in anonymous.get(f"/incidents/{site.incident_id}").get_data(
        as_text=True
    )
    session.expire_all()
    assert [a.id for a in session.get(IncidentUpdate, draft.id).audiences] == [site.acme_id]


def test_a_review_timeline_starts_from_public_updates_only(
    site: AudienceSite, session: Any
) -> None:
    from statuspage.incidents.reviews import prefilled_timeline

    texts = [
        entry["text"]
        for entry in prefilled_timeline(session, session.get(Incident, site.incident_id))
    ]
    assert any(PUBLIC_UPDATE in text for text in texts)
    assert not any(PRIVATE_UPDATE in text for text in texts)
