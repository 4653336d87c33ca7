"""The Huey task queue and the app its tasks run in.

Where the queue lives:

- `REDIS_URL` (unset): when set, the queue is in Redis (`RedisHuey`), for several machines or
  workers.
- `HUEY_SQLITE_PATH` (`instance/huey.sqlite3`): otherwise the queue is this SQLite file, the
  embedded default that needs no server.
- `HUEY_IMMEDIATE` (off): run each task at once in the caller, in memory (for tests).

Each may also be given as `STATUSPAGE_<NAME>`. They are read from the environment (and `.env`)
when this module is imported, because `huey_consumer statuspage.worker.tasks.huey` imports it
before any Flask app exists. The app itself is created lazily, by the first task that needs it,
or bound by `flask --app app worker`, which runs the consumer in the foreground.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dotenv import load_dotenv
from flask import Flask, current_app, has_app_context
from huey import Huey, RedisHuey, SqliteHuey
from sqlalchemy.orm import Session

from statuspage import create_app
from statuspage.branding.settings import page_config
from statuspage.core.paths import PROJECT_ROOT
from statuspage.extensions import db

QUEUE_NAME = "statuspage"
POLL_MAX_DELAY = 0.5  # seconds between polls of an idle worker on the SQLite queue
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "instance" / "huey.sqlite3"


def _setting(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name) or environ.get(f"STATUSPAGE_{name}") or "").strip()


def build_huey(environ: Mapping[str, str]) -> Huey:
    """The queue the environment describes: Redis when `REDIS_URL` is set, else SQLite."""
    immediate = _setting(environ, "HUEY_IMMEDIATE").lower() in ("1", "true", "yes", "on")
    redis_url = _setting(environ, "REDIS_URL")
    if redis_url:
        return RedisHuey(QUEUE_NAME, url=redis_url, immediate=immediate)
    path = Path(_setting(environ, "HUEY_SQLITE_PATH") or DEFAULT_SQLITE_PATH)
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(QUEUE_NAME, filename=str(path), immediate=immediate)


load_dotenv(PROJECT_ROOT / ".env", override=False)
huey = build_huey(os.environ)


_app: Flask | None = None
_app_lock = threading.Lock()


def bind_app(app: Flask) -> None:
    """Use this app for tasks run outside an app context (the worker's threads)."""
    global _app
    _app = app


def get_app() -> Flask:
    """The bound app, or one made with `create_app()` the first time a task needs it."""
    global _app
    with _app_lock:
        if _app is None:
            _app = create_app()
        return _app


@contextmanager
def app_context() -> Iterator[Flask]:
    """The current app context if there is one (CLI, tests), else the task app's own."""
    if has_app_context():
        yield current_app._get_current_object()  # type: ignore[attr-defined]
        return
    app = get_app()
    with app.app_context():
        yield app


def branded_config(app: Flask) -> dict[str, Any]:
    """The app's settings with the page's name, zone and sender as staff set them in the app.

    Read on a session of its own: a task run at once (HUEY_IMMEDIATE) may be inside the
    after-commit hook of the request's session, which takes no further statements."""
    with Session(db.engine) as session:
        return page_config(session, app.config)
