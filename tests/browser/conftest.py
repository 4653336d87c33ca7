"""End-to-end tests in headless Chromium, driven by Playwright, against the real app.

The site runs as it does in production: gunicorn serving `app:app` in its own process, on a
loopback port, over a fresh SQLite database that the real CLI commands migrated
(`db upgrade`), filled (`seed-demo`) and gave a staff account (`users create`). Email goes to
`.eml` files in the run's temporary folder (the file transport), and tasks run at once inside
the request (`HUEY_IMMEDIATE`), so a confirmation email exists as soon as the page answers.

Chromium is Debian's `chromium` package (`/usr/bin/chromium`, or `CHROMIUM_PATH`), launched by
Playwright with `executable_path`: Playwright's own browser download is never used. Where
Chromium, Playwright or axe-core is missing these tests are skipped with the reason, except
under CI (CI=true), where that is a failure.

Screenshots of the main pages go to `test-artifacts/screenshots/` and axe-core's findings to
`test-artifacts/axe/` (or under `BROWSER_ARTIFACTS_DIR`); the path is printed at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from statuspage import PROJECT_ROOT
from tests.browser.support import log_in, unavailable

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach the internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STAFF_EMAIL = "comms.lead@example.com"
STAFF_PASSWORD = "browser tests use a long password"
ARTIFACTS_DIR = Path(os.environ.get("BROWSER_ARTIFACTS_DIR") or PROJECT_ROOT / "test-artifacts")
SCREENSHOT_DIR = ARTIFACTS_DIR / "screenshots"
# Settings of the developer's shell that must not leak into the server under test.
_CLEARED_PREFIXES = ("STATUSPAGE_", "MAIL_", "HUEY_", "SENDGRID_", "SITE_", "STATIC_EXPORT_")
_CLEARED_NAMES = ("DATABASE_URL", "REDIS_URL", "APP_ENV", "SECRET_KEY", "FLASK_DEBUG")


@dataclass(frozen=True)
class LiveSite:
    base_url: str
    mail_dir: Path
    staff_email: str
    staff_password: str

    def url(self, path: str) -> str:
        return self.base_url + path


def _free_socket() -> socket.socket:
    """A listening loopback socket on a free port, handed to gunicorn (no race for the port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def _prepare_database(
    settings: dict[str, str], *, seed: bool = True, role: str = "manager"
) -> None:
    """Migrate, seed (unless not wanted) and add a staff account with the site's own CLI
    commands."""
    from statuspage import create_app

    app = create_app(
        {
            "APP_ENV": "testing",
            "SECRET_KEY": settings["SECRET_KEY"],
            "SQLALCHEMY_DATABASE_URI": settings["DATABASE_URL"],
            "SITE_URL": settings["SITE_URL"],
            "MAIL_TRANSPORT": "file",
            "MAIL_FILE_DIR": settings["MAIL_FILE_DIR"],
        }
    )
    runner = app.test_cli_runner()
    commands = [
        ["db", "upgrade"],
        *([["seed-demo"]] if seed else []),
        [
            "users",
            "create",
            "--email",
            STAFF_EMAIL,
            "--role",
            role,
            "--name",
            "Casey Comms",
            "--password",
            STAFF_PASSWORD,
        ],
    ]
    with app.app_context():
        for args in commands:
            result = runner.invoke(args=args)
            assert result.exit_code == 0, f"flask {' '.join(args[:2])}: {result.output}"
        from statuspage.extensions import db

        db.session.remove()
        db.engine.dispose()


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            # Loopback only, a URL this fixture built.
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"the site did not answer within 30 s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def _serving(
    root: Path, *, seed: bool = True, role: str = "manager", extra: dict[str, str] | None = None
) -> Iterator[LiveSite]:
    """gunicorn serving the site over a database prepared by the CLI, until the block ends."""
    mail_dir = root / "mail"
    mail_dir.mkdir()
    sock = _free_socket()
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    settings = {
        "APP_ENV": "testing",
        "SECRET_KEY": "browser-tests-secret-key-not-for-production",
        "DATABASE_URL": f"sqlite:///{root / 'site.sqlite3'}",
        "SITE_NAME": "Browser Test Status",
        "SITE_URL": base_url,
        "MAIL_TRANSPORT": "file",
        "MAIL_FILE_DIR": str(mail_dir),
        "HUEY_IMMEDIATE": "1",
        "HUEY_SQLITE_PATH": str(root / "huey.sqlite3"),
        **(extra or {}),
    }
    try:
        _prepare_database(settings, seed=seed, role=role)
        environ = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(_CLEARED_PREFIXES) and key not in _CLEARED_NAMES
        }
        environ.update(settings, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
        log_path = root / "gunicorn.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"fd://{sock.fileno()}",
                    "--workers",
                    "1",
                    "--threads",
                    "4",
                    "--access-logfile",
                    "-",
                    "app:app",
                ],
                cwd=PROJECT_ROOT,
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(sock.fileno(),),
            )
    finally:
        sock.close()  # gunicorn holds its own copy of the listening socket
    try:
        _wait_until_up(base_url + "/", server, log_path)
        yield LiveSite(
            base_url=base_url,
            mail_dir=mail_dir,
            staff_email=STAFF_EMAIL,
            staff_password=STAFF_PASSWORD,
        )
    finally:
        server.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log_text = log_path.read_text(errors="replace")
        if "Traceback" in log_text:
            first = log_text[log_text.index("Traceback") :][:3000]
            print(f"\nThe site logged an error (whole log: {log_path}):\n{first}")


@pytest.fixture(scope="session")
def live_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    """The demo site, with a manager's account."""
    with _serving(tmp_path_factory.mktemp("browser-site")) as site:
        yield site


@pytest.fixture
def empty_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    """A new installation: migrated, one admin account made with the CLI, nothing else; the
    worker's snapshot export on (as operations.md sets it up)."""
    root = tmp_path_factory.mktemp("empty-site")
    extra = {"STATIC_EXPORT_DIR": str(root / "snapshot"), "STATIC_EXPORT_ENQUEUE": "1"}
    with _serving(root, seed=False, role="admin", extra=extra) as site:
        yield site


def context_options(live_site: LiveSite) -> dict[str, Any]:
    """Browser context settings: the site's address, a desktop window, a fixed zone and locale
    (pages rewrite times into the reader's zone, so screenshots stay comparable)."""
    return {
        "base_url": live_site.base_url,
        "viewport": {"width": 1280, "height": 900},
        "timezone_id": "UTC",
        "locale": "en-GB",
    }


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install -e '.[test]')")
    if not os.access(CHROMIUM_PATH, os.X_OK):
        unavailable(f"no Chromium at {CHROMIUM_PATH} (apt-get install chromium)")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Any) -> Iterator[Any]:
    """One headless Chromium for the whole run; each test opens its own context."""
    chromium = playwright_instance.chromium.launch(
        executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


@pytest.fixture
def new_context(browser: Any, live_site: LiveSite) -> Iterator[Callable[..., Any]]:
    """Open browser contexts (fresh cookies) for one test; all closed at its end."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        context = browser.new_context(**{**context_options(live_site), **options})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Callable[..., Any]) -> Any:
    return new_context().new_page()


@pytest.fixture(scope="session")
def staff_context(browser: Any, live_site: LiveSite) -> Iterator[Any]:
    """A context logged in as the comms lead (a manager) through the login form, once a run."""
    context = browser.new_context(**context_options(live_site))
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, live_site.staff_email, live_site.staff_password)
    page.close()
    yield context
    context.close()


@pytest.fixture
def staff_page(staff_context: Any) -> Iterator[Any]:
    page = staff_context.new_page()
    yield page
    page.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR


@pytest.fixture
def screenshot(screenshot_dir: Path) -> Callable[[Any, str], Path]:
    """Save a full-page PNG of `page` as `<name>.png`; returns the file."""

    def take(page: Any, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000, f"{path} is suspiciously small"
        return path

    return take


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCREENSHOT_DIR.is_dir() and any(SCREENSHOT_DIR.glob("*.png")):
        terminalreporter.write_line(f"Browser screenshots: {SCREENSHOT_DIR}")
