"""The database hangs while the app's connections to it are open (issue 18).

A relay on loopback (`Relay` of test_database_down.py) forwards to the real PostgreSQL until it
is told to hang; then it takes every byte and answers none, on the connections already open as
on new ones. Neither the server's statement timeout nor psycopg ends that wait: the app's
answer deadlines do (statuspage/database.py, `Deadlines`). Without them the requests below
never answer.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage.database import DEADLINES, Deadlines
from tests.conftest import make_app, production_deadlines
from tests.faults.test_database_down import Relay, assert_clean_503
from tests.faults.test_database_hung import BUDGET, dispose


def answer_within(seconds: float, action: Any) -> tuple[float, Any]:
    """(elapsed, result) of `action`, run in a thread so that a hang fails the test instead of
    stopping the run."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = action()
        except BaseException as error:  # handed to the test
            box["error"] = error

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds + 10)
    assert not thread.is_alive(), "no answer: the request waits for the hung database"
    if "error" in box:
        raise box["error"]
    return time.monotonic() - started, box["result"]


@pytest.mark.parametrize("fast_path", [True, False], ids=["version-reader", "pool"])
def test_public_pages_answer_from_their_copy_when_open_connections_hang(
    relayed: tuple[str, Relay], session: Any, make_component: Any, fast_path: bool
) -> None:
    make_component("API")
    session.commit()
    url, relay = relayed
    # A retry pause longer than the test: every request after the first falls in it.
    app = make_app(
        url, **production_deadlines(), DATABASE_RETRY_SECONDS=60, PUBLIC_CACHE_FAST_PATH=fast_path
    )
    try:
        client = app.test_client()
        front = client.get("/")
        assert front.status_code == 200
        # Open connections now, both through the relay: the pool's, and (a hit on the fast
        # path reads the version on a connection of its own) the version reader's.
        assert client.get("/history").status_code == 200
        assert client.get("/").get_data() == front.get_data()
        started = DEADLINES.ended
        relay.hang()
        ended = []
        for _ in range(3):
            elapsed, answer = answer_within(BUDGET, lambda: client.get("/"))
            assert answer.status_code == 200 and answer.get_data() == front.get_data()
            assert answer.headers["X-Public-Cache"] == "STALE-ERROR"
            assert elapsed < BUDGET, elapsed
            ended.append(DEADLINES.ended)
        # The first request waited for one deadline (the version reader's read, or the pool's
        # ping); then the retry pause began, and the next ones waited for none (the ping
        # counts as failed at once, and a new connection fails at once).
        assert ended[0] == started + 1 and ended[1] == ended[2] == ended[0]
        # A page never stored: a clean 503, as soon.
        elapsed, missing = answer_within(BUDGET, lambda: client.get("/api/v2/incidents.json"))
        assert_clean_503(missing, json=True)
        assert elapsed < BUDGET, elapsed
    finally:
        dispose(app)


def test_other_statements_wait_the_statement_timeout_and_a_second(
    relayed: tuple[str, Relay],
) -> None:
    from statuspage.extensions import db

    url, relay = relayed
    app = make_app(url, **production_deadlines(), DATABASE_STATEMENT_TIMEOUT=1)
    try:
        with app.app_context():
            assert db.session.execute(sa.text("SELECT 1")).scalar() == 1
            db.session.commit()
            relay.hang()
            started = time.monotonic()

            def query() -> Any:
                with app.app_context():  # a thread of its own: a context of its own
                    with pytest.raises(sa.exc.DBAPIError):
                        db.session.execute(sa.text("SELECT 1"))
                    db.session.rollback()
                return None

            elapsed, _ = answer_within(4, query)
        # Not the public deadline (0.5 s): the statement timeout (1 s) and 1 s more.
        assert 1.8 <= elapsed < 4, elapsed
        assert time.monotonic() - started < 5
    finally:
        dispose(app)


def test_a_deadline_shuts_the_socket_and_a_stopped_one_does_not() -> None:
    deadlines = Deadlines(poll=0.01)
    ended, peer = socket.socketpair()
    kept, kept_peer = socket.socketpair()
    try:
        deadlines.start(ended.fileno(), 0.05)
        token = deadlines.start(kept.fileno(), 0.05)
        assert deadlines.stop(token) is True
        time.sleep(0.3)
        ended.settimeout(1)
        assert ended.recv(1) == b""  # shut down: the reader sees the end at once
        assert deadlines.ended == 1
        kept_peer.sendall(b"x")
        assert kept.recv(1) == b"x"  # untouched
    finally:
        for each in (ended, peer, kept, kept_peer):
            each.close()
