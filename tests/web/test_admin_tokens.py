"""API tokens in the admin area: the secret shown once, prefixes in the list, revoking, CSRF."""

from __future__ import annotations

import re

import sqlalchemy as sa

from statuspage.auth.models import ApiToken
from statuspage.auth.tokens import create_token
from tests.conftest import csrf_token_from, login_with_csrf

SECRET_RE = re.compile(r'<code id="new-token">(sp_[\w-]+)</code>')


def test_create_shows_the_secret_once_and_it_works(client, session, make_user, login):
    user = make_user("viewer")
    login(user)
    created = client.post("/admin/tokens", data={"name": "Grafana"})
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    secret = SECRET_RE.search(created.get_data(as_text=True)).group(1)

    token = session.scalars(sa.select(ApiToken)).one()
    assert token.user_id == user.id and token.name == "Grafana"
    assert token.token_hash != secret and secret not in token.token_hash

    listing = client.get("/admin/tokens").get_data(as_text=True)
    assert "Grafana" in listing and token.prefix in listing
    assert secret not in listing
    api = client.get("/api/v1/components", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 200


def test_empty_name_is_refused(client, session, make_user, login):
    login(make_user("viewer"))
    assert client.post("/admin/tokens", data={"name": "  "}).status_code == 400
    assert session.scalars(sa.select(ApiToken)).all() == []


def test_list_shows_only_own_tokens(client, session, make_user, login, now):
    other = make_user("responder")
    create_token(session, other, "Someone else's", actor_id=None, now=now)
    session.commit()
    login(make_user("viewer"))
    assert "Someone else&#39;s" not in client.get("/admin/tokens").get_data(as_text=True)


def test_revoke_own_token_but_not_someone_elses(client, session, make_user, login, now):
    user = make_user("communicator")
    other = make_user("responder")
    mine, secret = create_token(session, user, "mine", actor_id=None, now=now)
    theirs, _ = create_token(session, other, "theirs", actor_id=None, now=now)
    session.commit()
    login(user)
    assert client.post(f"/admin/tokens/{theirs.id}/revoke").status_code == 404
    response = client.post(f"/admin/tokens/{mine.id}/revoke")
    assert response.status_code == 302
    session.rollback()
    assert session.get(ApiToken, mine.id).revoked_at is not None
    assert session.get(ApiToken, theirs.id).revoked_at is None
    api = client.get("/api/v1/components", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401


def test_admin_may_revoke_anyones_token(client, session, make_user, login, now):
    other = make_user("viewer")
    theirs, _ = create_token(session, other, "theirs", actor_id=None, now=now)
    session.commit()
    login(make_user("admin"))
    assert client.post(f"/admin/tokens/{theirs.id}/revoke").status_code == 302
    session.rollback()
    assert session.get(ApiToken, theirs.id).revoked_at is not None


def test_both_forms_need_their_csrf_token(csrf_client, session, make_user):
    user = make_user("viewer")
    login_with_csrf(csrf_client, user)
    assert csrf_client.post("/admin/tokens", data={"name": "x"}).status_code == 400
    assert session.scalars(sa.select(ApiToken)).all() == []

    page = csrf_client.get("/admin/tokens").get_data(as_text=True)
    created = csrf_client.post(
        "/admin/tokens", data={"name": "x", "csrf_token": csrf_token_from(page)}
    )
    assert created.status_code == 201
    token = session.scalars(sa.select(ApiToken)).one()

    assert csrf_client.post(f"/admin/tokens/{token.id}/revoke").status_code == 400
    session.rollback()
    assert session.get(ApiToken, token.id).revoked_at is None
    revoked = csrf_client.post(
        f"/admin/tokens/{token.id}/revoke",
        data={"csrf_token": csrf_token_from(created.get_data(as_text=True))},
    )
    assert revoked.status_code == 302
    session.rollback()
    assert session.get(ApiToken, token.id).revoked_at is not None


def test_the_tokens_page_is_html_and_never_cached(client, make_user, login):
    login(make_user("viewer"))
    response = client.get("/admin/tokens")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
