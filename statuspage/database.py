"""How the app talks to PostgreSQL when the database is slow, hung or gone (issue 18).

A status page is needed most while things are broken, its own database included. Without
limits a reader waits as long as the database does: a server that accepts connections and
never answers held every request for ten seconds. Here:

- **Connect timeout** (`DATABASE_CONNECT_TIMEOUT`, seconds, 0.5): a new connection that is not
  ready in time fails. psycopg's own `connect_timeout` cannot go below 2 seconds, so the
  connection is made in a helper thread and given up after this long (the thread closes it
  if it comes later).
- **Statement timeout** (`DATABASE_STATEMENT_TIMEOUT`, seconds, 5; 0 off): sent as
  `options=-c statement_timeout=...`, so PostgreSQL cancels a statement stuck on a lock or a
  runaway plan.
- **Pool timeout** (`DATABASE_POOL_TIMEOUT`, whole seconds, 2): how long a request waits for a
  pooled connection when all are busy (SQLAlchemy's default is 30).
- **Retry pause** (`DATABASE_RETRY_SECONDS`, 1; 0 off): after a connection attempt failed, this
  process's public requests (`failing_fast`) do not try again for this long: their queries
  fail at once, so public pages answer at full speed from their stored copies (or with a clean
  503) instead of each waiting for a timeout. One request per pause tries again; staff and API
  requests always try (they want the real answer, and they are few).

What is logged while the database is down is rate limited (`ThrottledLog`): one line per
interval with the count of repeats, never one per request.

Only PostgreSQL gets these: SQLite is a file in the process. Pooled connections that were
open when the server hung are not covered (psycopg has no client-side statement timeout);
see docs/scaling.md.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {
    "DATABASE_CONNECT_TIMEOUT": 0.5,
    "DATABASE_STATEMENT_TIMEOUT": 5.0,
    "DATABASE_POOL_TIMEOUT": 2.0,
    "DATABASE_RETRY_SECONDS": 1.0,
}
LOG_INTERVAL_SECONDS = 60.0
# Set while a public page is being answered: its queries fail at once during a retry pause.
FAIL_FAST: contextvars.ContextVar[bool] = contextvars.ContextVar("fail_fast", default=False)


@contextlib.contextmanager
def failing_fast() -> Iterator[None]:
    token = FAIL_FAST.set(True)
    try:
        yield
    finally:
        FAIL_FAST.reset(token)


def setting(config: Any, name: str) -> float:
    value = config.get(name)
    return float(DEFAULTS[name] if value is None else value)


def engine_options(config: Any) -> dict[str, Any]:
    """`SQLALCHEMY_ENGINE_OPTIONS` with the pool and statement timeouts added (for PostgreSQL;
    what the configuration already says wins)."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    url = str(config.get("SQLALCHEMY_DATABASE_URI") or "")
    if not url.startswith("postgresql"):
        return options
    # Whole seconds: SQLAlchemy makes the pool timeout an int.
    options.setdefault("pool_timeout", int(setting(config, "DATABASE_POOL_TIMEOUT")))
    statement_ms = int(setting(config, "DATABASE_STATEMENT_TIMEOUT") * 1000)
    if statement_ms > 0:
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("options", f"-c statement_timeout={statement_ms}")
        options["connect_args"] = connect_args
    return options


class ThrottledLog:
    """Log a repeated message at most once per `interval`, saying how often it repeated."""

    def __init__(self, target: logging.Logger, *, interval: float = LOG_INTERVAL_SECONDS) -> None:
        self.target = target
        self.interval = interval
        self._next: dict[str, float] = {}
        self._repeats: dict[str, int] = {}
        self._lock = threading.Lock()

    def log(self, level: int, message: str, *args: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if now < self._next.get(message, 0.0):
                self._repeats[message] = self._repeats.get(message, 0) + 1
                return
            repeats = self._repeats.pop(message, 0)
            self._next[message] = now + self.interval
        if repeats:
            message += " (and %d more times since the last such line)"
            args = (*args, repeats)
        self.target.log(level, message, *args)


class Outage:
    """This process's view of the database: answering, or found not answering `retry` seconds
    ago (connections then fail at once until the pause is over)."""

    def __init__(self, retry: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.retry = retry
        self.clock = clock
        self.down_until = 0.0
        self.log = ThrottledLog(logger)

    def is_down(self) -> bool:
        return self.retry > 0 and self.clock() < self.down_until

    def failed(self, error: BaseException) -> None:
        if self.retry > 0:
            self.down_until = self.clock() + self.retry
        self.log.log(
            logging.WARNING,
            "database not answering (%s); queries fail at once for %g s",
            type(error).__name__,
            self.retry,
        )

    def answered(self) -> None:
        if self.down_until:
            self.down_until = 0.0
            logger.info("database answering again")


def connect_within(connect: Callable[[], Any], seconds: float, timeout_error: type) -> Any:
    """`connect()` in a helper thread, given up after `seconds` (raising `timeout_error`); a
    connection that comes after that is closed by the thread."""
    box: dict[str, Any] = {}
    lock = threading.Lock()

    def attempt() -> None:
        try:
            connection = connect()
        except BaseException as error:  # handed to the caller
            with lock:
                box["error"] = error
            return
        with lock:
            if not box.get("abandoned"):
                box["connection"] = connection
                return
        with contextlib.suppress(Exception):
            connection.close()

    thread = threading.Thread(target=attempt, name="db-connect", daemon=True)
    thread.start()
    thread.join(seconds)
    with lock:
        if "connection" in box:
            return box["connection"]
        if "error" in box:
            raise box["error"]
        box["abandoned"] = True
    raise timeout_error(f"connection timeout expired ({seconds:g} s)")


class ConnectGuard:
    """Opens the engine's PostgreSQL connections with the connect timeout and the retry pause
    (installed as the engine's `do_connect`; `VersionReader` uses it too)."""

    def __init__(self, dialect: Any, *, timeout: float, outage: Outage) -> None:
        self.dialect = dialect
        self.timeout = timeout
        self.outage = outage

    def connect(self, cargs: Any, cparams: Any) -> Any:
        dbapi = self.dialect.loaded_dbapi
        if FAIL_FAST.get() and self.outage.is_down():
            raise dbapi.OperationalError("the database did not answer a moment ago")
        try:
            if self.timeout > 0:
                connection = connect_within(
                    lambda: dbapi.connect(*cargs, **cparams), self.timeout, dbapi.OperationalError
                )
            else:
                connection = dbapi.connect(*cargs, **cparams)
        except dbapi.Error as error:
            self.outage.failed(error)
            raise
        self.outage.answered()
        return connection


def guard_engine(engine: sa.Engine, config: Any) -> ConnectGuard | None:
    """Install the connect timeout and retry pause on a PostgreSQL engine (once)."""
    if engine.dialect.name != "postgresql":
        return None
    existing = engine.__dict__.get("statuspage_guard")
    if existing is not None:
        return existing
    guard = ConnectGuard(
        engine.dialect,
        timeout=setting(config, "DATABASE_CONNECT_TIMEOUT"),
        outage=Outage(setting(config, "DATABASE_RETRY_SECONDS")),
    )

    def do_connect(dialect: Any, record: Any, cargs: Any, cparams: Any) -> Any:
        return guard.connect(cargs, cparams)

    sa.event.listen(engine, "do_connect", do_connect)
    engine.__dict__["statuspage_guard"] = guard
    return guard
