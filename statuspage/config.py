"""Settings, read from the environment (a `.env` file is allowed).

Precedence, lowest first: the defaults of the settings table below, `.env`, the process
environment, the test config handed to `create_app`. Every setting is read under its own
name (as documented in the README) and also as `STATUSPAGE_<NAME>`; a value that does not
parse stops start-up with one line naming the setting, and an unknown `STATUSPAGE_` name is
reported. Nothing here touches the database.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from statuspage.core.languages import CODES as LANGUAGE_CODES

logger = logging.getLogger(__name__)

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
    """Every setting's default (the table below), plus Flask's own that the site fixes."""
    sqlite_path = Path(instance_path) / "statuspage.sqlite3"
    settings = {setting.config_key: setting.default for setting in SETTINGS}
    settings.update(
        {
            # Development only: where the key shared by the web server, the worker and the
            # CLI is kept when SECRET_KEY is not set (see `development_secret_key`).
            "SECRET_KEY_FILE": str(Path(instance_path) / "secret_key"),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{sqlite_path}",
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            "EVIDENCE_DIR": str(Path(instance_path) / "evidence"),
            "WTF_CSRF_TIME_LIMIT": None,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
        }
    )
    return settings


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


LEVEL_NAMES = ("high", "medium", "low")
DEFAULT_SEVERITY = "default"


def parse_severity_map(value: object) -> dict[str, tuple[str, str]]:
    """ "critical=high/high,info=low/low" as {severity: (impact, urgency)}; ConfigError else.

    Severities are compared in lower case. The entry `default` applies to an alert without a
    severity or with one the map does not name; without it such an alert gets no priority.
    """
    if isinstance(value, Mapping):
        pairs = [
            (str(key), f"{v[0]}/{v[1]}" if isinstance(v, (list, tuple)) else str(v))
            for key, v in value.items()
        ]
    elif isinstance(value, str):
        pairs = []
        for item in value.split(","):
            if not item.strip():
                continue
            key, sep, levels = item.partition("=")
            if not sep:
                raise ConfigError(
                    f"ALERT_SEVERITY_MAP entry {item.strip()!r} must read severity=impact/urgency "
                    "(for example critical=high/high)."
                )
            pairs.append((key, levels))
    else:
        raise ConfigError(
            f"ALERT_SEVERITY_MAP must be a list such as critical=high/high, not {value!r}."
        )
    parsed: dict[str, tuple[str, str]] = {}
    for key, levels in pairs:
        severity = key.strip().lower()
        impact, _, urgency = levels.strip().lower().partition("/")
        impact, urgency = impact.strip(), urgency.strip()
        if not severity or impact not in LEVEL_NAMES or urgency not in LEVEL_NAMES:
            raise ConfigError(
                f"ALERT_SEVERITY_MAP entry {key.strip()}={levels.strip()} must read "
                "severity=impact/urgency, each of high, medium or low (for example "
                "critical=high/high)."
            )
        parsed[severity] = (impact, urgency)
    return parsed


def parse_group_roles(value: object) -> tuple[tuple[str, str], ...]:
    """OIDC_STAFF_ROLES, "sre-admins=admin,comms=communicator", as (group, role) pairs in the
    order written (the first pair whose group a person is in decides); ConfigError else."""
    from statuspage.auth.sso import GroupRolesError
    from statuspage.auth.sso import parse_group_roles as parse

    try:
        return tuple((group, role.value) for group, role in parse(value))
    except GroupRolesError as error:
        raise ConfigError(f"OIDC_STAFF_ROLES {error}") from None


def check_oidc(config: Mapping[str, Any]) -> None:
    """Single sign-on needs its client, and an issuer reached over HTTPS (or on loopback)."""
    issuer = str(config.get("OIDC_ISSUER") or "")
    if not issuer:
        return
    if not config.get("OIDC_CLIENT_ID") or not config.get("OIDC_CLIENT_SECRET"):
        raise ConfigError(
            "OIDC_ISSUER is set, so OIDC_CLIENT_ID and OIDC_CLIENT_SECRET must be set too "
            "(the client registered for this site at the provider)."
        )
    parts = urlsplit(issuer)
    if parts.scheme != "https" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise ConfigError(f"OIDC_ISSUER must be an https:// address, not {issuer!r}.")
    if "openid" not in str(config.get("OIDC_SCOPES") or "").split():
        raise ConfigError("OIDC_SCOPES must include openid (for example: openid email profile).")


# --- the settings table ------------------------------------------------------------------
#
# Every setting the site reads, with its type. Each is read from the environment (or `.env`)
# under its own name, and also as `STATUSPAGE_<NAME>` (the older spelling). A value that does
# not parse stops start-up with one line naming the setting.


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # str, int, float, bool, choice, url, redis, zone, path, list, database,
    # priorities, severity_map, group_roles
    default: Any = None
    secret: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    # The app.config key, when it differs from the name (DATABASE_URL).
    key: str | None = None

    @property
    def config_key(self) -> str:
        return self.key or self.name


def _s(name: str, kind: str = "str", default: Any = None, **options: Any) -> Setting:
    return Setting(name, kind, default, **options)


SETTINGS: tuple[Setting, ...] = (
    _s("APP_ENV", "choice", "production", choices=ENVIRONMENTS),
    _s("SECRET_KEY", default=None, secret=True),
    _s("SECRET_KEY_FALLBACKS", "list", [], secret=True),
    _s("DATABASE_URL", "database", None, secret=True, key="SQLALCHEMY_DATABASE_URI"),
    _s("DATABASE_CONNECT_TIMEOUT", "float", 0.5, minimum=0),
    _s("DATABASE_STATEMENT_TIMEOUT", "float", 5.0, minimum=0),
    _s("DATABASE_POOL_TIMEOUT", "int", 2, minimum=1),
    _s("DATABASE_RETRY_SECONDS", "float", 1.0, minimum=0),
    _s("DATABASE_PUBLIC_ANSWER_TIMEOUT", "float", 0.5, minimum=0),
    _s("SITE_NAME", default="Example Status"),
    _s("SITE_URL", "url", "http://127.0.0.1:5000"),
    _s("SITE_TIME_ZONE", "zone", "UTC"),
    _s("DEFAULT_LANGUAGE", "choice", "en", choices=LANGUAGE_CODES),
    _s("PAGE_ID"),
    _s("UPTIME_DAYS", "int", 90, minimum=1, maximum=366),
    _s("RECENT_DAYS", "int", 14, minimum=1, maximum=366),
    _s("HISTORY_PAGE_SIZE", "int", 25, minimum=1, maximum=500),
    _s("MAX_CONTENT_LENGTH", "int", 10 * 1024 * 1024, minimum=1024),
    _s("EVIDENCE_DIR", "path", None),
    _s("EVIDENCE_MAX_BYTES", "int", 5 * 1024 * 1024, minimum=1),
    _s("ALERT_DEDUP_WINDOW", "int", 4 * 60 * 60, minimum=0),
    _s("ALERT_COMPONENT_LABEL", default="component"),
    _s(
        "ALERT_SEVERITY_MAP",
        "severity_map",
        "critical=high/high,error=high/medium,warning=medium/medium,info=low/low,"
        "default=medium/medium",
    ),
    _s("REVIEW_REQUIRED_PRIORITIES", "priorities", "P1,P2"),
    _s("REDIS_URL", "redis", None, secret=True),
    _s("HUEY_SQLITE_PATH", "path", None),
    _s("HUEY_IMMEDIATE", "bool", False),
    _s("WORKER_NICENESS", "int", 10, minimum=0, maximum=19),
    _s("MAIL_TRANSPORT", "choice", None, choices=("file", "smtp", "sendgrid")),
    _s("MAIL_FROM", default="status@localhost"),
    _s("MAIL_FILE_DIR", "path", None),
    _s("MAIL_SMTP_HOST", default="localhost"),
    _s("MAIL_SMTP_PORT", "int", 587, minimum=1, maximum=65535),
    _s("MAIL_SMTP_USERNAME"),
    _s("MAIL_SMTP_PASSWORD", secret=True),
    _s("MAIL_SMTP_STARTTLS", "bool", True),
    _s("MAIL_SMTP_TIMEOUT", "float", 10.0, minimum=0.1),
    _s("SENDGRID_API_KEY", secret=True),
    _s("SENDGRID_API_HOST", "url", None),
    _s("SENDGRID_TIMEOUT", "float", 10.0, minimum=0.1),
    _s("SENDGRID_WEBHOOK_PUBLIC_KEY"),
    _s("SENDGRID_WEBHOOK_MAX_AGE", "int", 600, minimum=1),
    _s("TWILIO_ACCOUNT_SID"),
    _s("TWILIO_AUTH_TOKEN", secret=True),
    _s("TWILIO_FROM_NUMBER"),
    _s("TWILIO_MESSAGING_SERVICE_SID"),
    _s("TWILIO_API_BASE_URL", "url", None),  # tests only: a loopback stand-in of Twilio
    _s("TWILIO_TIMEOUT", "float", 10.0, minimum=0.1),
    _s("SMS_MAX_SEGMENTS", "int", 1, minimum=1, maximum=10),
    _s("PROXY_FIX_X_FOR", "int", 0, minimum=0, maximum=10),
    _s("PUBLIC_CACHE_STORAGE", "choice", "", choices=("", "memory", "redis", "none")),
    _s("PUBLIC_CACHE_SECONDS", "int", 30, minimum=0),
    _s("PUBLIC_CACHE_MAX_AGE", "int", 15, minimum=0),
    _s("PUBLIC_CACHE_STALE_WHILE_REVALIDATE", "int", 60, minimum=0),
    _s("PUBLIC_CACHE_STALE_IF_ERROR", "int", 86400, minimum=0),
    _s("PUBLIC_CACHE_WAIT_SECONDS", "float", 5, minimum=0),
    _s("PUBLIC_CACHE_FAST_PATH", "bool", True),
    _s("PUBLIC_CACHE_MAX_ENTRIES", "int", 2000, minimum=1),
    _s("PUBLIC_CACHE_MAX_BYTES", "int", 64 * 1024 * 1024, minimum=1),
    _s("PUBLIC_CACHE_PREFIX", default="statuspage:public-cache:"),
    _s("PUBLIC_CACHE_VERSION_SECONDS", "float", 5.0, minimum=0),
    _s("PUBLIC_CACHE_VERSION_LOCAL_SECONDS", "float", 1.0, minimum=0),
    _s("API_MAX_AGE", "int", 30, minimum=0),
    _s("STATIC_EXPORT_DIR", "path", None),
    _s("STATIC_EXPORT_ENQUEUE", "bool", None),
    _s("STATIC_EXPORT_DAYS", "int", 90, minimum=1, maximum=366),
    _s("STATIC_EXPORT_LIMIT", "int", 500, minimum=1),
    _s("STATIC_EXPORT_HISTORY_PAGES", "int", 10, minimum=1),
    _s("STATIC_EXPORT_REFRESH", "int", 600, minimum=0),
    _s("SNAPSHOT_S3_BUCKET"),
    _s("SNAPSHOT_S3_PREFIX", default=""),
    _s("SNAPSHOT_S3_ENDPOINT_URL", "url", None),
    _s("REQUIRE_2FA_FOR_ADMINS", "bool", False),
    _s("TWO_FACTOR_ATTEMPT_LIMIT", "int", 5, minimum=1),
    _s("LOGIN_ACCOUNT_LIMIT", "int", 10, minimum=1),
    _s("LOGIN_IP_LIMIT", "int", 30, minimum=1),
    _s("LOGIN_WINDOW", "int", 15 * 60, minimum=1),
    _s("RATELIMIT_STORAGE", "choice", "", choices=("", "memory", "redis")),
    _s("RATELIMIT_PREFIX", default="statuspage:ratelimit:"),
    _s("DELIVERY_ENQUEUE", "bool", None),
    _s("DELIVERY_BATCH_SIZE", "int", 1000, minimum=1, maximum=1000),
    _s("DELIVERY_MAX_ATTEMPTS", "int", 10, minimum=1),
    _s("DELIVERY_LEASE_SECONDS", "int", 300, minimum=1),
    _s("CHANNEL_ALLOW_HTTP", "bool", False),
    _s("CHANNEL_ALLOWED_TEST_NETWORKS", "list", []),
    _s("CHANNEL_TIMEOUT", "float", 10.0, minimum=0.1),
    _s("CHANNEL_MAX_RESPONSE_BYTES", "int", 4096, minimum=1),
    _s("CHANNEL_MAX_ATTEMPTS", "int", 15, minimum=1),
    _s("CHANNEL_BACKOFF_BASE", "float", 10.0, minimum=0),
    _s("CHANNEL_BACKOFF_CAP", "float", 3600.0, minimum=0),
    _s("CHANNEL_LEASE_SECONDS", "float", 120.0, minimum=0.1),
    _s("CHANNEL_CONCURRENCY", "int", 32, minimum=1, maximum=512),
    _s("CHANNEL_PER_HOST_LIMIT", "int", 4, minimum=1),
    _s("CHANNEL_DISABLE_AFTER_FAILURES", "int", 50, minimum=1),
    _s("CHANNEL_DISABLE_AFTER_DAYS", "float", 5.0, minimum=0),
    _s("SUBSCRIPTION_CONFIRM_MAX_AGE", "int", 7 * 24 * 60 * 60, minimum=60),
    _s("SUBSCRIBER_IMPORT_MAX_BYTES", "int", 5 * 1024 * 1024, minimum=1),
    _s("IMPORT_ALLOW_PRIVATE_NETWORK", "bool", False),
    _s("READER_LINK_MAX_AGE", "int", 15 * 60, minimum=60, maximum=24 * 60 * 60),
    _s("READER_LINK_LIMIT", "int", 5, minimum=1),
    _s("READER_SESSION_HOURS", "int", 12, minimum=1, maximum=24 * 30),
    _s("FRAME_ANCESTORS", default="'none'"),
    _s("HSTS_MAX_AGE", "int", 365 * 24 * 60 * 60, minimum=0),
    _s("HSTS_INCLUDE_SUBDOMAINS", "bool", False),
    _s("HSTS_ALWAYS", "bool", False),
    # Single sign-on (statuspage/oidc.py): off until OIDC_ISSUER is set.
    _s("OIDC_ISSUER", "url", None),
    _s("OIDC_CLIENT_ID"),
    _s("OIDC_CLIENT_SECRET", secret=True),
    _s("OIDC_SCOPES", default="openid email profile"),
    _s("OIDC_GROUPS_CLAIM", default="groups"),
    _s("OIDC_STAFF_ROLES", "group_roles", ""),
    _s("OIDC_PROVIDER_NAME", default="single sign-on"),
    _s("OIDC_TIMEOUT", "float", 10.0, minimum=0.1),
)
SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}
# Flask's and its extensions' own settings may also be given as STATUSPAGE_<NAME>.
PASSTHROUGH_PREFIXES = ("SESSION_", "REMEMBER_", "WTF_", "SQLALCHEMY_", "PERMANENT_", "SERVER_")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def parse_setting(setting: Setting, value: Any) -> Any:
    """The typed value of `setting`, or ConfigError naming it."""
    name = setting.name
    if value is None:
        return None
    if setting.kind == "priorities":
        return value  # checked by parse_priorities in check_settings
    if setting.kind == "severity_map":
        return parse_severity_map(value)
    if setting.kind == "group_roles":
        return parse_group_roles(value)
    if setting.kind == "list":
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return list(value)
    if setting.kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ConfigError(f"{name} must be true or false (1/0, yes/no, on/off), not {value!r}.")
    if setting.kind in ("int", "float"):
        number: float
        try:
            if isinstance(value, bool):
                raise ValueError
            number = int(str(value).strip()) if setting.kind == "int" else float(value)
        except (TypeError, ValueError):
            kind = "a whole number" if setting.kind == "int" else "a number"
            raise ConfigError(f"{name} must be {kind}, not {value!r}.") from None
        if setting.minimum is not None and number < setting.minimum:
            raise ConfigError(f"{name} must be at least {setting.minimum:g}, not {value!r}.")
        if setting.maximum is not None and number > setting.maximum:
            raise ConfigError(f"{name} must be at most {setting.maximum:g}, not {value!r}.")
        return number
    text = str(value).strip()
    if setting.kind == "choice":
        text = text.lower()
        if text not in setting.choices:
            allowed = ", ".join(repr(choice) for choice in setting.choices)
            raise ConfigError(f"{name} must be one of {allowed}, not {value!r}.")
        return text
    if setting.kind == "url" and text:
        parts = urlsplit(text)
        if not parts.scheme or not parts.netloc:
            raise ConfigError(f"{name} must be a full URL such as https://host/, not {value!r}.")
    if (
        setting.kind == "redis"
        and text
        and not text.startswith(("redis://", "rediss://", "unix://"))
    ):
        raise ConfigError(f"{name} must start with redis://, rediss:// or unix://, not {value!r}.")
    if setting.kind == "zone":
        try:
            ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"{name} must be a time zone name such as Europe/Berlin, not {value!r}."
            ) from None
    if setting.kind == "database":
        try:
            make_url(text)
        except ArgumentError:
            raise ConfigError(
                f"{name} does not parse as a database URL "
                "(postgresql://user:password@host/dbname or sqlite:///path)."
            ) from None
        return database_url_to_sqlalchemy(text)
    return text


@dataclass
class LoadedSettings:
    """What the environment gave: typed values, where each came from, and the unknown names."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)


def settings_from_environment(
    environ: Mapping[str, str], dotenv: Mapping[str, str | None] | None = None
) -> LoadedSettings:
    """Every known setting found in `environ`, typed; `dotenv` says which came from `.env`."""
    dotenv = dotenv or {}
    loaded = LoadedSettings()
    for setting in SETTINGS:
        for variable in (setting.name, f"STATUSPAGE_{setting.name}"):
            if variable not in environ:
                continue
            raw = environ[variable]
            if raw == "" and setting.kind not in ("priorities",):
                continue  # set but empty: the default
            loaded.values[setting.config_key] = parse_setting(setting, raw)
            from_file = variable in dotenv and dotenv[variable] == raw
            loaded.sources[setting.config_key] = f"{'.env' if from_file else 'environment'} "
            loaded.sources[setting.config_key] += f"({variable})"
            break
    if "APP_ENV" not in loaded.values and environ.get("FLASK_DEBUG") in ("1", "true", "True"):
        loaded.values["APP_ENV"] = "development"
        loaded.sources["APP_ENV"] = "environment (FLASK_DEBUG)"
    for variable in sorted(environ):
        if not variable.startswith("STATUSPAGE_"):
            continue
        name = variable.removeprefix("STATUSPAGE_")
        if name in SETTINGS_BY_NAME:
            continue
        if name.startswith(PASSTHROUGH_PREFIXES):
            loaded.values[name] = _json_or_text(environ[variable])
            loaded.sources[name] = f"environment ({variable})"
        else:
            loaded.unknown.append(variable)
    return loaded


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def report_unknown(unknown: list[str]) -> None:
    """A misspelt setting must not silently do nothing: say so at start."""
    for variable in unknown:
        close = difflib.get_close_matches(
            variable.removeprefix("STATUSPAGE_"), list(SETTINGS_BY_NAME), n=1
        )
        hint = f" (did you mean {close[0]}?)" if close else ""
        logger.warning("Unknown setting %s is ignored%s.", variable, hint)


def mask(setting_name: str, value: Any) -> str:
    """The value as `config show` prints it: secrets masked, URLs without their password."""
    setting = SETTINGS_BY_NAME.get(setting_name)
    if value is None or value == "" or value == [] or value == ():
        return "(not set)"
    if setting_name == "SQLALCHEMY_DATABASE_URI" or (setting and setting.kind in ("url", "redis")):
        try:
            return make_url(str(value)).render_as_string(hide_password=True)
        except ArgumentError:
            return "********"
    if setting is not None and setting.secret:
        return "******** (set)"
    if setting is not None and setting.kind == "severity_map" and isinstance(value, Mapping):
        return ",".join(f"{key}={impact}/{urgency}" for key, (impact, urgency) in value.items())
    if setting is not None and setting.kind == "group_roles" and isinstance(value, tuple):
        return ",".join(f"{group}={role}" for group, role in value)
    return str(value)


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


def check_mail_from(config: Mapping[str, Any]) -> None:
    """MAIL_FROM must be one address the mail package can put in a From header (ASCII address,
    any display name): otherwise every email would fail at send time."""
    from statuspage.mail.message import InvalidAddress, sender_address

    value = str(config.get("MAIL_FROM") or SETTINGS_BY_NAME["MAIL_FROM"].default)
    try:
        sender_address(value)
    except InvalidAddress as error:
        raise ConfigError(
            f"MAIL_FROM is not a sender address email can carry ({error}): {value!r}. "
            "Use an ASCII address, e.g. 'Example Status <status@example.com>'."
        ) from None


def check_settings(config: dict[str, Any]) -> None:
    """Refuse to start with settings that cannot be right; say what to change."""
    env = config.get("APP_ENV")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}.")
    config["REVIEW_REQUIRED_PRIORITIES"] = parse_priorities(
        config.get("REVIEW_REQUIRED_PRIORITIES", "P1,P2")
    )
    # Typed here too, so the default and a test config's value are read like the environment's.
    config["ALERT_SEVERITY_MAP"] = parse_severity_map(config.get("ALERT_SEVERITY_MAP") or "")
    config["OIDC_STAFF_ROLES"] = parse_group_roles(config.get("OIDC_STAFF_ROLES") or "")
    check_oidc(config)
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
    check_mail_from(config)
    if env == "production" and config.get("TWILIO_API_BASE_URL"):
        raise ConfigError(
            "TWILIO_API_BASE_URL is for tests only (a stand-in of Twilio's API); "
            "unset it in production."
        )
    if env == "production":
        # Production is served over HTTPS; cookies never travel in clear text.
        config["SESSION_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_SECURE"] = True
        config["REMEMBER_COOKIE_HTTPONLY"] = True
