"""Status page and incident communication site.

Importing any `statuspage` package runs this module first, and the domain packages must load
no Flask (they run in the worker and the CLI too): so `create_app` and its `register_*` steps
import Flask and the web packages inside the functions, not at the top.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from statuspage.config import (
    check_settings,
    default_settings,
    report_unknown,
    settings_from_environment,
)
from statuspage.core.paths import PROJECT_ROOT

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["PROJECT_ROOT", "create_app"]


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints, error pages, CLI, worker hooks.

    No database I/O, and the task queue is not opened."""
    # Imported here so that importing a domain package (statuspage.incidents, ...) loads no
    # Flask: they run in workers and CLI code too.
    from flask import Flask

    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    register_config(app, test_config)
    register_extensions(app)
    from statuspage import web_converters

    web_converters.register(app)  # before the blueprints: their `<int:...>` rules use it
    from statuspage import oidc

    oidc.register(app)  # single sign-on's client, when OIDC_ISSUER is set (no network here)
    register_blueprints(app)
    register_templating(app)
    register_errors(app)
    register_cli(app)
    register_worker_hooks(app)
    from statuspage import security
    from statuspage.public import cache, readers

    security.register(app)
    cache.register(app)
    readers.register(app)  # in front of the cache: marks members' requests for it to skip
    register_proxy(app)  # last: the proxy fix is the outermost WSGI layer
    return app


def register_proxy(app: Flask) -> None:
    """Behind a reverse proxy or load balancer, `PROXY_FIX_X_FOR` = the number of proxies in
    front of the app (1 for one nginx) makes the client address and scheme come from their
    `X-Forwarded-For` and `X-Forwarded-Proto`. Unset (0), those headers are ignored: a client
    could forge them."""
    hops = int(app.config.get("PROXY_FIX_X_FOR") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def register_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    from dotenv import dotenv_values, load_dotenv

    dotenv = dotenv_values(PROJECT_ROOT / ".env")
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    app.config.from_mapping(default_settings(app.instance_path))
    loaded = settings_from_environment(os.environ, dotenv)
    app.config.from_mapping(loaded.values)
    sources = dict(loaded.sources)
    if test_config:
        app.config.from_mapping(test_config)
        sources.update(dict.fromkeys(test_config, "test config"))
    app.extensions["settings_sources"] = sources
    report_unknown(loaded.unknown)
    check_settings(app.config)
    if "SECRET_KEY" not in sources and app.config["APP_ENV"] == "development":
        sources["SECRET_KEY"] = "instance file (SECRET_KEY_FILE)"  # noqa: S105 (a source name)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    # The SendGrid client logs request headers (the API key among them) at DEBUG.
    logging.getLogger("python_http_client").setLevel(logging.INFO)


def register_extensions(app: Flask) -> None:
    from statuspage import database
    from statuspage.auth.models import User
    from statuspage.extensions import csrf, db, login_manager, migrate

    # Connect, statement and pool timeouts, and a pause after a failed connect (issue 18).
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = database.engine_options(app.config)
    db.init_app(app)
    with app.app_context():
        database.guard_engine(db.engine, app.config)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)

    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        from flask import session

        from statuspage.auth.sessions import session_is_live

        try:
            user = db.session.get(User, int(user_id))
        except ValueError:
            return None
        if user is None or not user.is_active:
            return None
        # The signed cookie alone is not enough: its login must still be live in the database.
        if not session_is_live(db.session, user.id, session.get("sid")):
            return None
        return user

    # Every model module must be imported for Alembic to see all tables.
    import statuspage.models  # noqa: F401


def register_blueprints(app: Flask) -> None:
    from statuspage.account.routes import bp as auth_bp
    from statuspage.admin.routes import bp as admin_bp
    from statuspage.api.alerts import bp as api_alerts_bp
    from statuspage.api.v1 import bp as api_v1_bp
    from statuspage.public.api_v2 import bp as api_v2_bp
    from statuspage.public.routes import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(api_v2_bp)
    # Token APIs use no cookies, so there is nothing for a cross-site request to ride on.
    from statuspage.extensions import csrf

    csrf.exempt(api_v1_bp)
    app.register_blueprint(api_v1_bp)
    csrf.exempt(api_alerts_bp)
    app.register_blueprint(api_alerts_bp)
    # The provider's event webhook authenticates by signature, not by cookie.
    from statuspage.api.provider_webhooks import bp as provider_webhooks_bp

    csrf.exempt(provider_webhooks_bp)
    app.register_blueprint(provider_webhooks_bp)


def register_templating(app: Flask) -> None:
    from statuspage import templating

    templating.init_app(app)

    # The reader's language (Flask-Babel): `_()` in templates, catalogs in translations/.
    from statuspage import i18n
    from statuspage.public.cache.policy import CACHED_ENDPOINTS

    i18n.init_app(app)
    # The query arguments each cached page reads: the language switcher's links keep only
    # those (given here so statuspage.i18n imports nothing from statuspage.public).
    app.extensions[i18n.KEPT_ARGUMENTS] = CACHED_ENDPOINTS

    # The page's name, logo, colour and links (statuspage.branding), in every template.
    from statuspage.public import branding

    branding.init_app(app)

    # The front page's component blocks, kept per content and language.
    from statuspage.public import fragments

    fragments.register(app)


def register_errors(app: Flask) -> None:
    from statuspage import errors

    errors.init_app(app)


def register_worker_hooks(app: Flask) -> None:
    """After a commit, new outbox notifications and public changes are handed to the worker."""
    from statuspage.worker import hooks

    hooks.register(app)


def register_cli(app: Flask) -> None:
    from statuspage import cli

    cli.init_app(app)
