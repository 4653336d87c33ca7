"""The public version: `site_state`'s (public_version, public_changed_at).

Flask's path reads it in the request's session. The fast path reads it from Redis when the
copies are there (`RedisStore.read_version`: a GET of a few bytes, cheaper than a database
round trip), else, or when Redis has none, through `VersionReader` on driver connections of
its own, and then offers what it read to Redis.

What keeps the Redis copy right: every commit that bumps the version through the app's
sessions (web, worker, CLI: `bump_public_version` is always an UPDATE of `site_state` in an
ORM session) publishes the new version right after the commit (`install_publisher`), before
the request that made it answers; a higher version is never replaced by a lower one. A change
written around the app shows after `PUBLIC_CACHE_VERSION_SECONDS` at most, when the published
copy expires.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.models import SiteState
from statuspage.core.records import BUMPED_VERSION
from statuspage.database import answered_within, guard_of

logger = logging.getLogger(__name__)

VERSION_QUERY = sa.select(SiteState.public_version, SiteState.public_changed_at).where(
    SiteState.id == 1
)


def read_version(session: Session) -> tuple[int, datetime] | None:
    """(public_version, public_changed_at), or None when there is no `site_state` row."""
    row = session.execute(VERSION_QUERY).one_or_none()
    return None if row is None else (int(row[0]), row[1])


class VersionReader:
    """Reads (public_version, public_changed_at) on connections kept for this purpose.

    Plain driver connections in autocommit, outside the app's pool: no checkout, ping, BEGIN
    or ROLLBACK, one statement per read. Idle ones wait in a queue, so there are never more
    than requests reading at once; one that fails is closed and not reused. They are all
    closed when the app's engine is disposed.
    """

    # Called with (engine, statement) before each read, as SQLAlchemy's before_cursor_execute
    # is for the app's own statements (the tests count statements with both).
    statement_listeners: ClassVar[list[Callable[[sa.Engine, str], None]]] = []

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        # The same statement as Flask's path reads (VERSION_QUERY), as plain SQL.
        self.sql = str(
            VERSION_QUERY.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True})
        )
        column = SiteState.__table__.c.public_changed_at
        self.convert = column.type.dialect_impl(self.dialect).result_processor(self.dialect, None)
        self.idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.open: set[Any] = set()
        sa.event.listen(engine, "engine_disposed", lambda *_: self.close_all())
        # An app dropped without disposing its engine (a test's) closes them too.
        weakref.finalize(self, _close_each, self.open)

    def _connect(self) -> Any:
        cargs, cparams = self.dialect.create_connect_args(self.engine.url)
        # The app's connect timeout and pause after a failure (statuspage.database), if any.
        guard = guard_of(self.engine)
        if guard is not None:
            connection = guard.connect(cargs, cparams)
        else:
            connection = self.dialect.connect(*cargs, **cparams)
        try:
            self.dialect.set_isolation_level(connection, "AUTOCOMMIT")
        except BaseException:
            # Not yet in `open`: nothing else would close it.
            with contextlib.suppress(Exception):
                connection.close()
            raise
        with self.lock:
            self.open.add(connection)
        return connection

    def _discard(self, connection: Any) -> None:
        with self.lock:
            self.open.discard(connection)
        with contextlib.suppress(Exception):
            connection.close()

    def read(self) -> tuple[int, datetime] | None:
        """The version, or None when there is none or the database did not answer (the
        caller then leaves the request to Flask, which knows what to do in an outage)."""
        error_class = self.dialect.loaded_dbapi.Error
        try:
            connection = self.idle.get_nowait()
        except queue.Empty:
            try:
                connection = self._connect()
            except error_class:
                return None
        for listener in self.statement_listeners:
            listener(self.engine, self.sql)
        # A public request's answer deadline (statuspage.database), where there is one.
        guard = guard_of(self.engine)
        seconds, outage = (guard.public_answer, guard.outage) if guard else (0.0, None)
        try:
            cursor = connection.cursor()
            try:
                with answered_within(connection, seconds, outage):
                    cursor.execute(self.sql)
                row = cursor.fetchone()
            finally:
                cursor.close()
        except error_class:
            self._discard(connection)
            return None
        self.idle.put(connection)
        if row is None:
            return None
        changed_at = self.convert(row[1]) if self.convert else row[1]
        return int(row[0]), changed_at

    def close_all(self) -> None:
        with self.lock:
            connections = set(self.open)
            self.open.clear()
        while True:
            try:
                self.idle.get_nowait()
            except queue.Empty:
                break
        _close_each(connections)


def _close_each(connections: set[Any]) -> None:
    for connection in list(connections):
        with contextlib.suppress(Exception):
            connection.close()
    connections.clear()


# --- this process's copy of the version, kept current by Redis pub/sub ----------------------


def parse_announcement(raw: bytes | str) -> tuple[int, datetime] | None:
    text = raw.decode() if isinstance(raw, bytes) else raw
    try:
        version, changed_at = text.split(" ", 1)
        return int(version), datetime.fromisoformat(changed_at)
    except ValueError:
        return None


class VersionWatch:
    """The latest public version this process knows, trusted for `local_seconds` while a
    thread listens on Redis for announcements of new ones (`RedisStore.announce_version`).

    Even a GET from Redis costs a round trip per request, the largest part of a hit on a busy
    machine. With the watch a hit asks Redis nothing: every commit that bumps the version
    announces it, so every listening process learns it within milliseconds; the committing
    process learns it before its request answers. `local_seconds` bounds what a lost
    announcement costs (a reconnect). Not listening (Redis down, not yet subscribed), the
    watch trusts nothing and every request reads the version as before.
    """

    RETRY_SECONDS = 5.0

    def __init__(self, store: Any, *, local_seconds: float) -> None:
        self.store = store
        self.local_seconds = local_seconds
        self._known: tuple[int, datetime] | None = None
        self._known_at = 0.0
        self._lock = threading.Lock()
        self._pid = 0
        self._worker: Any = None
        self._client: Any = None
        self._listening = False
        self._retry_at = 0.0

    def cached(self) -> tuple[int, datetime] | None:
        """The version, if this process may answer with what it knows; else None."""
        if self.local_seconds <= 0 or not self._listen():
            return None
        known = self._known
        if known is None or time.monotonic() - self._known_at >= self.local_seconds:
            return None
        return known

    def learn(self, found: tuple[int, datetime]) -> None:
        """A version read or announced: the highest seen is kept, and trusted afresh."""
        with self._lock:
            if self._known is None or found[0] >= self._known[0]:
                self._known = found
                self._known_at = time.monotonic()

    def _listen(self) -> bool:
        if self._pid == os.getpid() and self._listening:
            return True
        if time.monotonic() < self._retry_at or not getattr(self.store, "url", None):
            return False
        with self._lock:
            if self._pid == os.getpid() and self._listening:
                return True
            return self._start()

    def _start(self) -> bool:
        """Subscribe (in this process: a forked worker starts its own listener)."""
        import redis

        self._pid = os.getpid()
        self._known, self._known_at = None, 0.0  # nothing heard before the subscription
        try:
            # Kept: a client that is collected closes its connections, the listener's too.
            self._client = client = redis.Redis.from_url(
                self.store.url, socket_connect_timeout=0.5, socket_keepalive=True
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(**{self.store.version_channel: self._on_message})
            self._worker = pubsub.run_in_thread(
                sleep_time=1.0, daemon=True, exception_handler=self._on_error
            )
        except redis.RedisError as error:
            logger.warning("public cache: not listening for versions (%s)", type(error).__name__)
            self._retry_at = time.monotonic() + self.RETRY_SECONDS
            return False
        self._listening = True
        return True

    def _on_message(self, message: dict[str, Any]) -> None:
        found = parse_announcement(message.get("data") or b"")
        if found is not None:
            self.learn(found)

    def _on_error(self, error: BaseException, pubsub: Any, worker: Any) -> None:
        # Lost the subscription: trust nothing until listening again.
        self._listening = False
        self._known_at = 0.0
        self._retry_at = time.monotonic() + self.RETRY_SECONDS
        logger.warning("public cache: version listener stopped (%s)", type(error).__name__)
        worker.stop()
        with contextlib.suppress(Exception):
            pubsub.close()

    def stop(self) -> None:
        worker, self._worker = self._worker, None
        self._listening = False
        if worker is not None:
            worker.stop()


# --- publishing the version to Redis after a commit ----------------------------------------

BUMPED_KEY = "statuspage.public_cache.version_bumped"


def _note_bump(state: Any) -> None:
    statement = state.statement
    if state.is_update and getattr(getattr(statement, "table", None), "name", "") == "site_state":
        state.session.info[BUMPED_KEY] = True
        # Known again only if `bump_public_version` made this UPDATE (it stores what it
        # returned once it ran); any other UPDATE of the row leaves the version to be read.
        state.session.info.pop(BUMPED_VERSION, None)


def _forget(session: Session, *args: Any) -> None:
    session.info.pop(BUMPED_KEY, None)
    session.info.pop(BUMPED_VERSION, None)


def _publish(session: Session) -> None:
    known = session.info.pop(BUMPED_VERSION, None)
    if not session.info.pop(BUMPED_KEY, None):
        return
    from flask import current_app, has_app_context

    from statuspage.extensions import db
    from statuspage.public.cache.policy import EXTENSION, setting_float

    if not has_app_context():
        return
    cache = current_app.extensions.get(EXTENSION)
    store = getattr(cache, "store", None)
    if store is None or not hasattr(store, "offer_version"):
        return  # copies in this process's memory: every read goes to the database
    if known is not None:
        row: Any = known  # what the committed UPDATE returned
    else:
        try:
            # The committed session takes no more statements here; read on a connection.
            with db.engine.connect() as connection:
                row = connection.execute(VERSION_QUERY).one_or_none()
        except sa.exc.SQLAlchemyError as error:
            logger.warning("public cache: version not published (%s)", type(error).__name__)
            return
    if row is not None:
        found = (int(row[0]), row[1])
        keep = setting_float(current_app.config, "PUBLIC_CACHE_VERSION_SECONDS")
        store.offer_version(*found, keep_seconds=keep)
        store.announce_version(*found)
        watch = getattr(cache, "version_watch", None)
        if watch is not None:
            watch.learn(found)


def install_publisher(session_class: type[Session]) -> None:
    """Publish the public version to Redis after each commit that bumped it (idempotent)."""
    for name, hook in (
        ("do_orm_execute", _note_bump),
        ("after_commit", _publish),
        ("after_rollback", _forget),
    ):
        if not sa.event.contains(session_class, name, hook):
            sa.event.listen(session_class, name, hook)
