"""Security headers on every response, production cookies, generic error pages, evidence that
is never shown inline, and templates that need no inline script or style (statuspage/security.py).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask import abort, request

from statuspage.security import content_security_policy
from tests.conftest import PASSWORD, make_app

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

EVERYWHERE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def assert_protected(response, *, csp: str | None = None) -> None:
    for name, value in EVERYWHERE.items():
        assert response.headers.get(name) == value, (name, response.request.path)
    policy = response.headers["Content-Security-Policy"]
    if csp is not None:
        assert policy == csp
        return
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    assert "camera=()" in response.headers["Permissions-Policy"]


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_every_page_without_parameters_carries_the_headers(app, client, make_user, login, who):
    """Every GET route of `app.url_map` that needs no parameter, as an anonymous visitor and
    as an admin: pages, JSON, feeds, CSV, redirects to the login page, whatever the status."""
    if who == "admin":
        login(make_user("admin"))
    paths = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static"
    )
    assert "/" in paths and "/login" in paths and "/admin/incidents" in paths
    statuses = set()
    for path in paths:
        response = client.get(path)
        statuses.add(response.status_code)
        assert_protected(response, csp=None if path != "/badge.svg" else "default-src 'none'")
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP
        response.close()
    assert 200 in statuses


def test_static_files_and_error_pages_carry_the_headers(client):
    for path, status in [
        ("/static/css/site.css", 200),
        ("/static/js/localtime.js", 200),
        ("/no/such/page", 404),
        ("/logout", 405),  # GET on a POST-only route
    ]:
        response = client.get(path)
        assert response.status_code == status, path
        assert_protected(response)
        response.close()


def test_a_refused_csrf_token_page_carries_the_headers(csrf_client):
    response = csrf_client.post("/login", data={"email": "a@example.com", "password": "x" * 12})
    assert response.status_code == 400
    assert_protected(response)


def test_hsts_only_over_https(app, client):
    over_http = client.get("/login")
    assert "Strict-Transport-Security" not in over_http.headers
    over_https = client.get("/login", base_url="https://status.example")
    assert over_https.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert_protected(over_https)


def test_hsts_settings(app, client):
    app.config.update(HSTS_ALWAYS=True, HSTS_MAX_AGE=600, HSTS_INCLUDE_SUBDOMAINS=True)
    assert client.get("/login").headers["Strict-Transport-Security"] == (
        "max-age=600; includeSubDomains"
    )
    app.config["HSTS_MAX_AGE"] = 0  # off
    assert "Strict-Transport-Security" not in client.get("/login").headers
    assert "Strict-Transport-Security" not in client.get("/login", base_url="https://x").headers


def test_behind_a_proxy_https_is_read_from_x_forwarded_proto(database_url, other_app):
    client = other_app(PROXY_FIX_X_FOR=1)
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_frame_ancestors_setting_allows_chosen_embedders(app, client):
    app.config["FRAME_ANCESTORS"] = "'self' https://intranet.example"
    response = client.get("/")
    assert (
        "frame-ancestors 'self' https://intranet.example"
        in (response.headers["Content-Security-Policy"])
    )
    assert "X-Frame-Options" not in response.headers  # it cannot say "these sites only"


def test_the_policy_is_the_same_for_every_response(client):
    """No per-request nonce: a cached page stays valid with the header sent next time."""
    first = client.get("/").headers["Content-Security-Policy"]
    assert client.get("/history").headers["Content-Security-Policy"] == first
    assert first == content_security_policy()


# --- templates need nothing the policy refuses -----------------------------------------


def served_templates() -> list[Path]:
    """Every template rendered as a page; email templates are not served."""
    return [
        path
        for path in TEMPLATES.rglob("*.html")
        if "email" not in path.relative_to(TEMPLATES).parts
    ]


def test_templates_have_no_inline_script_style_or_event_handlers():
    found = []
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
    patterns = {
        "inline <script>": inline_script,
        "<style> element": re.compile(r"<style\b", re.IGNORECASE),
        "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
        "event handler attribute": re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE),
        "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    }
    templates = served_templates()
    assert len(templates) > 20
    for path in templates:
        source = path.read_text(encoding="utf-8")
        for what, pattern in patterns.items():
            if pattern.search(source):
                found.append(f"{path.relative_to(TEMPLATES)}: {what}")
    assert found == []


def test_the_detector_would_see_inline_code():
    """The patterns above are not vacuous."""
    sample = '<svg style="max-width: 3px"></svg><script>x()</script><a onclick="y()">'
    assert re.search(r"\sstyle\s*=", sample)
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", sample)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", '<script src="/a.js" defer></script>')


def test_charts_are_sized_without_a_style_attribute(app):
    chart = SimpleNamespace(
        id="by-priority",
        title="Incidents by priority",
        summary="P1: 2",
        bars=[SimpleNamespace(label="P1", fraction=1.0, text="2")],
    )
    with app.test_request_context():
        html = str(app.jinja_env.get_template("admin/_charts.html").module.bar_chart(chart))
    assert "style=" not in html
    assert re.search(r'<svg [^>]*width="270" height="52"', html)
    css = (TEMPLATES.parent / "static" / "css" / "site.css").read_text()
    assert ".chart svg { max-width: 100%; height: auto; }" in css


# --- cookies -------------------------------------------------------------------------------


@pytest.fixture
def other_app(database_url):
    from statuspage.extensions import db

    made = []

    def make(**settings):
        made.append(make_app(database_url, **settings))
        return made[-1].test_client()

    yield make
    for application in made:
        with application.app_context():
            db.engine.dispose()


def test_production_cookies_are_secure_httponly_and_lax(other_app, make_user):
    # Even an explicit attempt to weaken them is overridden in production.
    client = other_app(
        APP_ENV="production", SESSION_COOKIE_SECURE=False, SESSION_COOKIE_SAMESITE=None
    )
    user = make_user("viewer")
    response = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD},
        base_url="https://status.example",
    )
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie
    application = client.application
    assert application.config["REMEMBER_COOKIE_SECURE"] is True
    assert application.config["REMEMBER_COOKIE_HTTPONLY"] is True


def test_development_cookies_are_httponly_and_lax_but_work_over_http(client, make_user):
    user = make_user("viewer")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "; HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


# --- generic error pages ---------------------------------------------------------------------

SECRET_DETAIL = "connection string postgresql://admin:hunter2@db/prod"


@pytest.fixture
def failing_app(app):
    """The test app with routes that fail in each way (registered here, never in the site)."""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as production does, not raise

    def crash():
        raise RuntimeError(SECRET_DETAIL)

    def bad_json():
        return str(request.get_json())

    def refuse():
        abort(400)

    app.add_url_rule("/_test/crash", view_func=crash)
    app.add_url_rule("/_test/json", view_func=bad_json, methods=["POST"])
    app.add_url_rule("/_test/refuse", view_func=refuse)
    return app


def assert_generic(response, status: int) -> str:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for leak in ("Traceback", "RuntimeError", "hunter2", 'File "', ".py", "JSONDecodeError"):
        assert leak not in page, leak
    assert_protected(response)
    return page


def test_an_unexpected_error_shows_a_plain_page(failing_app, caplog):
    client = failing_app.test_client()
    page = assert_generic(client.get("/_test/crash"), 500)
    assert "Something went wrong on our side" in page
    assert "RuntimeError" in caplog.text  # logged for the operators, not shown


def test_client_errors_show_plain_pages(failing_app):
    client = failing_app.test_client()
    page = assert_generic(
        client.post("/_test/json", data="{not json", content_type="application/json"), 400
    )
    assert "Bad Request" in page and "Expecting" not in page
    assert "Bad Request" in assert_generic(client.get("/_test/refuse"), 400)
    assert "Not Found" in assert_generic(client.get("/_test/nothing-here"), 404)
    assert "Method Not Allowed" in assert_generic(client.post("/_test/crash"), 405)


def test_a_wrong_method_is_told_which_methods_work(client):
    refused = client.post("/history")
    assert refused.status_code == 405
    assert set(refused.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_a_form_value_with_nul_is_refused_before_any_view(client):
    refused = client.post("/subscribe", data={"email": "a\x00@example.com", "scope": "all"})
    assert refused.status_code == 400
    assert "NUL" in refused.get_data(as_text=True)


# --- evidence files ---------------------------------------------------------------------------


def test_evidence_is_always_a_sandboxed_download(client, session, make_user, login, make_incident):
    from statuspage.incidents.models import Evidence

    incident = make_incident(public=False)
    session.commit()
    login(make_user("responder"))
    incident_path = f"/admin/incidents/{incident.id}"
    hostile = b"<html><script>alert(document.cookie)</script></html>"
    upload = client.post(
        f"{incident_path}/evidence/file",
        data={"efile-title": "page", "efile-file": (io.BytesIO(hostile), "page.txt")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 302
    evidence = session.scalar(sa.select(Evidence).where(Evidence.kind == "file"))
    download = client.get(f"{incident_path}/evidence/{evidence.id}")
    assert download.status_code == 200 and download.data == hostile
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.mimetype != "text/html"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    # The view's own policy wins over the site's: nothing loads, and it runs sandboxed.
    assert download.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    download.close()
