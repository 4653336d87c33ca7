"""Login, logout and the session behind them."""

import pytest
import sqlalchemy as sa

from statuspage.auth.models import User, UserSession
from tests.conftest import PASSWORD


def test_wrong_password_and_unknown_email_get_the_same_answer(client, make_user):
    user = make_user("viewer")
    wrong = client.post("/login", data={"email": user.email, "password": "not the password"})
    unknown = client.post("/login", data={"email": "nobody@example.com", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 400
    message = "That email and password do not match an active account."
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)
    assert client.get("/admin/incidents").status_code == 302


def test_login_renews_the_session_and_records_it(client, session, make_user):
    user = make_user("viewer")
    with client.session_transaction() as before:
        before["planted"] = "by an attacker"
    response = client.post("/login", data={"email": user.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    with client.session_transaction() as after:
        assert "planted" not in after
        assert after.get("sid")
    assert session.scalar(sa.select(sa.func.count(UserSession.id))) == 1
    session.expire_all()
    assert session.get(User, user.id).last_login_at is not None


def test_logout_really_ends_the_session(app, client, session, make_user, login):
    user = make_user("viewer")
    login(user)
    with client.session_transaction() as stolen:
        copied = dict(stolen)
    assert client.get("/admin/incidents").status_code == 200
    assert client.get("/logout").status_code == 405  # a link scanner cannot log anyone out
    assert client.post("/logout").status_code == 302
    assert client.get("/admin/incidents").status_code == 302
    # Replaying the old cookie contents from another client gets nowhere.
    replay = app.test_client()
    with replay.session_transaction() as forged:
        forged.update(copied)
    assert replay.get("/admin/incidents").status_code == 302
    revoked = session.scalar(sa.select(UserSession.revoked_at))
    assert revoked is not None


def test_disabled_account_cannot_log_in(client, session, make_user):
    user = make_user("viewer")
    user.active = False
    session.commit()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ],
)
def test_next_never_leaves_the_site(client, make_user, target):
    user = make_user("viewer")
    response = client.post(
        f"/login?next={target}", data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/incidents"


def test_next_returns_to_the_page_asked_for(client, make_user):
    user = make_user("viewer")
    page = client.get("/admin/incidents/12")
    assert page.status_code == 302 and "next=/admin/incidents/12" in page.headers["Location"]
    response = client.post(
        "/login?next=/admin/incidents/12", data={"email": user.email, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/admin/incidents/12"


def test_passwords_are_stored_as_argon2id(session, make_user):
    user = make_user("viewer")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "/\t/evil.example",  # browsers drop the tab: "//evil.example"
        "/\n/evil.example",
        " //evil.example",
        "http://localhost@evil.example/",
        "data:text/html,<script>alert(1)</script>",
    ],
)
def test_next_never_leaves_the_site_however_it_is_spelt(client, make_user, target):
    user = make_user("viewer")
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": user.email, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/incidents"
    # Already logged in, the login page redirects at once: through the same check.
    again = client.get("/login", query_string={"next": target})
    assert again.headers["Location"] == "/admin/incidents"


# --- every way of setting a password applies the same rules (auth/password_rules.py) ------

COMMON = "password2024!"


def test_admin_cannot_create_an_account_with_a_common_password(client, session, make_user, login):
    login(make_user("admin"))
    response = client.post(
        "/admin/users/new",
        data={"email": "new@example.com", "role": "viewer", "password": COMMON, "confirm": COMMON},
    )
    assert response.status_code == 400
    assert "a common one with digits or symbols added" in response.get_data(as_text=True)
    assert session.scalar(sa.select(User).where(User.email == "new@example.com")) is None


def test_admin_cannot_reset_to_a_common_password(client, session, make_user, login):
    login(make_user("admin"))
    person = make_user("viewer")
    before = person.password_hash
    response = client.post(
        f"/admin/users/{person.id}/password",
        data={"password-password": "qwerty123456", "password-confirm": "qwerty123456"},
    )
    assert response.status_code == 400
    assert "among the most common" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(User, person.id).password_hash == before


def test_the_cli_refuses_a_common_password(runner, session):
    result = runner.invoke(
        args=["users", "create", "--email", "ops@example.com", "--role", "admin"],
        input="qwertyqwerty\nqwertyqwerty\n",
    )
    assert result.exit_code != 0
    assert "among the most common" in result.output
    assert session.scalar(sa.select(sa.func.count(User.id))) == 0
