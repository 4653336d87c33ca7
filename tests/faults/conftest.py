"""Fixtures the fault tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.faults.test_database_down import Relay


@pytest.fixture
def relayed(database_url: str) -> Iterator[tuple[str, Relay]]:
    """The test database's URL through a loopback relay that can hang or go away, and the
    relay (PostgreSQL only: SQLite is a file in the process)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite is a file in the process: there is no server to lose or hang")
    url = sa.make_url(database_url)
    relay = Relay(url.host or "127.0.0.1", url.port or 5432).start()
    relayed = url.set(host="127.0.0.1", port=relay.port)
    yield relayed.render_as_string(hide_password=False), relay
    relay.cut()
