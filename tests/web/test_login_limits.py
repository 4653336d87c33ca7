"""Brute-force limits on the login form (statuspage/account/login_limits.py).

Every attempt counts, per account (an HMAC of the address, whether or not an account has it)
and per client IP; over a limit the answer is 429 with Retry-After and the password is not
checked. With REDIS_URL the counts are shared by every process; with Redis down they fall back
to the process's own memory instead of to no limit at all.
"""

from __future__ import annotations

import secrets

import pytest
import sqlalchemy as sa

from statuspage.auth.models import UserSession
from tests.conftest import PASSWORD, make_app

WRONG = "not the password at all"


@pytest.fixture(autouse=True)
def cheap_dummy_hash(monkeypatch):
    """Unknown addresses are checked against a dummy hash at the production cost (to take as
    long as a real account); at the tests' cost it is the same code, much faster."""
    from statuspage.auth import passwords, sessions

    monkeypatch.setattr(sessions, "_DUMMY_HASH", passwords.hash_password("dummy password"))


@pytest.fixture
def other_app(database_url):
    """Apps standing for other web processes on the same database, closed afterwards."""
    from statuspage.extensions import db

    made = []

    def make(**settings):
        made.append(make_app(database_url, **settings))
        return made[-1].test_client()

    yield make
    for application in made:
        with application.app_context():
            db.engine.dispose()


def attempt(client, email, password=WRONG, ip="198.51.100.7"):
    return client.post(
        "/login",
        data={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": ip},
    )


def limited(app, *, account=3, ip=100, window=900):
    app.config.update(LOGIN_ACCOUNT_LIMIT=account, LOGIN_IP_LIMIT=ip, LOGIN_WINDOW=window)
    return app


def sessions_started(session) -> int:
    return session.scalar(sa.select(sa.func.count(UserSession.id)))


def test_an_account_over_its_limit_is_refused_even_with_the_right_password(
    app, client, session, make_user
):
    limited(app, account=3, window=600)
    user = make_user("viewer")
    assert [attempt(client, user.email).status_code for _ in range(3)] == [400, 400, 400]
    refused = attempt(client, user.email, PASSWORD)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "600"
    assert refused.headers["Cache-Control"] == "no-store"
    page = refused.get_data(as_text=True)
    assert "Too many login attempts" in page and "Wait 10 minutes" in page
    assert sessions_started(session) == 0
    assert client.get("/admin/incidents").status_code == 302  # not logged in


def test_the_account_limit_follows_the_address_across_ips_and_spellings(
    app, client, session, make_user
):
    limited(app, account=3)
    user = make_user("viewer")
    attempt(client, user.email, ip="198.51.100.1")
    attempt(client, user.email.upper(), ip="198.51.100.2")
    attempt(client, f"  {user.email} ", ip="198.51.100.3")
    assert attempt(client, user.email, PASSWORD, ip="198.51.100.4").status_code == 429
    # Another account is not affected.
    other = make_user("viewer")
    assert attempt(client, other.email, PASSWORD, ip="198.51.100.4").status_code == 302


def test_unknown_and_known_addresses_are_limited_alike(app, client, make_user):
    """The limit does not tell which accounts exist: same answers, same moment of refusal."""
    limited(app, account=3)
    user = make_user("viewer")
    known = [attempt(client, user.email, ip="203.0.113.1") for _ in range(4)]
    unknown = [attempt(client, "nobody@example.com", ip="203.0.113.2") for _ in range(4)]
    assert (
        [r.status_code for r in known]
        == [r.status_code for r in unknown]
        == [
            400,
            400,
            400,
            429,
        ]
    )
    assert known[3].get_data() == unknown[3].get_data()
    assert known[3].headers["Retry-After"] == unknown[3].headers["Retry-After"]


def test_one_ip_trying_many_accounts_is_refused(app, client, make_user):
    limited(app, account=100, ip=4)
    user = make_user("viewer")
    statuses = [attempt(client, f"guess{n}@example.com").status_code for n in range(4)]
    assert statuses == [400, 400, 400, 400]
    assert attempt(client, user.email, PASSWORD).status_code == 429
    # Another client, and the account itself, are fine.
    assert attempt(client, user.email, PASSWORD, ip="192.0.2.55").status_code == 302


def test_attempts_refused_by_the_ip_limit_do_not_use_up_the_account(app, client, make_user):
    limited(app, account=3, ip=2)
    user = make_user("viewer")
    for _ in range(5):
        attempt(client, user.email, ip="198.51.100.9")
    # Two were counted against the account (the IP allowed two), so it still has one left.
    assert attempt(client, user.email, PASSWORD, ip="192.0.2.10").status_code == 302


def test_a_person_who_types_the_password_right_is_never_near_the_limits(client, make_user):
    # The defaults: 10 per account and 30 per IP in 15 minutes.
    user = make_user("viewer")
    assert attempt(client, user.email, "a typo in the password").status_code == 400
    assert attempt(client, user.email, PASSWORD).status_code == 302


def test_a_form_without_fields_is_not_counted(app, client, make_user):
    limited(app, account=1)
    user = make_user("viewer")
    for _ in range(3):
        assert client.post("/login", data={"email": user.email}).status_code == 400
    assert attempt(client, user.email, PASSWORD).status_code == 302


def _redis_url_or_skip() -> str:
    from tests.integration.test_ratelimit import REDIS_URL, redis_client

    redis_client().close()  # skips (or fails under CI) when Redis does not answer
    return REDIS_URL


@pytest.fixture
def redis_prefix():
    from tests.integration.test_ratelimit import redis_client

    url = _redis_url_or_skip()
    prefix = f"test:login:{secrets.token_hex(6)}:"
    yield url, prefix
    client = redis_client()
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_limits_are_shared_by_every_process_through_redis(redis_prefix, other_app, make_user):
    url, prefix = redis_prefix
    settings = {
        "REDIS_URL": url,
        "RATELIMIT_PREFIX": prefix,
        "LOGIN_ACCOUNT_LIMIT": 3,
        "LOGIN_IP_LIMIT": 100,
    }
    # Two app objects stand for two web processes: each has its own memory.
    first = other_app(**settings)
    second = other_app(**settings)
    user = make_user("viewer")
    assert attempt(first, user.email).status_code == 400
    assert attempt(second, user.email).status_code == 400
    assert attempt(first, user.email).status_code == 400
    assert attempt(second, user.email, PASSWORD).status_code == 429


def test_with_redis_down_each_process_still_limits(other_app, make_user, caplog):
    unreachable = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    client = other_app(REDIS_URL=unreachable, LOGIN_ACCOUNT_LIMIT=2, LOGIN_IP_LIMIT=100)
    user = make_user("viewer")
    assert attempt(client, user.email).status_code == 400
    # Staff can still log in while Redis is down ...
    assert attempt(client, user.email, PASSWORD).status_code == 302
    client.post("/logout")
    # ... but guessing is still limited, by this process's own count.
    assert attempt(client, user.email, PASSWORD).status_code == 429
    assert "Rate limit store unavailable" in caplog.text
