"""Every setting the README documents works under the name it gives; bad values stop start-up."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from statuspage import create_app
from statuspage.config import SETTINGS_BY_NAME, ConfigError, Setting

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_setting_names() -> list[str]:
    """The variable names in the README's configuration table (first column)."""
    text = README.read_text()
    table = text[text.index("| variable | default | meaning |") :]
    names: list[str] = []
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        first_cell = line.split("|")[1]
        names.extend(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell))
    return names


def sample(setting: Setting, tmp_path: Path) -> tuple[str, object]:
    """A valid value for the environment that differs from the default, and what it becomes."""
    kind = setting.kind
    if kind == "int":
        value = int(setting.maximum if setting.maximum is not None else (setting.default or 0) + 7)
        if value == setting.default:
            value = int(setting.minimum or 0) + 1
        return str(value), value
    if kind == "float":
        return "12.5", 12.5
    if kind == "bool":
        return ("false", False) if setting.default else ("true", True)
    if kind == "choice":
        choice = next(c for c in setting.choices if c and c != setting.default)
        return choice.upper(), choice
    if kind == "url":
        return "https://status.example.test/", "https://status.example.test/"
    if kind == "redis":
        return "redis://127.0.0.1:6379/15", "redis://127.0.0.1:6379/15"
    if kind == "zone":
        return "Europe/Berlin", "Europe/Berlin"
    if kind == "path":
        return str(tmp_path / "somewhere"), str(tmp_path / "somewhere")
    if kind == "priorities":
        return "P3", frozenset({"P3"})
    if kind == "database":
        return "postgres://u:p@db.example/status", "postgresql+psycopg://u:p@db.example/status"
    if kind == "list":
        return "old-one,old-two", ["old-one", "old-two"]
    if kind == "severity_map":
        return "P1=high/high, minor = Low/Medium", {
            "p1": ("high", "high"),
            "minor": ("low", "medium"),
        }
    if kind == "group_roles":
        return "sre-admins=admin, comms=Communicator", (
            ("sre-admins", "admin"),
            ("comms", "communicator"),
        )
    if setting.name == "MAIL_FROM":  # checked at start: an address
        return "Ops <ops@example.test>", "Ops <ops@example.test>"
    return "Some value", "Some value"


def test_the_readme_table_is_read():
    names = readme_setting_names()
    # Guards the tests below against an empty or misparsed table.
    assert {"APP_ENV", "REQUIRE_2FA_FOR_ADMINS", "LOGIN_IP_LIMIT", "STATIC_EXPORT_DIR"} <= set(
        names
    )
    assert len(names) >= 20


@pytest.mark.parametrize("name", readme_setting_names())
def test_each_readme_setting_reaches_the_app_under_its_documented_name(name, monkeypatch, tmp_path):
    assert name in SETTINGS_BY_NAME, f"README documents {name}, which the app does not read"
    setting = SETTINGS_BY_NAME[name]
    if name in ("APP_ENV", "SECRET_KEY"):
        pytest.skip("covered by tests/unit/test_config.py (start-up rules of their own)")
    raw, expected = sample(setting, tmp_path)
    if name == "OIDC_ISSUER":  # single sign-on needs its client as well
        monkeypatch.setenv("OIDC_CLIENT_ID", "statuspage")
        monkeypatch.setenv("OIDC_CLIENT_SECRET", "secret")
    monkeypatch.setenv(name, raw)
    app = create_app({"APP_ENV": "testing"})
    assert app.config[setting.config_key] == expected
    assert app.extensions["settings_sources"][setting.config_key] == f"environment ({name})"


@pytest.mark.parametrize(
    "name", [n for n in readme_setting_names() if SETTINGS_BY_NAME[n].kind in ("int", "bool")]
)
def test_a_wrong_value_stops_start_up_naming_the_setting(name, monkeypatch):
    monkeypatch.setenv(name, "not-a-value")
    with pytest.raises(ConfigError, match=rf"^{name} must be"):
        create_app({"APP_ENV": "testing"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("APP_ENV", "staging"),
        ("DATABASE_URL", "::not a url::"),
        ("SITE_URL", "status.example.com"),
        ("SITE_TIME_ZONE", "Mars/Olympus"),
        ("MAIL_TRANSPORT", "pigeon"),
        ("REDIS_URL", "localhost:6379"),
        ("UPTIME_DAYS", "0"),
        ("PROXY_FIX_X_FOR", "-1"),
    ],
)
def test_other_wrong_values_are_refused(name, value, monkeypatch):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        create_app({"APP_ENV": "testing"})


@pytest.mark.parametrize(
    "value", ["critical", "critical=high", "critical=urgent/high", "=high/high", "x=high/low/low"]
)
def test_a_wrong_alert_severity_map_stops_start_up(value, monkeypatch):
    monkeypatch.setenv("ALERT_SEVERITY_MAP", value)
    with pytest.raises(ConfigError, match=r"^ALERT_SEVERITY_MAP entry .* severity=impact/urgency"):
        create_app({"APP_ENV": "testing"})


def test_the_alert_severity_map_default_is_typed_and_shown_as_written():
    app = create_app({"APP_ENV": "testing"})
    assert app.config["ALERT_SEVERITY_MAP"] == {
        "critical": ("high", "high"),
        "error": ("high", "medium"),
        "warning": ("medium", "medium"),
        "info": ("low", "low"),
        "default": ("medium", "medium"),
    }
    output = app.test_cli_runner().invoke(args=["config", "show"]).output
    assert "critical=high/high,error=high/medium" in output
    with pytest.raises(ConfigError, match="ALERT_SEVERITY_MAP"):
        create_app({"APP_ENV": "testing", "ALERT_SEVERITY_MAP": "bad"})


@pytest.mark.parametrize(
    "value", ["störung@example.com", "status@exämple.com", "Ops <stö@example.com>", "a, b@x.y"]
)
def test_a_sender_email_cannot_carry_stops_start_up_naming_mail_from(value, monkeypatch):
    monkeypatch.setenv("MAIL_FROM", value)
    with pytest.raises(ConfigError, match=r"^MAIL_FROM ") as caught:
        create_app({"APP_ENV": "testing"})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("value", ["status@example.com", "Störungsmeldung <status@example.com>"])
def test_a_non_ascii_display_name_in_mail_from_is_fine(value, monkeypatch):
    monkeypatch.setenv("MAIL_FROM", value)
    assert create_app({"APP_ENV": "testing"}).config["MAIL_FROM"] == value


def test_the_prefixed_spelling_still_works(monkeypatch):
    monkeypatch.setenv("STATUSPAGE_LOGIN_IP_LIMIT", "12")
    app = create_app({"APP_ENV": "testing"})
    assert app.config["LOGIN_IP_LIMIT"] == 12


def test_an_unknown_prefixed_name_is_reported(monkeypatch, caplog):
    monkeypatch.setenv("STATUSPAGE_LOGIN_IP_LIMTI", "3")
    with caplog.at_level(logging.WARNING, logger="statuspage.config"):
        app = create_app({"APP_ENV": "testing"})
    assert "STATUSPAGE_LOGIN_IP_LIMTI" in caplog.text
    assert "did you mean LOGIN_IP_LIMIT" in caplog.text
    assert app.config["LOGIN_IP_LIMIT"] == 30


def test_the_entry_point_prints_one_line_naming_the_setting(monkeypatch, tmp_path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", "import app"],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "APP_ENV": "testing", "LOGIN_ACCOUNT_LIMIT": "ten"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Configuration error: LOGIN_ACCOUNT_LIMIT must be a whole number, not 'ten'."
    ]


def test_config_show_prints_values_with_their_source_and_masks_secrets(monkeypatch):
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.very-secret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://user:hunter2@db.example/status")
    monkeypatch.setenv("LOGIN_IP_LIMIT", "44")
    app = create_app({"APP_ENV": "testing", "SECRET_KEY": "another-secret-value"})
    output = app.test_cli_runner().invoke(args=["config", "show"]).output
    assert "SG.very-secret" not in output and "hunter2" not in output
    assert "another-secret-value" not in output
    lines = {line.split()[0]: line for line in output.splitlines() if line.strip()}
    assert re.search(
        r"LOGIN_IP_LIMIT\s+44\s+environment \(LOGIN_IP_LIMIT\)", lines["LOGIN_IP_LIMIT"]
    )
    assert "********" in lines["SENDGRID_API_KEY"]
    assert "db.example" in lines["DATABASE_URL"] and "***" in lines["DATABASE_URL"]
    assert lines["SECRET_KEY"].split()[-2:] == ["test", "config"]
    assert re.search(r"UPTIME_DAYS\s+90\s+default", lines["UPTIME_DAYS"])
