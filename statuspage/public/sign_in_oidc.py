"""Readers' sign-in with the OpenID Connect provider: the provider's groups claim names the
audiences a reader belongs to (`audiences.access.audiences_for_groups`: each audience may name
one provider group), and the reader is kept in the session like one signed in by email link
(`public.readers.sign_in_reader`, via "oidc").

The protocol is `statuspage.oidc`'s (Authlib), shared with the staff login; only verified
email addresses are taken. Someone in no audience's group is told so and stays a public reader.
Both routes answer 404 while `OIDC_ISSUER` is unset.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from statuspage import oidc
from statuspage.audiences.access import audiences_for_groups
from statuspage.auth.sso import SignInRefused, identity_from_claims
from statuspage.extensions import db
from statuspage.i18n import refusal_text
from statuspage.public.blueprint import bp
from statuspage.public.readers import sign_in_reader
from statuspage.public.sign_in import SignInForm

logger = logging.getLogger(__name__)

NO_AUDIENCE = _l(
    "Your account at the provider is in no group that sees private status here. "
    "The public page is open to everyone."
)


@bp.context_processor
def reader_single_sign_on() -> dict[str, Any]:
    """The readers' sign-in page offers the provider when single sign-on is on."""
    return {"reader_sso_provider": oidc.provider_name() if oidc.enabled() else None}


def _refused(message: str, status: int) -> Response:
    page = render_template("public/sign_in.html", form=SignInForm(), sso_error=message)
    response = make_response(page, status)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/sign-in/oidc")
def sign_in_oidc() -> Response:
    if not oidc.enabled():
        abort(404)
    try:
        return oidc.redirect_to_provider("public.sign_in_oidc_callback")
    except oidc.SignInFailed as failure:
        return _refused(_(failure.message), failure.status)


@bp.get("/sign-in/oidc/callback")
def sign_in_oidc_callback() -> Response:
    if not oidc.enabled():
        abort(404)
    try:
        claims = oidc.verified_claims("public.sign_in_oidc_callback")
        identity = identity_from_claims(claims, groups_claim=oidc.groups_claim())
    except oidc.SignInFailed as failure:
        return _refused(_(failure.message), failure.status)
    except SignInRefused as refusal:
        return _refused(refusal_text(refusal), 403)
    audience_ids = audiences_for_groups(db.session, list(identity.groups))
    if not audience_ids:
        logger.info("reader single sign-on refused: no audience for the groups")
        return _refused(NO_AUDIENCE, 403)
    sign_in_reader(email=identity.email, audience_ids=audience_ids, via="oidc")
    flash(_("You are signed in. Private status for your organisation is shown and marked."))
    return redirect(url_for("public.index"), 303)
