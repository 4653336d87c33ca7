"""User management through the test client: admins only; disabling ends sessions at once;
the last active admin stays."""

import pytest
import sqlalchemy as sa

from statuspage.auth.models import Role, User, UserSession
from statuspage.auth.passwords import verify_password
from statuspage.core.models import AuditEntry
from statuspage.extensions import db
from tests.conftest import PASSWORD, csrf_token_from, login_with_csrf, make_app

NEW_PASSWORD = "another long enough password"


def text(response):
    return response.get_data(as_text=True)


def fresh(session, user_id):
    session.expire_all()
    return session.get(User, user_id)


def log_in(client, user, password=PASSWORD):
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, text(response)[:300]


def is_logged_in(client):
    response = client.get("/admin/incidents")
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
        return False
    assert response.status_code == 200
    return True


@pytest.fixture
def other_client(database_url):
    """A client of its own app instance: a second browser, as another server process sees it.

    Not `app.test_client()`: the `session` fixture keeps an app context of `app` pushed during
    the test, so requests to `app` share Flask's `g`, and with it Flask-Login's cached user.
    A second login there would be a no-op, and a revoked session would never be re-checked.
    """
    application = make_app(database_url)
    yield application.test_client()
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def admin(make_user, login):
    user = make_user("admin")
    login(user)
    return user


NEW_USER = {
    "email": "New.Person@Example.com",
    "name": "New Person",
    "role": "responder",
    "password": "twelve chars ok",
    "confirm": "twelve chars ok",
}


# --- who may manage users -----------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "responder", "communicator", "viewer"])
def test_only_admins_reach_user_management(client, make_user, login, session, role):
    me = make_user(role)
    other = make_user("viewer")
    login(me)
    for page in ("/admin/users", "/admin/users/new", f"/admin/users/{other.id}"):
        assert client.get(page).status_code == 403, page
    posts = {
        "/admin/users/new": NEW_USER,
        f"/admin/users/{other.id}/role": {"role-role": "admin"},
        f"/admin/users/{other.id}/disable": {},
        f"/admin/users/{other.id}/password": {
            "password-password": NEW_PASSWORD,
            "password-confirm": NEW_PASSWORD,
        },
    }
    for url, data in posts.items():
        assert client.post(url, data=data).status_code == 403, url
    assert fresh(session, other.id).role == Role.VIEWER and fresh(session, other.id).active
    assert session.scalar(sa.select(User.id).where(User.email == "new.person@example.com")) is None
    assert "/admin/users" not in text(client.get("/admin/incidents"))


def test_admin_sees_the_users_link_and_list(client, admin, make_user):
    make_user("viewer", email="someone@example.com")
    assert 'href="/admin/users"' in text(client.get("/admin/incidents"))
    page = text(client.get("/admin/users"))
    assert "someone@example.com" in page and admin.email in page
    assert client.get("/admin/users/9999").status_code == 404


# --- create -------------------------------------------------------------------------------


def test_admin_creates_an_account_that_can_log_in(client, admin, session, other_client):
    assert client.get("/admin/users/new").status_code == 200
    response = client.post("/admin/users/new", data=NEW_USER)
    assert response.status_code == 302
    created = session.scalar(sa.select(User).where(User.email == "new.person@example.com"))
    assert created.role == Role.RESPONDER and created.name == "New Person"
    audit = session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.entity_type == "user", AuditEntry.entity_id == created.id
        )
    )
    assert audit.action == "create" and audit.actor_id == admin.id
    assert "password" not in audit.changes
    log_in(other_client, created, "twelve chars ok")
    assert is_logged_in(other_client)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"password": "short", "confirm": "short"}, "password", "at least 12 characters"),
        ({"confirm": "something else"}, "confirm", "The passwords differ"),
        ({"email": "not-an-address"}, "email", "is not an email address"),
        ({"email": ""}, "email", ""),
        ({"email": "x" * 300 + "@example.com"}, "email", ""),
        ({"role": "superuser"}, "role", ""),
        ({"name": "n" * 200}, "name", ""),
    ],
)
def test_bad_account_input_is_refused_next_to_its_field(
    client, admin, session, changes, field, message
):
    response = client.post("/admin/users/new", data={**NEW_USER, **changes})
    assert response.status_code == 400
    page = text(response)
    assert f'id="{field}-error"' in page and message in page
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_duplicate_email_is_refused(client, admin, make_user, session):
    make_user("viewer", email="new.person@example.com")
    response = client.post("/admin/users/new", data=NEW_USER)
    assert response.status_code == 400 and "exists already" in text(response)
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 2


# --- role ---------------------------------------------------------------------------------


def test_admin_changes_a_role(client, admin, make_user, session):
    person = make_user("viewer")
    response = client.post(f"/admin/users/{person.id}/role", data={"role-role": "manager"})
    assert response.status_code == 302
    assert fresh(session, person.id).role == Role.MANAGER
    response = client.post(f"/admin/users/{person.id}/role", data={"role-role": "overlord"})
    assert response.status_code == 400
    assert fresh(session, person.id).role == Role.MANAGER


def test_demoted_user_loses_permissions_on_the_next_request(client, admin, make_user, other_client):
    manager = make_user("manager")
    other = other_client
    log_in(other, manager)
    assert other.get("/admin/settings/matrix").status_code == 200
    client.post(f"/admin/users/{manager.id}/role", data={"role-role": "viewer"})
    assert other.get("/admin/settings/matrix").status_code == 403


# --- disable, enable, sessions ------------------------------------------------------------


def test_disabling_a_user_ends_their_session_at_once(
    client, admin, make_user, session, other_client
):
    person = make_user("responder")
    theirs = other_client
    log_in(theirs, person)
    assert is_logged_in(theirs)
    response = client.post(f"/admin/users/{person.id}/disable")
    assert response.status_code == 302
    assert not is_logged_in(theirs)  # redirected to the login page on the very next request
    assert not fresh(session, person.id).active
    live = session.scalar(
        sa.select(sa.func.count())
        .select_from(UserSession)
        .where(UserSession.user_id == person.id, UserSession.revoked_at.is_(None))
    )
    assert live == 0
    # Nor can they log in again until enabled.
    refused = theirs.post("/login", data={"email": person.email, "password": PASSWORD})
    assert refused.status_code == 400
    assert client.post(f"/admin/users/{person.id}/enable").status_code == 302
    assert fresh(session, person.id).active
    log_in(theirs, person)
    assert is_logged_in(theirs)


def test_password_reset_ends_sessions_and_changes_the_password(
    client, admin, make_user, session, other_client
):
    person = make_user("viewer")
    theirs = other_client
    log_in(theirs, person)
    url = f"/admin/users/{person.id}/password"
    short = client.post(url, data={"password-password": "short", "password-confirm": "short"})
    assert short.status_code == 400 and 'id="password-password-error"' in text(short)
    assert is_logged_in(theirs)  # a refused reset changes nothing
    response = client.post(
        url, data={"password-password": NEW_PASSWORD, "password-confirm": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert not is_logged_in(theirs)
    assert verify_password(fresh(session, person.id).password_hash, NEW_PASSWORD)
    assert (
        theirs.post("/login", data={"email": person.email, "password": PASSWORD}).status_code == 400
    )
    log_in(theirs, person, NEW_PASSWORD)
    assert is_logged_in(theirs)


# --- the last active admin ----------------------------------------------------------------


def test_last_admin_cannot_disable_themself(client, admin, session):
    response = client.post(f"/admin/users/{admin.id}/disable")
    assert response.status_code == 409
    assert "You are the last active admin" in text(response)
    assert fresh(session, admin.id).active
    assert is_logged_in(client)


def test_last_admin_cannot_demote_themself(client, admin, session):
    response = client.post(f"/admin/users/{admin.id}/role", data={"role-role": "manager"})
    assert response.status_code == 400
    page = text(response)
    assert 'id="role-role-error"' in page and "You are the last active admin" in page
    assert fresh(session, admin.id).role == Role.ADMIN


def test_a_disabled_admin_does_not_count(client, admin, make_user, session):
    other = make_user("admin")
    assert client.post(f"/admin/users/{other.id}/disable").status_code == 302
    response = client.post(f"/admin/users/{admin.id}/role", data={"role-role": "viewer"})
    assert response.status_code == 400
    assert fresh(session, admin.id).role == Role.ADMIN


def test_with_another_active_admin_an_admin_may_step_down(client, admin, make_user, session):
    make_user("admin")
    response = client.post(f"/admin/users/{admin.id}/role", data={"role-role": "manager"})
    assert response.status_code == 302
    assert fresh(session, admin.id).role == Role.MANAGER
    assert client.get("/admin/users").status_code == 403  # takes effect at once


# --- CSRF ---------------------------------------------------------------------------------


def test_every_user_form_needs_its_csrf_token(csrf_client, make_user, session):
    admin = make_user("admin")
    person = make_user("viewer")
    login_with_csrf(csrf_client, admin)
    detail = f"/admin/users/{person.id}"
    cases = [
        ("/admin/users/new", "/admin/users/new", NEW_USER),
        (detail, f"{detail}/role", {"role-role": "responder"}),
        (
            detail,
            f"{detail}/password",
            {"password-password": NEW_PASSWORD, "password-confirm": NEW_PASSWORD},
        ),
        (detail, f"{detail}/disable", {}),
        (detail, f"{detail}/enable", {}),
    ]
    for page, url, data in cases:
        assert csrf_client.post(url, data=data).status_code == 400, url
        token = csrf_token_from(text(csrf_client.get(page)))
        response = csrf_client.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 302, (url, text(response)[:300])
    changed = fresh(session, person.id)
    assert changed.role == Role.RESPONDER and changed.active
    assert verify_password(changed.password_hash, NEW_PASSWORD)
    assert session.scalar(sa.select(User.id).where(User.email == "new.person@example.com"))
