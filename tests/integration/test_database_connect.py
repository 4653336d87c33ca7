"""Connections to PostgreSQL are closed by whoever opened them, never left to the garbage
collector (psycopg then warns `ResourceWarning: ... was deleted while still open`, in whichever
test happens to collect it).

- `connect_within` gives a connection up after the connect timeout; if the connection comes
  later, its helper thread closes it.
- Disposing an app (`tests.conftest.dispose_app`) closes every connection the app opened: its
  pool, the public cache's version reader and the readers' IP-range engine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from statuspage.database import connect_within
from tests.conftest import POSTGRES_ADMIN_URL, dispose_app, make_app, migrate

pytestmark = pytest.mark.postgres


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_connection_made_in_time_is_handed_to_the_caller_open(postgres_server: str) -> None:
    connection = connect_within(lambda: psycopg.connect(postgres_server), 5, TimeoutError)
    try:
        assert not connection.closed
        assert connection.execute("SELECT 1").fetchone() == (1,)
    finally:
        connection.close()


def test_a_connection_that_comes_after_the_connect_timeout_is_closed_by_its_thread(
    postgres_server: str,
) -> None:
    made: list[psycopg.Connection[Any]] = []
    slow_server = threading.Event()

    def slow_connect() -> psycopg.Connection[Any]:
        slow_server.wait(5)  # the server answers only once the caller has given up
        connection = psycopg.connect(postgres_server)
        made.append(connection)
        return connection

    started = time.monotonic()
    with pytest.raises(TimeoutError, match="connection timeout expired"):
        connect_within(slow_connect, 0.1, TimeoutError)
    assert time.monotonic() - started < 1
    slow_server.set()
    try:
        assert wait_for(lambda: bool(made)), "the late connection was never made"
        assert wait_for(lambda: made[0].closed), "the late connection was left open"
    finally:
        for connection in made:
            connection.close()


def test_a_connection_that_fails_raises_the_drivers_error_to_the_caller() -> None:
    refused = "postgresql://postgres@127.0.0.1:9/none?connect_timeout=2"
    with pytest.raises(psycopg.OperationalError):
        connect_within(lambda: psycopg.connect(refused), 5, TimeoutError)


def server_connections(database: str) -> int:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchone()
    return int(row[0]) if row else 0


def test_disposing_an_app_closes_every_connection_it_opened(
    fresh_postgres_database: Callable[[], str],
) -> None:
    url = fresh_postgres_database()
    migrate(make_app(url))
    database = sa.make_url(url).database or ""
    assert wait_for(lambda: server_connections(database) == 0)
    app = make_app(url)
    client = app.test_client()
    try:
        # A page through Flask (the pool), then from the cache (the fast path's version
        # reader), each behind the readers' IP-range layer (an engine of its own).
        assert client.get("/").status_code == 200
        assert client.get("/").headers["X-Public-Cache"] == "HIT"
        assert server_connections(database) >= 2
    finally:
        dispose_app(app)
    assert wait_for(lambda: server_connections(database) == 0), (
        f"{server_connections(database)} connection(s) still open after dispose_app"
    )
