"""Staff single sign-on in Chromium: the site (gunicorn) and a real OpenID Connect provider
(oidc-provider-mock, in a thread of the test process) on loopback; the browser clicks
"Sign in with ...", answers the provider's page and lands in the staff area."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import LiveSite, _serving, context_options
from tests.browser.support import BLOCKING_IMPACTS, describe, run_axe
from tests.fakes.oidc_provider import OidcProvider

# The provider's own use of Authlib's server parts warns (in its threads); not our code.
pytestmark = [
    pytest.mark.filterwarnings(r"ignore:get_jwt_config\(self, grant\) is deprecated"),
    pytest.mark.filterwarnings("ignore::authlib.deprecate.AuthlibDeprecationWarning"),
]


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with OidcProvider(registration_required=False) as running:
        yield running


@pytest.fixture(scope="module")
def sso_site(
    provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveSite]:
    extra = {
        "OIDC_ISSUER": provider.url,
        "OIDC_CLIENT_ID": "statuspage-browser",
        "OIDC_CLIENT_SECRET": "browser-client-secret",
        "OIDC_STAFF_ROLES": "sre-admins=admin,comms=communicator",
        "OIDC_PROVIDER_NAME": "Example ID",
    }
    root = tmp_path_factory.mktemp("sso-site")
    with _serving(root, seed=False, extra=extra) as site:
        _add_audience(root, site)
        yield site


def _add_audience(root: Any, site: LiveSite) -> None:
    """An audience whose members are the provider's group "acme-readers"."""
    from datetime import UTC, datetime

    from statuspage import create_app
    from statuspage.audiences.manage import AudienceFields, create_audience
    from statuspage.extensions import db

    app = create_app(
        {
            "APP_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'site.sqlite3'}",
            "SITE_URL": site.base_url,
        }
    )
    with app.app_context():
        create_audience(
            db.session,
            AudienceFields(name="Acme Corp", oidc_group="acme-readers"),
            actor_id=None,
            now=datetime.now(UTC),
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def sso_page(browser: Any, sso_site: LiveSite) -> Iterator[Any]:
    context = browser.new_context(**context_options(sso_site))
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def at_the_provider(page: Any, provider: OidcProvider, sub: str) -> None:
    page.goto("/login")
    page.get_by_role("link", name="Sign in with Example ID").click()
    page.wait_for_url(re.compile(re.escape(provider.url) + r"/oauth2/authorize"))
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize").click()


def test_a_staff_member_signs_in_with_the_provider(
    sso_page: Any, sso_site: LiveSite, provider: OidcProvider
) -> None:
    provider.set_user(
        "casey", email="casey@example.com", email_verified=True, name="Casey", groups=["comms"]
    )
    at_the_provider(sso_page, provider, "casey")
    sso_page.wait_for_url(re.compile(r"/admin/incidents"))
    banner = sso_page.get_by_role("banner")
    assert banner.get_by_text("casey@example.com").is_visible()
    assert banner.get_by_role("button", name="Log out").is_visible()


def test_someone_in_no_mapped_group_is_told_why(
    sso_page: Any, sso_site: LiveSite, provider: OidcProvider
) -> None:
    provider.set_user(
        "mallory", email="mallory@example.com", email_verified=True, groups=["marketing"]
    )
    at_the_provider(sso_page, provider, "mallory")
    sso_page.wait_for_url(re.compile(r"/login/oidc/callback"))
    assert (
        sso_page.get_by_role("alert")
        .inner_text()
        .startswith("Your account at the provider is in no group")
    )
    # The password form is still there, and the page with the refusal passes axe.
    assert sso_page.get_by_label("Password").is_visible()
    blocking = [v for v in run_axe(sso_page) if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, describe(blocking)
    sso_page.set_viewport_size({"width": 390, "height": 844})
    blocking = [v for v in run_axe(sso_page) if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, describe(blocking)
    sso_page.goto("/admin/incidents")
    sso_page.wait_for_url(re.compile(r"/login"))


def test_a_reader_signs_in_with_the_provider_and_reads_as_a_member(
    sso_page: Any, sso_site: LiveSite, provider: OidcProvider
) -> None:
    provider.set_user(
        "rita", email="rita@acme.example", email_verified=True, groups=["acme-readers"]
    )
    sso_page.goto("/")
    sso_page.get_by_role("link", name="Sign in", exact=True).click()
    sso_page.get_by_role("link", name="Sign in with Example ID").click()
    sso_page.wait_for_url(re.compile(re.escape(provider.url) + r"/oauth2/authorize"))
    sso_page.get_by_placeholder("sub").fill("rita")
    sso_page.get_by_role("button", name="Authorize").click()
    sso_page.wait_for_url(sso_site.url("/"))
    assert sso_page.get_by_role("note").inner_text().startswith("Private view.")
    assert sso_page.get_by_text("Signed in as rita@acme.example").is_visible()
    assert sso_page.get_by_role("button", name="Sign out").is_visible()
