"""OpenID Connect single sign-on on the web: Authlib's Flask client, registered once per app
when `OIDC_ISSUER` is set, and the two halves of the authorization code flow that the staff
login (`account/single_sign_on.py`) and the readers' sign-in (`public/`) share.

Authlib does the protocol: discovery (`<issuer>/.well-known/openid-configuration`), PKCE
(S256), `state` and `nonce` kept in the signed session cookie and used once, the code
exchanged over a back channel with the client secret, and the ID token's signature (the
provider's published keys), issuer, audience, expiry and nonce checked. We add what Authlib
leaves to the application: the discovered issuer must be the configured one (OpenID Connect
Discovery 1.0, section 4.3), the token answer must hold an ID token, and every failure becomes
one `SignInFailed` with words for the person and a log line without secrets.

The redirect URI sent to the provider is built from `SITE_URL` (scheme and host) and the
callback's path, never from the request's Host header: it is the address the operator
registered at the provider.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import current_app, request, session, url_for

from statuspage.core.translation import N_

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.wrappers import Response

logger = logging.getLogger(__name__)

EXTENSION = "statuspage.oidc"
CLIENT_NAME = "oidc"


class SignInFailed(Exception):
    """The sign-in did not complete; `message` is for the person (an English msgid: the page
    shows it translated), `status` for the answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _unreachable() -> SignInFailed:
    return SignInFailed(
        N_("The sign-in provider did not answer. Try again in a moment, or use another way in."),
        502,
    )


START_AGAIN = N_(
    "That sign-in could not be completed (it expired or was used already). Start again."
)
NOT_VERIFIED = N_("The provider's answer could not be verified, so you are not signed in.")


def register(app: Flask) -> None:
    """Register the provider's client on `app` when `OIDC_ISSUER` is set. No network here:
    discovery happens at the first sign-in."""
    issuer = str(app.config.get("OIDC_ISSUER") or "")
    if not issuer:
        return
    from authlib.integrations.flask_client import OAuth

    oauth = OAuth(app)
    client = oauth.register(
        name=CLIENT_NAME,
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": app.config.get("OIDC_SCOPES") or "openid email profile",
            "code_challenge_method": "S256",
            "default_timeout": float(app.config.get("OIDC_TIMEOUT") or 10.0),
        },
    )
    app.extensions[EXTENSION] = client


def enabled() -> bool:
    return EXTENSION in current_app.extensions


def staff_enabled() -> bool:
    """Staff may sign in with the provider: an issuer and at least one group mapped to a role."""
    return enabled() and bool(current_app.config.get("OIDC_STAFF_ROLES"))


def provider_name() -> str:
    return str(current_app.config.get("OIDC_PROVIDER_NAME") or "single sign-on")


def groups_claim() -> str:
    return str(current_app.config.get("OIDC_GROUPS_CLAIM") or "groups")


def _client() -> Any:
    return current_app.extensions[EXTENSION]


def callback_url(endpoint: str) -> str:
    """The address the provider sends the person back to: SITE_URL's scheme and host."""
    site = urlsplit(str(current_app.config.get("SITE_URL") or "http://localhost"))
    return f"{site.scheme}://{site.netloc}{url_for(endpoint)}"


def _load_metadata(client: Any) -> dict[str, Any]:
    """The provider's discovery document (fetched once per process), whose issuer must be the
    configured one: otherwise another server is answering for the provider."""
    import requests

    try:
        metadata = client.load_server_metadata()
    except (requests.RequestException, ValueError) as error:
        logger.warning("OIDC discovery failed: %s", type(error).__name__)
        raise _unreachable() from None
    configured = str(current_app.config["OIDC_ISSUER"]).rstrip("/")
    if str(metadata.get("issuer") or "").rstrip("/") != configured:
        logger.error("OIDC discovery names another issuer than OIDC_ISSUER: refused")
        raise SignInFailed(
            N_(
                "The sign-in provider is misconfigured (it names another issuer). "
                "Tell the site's operators."
            ),
            502,
        )
    return metadata


def redirect_to_provider(callback_endpoint: str) -> Response:
    """Send the browser to the provider's authorization endpoint; state, nonce and the PKCE
    verifier are kept in the session for the callback."""
    client = _client()
    _load_metadata(client)
    # One sign-in in flight per browser: each start would otherwise add its state to the
    # session cookie until it outgrows what browsers keep.
    for key in [key for key in session if key.startswith(f"_state_{CLIENT_NAME}_")]:
        session.pop(key)
    return client.authorize_redirect(callback_url(callback_endpoint))


def verified_claims(callback_endpoint: str) -> dict[str, Any]:
    """On the callback: the ID token's claims, validated, or SignInFailed.

    The state must match one this browser started (once: Authlib removes it) for this very
    callback (a reader's sign-in does not finish as a staff login), the code is exchanged with
    the PKCE verifier, and the ID token must be signed by the provider's keys, issued by the
    configured issuer to this client, unexpired, and carry the nonce we sent.
    """
    import requests
    from authlib.common.errors import AuthlibBaseError
    from authlib.integrations.base_client import MismatchingStateError, OAuthError
    from joserfc.errors import JoseError

    client = _client()
    _load_metadata(client)
    started = client.framework.get_state_data(session, request.args.get("state"))
    if started is not None and started.get("redirect_uri") != callback_url(callback_endpoint):
        logger.info("OIDC callback refused: the flow was started for another callback")
        raise SignInFailed(START_AGAIN)
    try:
        token = client.authorize_access_token()
    except MismatchingStateError:
        logger.info("OIDC callback refused: unknown or used state")
        raise SignInFailed(START_AGAIN) from None
    except OAuthError as error:
        # The provider's answer (access_denied, invalid_grant for a used code, ...).
        logger.info("OIDC callback refused: %s", error.error)
        message = (
            N_("The sign-in was cancelled at the provider.")
            if error.error == "access_denied"
            else START_AGAIN
        )
        raise SignInFailed(message) from None
    except (AuthlibBaseError, JoseError) as error:
        logger.warning("OIDC ID token refused: %s", type(error).__name__)
        raise SignInFailed(NOT_VERIFIED, 400) from None
    except requests.RequestException as error:
        logger.warning("OIDC token request failed: %s", type(error).__name__)
        raise _unreachable() from None
    except ValueError as error:  # a malformed token answer (not JSON, not a JWT)
        logger.warning("OIDC token answer malformed: %s", type(error).__name__)
        raise SignInFailed(NOT_VERIFIED, 400) from None
    claims = token.get("userinfo")
    if not claims:  # no ID token in the answer: nothing was verified
        logger.warning("OIDC token answer without an ID token: refused")
        raise SignInFailed(NOT_VERIFIED, 400)
    return dict(claims)
