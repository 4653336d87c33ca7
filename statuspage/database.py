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
- **Answer deadline** (`DATABASE_PUBLIC_ANSWER_TIMEOUT`, seconds, 0.5; 0 off): a connection
  already open when the server hangs waits for an answer that never comes, and the server's
  statement timeout cannot help (psycopg has no timeout of its own on the client). So every
  statement gets a deadline: a public request's (`failing_fast`) after this long, any other's
  after the statement timeout and one second more. A statement past its deadline has its
  connection's socket shut down by one watchdog thread per process (`Deadlines`): the driver
  raises at once, the pool drops the connection, and the retry pause starts as after a failed
  connect.

What is logged while the database is down is rate limited (`ThrottledLog`): one line per
interval with the count of repeats, never one per request.

Only PostgreSQL gets these: SQLite is a file in the process. See docs/scaling.md.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import logging
import os
import socket
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
    "DATABASE_PUBLIC_ANSWER_TIMEOUT": 0.5,
}
# A statement that is not a public page's may run up to the server's statement timeout; its
# client-side deadline leaves the server this much longer to cancel it first.
DEADLINE_GRACE_SECONDS = 1.0
# How often the watchdog looks while a deadline is pending.
DEADLINE_POLL_SECONDS = 0.05
LOG_INTERVAL_SECONDS = 60.0
# Set while a public page is being answered: its queries fail at once during a retry pause.
FAIL_FAST: contextvars.ContextVar[bool] = contextvars.ContextVar("fail_fast", default=False)
# Set while the schema is migrated: no statement gets a deadline (`unbounded`).
UNBOUNDED: contextvars.ContextVar[bool] = contextvars.ContextVar("unbounded", default=False)


@contextlib.contextmanager
def failing_fast() -> Iterator[None]:
    token = FAIL_FAST.set(True)
    try:
        yield
    finally:
        FAIL_FAST.reset(token)


@contextlib.contextmanager
def unbounded() -> Iterator[None]:
    """Statements without an answer deadline, for work that may rightly take long: a
    migration building an index on a big table or rewriting its rows. (The server's statement
    timeout is lifted for it apart, with `SET LOCAL statement_timeout`: migrations/env.py.)"""
    token = UNBOUNDED.set(True)
    try:
        yield
    finally:
        UNBOUNDED.reset(token)


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
        # The seconds a public request's statement, and any other, may wait for an answer.
        self.public_answer = 0.0
        self.other_answer = 0.0

    def deadline(self) -> float:
        """This request's: the public one while `failing_fast` (when there is one); none
        while `unbounded`."""
        if UNBOUNDED.get():
            return 0.0
        if self.public_answer > 0 and FAIL_FAST.get():
            return self.public_answer
        return self.other_answer

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


def _shut(fd: int) -> None:
    """Shut a connection's socket down (not close it: the fd stays the driver's, which then
    sees the connection end and raises)."""
    with contextlib.suppress(OSError):
        duplicate = socket.socket(fileno=os.dup(fd))
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()


class Deadlines:
    """Statements with a deadline, and the one thread per process that ends those past it.

    `start` and `stop` cost a dictionary entry under a lock; the thread sleeps while nothing is
    pending and looks every `DEADLINE_POLL_SECONDS` while something is. A deadline is ended
    under the same lock `stop` takes, so a socket is only ever shut while its statement is
    still running on it (its fd cannot have been reused)."""

    def __init__(self, *, poll: float = DEADLINE_POLL_SECONDS) -> None:
        self.poll = poll
        self._condition = threading.Condition()
        self._pending: dict[int, tuple[float, int]] = {}
        self._tokens = itertools.count(1)
        self._pid = 0
        self.ended = 0  # statements ended by their deadline, in this process

    def start(self, fd: int, seconds: float) -> int:
        token = next(self._tokens)
        with self._condition:
            if self._pid != os.getpid():  # first use in this process (or after a fork)
                self._pid = os.getpid()
                threading.Thread(target=self._watch, name="db-deadlines", daemon=True).start()
            idle = not self._pending
            self._pending[token] = (time.monotonic() + seconds, fd)
            if idle:
                self._condition.notify()
        return token

    def stop(self, token: int) -> bool:
        """The statement is over; False when its deadline had ended it."""
        with self._condition:
            return self._pending.pop(token, None) is not None

    def _watch(self) -> None:
        with self._condition:
            while True:
                if not self._pending:
                    self._condition.wait()
                    continue
                now = time.monotonic()
                for token, (deadline, fd) in list(self._pending.items()):
                    if deadline <= now:
                        del self._pending[token]
                        _shut(fd)
                        self.ended += 1
                self._condition.wait(self.poll)


DEADLINES = Deadlines()
_DEADLINE_KEY = "statuspage_deadline"
_GUARD_KEY = "statuspage_guard"


def answer_deadlines(config: Any) -> tuple[float, float]:
    """The seconds a statement may wait for its answer (0: no deadline): a public request's,
    and any other's."""
    public = setting(config, "DATABASE_PUBLIC_ANSWER_TIMEOUT")
    statement = setting(config, "DATABASE_STATEMENT_TIMEOUT")
    return public, statement + DEADLINE_GRACE_SECONDS if statement > 0 else 0.0


@contextlib.contextmanager
def answered_within(
    dbapi_connection: Any, seconds: float, outage: Outage | None = None
) -> Iterator[None]:
    """Run a statement on a driver connection with a deadline (none when `seconds` is 0);
    one ended by its deadline counts as the database not answering."""
    if seconds <= 0:
        yield
        return
    token = DEADLINES.start(dbapi_connection.fileno(), seconds)
    try:
        yield
    except BaseException as error:
        if not DEADLINES.stop(token) and outage is not None:
            outage.failed(error)
        raise
    DEADLINES.stop(token)


def _within_deadline(
    method: Callable[[Any], Any], deadline: Callable[[], float], outage: Outage
) -> Callable[[Any], Any]:
    def bounded(dbapi_connection: Any) -> Any:
        with answered_within(dbapi_connection, deadline(), outage):
            return method(dbapi_connection)

    return bounded


def _install_deadlines(engine: sa.Engine, deadline: Callable[[], float], outage: Outage) -> None:
    def start(
        connection: Any, cursor: Any, statement: Any, parameters: Any, context: Any, many: bool
    ) -> None:
        stop(connection)  # one statement at a time per connection
        # Not for an executemany: the server's statement timeout applies to each of its
        # statements, so together they may rightly take longer (a seed, an import).
        seconds = 0.0 if many else deadline()
        if seconds > 0:
            fd = connection.connection.driver_connection.fileno()
            connection.info[_DEADLINE_KEY] = DEADLINES.start(fd, seconds)

    def stop(connection: Any, *_: Any) -> None:
        token = connection.info.pop(_DEADLINE_KEY, None)
        if token is not None:
            DEADLINES.stop(token)

    def released(dbapi_connection: Any, connection_record: Any) -> None:
        # A statement left without its end event (an interrupted request) loses its deadline
        # when its connection goes back to the pool or is closed, before the fd can be reused.
        record = connection_record
        token = record.info.pop(_DEADLINE_KEY, None) if record is not None else None
        if token is not None:
            DEADLINES.stop(token)

    def invalidated(dbapi_connection: Any, connection_record: Any, exception: Any) -> None:
        released(dbapi_connection, connection_record)

    def failed(context: Any) -> None:
        connection = context.connection
        token = connection.info.pop(_DEADLINE_KEY, None) if connection is not None else None
        if token is not None and not DEADLINES.stop(token):
            outage.failed(context.original_exception)

    sa.event.listen(engine, "before_cursor_execute", start)
    sa.event.listen(engine, "after_cursor_execute", stop)
    sa.event.listen(engine, "handle_error", failed)
    # What the pool sends outside any statement (the checkout's ping, the rollback when a
    # connection goes back, a commit) waits for the same answers.
    dialect = engine.dialect
    for name in ("do_rollback", "do_commit"):
        setattr(dialect, name, _within_deadline(getattr(dialect, name), deadline, outage))
    ping = _within_deadline(dialect.do_ping, deadline, outage)

    def do_ping(dbapi_connection: Any) -> bool:
        # During the retry pause a public request does not wait for a pooled connection's
        # answer either: the ping counts as failed, so the pool drops the connection and its
        # new one fails at once (`ConnectGuard`).
        if FAIL_FAST.get() and outage.is_down():
            return False
        return bool(ping(dbapi_connection))

    dialect.do_ping = do_ping  # type: ignore[method-assign]
    sa.event.listen(engine, "checkin", released)
    sa.event.listen(engine, "close", released)
    sa.event.listen(engine, "invalidate", invalidated)
    sa.event.listen(engine, "soft_invalidate", invalidated)


def guard_of(engine: sa.Engine) -> ConnectGuard | None:
    """The guard `guard_engine` installed on `engine`, if any."""
    return engine.__dict__.get(_GUARD_KEY)


def guard_engine(engine: sa.Engine, config: Any) -> ConnectGuard | None:
    """Install the connect timeout and retry pause on a PostgreSQL engine (once)."""
    if engine.dialect.name != "postgresql":
        return None
    existing = guard_of(engine)
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
    guard.public_answer, guard.other_answer = answer_deadlines(config)
    _install_deadlines(engine, guard.deadline, guard.outage)
    engine.__dict__[_GUARD_KEY] = guard
    return guard
