"""Two-factor (TOTP) for staff through the test client: enrolment, the login's second step,
single use of codes, the attempt limit, expiry of a pending login, the admin requirement, an
admin's reset, CSRF on every form, and no secret in the logs."""

import logging
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from statuspage.auth import second_factor, totp
from statuspage.auth.models import User, UserSession
from statuspage.core.models import AuditEntry
from tests.conftest import PASSWORD, csrf_token_from, login_with_csrf

KEYS = ["test-secret-key-not-for-production"]  # the tests' SECRET_KEY (conftest.make_app)


def text(response):
    return response.get_data(as_text=True)


def fresh(session, user_id):
    session.expire_all()
    return session.get(User, user_id)


def code_at(secret, at):
    return totp.totp(totp.secret_bytes(secret), at)


def current_code(secret):
    return code_at(secret, datetime.now(UTC))


def wrong_code(secret):
    """A well-formed code that no step near now accepts."""
    now = datetime.now(UTC)
    near = {code_at(secret, now + timedelta(seconds=30 * offset)) for offset in range(-2, 3)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in near)


def enrol(session, user):
    """Two-factor on for `user`, confirmed with the previous step's code, so the current code
    is still unused."""
    now = datetime.now(UTC)
    secret = second_factor.start_enrolment(session, user.id, secret_keys=KEYS, now=now)
    second_factor.confirm_enrolment(
        session, user.id, code_at(secret, now - timedelta(seconds=30)), secret_keys=KEYS, now=now
    )
    session.commit()
    return secret


def password_step(client, user, url="/login"):
    response = client.post(url, data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, text(response)[:300]
    return response


def is_logged_in(client):
    response = client.get("/admin/incidents")
    if response.status_code == 302:
        return False
    assert response.status_code == 200, response.status_code
    return True


def login_rows(session, user):
    return session.scalar(
        sa.select(sa.func.count()).select_from(UserSession).where(UserSession.user_id == user.id)
    )


def audits(session, user, action):
    return session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.entity_type == "user",
            AuditEntry.entity_id == user.id,
            AuditEntry.action == action,
        )
    ).all()


# --- enrolment -----------------------------------------------------------------------------


def test_enrolment_shows_the_secret_until_a_code_confirms_it(client, session, make_user, login):
    user = make_user("responder")
    login(user)
    page = client.get("/account/two-factor")
    assert page.status_code == 200 and "Status: off" in text(page)

    assert client.post("/account/two-factor/setup").status_code == 302
    page = client.get("/account/two-factor")
    assert page.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', text(page)).group(1)
    assert f"otpauth://totp/Test%20Status:{quote(user.email)}?secret={secret}" in text(page)
    stored = fresh(session, user.id)
    assert stored.totp_secret.startswith("v1:") and secret not in stored.totp_secret
    assert not stored.has_two_factor

    refused = client.post("/account/two-factor/confirm", data={"confirm-code": wrong_code(secret)})
    assert refused.status_code == 400
    assert "That code is not right" in text(refused)
    assert not fresh(session, user.id).has_two_factor

    confirmed = client.post(
        "/account/two-factor/confirm", data={"confirm-code": current_code(secret)}
    )
    assert confirmed.status_code == 302
    enabled = fresh(session, user.id)
    assert enabled.has_two_factor and enabled.totp_last_step is not None
    assert len(audits(session, user, "enable_two_factor")) == 1
    page = text(client.get("/account/two-factor"))
    assert "Status: on" in page and secret not in page  # never shown again


def test_cancelling_a_set_up_forgets_the_secret(client, session, make_user, login):
    user = make_user("viewer")
    login(user)
    client.post("/account/two-factor/setup")
    assert fresh(session, user.id).totp_secret
    assert client.post("/account/two-factor/cancel").status_code == 302
    assert fresh(session, user.id).totp_secret is None
    assert "Status: off" in text(client.get("/account/two-factor"))


def test_the_account_pages_need_a_login(client):
    response = client.get("/account/two-factor")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    for action in ("setup", "confirm", "cancel", "disable"):
        assert client.post(f"/account/two-factor/{action}").status_code == 401, action


def test_setting_up_again_is_refused_while_on(client, session, make_user, login):
    user = make_user("viewer")
    enrol(session, user)
    stored = fresh(session, user.id).totp_secret
    other = make_user("viewer")
    login(other)
    # Logged in as `other`: their own account is off, so setting up works for them ...
    assert client.post("/account/two-factor/setup").status_code == 302
    enrol_session_user = fresh(session, other.id)
    assert enrol_session_user.totp_secret and not enrol_session_user.has_two_factor
    # ... and once on, starting again is refused and changes nothing.
    second_factor.cancel_enrolment(session, other.id)
    session.commit()
    enrol(session, other)
    kept = fresh(session, other.id).totp_secret
    refused = client.post("/account/two-factor/setup")
    assert refused.status_code == 409 and "on already" in text(refused)
    assert fresh(session, other.id).totp_secret == kept
    assert fresh(session, user.id).totp_secret == stored


# --- the login's second step ---------------------------------------------------------------


def test_a_password_alone_logs_nobody_in_when_two_factor_is_on(client, session, make_user):
    user = make_user("manager")
    secret = enrol(session, user)
    response = password_step(client, user, "/login?next=/admin/problems")
    assert response.headers["Location"] == "/login/two-factor?next=/admin/problems"
    assert not is_logged_in(client)
    assert login_rows(session, user) == 0
    page = client.get("/login/two-factor")
    assert page.status_code == 200 and "Enter your code" in text(page)

    done = client.post(
        "/login/two-factor?next=/admin/problems", data={"code": current_code(secret)}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/admin/problems"
    assert is_logged_in(client)
    assert login_rows(session, user) == 1


def test_a_wrong_code_is_refused_and_writes_nothing(client, session, make_user):
    user = make_user("manager")
    secret = enrol(session, user)
    step_before = fresh(session, user.id).totp_last_step
    password_step(client, user)
    response = client.post("/login/two-factor", data={"code": wrong_code(secret)})
    assert response.status_code == 400
    assert "That code is not right, or it has been used already" in text(response)
    assert not is_logged_in(client)
    assert fresh(session, user.id).totp_last_step == step_before
    # Malformed input is refused the same way, and the right code still works after.
    assert client.post("/login/two-factor", data={"code": "12 34"}).status_code == 400
    assert client.post("/login/two-factor", data={"code": ""}).status_code == 400
    assert client.post("/login/two-factor", data={"code": current_code(secret)}).status_code == 302
    assert is_logged_in(client)


def test_a_code_works_once(app, session, make_user):
    user = make_user("manager")
    secret = enrol(session, user)
    code = current_code(secret)
    first = app.test_client()
    password_step(first, user)
    assert first.post("/login/two-factor", data={"code": code}).status_code == 302
    assert is_logged_in(first)

    # Someone who saw the code and knows the password cannot replay it, on another browser.
    second = app.test_client()
    password_step(second, user)
    replay = second.post("/login/two-factor", data={"code": code})
    assert replay.status_code == 400
    assert not is_logged_in(second)
    assert login_rows(session, user) == 1


def test_a_pending_login_expires(client, session, make_user):
    user = make_user("manager")
    secret = enrol(session, user)
    password_step(client, user)
    with client.session_transaction("/login/two-factor") as cookie:
        expired = int(datetime.now(UTC).timestamp()) - 1
        cookie["pending_login"] = {**cookie["pending_login"], "expires_at": expired}
    response = client.post("/login/two-factor", data={"code": current_code(secret)})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert "took too long" in text(client.get("/login"))
    assert not is_logged_in(client)
    assert login_rows(session, user) == 0
    # The marker is gone: the code page sends back to the password.
    assert client.get("/login/two-factor").status_code == 302


def test_the_code_page_without_a_password_first_sends_to_login(client):
    response = client.get("/login/two-factor")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.post("/login/two-factor", data={"code": "123456"}).status_code == 302


def test_codes_tried_per_account_are_limited(app, session, make_user):
    app.config["TWO_FACTOR_ATTEMPT_LIMIT"] = 3
    user = make_user("manager")
    secret = enrol(session, user)
    first = app.test_client()
    password_step(first, user)
    for _ in range(3):
        assert first.post("/login/two-factor", data={"code": wrong_code(secret)}).status_code == 400
    # Over the limit even the right code is refused, and from another browser too.
    limited = first.post("/login/two-factor", data={"code": current_code(secret)})
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "900"
    assert "Too many codes" in text(limited)
    second = app.test_client()
    password_step(second, user)
    assert second.post("/login/two-factor", data={"code": current_code(secret)}).status_code == 429
    assert not is_logged_in(first) and not is_logged_in(second)
    # Another account is not affected.
    other = make_user("manager")
    other_secret = enrol(session, other)
    third = app.test_client()
    password_step(third, other)
    assert (
        third.post("/login/two-factor", data={"code": current_code(other_secret)}).status_code
        == 302
    )


def test_a_user_without_two_factor_logs_in_with_the_password(client, make_user):
    user = make_user("viewer")
    response = password_step(client, user)
    assert response.headers["Location"] == "/admin/incidents"
    assert is_logged_in(client)


# --- turning it off ------------------------------------------------------------------------


def test_disabling_needs_the_password_and_a_code(client, session, make_user):
    user = make_user("responder")
    secret = enrol(session, user)
    password_step(client, user)
    client.post("/login/two-factor", data={"code": current_code(secret)})
    next_code = code_at(secret, datetime.now(UTC) + timedelta(seconds=30))

    wrong_password = client.post(
        "/account/two-factor/disable",
        data={"disable-password": "not the password at all", "disable-code": next_code},
    )
    assert wrong_password.status_code == 400 and "That is not your password" in text(wrong_password)
    wrong = client.post(
        "/account/two-factor/disable",
        data={"disable-password": PASSWORD, "disable-code": wrong_code(secret)},
    )
    assert wrong.status_code == 400
    assert fresh(session, user.id).has_two_factor

    done = client.post(
        "/account/two-factor/disable",
        data={"disable-password": PASSWORD, "disable-code": next_code},
    )
    assert done.status_code == 302
    off = fresh(session, user.id)
    assert not off.has_two_factor and off.totp_secret is None and off.totp_last_step is None
    assert [a.actor_id for a in audits(session, user, "disable_two_factor")] == [user.id]


# --- required for admins -------------------------------------------------------------------


def test_admins_without_two_factor_are_sent_to_enrolment_when_required(
    app, client, session, make_user, login
):
    app.config["REQUIRE_2FA_FOR_ADMINS"] = True
    admin = make_user("admin")
    response = client.post(
        "/login", data={"email": admin.email, "password": PASSWORD}, follow_redirects=True
    )
    assert response.request.path == "/account/two-factor"
    assert "required for admins" in text(response)
    assert client.get("/admin/users").headers["Location"] == "/account/two-factor"
    assert client.post("/admin/incidents/new", data={}).status_code == 403

    client.post("/account/two-factor/setup")
    page = text(client.get("/account/two-factor"))
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    client.post("/account/two-factor/confirm", data={"confirm-code": current_code(secret)})
    assert client.get("/admin/users").status_code == 200


def test_the_requirement_is_for_admins_only_and_off_by_default(app, make_user):
    manager_client, admin_client = app.test_client(), app.test_client()
    password_step(admin_client, make_user("admin"))
    assert is_logged_in(admin_client)  # off by default
    app.config["REQUIRE_2FA_FOR_ADMINS"] = True
    password_step(manager_client, make_user("manager"))
    assert is_logged_in(manager_client)
    assert admin_client.get("/admin/incidents").headers["Location"] == "/account/two-factor"


# --- an admin's reset ----------------------------------------------------------------------


def test_an_admin_resets_someones_two_factor(client, session, make_user, login):
    person = make_user("responder")
    enrol(session, person)
    admin = make_user("admin")
    login(admin)
    listing = text(client.get("/admin/users"))
    assert '<th scope="col">Two-factor</th>' in listing
    detail = text(client.get(f"/admin/users/{person.id}"))
    assert "on since" in detail and "Reset two-factor" in detail

    response = client.post(f"/admin/users/{person.id}/two-factor/reset")
    assert response.status_code == 302
    reset = fresh(session, person.id)
    assert not reset.has_two_factor and reset.totp_secret is None
    assert [a.actor_id for a in audits(session, person, "reset_two_factor")] == [admin.id]
    assert client.post("/admin/users/999999/two-factor/reset").status_code == 404
    # They log in with the password alone now.
    other = client.application.test_client()
    assert password_step(other, reset).headers["Location"] == "/admin/incidents"


@pytest.mark.parametrize("role", ["manager", "responder", "communicator", "viewer"])
def test_only_admins_may_reset_two_factor(client, session, make_user, login, role):
    person = make_user("responder")
    enrol(session, person)
    login(make_user(role))
    assert client.post(f"/admin/users/{person.id}/two-factor/reset").status_code == 403
    assert fresh(session, person.id).has_two_factor


# --- CSRF ------------------------------------------------------------------------------------


def test_every_two_factor_form_needs_its_csrf_token(csrf_client, session, make_user):
    user = make_user("admin")
    login_with_csrf(csrf_client, user)

    def post(url, data, page="/account/two-factor"):
        assert csrf_client.post(url, data=data).status_code == 400, url
        token = csrf_token_from(text(csrf_client.get(page)))
        return csrf_client.post(url, data={**data, "csrf_token": token})

    assert post("/account/two-factor/setup", {}).status_code == 302
    assert post("/account/two-factor/cancel", {}).status_code == 302
    assert fresh(session, user.id).totp_secret is None
    post("/account/two-factor/setup", {})
    secret = re.search(
        r'<code id="totp-secret">([A-Z2-7]+)</code>', text(csrf_client.get("/account/two-factor"))
    ).group(1)
    confirm = post("/account/two-factor/confirm", {"confirm-code": current_code(secret)})
    assert confirm.status_code == 302
    assert fresh(session, user.id).has_two_factor

    # Turning it off, with the next step's code (the current one confirmed the set-up).
    later = code_at(secret, datetime.now(UTC) + timedelta(seconds=30))
    disable = post(
        "/account/two-factor/disable", {"disable-password": PASSWORD, "disable-code": later}
    )
    assert disable.status_code == 302 and not fresh(session, user.id).has_two_factor

    # An admin's reset.
    person = make_user("viewer")
    enrol(session, person)
    reset = post(f"/admin/users/{person.id}/two-factor/reset", {}, page=f"/admin/users/{person.id}")
    assert reset.status_code == 302 and not fresh(session, person.id).has_two_factor

    # The login's code page.
    token = csrf_token_from(text(csrf_client.get("/account/two-factor")))
    csrf_client.post("/logout", data={"csrf_token": token})
    viewer = make_user("viewer")
    viewer_secret = enrol(session, viewer)
    login_with_csrf(csrf_client, viewer)
    code = current_code(viewer_secret)
    assert post("/login/two-factor", {"code": code}, page="/login/two-factor").status_code == 302
    assert is_logged_in(csrf_client)


# --- secrets stay out of logs ----------------------------------------------------------------


def test_no_secret_or_code_reaches_the_logs(client, session, make_user, login, caplog):
    caplog.set_level(logging.DEBUG)
    user = make_user("responder")
    login(user)
    client.post("/account/two-factor/setup")
    secret = re.search(
        r'<code id="totp-secret">([A-Z2-7]+)</code>', text(client.get("/account/two-factor"))
    ).group(1)
    codes = [wrong_code(secret), current_code(secret)]
    client.post("/account/two-factor/confirm", data={"confirm-code": codes[0]})
    client.post("/account/two-factor/confirm", data={"confirm-code": codes[1]})
    client.post("/logout")
    password_step(client, user)
    later = code_at(secret, datetime.now(UTC) + timedelta(seconds=30))
    codes += [later]
    client.post("/login/two-factor", data={"code": codes[0]})
    client.post("/login/two-factor", data={"code": later})
    assert is_logged_in(client)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "two-factor" in logged  # the events are logged ...
    assert secret not in logged  # ... without the secret
    for code in codes:
        assert not re.search(rf"\b{code}\b", logged), code
    audit_text = " ".join(str(row.changes) for row in session.scalars(sa.select(AuditEntry)).all())
    assert secret not in audit_text


def test_the_requirement_set_in_the_environment_under_its_documented_name(
    app, database_url, make_user, monkeypatch
):
    """REQUIRE_2FA_FOR_ADMINS=true, as the README writes it, keeps an admin out of the staff
    area until two-factor is set up (it once only worked with a STATUSPAGE_ prefix)."""
    from tests.conftest import make_app

    admin = make_user("admin")
    monkeypatch.setenv("REQUIRE_2FA_FOR_ADMINS", "true")
    env_app = make_app(database_url)
    assert env_app.config["REQUIRE_2FA_FOR_ADMINS"] is True
    client = env_app.test_client()
    client.post("/login", data={"email": admin.email, "password": PASSWORD})
    assert client.get("/admin/incidents").headers["Location"] == "/account/two-factor"
    from statuspage.extensions import db

    with env_app.app_context():
        db.engine.dispose()
