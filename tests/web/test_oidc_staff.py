"""Staff single sign-on, end to end against a real OpenID Connect provider on loopback.

The provider (`tests/fakes/oidc_provider.py`: oidc-provider-mock, built on Authlib's server)
runs on 127.0.0.1 in a thread. The test plays the browser: the test client asks our site to
start, the provider's authorization page is fetched and answered over HTTP, and the provider's
redirect is handed back to the test client. Our site talks to the provider itself (discovery,
keys, the code exchange) over real HTTP. Nothing of ours is mocked.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from statuspage.auth.models import Role, User, UserSession
from statuspage.auth.users import add_user
from statuspage.core.models import AuditEntry
from tests.conftest import _empty_database, make_app
from tests.fakes.oidc_provider import OidcProvider
from tests.web.test_two_factor import enrol

# The provider's own use of Authlib's server parts warns (in its threads); not our code.
pytestmark = [
    pytest.mark.filterwarnings(r"ignore:get_jwt_config\(self, grant\) is deprecated"),
    pytest.mark.filterwarnings("ignore::authlib.deprecate.AuthlibDeprecationWarning"),
]

STAFF_ROLES = "sre-admins=admin,comms=communicator,support=viewer"
CALLBACKS = ["http://localhost/login/oidc/callback", "http://localhost/sign-in/oidc/callback"]


@pytest.fixture(scope="module")
def provider():
    with OidcProvider() as running:
        yield running


@pytest.fixture
def sso_app(database_url, provider, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    client_id, secret = provider.register_client(CALLBACKS)
    application = make_app(
        database_url,
        OIDC_ISSUER=provider.url,
        OIDC_CLIENT_ID=client_id,
        OIDC_CLIENT_SECRET=secret,
        OIDC_STAFF_ROLES=STAFF_ROLES,
        OIDC_PROVIDER_NAME="Example ID",
    )
    yield application
    provider.tamper = None
    _empty_database(application)


@pytest.fixture
def sso_client(sso_app):
    return sso_app.test_client()


def text(response):
    return response.get_data(as_text=True)


def person(provider, sub, *, groups, verified=True, name="Ana Lytic"):
    email = f"{sub}@example.com"
    provider.set_user(sub, email=email, email_verified=verified, name=name, groups=groups)
    return email


def start(client, path="/login/oidc"):
    response = client.get(path)
    assert response.status_code == 302, text(response)[:500]
    return response.headers["Location"]


def back_to_site(client, url):
    """The browser following the provider's redirect to our callback."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://localhost", url
    return client.get(f"{parts.path}?{parts.query}")


def sign_in(client, provider, sub, path="/login/oidc"):
    return back_to_site(client, provider.consent(start(client, path), sub))


def signed_in(client):
    return client.get("/admin/incidents").status_code == 200


def users(session):
    session.expire_all()
    return session.scalars(sa.select(User)).all()


def audits(session, action):
    return session.scalars(
        sa.select(AuditEntry).where(AuditEntry.entity_type == "user", AuditEntry.action == action)
    ).all()


# --- success -------------------------------------------------------------------------------


def test_the_login_page_offers_the_provider_and_keeps_the_password_form(sso_client):
    page = text(sso_client.get("/login"))
    assert "Sign in with Example ID" in page
    assert 'href="/login/oidc"' in page
    assert 'name="password"' in page


def test_a_member_of_a_mapped_group_gets_an_account_with_that_role(sso_client, provider, session):
    email = person(provider, "ana", groups=["comms", "unrelated"])
    response = sign_in(sso_client, provider, "ana")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/incidents"
    assert signed_in(sso_client)
    (user,) = users(session)
    assert (user.email, user.role, user.name) == (email, Role.COMMUNICATOR, "Ana Lytic")
    assert user.last_login_at is not None
    assert session.scalar(sa.select(sa.func.count(UserSession.id))) == 1
    (created,) = audits(session, "create")
    assert created.changes["role"] == "communicator" and created.actor_id is None
    (signed,) = audits(session, "sign_in")
    assert signed.changes == {"via": "oidc", "role": "communicator"}
    assert signed.actor_id == user.id
    # A communicator publishes but does not configure: the role is really in force.
    assert sso_client.get("/admin/settings/page").status_code == 403


def test_the_flow_uses_pkce_state_and_nonce(sso_client, provider):
    person(provider, "pkce", groups=["support"])
    authorize = start(sso_client)
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == ["http://localhost/login/oidc/callback"]
    assert query["state"][0] and query["nonce"][0]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}
    back_to_site(sso_client, provider.consent(authorize, "pkce"))
    (exchange,) = [
        call
        for call in provider.calls("/oauth2/token")
        if call.form.get("code_verifier") and call.form.get("redirect_uri") == query["redirect_uri"]
    ][-1:]
    digest = hashlib.sha256(exchange.form["code_verifier"][0].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"][0]
    assert signed_in(sso_client)


def test_only_the_latest_start_can_finish(sso_client, provider):
    """Starting again forgets the sign-in started before (the session cookie stays small)."""
    person(provider, "ana", groups=["support"])
    first = start(sso_client)
    for _ in range(5):
        latest = start(sso_client)
    with sso_client.session_transaction() as stored:
        assert len([key for key in stored if key.startswith("_state_")]) == 1
    assert back_to_site(sso_client, provider.consent(first, "ana")).status_code == 400
    assert back_to_site(sso_client, provider.consent(latest, "ana")).status_code == 302
    assert signed_in(sso_client)


def test_the_next_page_survives_the_round_trip(sso_client, provider):
    person(provider, "nia", groups=["support"])
    authorize = start(sso_client, "/login/oidc?next=/admin/components")
    response = back_to_site(sso_client, provider.consent(authorize, "nia"))
    assert response.headers["Location"] == "/admin/components"
    # An address elsewhere is never a destination.
    person(provider, "eve", groups=["support"])
    other = sso_client.application.test_client()
    authorize = start(other, "/login/oidc?next=https://evil.example/")
    response = back_to_site(other, provider.consent(authorize, "eve"))
    assert response.headers["Location"] == "/admin/incidents"


def test_the_role_follows_the_provider_at_each_sign_in(sso_app, provider, session, make_user):
    make_user("admin")  # another admin, so a demotion is allowed
    existing = add_user(
        session,
        email="ops@example.com",
        password="a perfectly long password",
        role=Role.VIEWER,
        actor_id=None,
        now=datetime.now(UTC),
    )
    session.commit()
    person(provider, "ops", groups=["sre-admins", "support"])  # the first mapped pair wins
    sign_in(sso_app.test_client(), provider, "ops")
    session.expire_all()
    assert session.get(User, existing.id).role == Role.ADMIN
    person(provider, "ops", groups=["support"])
    sign_in(sso_app.test_client(), provider, "ops")
    session.expire_all()
    assert session.get(User, existing.id).role == Role.VIEWER
    changes = [entry.changes["role"] for entry in audits(session, "change_role")]
    assert changes == [["viewer", "admin"], ["admin", "viewer"]]
    assert len(users(session)) == 2  # matched on the verified email: no second account


def test_the_last_admin_is_not_demoted_by_the_provider(sso_client, provider, session, make_user):
    admin = make_user("admin", email="boss@example.com")
    person(provider, "boss", groups=["support"])
    assert sign_in(sso_client, provider, "boss").status_code == 302
    session.expire_all()
    assert session.get(User, admin.id).role == Role.ADMIN


def test_two_factor_still_asks_for_the_code(sso_client, provider, session, make_user):
    user = make_user("viewer", email="tfa@example.com")
    enrol(session, user)
    person(provider, "tfa", groups=["support"])
    response = sign_in(sso_client, provider, "tfa")
    assert response.headers["Location"].startswith("/login/two-factor")
    assert not signed_in(sso_client)


# --- refusals ------------------------------------------------------------------------------


def test_nobody_in_a_mapped_group_is_refused_and_no_account_is_made(sso_client, provider, session):
    person(provider, "mallory", groups=["marketing"])
    response = sign_in(sso_client, provider, "mallory")
    assert response.status_code == 403
    assert "in no group that gives access to the staff area" in text(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert users(session) == []
    assert not signed_in(sso_client)


def test_no_groups_claim_at_all_is_refused(sso_client, provider, session):
    provider.set_user("bare", email="bare@example.com", email_verified=True)
    assert sign_in(sso_client, provider, "bare").status_code == 403
    assert users(session) == []


def test_an_unverified_email_is_refused(sso_client, provider, session):
    person(provider, "unverified", groups=["sre-admins"], verified=False)
    response = sign_in(sso_client, provider, "unverified")
    assert response.status_code == 403
    assert "has not verified your email address" in text(response)
    assert users(session) == []


def test_a_disabled_account_stays_out(sso_client, provider, session, make_user):
    user = make_user("viewer", email="gone@example.com")
    user.active = False
    session.commit()
    person(provider, "gone", groups=["support"])
    response = sign_in(sso_client, provider, "gone")
    assert response.status_code == 403
    assert "This account is disabled" in text(response)
    assert not signed_in(sso_client)


def test_a_callback_in_another_browser_is_refused(sso_app, sso_client, provider, session):
    person(provider, "ana", groups=["sre-admins"])
    callback = provider.consent(start(sso_client), "ana")
    attacker = sso_app.test_client()  # never started a sign-in: no state in its session
    response = back_to_site(attacker, callback)
    assert response.status_code == 400
    assert "Start again" in text(response)
    assert users(session) == []
    assert not signed_in(attacker)


def test_a_changed_state_is_refused(sso_client, provider, session):
    person(provider, "ana", groups=["sre-admins"])
    callback = provider.consent(start(sso_client), "ana")
    forged = callback.replace("state=", "state=x")
    assert back_to_site(sso_client, forged).status_code == 400
    assert users(session) == []


def test_a_callback_replayed_is_refused(sso_app, sso_client, provider, session):
    person(provider, "ana", groups=["comms"])
    callback = provider.consent(start(sso_client), "ana")
    before = sso_client.get_cookie("session").value  # the cookie holding the state
    assert back_to_site(sso_client, callback).status_code == 302
    # Again in the same browser: the state was used up.
    assert back_to_site(sso_client, callback).status_code == 400
    # Again with the cookie from before the callback: the provider refuses the used code.
    replay = sso_app.test_client()
    replay.set_cookie("session", before, domain="localhost")
    response = back_to_site(replay, callback)
    assert response.status_code == 400
    assert not signed_in(replay)
    assert len(audits(session, "sign_in")) == 1


def test_an_id_token_from_another_issuer_is_refused(sso_client, provider, session):
    person(provider, "ana", groups=["sre-admins"])
    authorize = start(sso_client)
    provider.tamper = "issuer"
    response = back_to_site(sso_client, provider.consent(authorize, "ana"))
    assert response.status_code == 400
    assert "could not be verified" in text(response)
    assert users(session) == []


def test_an_id_token_with_forged_claims_is_refused(sso_client, provider, session):
    person(provider, "mallory", groups=["marketing"])
    authorize = start(sso_client)
    provider.tamper = "claims"  # the groups become sre-admins after signing
    response = back_to_site(sso_client, provider.consent(authorize, "mallory"))
    assert response.status_code == 400
    assert "could not be verified" in text(response)
    assert users(session) == []


def test_a_discovery_document_naming_another_issuer_is_refused(sso_client, provider):
    provider.tamper = "discovery-issuer"
    response = sso_client.get("/login/oidc")
    assert response.status_code == 502
    assert "misconfigured" in text(response)


def test_a_refusal_at_the_provider_signs_nobody_in(sso_client, provider, session):
    response = back_to_site(sso_client, provider.deny(start(sso_client)))
    assert response.status_code == 400
    assert "cancelled at the provider" in text(response)
    assert users(session) == []


def test_an_unreachable_provider_is_a_clean_answer(another_app, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    application = another_app(
        OIDC_ISSUER="http://127.0.0.1:9",  # the discard port: nothing listens
        OIDC_CLIENT_ID="statuspage",
        OIDC_CLIENT_SECRET="not-used",
        OIDC_STAFF_ROLES=STAFF_ROLES,
        OIDC_TIMEOUT=2,
    )
    response = application.test_client().get("/login/oidc")
    assert response.status_code == 502
    assert "did not answer" in text(response)


# --- off -----------------------------------------------------------------------------------


def test_without_an_issuer_there_is_no_button_and_no_route(client):
    assert "Sign in with" not in text(client.get("/login"))
    assert client.get("/login/oidc").status_code == 404
    assert client.get("/login/oidc/callback?code=x&state=y").status_code == 404


def test_without_staff_roles_staff_single_sign_on_is_off(another_app, provider):
    application = another_app(
        OIDC_ISSUER=provider.url,
        OIDC_CLIENT_ID="statuspage",
        OIDC_CLIENT_SECRET="secret",
    )
    client = application.test_client()
    assert "Sign in with" not in text(client.get("/login"))
    assert client.get("/login/oidc").status_code == 404


def test_staff_refusals_are_in_their_language(sso_client, provider, session):
    from tests.web.german_catalog import de

    sso_client.set_cookie("statuspage_lang", "de")
    person(provider, "nobody", groups=["marketing"])
    response = sign_in(sso_client, provider, "nobody")
    assert response.status_code == 403
    assert de(
        "Your account at the provider is in no group that gives access to the staff area. "
        "Ask an admin to add you to one."
    ) in text(response)
    assert users(session) == []


def test_an_account_is_bound_to_the_provider_identity_and_never_changes_hands(
    sso_app, provider, session
):
    provider.set_user(
        "ana-1", email="ana@example.com", email_verified=True, name="Ana", groups=["support"]
    )
    assert sign_in(sso_app.test_client(), provider, "ana-1").status_code == 302
    (account,) = users(session)
    assert account.oidc_identity == f"{provider.url} ana-1"
    assert [entry.changes for entry in audits(session, "bind_sso")] == [
        {"oidc_identity": f"{provider.url} ana-1"}
    ]

    # Her address changes at the provider: the identity still finds her account.
    provider.set_user("ana-1", email="ana.new@example.com", email_verified=True, groups=["support"])
    assert sign_in(sso_app.test_client(), provider, "ana-1").status_code == 302
    assert [user.id for user in users(session)] == [account.id]

    # The old address, recycled for someone else at the provider, does not open her account.
    provider.set_user(
        "bob-2", email="ana@example.com", email_verified=True, name="Bob", groups=["sre-admins"]
    )
    client = sso_app.test_client()
    refused = sign_in(client, provider, "bob-2")
    assert refused.status_code == 403
    assert "signs in as someone else at the provider" in text(refused)
    assert not signed_in(client)
    (still,) = users(session)
    assert (still.id, still.role, still.oidc_identity) == (
        account.id,
        Role.VIEWER,
        f"{provider.url} ana-1",
    )

    # An admin undoes the binding on purpose: the next sign-in with the address binds anew.
    runner = sso_app.test_cli_runner()
    with sso_app.app_context():
        done = runner.invoke(args=["users", "unbind-sso", "ana@example.com"])
        assert done.exit_code == 0, done.output
        missing = runner.invoke(args=["users", "unbind-sso", "nobody@example.com"])
        assert missing.exit_code == 1
    assert sign_in(sso_app.test_client(), provider, "bob-2").status_code == 302
    (rebound,) = users(session)
    assert rebound.id == account.id and rebound.oidc_identity == f"{provider.url} bob-2"
    assert [entry.changes for entry in audits(session, "unbind_sso")] == [
        {"oidc_identity": [f"{provider.url} ana-1", None]}
    ]
