import pytest

from statuspage import create_app
from statuspage.config import ConfigError, database_url_to_sqlalchemy


def test_production_without_secret_key_refuses_to_start(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app({"APP_ENV": "production", "SECRET_KEY": None})


def test_production_with_secret_key_starts_with_secure_cookies():
    app = create_app({"APP_ENV": "production", "SECRET_KEY": "x" * 40})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_development_processes_share_one_key_kept_in_the_instance_folder(tmp_path):
    key_file = tmp_path / "instance" / "secret_key"
    settings = {"APP_ENV": "development", "SECRET_KEY": None, "SECRET_KEY_FILE": str(key_file)}
    web, worker = create_app(dict(settings)), create_app(dict(settings))
    assert len(web.config["SECRET_KEY"]) == 64
    # What the worker signs (a confirmation link), the web server accepts.
    assert web.config["SECRET_KEY"] == worker.config["SECRET_KEY"]
    assert key_file.read_text().strip() == web.config["SECRET_KEY"]
    assert key_file.stat().st_mode & 0o777 == 0o600
    # Another site (another instance folder) gets its own.
    other = create_app({**settings, "SECRET_KEY_FILE": str(tmp_path / "other" / "secret_key")})
    assert other.config["SECRET_KEY"] != web.config["SECRET_KEY"]


def test_tests_get_a_random_key_per_app():
    first = create_app({"APP_ENV": "testing", "SECRET_KEY": None})
    second = create_app({"APP_ENV": "testing", "SECRET_KEY": None})
    assert first.config["SECRET_KEY"] and second.config["SECRET_KEY"]
    assert first.config["SECRET_KEY"] != second.config["SECRET_KEY"]


def test_unknown_environment_is_refused():
    with pytest.raises(ConfigError, match="APP_ENV"):
        create_app({"APP_ENV": "staging", "SECRET_KEY": "x"})


def test_default_database_is_sqlite_under_instance(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"APP_ENV": "testing"})
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    assert uri.startswith("sqlite:///") and uri.endswith("instance/statuspage.sqlite3")


def test_database_url_selects_postgresql_with_psycopg(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5432/status")
    app = create_app({"APP_ENV": "testing"})
    assert (
        app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db.example:5432/status"
    )
    assert database_url_to_sqlalchemy("sqlite:///x.db") == "sqlite:///x.db"


def test_mail_settings_come_from_plain_environment_variables(monkeypatch):
    monkeypatch.setenv("MAIL_TRANSPORT", "smtp")
    monkeypatch.setenv("MAIL_SMTP_HOST", "smtp.example.org")
    app = create_app({"APP_ENV": "testing"})
    assert app.config["MAIL_TRANSPORT"] == "smtp"
    assert app.config["MAIL_SMTP_HOST"] == "smtp.example.org"
