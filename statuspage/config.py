"""Settings, read from the environment (a `.env` file is allowed).

Precedence, lowest first: the defaults below, the process environment, the test
config handed to `create_app`. Nothing here touches the database.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("development", "testing", "production")


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says what to set."""


def database_url_to_sqlalchemy(url: str) -> str:
    """Accept the usual `postgres://` / `postgresql://` URLs and select psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def default_settings(instance_path: str) -> dict[str, Any]:
    sqlite_path = Path(instance_path) / "statuspage.sqlite3"
    return {
        "APP_ENV": "production",
        "SECRET_KEY": None,
        # Development only: where the key shared by the web server, the worker and the CLI
        # is kept when SECRET_KEY is not set (see `development_secret_key`).
        "SECRET_KEY_FILE": str(Path(instance_path) / "secret_key"),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{sqlite_path}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SITE_NAME": "Example Status",
        "SITE_URL": "http://127.0.0.1:5000",
        "SITE_TIME_ZONE": "UTC",
        "UPTIME_DAYS": 90,
        "RECENT_DAYS": 14,
        "HISTORY_PAGE_SIZE": 25,
        "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
        "EVIDENCE_DIR": str(Path(instance_path) / "evidence"),
        "EVIDENCE_MAX_BYTES": 5 * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Alerts: a firing alert joins the open incident whose last alert with the same key
        # came within this many seconds; the label that names the affected component.
        "ALERT_DEDUP_WINDOW": 4 * 60 * 60,
        "ALERT_COMPONENT_LABEL": "component",
        # Priorities whose incidents need an approved post-incident review before closing:
        # comma-separated ("P1,P2"); empty for none. Read as a set of names by check_settings.
        "REVIEW_REQUIRED_PRIORITIES": "P1,P2",
    }


PRIORITY_NAMES = ("P1", "P2", "P3", "P4")


def parse_priorities(value: object) -> frozenset[str]:
    """ "P1,P2" (or a list of names) as a set of priority names; ConfigError on anything else.

    An empty value (or "none") means no priority needs a review.
    """
    if isinstance(value, str):
        items = [] if value.strip().lower() == "none" else value.replace(" ", ",").split(",")
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = [str(item) for item in value]
    else:
        raise ConfigError(
            f"REVIEW_REQUIRED_PRIORITIES must be a list such as P1,P2, not {value!r}."
        )
    names = {item.strip().upper() for item in items if item.strip()}
    unknown = sorted(names - set(PRIORITY_NAMES))
    if unknown:
        raise ConfigError(
            "REVIEW_REQUIRED_PRIORITIES names unknown priorities "
            f"({', '.join(unknown)}); use P1, P2, P3, P4 separated by commas."
        )
    return frozenset(names)


# Environment variables read by name. Anything else can be given as STATUSPAGE_<NAME>
# (Flask's `from_prefixed_env`, values parsed as JSON where they parse).
_DIRECT_VARIABLES = (
    "APP_ENV",
    "SECRET_KEY",
    "SITE_NAME",
    "SITE_URL",
    "SITE_TIME_ZONE",
    "REDIS_URL",
    "MAIL_TRANSPORT",
    "MAIL_FROM",
    "MAIL_FILE_DIR",
    "MAIL_SMTP_HOST",
    "MAIL_SMTP_PORT",
    "MAIL_SMTP_USERNAME",
    "MAIL_SMTP_PASSWORD",
    "MAIL_SMTP_STARTTLS",
    "SENDGRID_API_KEY",
    "SENDGRID_API_HOST",
    "SENDGRID_TIMEOUT",
    "SENDGRID_WEBHOOK_PUBLIC_KEY",
    "PROXY_FIX_X_FOR",
)


def settings_from_environment(environ: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for name in _DIRECT_VARIABLES:
        if environ.get(name):
            settings[name] = environ[name]
    # Set but empty is meaningful here: no priority needs a review.
    if "REVIEW_REQUIRED_PRIORITIES" in environ:
        settings["REVIEW_REQUIRED_PRIORITIES"] = environ["REVIEW_REQUIRED_PRIORITIES"]
    if environ.get("DATABASE_URL"):
        settings["SQLALCHEMY_DATABASE_URI"] = database_url_to_sqlalchemy(environ["DATABASE_URL"])
    if "APP_ENV" not in settings and environ.get("FLASK_DEBUG") in ("1", "true", "True"):
        settings["APP_ENV"] = "development"
    return settings


def development_secret_key(path: Path) -> str:
    """A random key made once and kept in `path` (readable by its owner only).

    Every process of a development site reads the same one: links the worker signs (a
    subscription's confirmation) work on the web server, and logins survive a restart. A
    fixed key in the code would let anyone who reads it forge sessions.
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32).hex()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


def check_settings(config: dict[str, Any]) -> None:
    """Refuse to start with settings that cannot be right; say what to change."""
    env = config.get("APP_ENV")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}.")
    config["REVIEW_REQUIRED_PRIORITIES"] = parse_priorities(
        config.get("REVIEW_REQUIRED_PRIORITIES", "P1,P2")
    )
    if env == "production" and not config.get("SECRET_KEY"):
        raise ConfigError(
            "SECRET_KEY is not set. Outside development and testing the site refuses to start "
            "without it: set SECRET_KEY in the environment or in .env to a long random value "
            "(for example: python -c 'import secrets; print(secrets.token_hex(32))')."
        )
    if env == "development" and not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = development_secret_key(Path(config["SECRET_KEY_FILE"]))
    if env == "testing" and not config.get("SECRET_KEY"):
        # A fixed key would let anyone who reads the code forge sessions.
        config["SECRET_KEY"] = os.urandom(32).hex()
    if env == "production":
        # Production is served over HTTPS; cookies never travel in clear text.
        config["SESSION_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_HTTPONLY"] = True
