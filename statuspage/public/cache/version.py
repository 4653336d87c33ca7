"""The public version, read from the database on every cached request: `site_state`'s
(public_version, public_changed_at). Flask's path reads it in the request's session; the fast
path through `VersionReader`, on driver connections of its own."""

from __future__ import annotations

import contextlib
import queue
import threading
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.core.models import SiteState

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
        connection = self.dialect.connect(*cargs, **cparams)
        self.dialect.set_isolation_level(connection, "AUTOCOMMIT")
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
        try:
            cursor = connection.cursor()
            try:
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
