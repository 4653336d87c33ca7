"""The page's branding on the web: the favicon, the uploaded logo and the brand stylesheet,
and `page` (the effective settings) in every template.

Images and the stylesheet are addressed by the digest of what they hold, so they can be
cached for a year: a new upload is a new address. `/favicon.ico` serves the uploaded favicon
or the default one; it never answers 404.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from statuspage.branding.settings import Page, effective_page, image
from statuspage.database import ThrottledLog
from statuspage.extensions import db

logger = logging.getLogger(__name__)
_unreadable_log = ThrottledLog(logger)  # one line a minute during an outage

bp = Blueprint("branding", __name__)
YEAR = 365 * 24 * 60 * 60
DEFAULT_FAVICON = Path(__file__).resolve().parents[2] / "static" / "img" / "favicon.png"


def current_page() -> Page:
    """The effective page settings, read once per request. When the database does not
    answer (an error page during an outage), the configuration's values stand in."""
    if "page" not in g:
        try:
            g.page = effective_page(db.session, current_app.config)
        except SQLAlchemyError:
            db.session.rollback()
            _unreadable_log.log(
                logging.WARNING, "Page settings unreadable; using the configured defaults"
            )
            g.page = Page(
                name=str(current_app.config.get("SITE_NAME") or "Status"),
                about="",
                brand_color="",
                support_url="",
                contact_url="",
                time_zone=str(current_app.config.get("SITE_TIME_ZONE") or "UTC"),
            )
    return g.page


def brand_css(color: str) -> str:
    return (
        f":root {{ --brand: {color}; }}\n"
        ".site-header { border-top: .35rem solid var(--brand); }\n"
        ".button { background: var(--brand); }\n"
        ".button--secondary { background: #fff; color: var(--brand);"
        " border-color: var(--brand); }\n"
    )


def brand_css_version(color: str) -> str:
    return hashlib.sha256(brand_css(color).encode()).hexdigest()[:16]


def _immutable(response: Response) -> Response:
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    return response


@bp.get("/favicon.ico")
def favicon() -> Response:
    stored = image(db.session, "favicon")
    if stored is None:
        response = Response(DEFAULT_FAVICON.read_bytes(), mimetype="image/png")
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response
    data, media_type, digest = stored
    response = Response(data, mimetype=media_type)
    response.set_etag(digest)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response.make_conditional(request)


@bp.get("/branding/<any(logo, favicon):kind>/<digest>")
def branding_image(kind: str, digest: str) -> Response:
    stored = image(db.session, kind)  # type: ignore[arg-type]
    if stored is None or stored[2] != digest:
        abort(404)
    data, media_type, _ = stored
    response = Response(data, mimetype=media_type)
    # An uploaded file is only ever shown as an image, never opened as a document.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return _immutable(response)


@bp.get("/branding/brand-<version>.css")
def brand_stylesheet(version: str) -> Response:
    page = current_page()
    if not page.brand_color or brand_css_version(page.brand_color) != version:
        abort(404)
    return _immutable(Response(brand_css(page.brand_color), mimetype="text/css"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.context_processor
    def page_settings() -> dict[str, Any]:
        page = current_page()
        return {
            "brand": page,
            "site_name": page.name,
            "brand_css_version": brand_css_version(page.brand_color) if page.brand_color else "",
        }
