"""Readers' single sign-on, end to end against a real OpenID Connect provider on loopback
(the same provider and browser play as `test_oidc_staff.py`): the groups claim names the
audiences a reader belongs to, and the reader then reads the site as a member."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from statuspage.audiences.manage import AudienceFields, create_audience
from statuspage.auth.models import User
from tests.conftest import _empty_database, make_app
from tests.fakes.oidc_provider import OidcProvider
from tests.web.test_oidc_staff import CALLBACKS, STAFF_ROLES, back_to_site, person, start, text

pytestmark = [
    pytest.mark.filterwarnings(r"ignore:get_jwt_config\(self, grant\) is deprecated"),
    pytest.mark.filterwarnings("ignore::authlib.deprecate.AuthlibDeprecationWarning"),
]


@pytest.fixture(scope="module")
def provider():
    with OidcProvider() as running:
        yield running


@pytest.fixture
def reader_app(database_url, provider, monkeypatch):
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
    _empty_database(application)


@pytest.fixture
def reader(reader_app):
    return reader_app.test_client()


@pytest.fixture
def acme(session):
    audience = create_audience(
        session,
        AudienceFields(name="Acme Corp", oidc_group="acme-readers"),
        actor_id=None,
        now=datetime.now(UTC),
    )
    session.commit()
    return audience


def reader_sign_in(client, provider, sub):
    return back_to_site(client, provider.consent(start(client, "/sign-in/oidc"), sub))


def stored_reader(client):
    with client.session_transaction() as stored:
        return stored.get("reader")


def test_the_sign_in_page_offers_the_provider(reader):
    page = text(reader.get("/sign-in"))
    assert "Sign in with Example ID" in page
    assert 'href="/sign-in/oidc"' in page
    assert 'name="email"' in page  # the email link stays


def test_a_member_of_an_audience_group_reads_as_a_member(
    reader, provider, acme, session, make_component
):
    private = make_component("Acme private cluster", is_public=False)
    private.audiences = [acme]
    session.commit()
    assert "Acme private cluster" not in text(reader.get("/"))
    email = person(provider, "rita", groups=["acme-readers", "other"])
    authorize = start(reader, "/sign-in/oidc")
    assert "redirect_uri=http%3A%2F%2Flocalhost%2Fsign-in%2Foidc%2Fcallback" in authorize
    response = back_to_site(reader, provider.consent(authorize, "rita"))
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert stored_reader(reader)["audience_ids"] == [acme.id]
    assert stored_reader(reader)["via"] == "oidc"
    front = reader.get("/")
    assert front.status_code == 200
    assert f"Signed in as {email}" in text(front)
    assert "Acme private cluster" in text(front)
    assert front.headers["Cache-Control"] == "private, no-store"
    assert front.headers["X-Robots-Tag"] == "noindex"
    # A reader is not staff: no account, and the staff area is still closed.
    session.expire_all()
    assert session.scalars(sa.select(User)).all() == []
    assert reader.get("/admin/incidents").status_code == 302


def test_someone_in_no_audience_group_stays_a_public_reader(reader, provider, acme):
    person(provider, "pat", groups=["sre-admins"])  # a staff group is not an audience
    response = reader_sign_in(reader, provider, "pat")
    assert response.status_code == 403
    assert "no group that sees private status here" in text(response)
    assert response.headers["Cache-Control"] == "private, no-store"
    assert stored_reader(reader) is None
    assert "Private view" not in text(reader.get("/"))


def test_an_audience_group_gives_no_staff_account(reader, provider, acme, session):
    person(provider, "rita", groups=["acme-readers"])
    response = back_to_site(reader, provider.consent(start(reader, "/login/oidc"), "rita"))
    assert response.status_code == 403
    session.expire_all()
    assert session.scalars(sa.select(User)).all() == []


def test_an_unverified_email_is_refused(reader, provider, acme):
    person(provider, "una", groups=["acme-readers"], verified=False)
    response = reader_sign_in(reader, provider, "una")
    assert response.status_code == 403
    assert stored_reader(reader) is None


def test_a_callback_in_another_browser_is_refused(reader_app, reader, provider, acme):
    person(provider, "rita", groups=["acme-readers"])
    callback = provider.consent(start(reader, "/sign-in/oidc"), "rita")
    other = reader_app.test_client()
    response = back_to_site(other, callback)
    assert response.status_code == 400
    assert stored_reader(other) is None


def test_a_staff_callback_cannot_finish_a_reader_sign_in(reader, provider, acme):
    """The provider only returns to the redirect URI the flow started with: a code for the
    readers' callback is not taken by the staff callback (the code exchange names the URI)."""
    person(provider, "rita", groups=["acme-readers", "sre-admins"])
    callback = provider.consent(start(reader, "/sign-in/oidc"), "rita")
    assert callback.startswith("http://localhost/sign-in/oidc/callback?")
    swapped = callback.replace("/sign-in/oidc/callback", "/login/oidc/callback")
    response = back_to_site(reader, swapped)
    assert response.status_code == 400
    assert reader.get("/admin/incidents").status_code == 302


def test_with_forged_claims_nobody_is_signed_in(reader, provider, acme):
    person(provider, "mallory", groups=["marketing"])
    authorize = start(reader, "/sign-in/oidc")
    provider.tamper = "claims"
    try:
        response = back_to_site(reader, provider.consent(authorize, "mallory"))
    finally:
        provider.tamper = None
    assert response.status_code == 400
    assert stored_reader(reader) is None


def test_without_an_issuer_there_is_no_button_and_no_route(client):
    assert "Sign in with" not in text(client.get("/sign-in"))
    assert client.get("/sign-in/oidc").status_code == 404
    assert client.get("/sign-in/oidc/callback?code=x&state=y").status_code == 404


def test_refusals_are_in_the_readers_language(reader, provider, acme):
    from tests.web.german_catalog import de

    reader.set_cookie("statuspage_lang", "de")
    person(provider, "unsure", groups=["acme-readers"], verified=False)
    refused = reader_sign_in(reader, provider, "unsure")
    assert refused.status_code == 403
    unverified = (
        "The provider has not verified your email address, so we cannot sign you in with it. "
        "Verify it with the provider, then try again."
    )
    assert de(unverified) in text(refused)
    assert unverified not in text(refused)
    # A callback this browser did not start (a SignInFailed, not a refusal of the person).
    stale = reader.get("/sign-in/oidc/callback?code=x&state=never-started")
    assert stale.status_code == 400
    start_again = (
        "That sign-in could not be completed (it expired or was used already). Start again."
    )
    assert de(start_again) in text(stale)
    assert stored_reader(reader) is None
