"""Shared fixtures.

Tests that touch the database run twice: on SQLite and on PostgreSQL. Each run migrates a fresh
database once (so the migrations are exercised too) and empties it after every test.

PostgreSQL: a new database is created for the run and dropped at the end. Where no server
answers, those tests are skipped with the reason shown, except under CI (CI=true) or with
REQUIRE_POSTGRES=1, where that is a failure.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

# The task queue of a test run is its own file, never the checkout's instance/huey.sqlite3:
# statuspage.worker.queue reads this when first imported, and publishing enqueues delivery tasks.
# Each xdist worker gets a file of its own (the controller's would be inherited by all): two
# tests that start worker processes at the same time must not take each other's tasks.
if os.environ.get("PYTEST_XDIST_WORKER") or "HUEY_SQLITE_PATH" not in os.environ:
    os.environ["HUEY_SQLITE_PATH"] = str(
        Path(tempfile.mkdtemp(prefix="statuspage-huey-")) / "huey.sqlite3"
    )

from statuspage import create_app  # noqa: E402
from statuspage.core.db import Base  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    # Production hashes with argon2id at the library's recommended cost (about 0.1-0.2 s a
    # hash here). Hundreds of test logins at that cost only measure the CPU, so the tests use
    # the same algorithm with the smallest cost; tests/unit/test_passwords.py checks the real one.
    from argon2 import PasswordHasher

    import statuspage.auth.passwords as passwords

    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# Rows the initial migration installs; kept between tests.
DEFAULT_DATA_TABLES = ("priority_rule", "sla_policy", "site_state")


def postgres_required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("REQUIRE_POSTGRES") == "1"


def _sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of a reachable PostgreSQL server, or a skip saying why not."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            pass
    except psycopg.Error as error:
        message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error}".strip()
        if postgres_required():
            pytest.fail(message + " (CI requires PostgreSQL)")
        pytest.skip(message)
    return POSTGRES_ADMIN_URL


@pytest.fixture(scope="session")
def fresh_postgres_database(postgres_server: str) -> Iterator[Callable[[], str]]:
    """A factory of new, empty PostgreSQL databases, all dropped at the end of the run."""
    import psycopg

    created: list[str] = []

    def make() -> str:
        name = f"statuspage_test_{os.getpid()}_{secrets.token_hex(4)}"
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return _sqlalchemy_url(postgres_server.rsplit("/", 1)[0] + "/" + name)

    yield make
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_sqlite_database(tmp_path: Path) -> Callable[[], str]:
    counter = iter(range(1000))

    def make() -> str:
        return f"sqlite:///{tmp_path / f'fresh-{next(counter)}.sqlite3'}"

    return make


# The database's answer deadlines are half a second in production (statuspage/database.py).
# The suite runs two workers, Chromium and PostgreSQL on two cores, where a connection or a
# statement now and then takes longer than that; an app made here therefore waits longer, and
# the tests of what a hung or lost database does ask for the production values themselves.
RELAXED_DATABASE_DEADLINES = {
    "DATABASE_CONNECT_TIMEOUT": 10.0,
    "DATABASE_PUBLIC_ANSWER_TIMEOUT": 10.0,
}


def production_deadlines() -> dict[str, float]:
    """The answer deadlines as a production app has them (its configured defaults)."""
    from statuspage.config import SETTINGS

    return {s.name: s.default for s in SETTINGS if s.name in RELAXED_DATABASE_DEADLINES}


def make_app(database_url: str, **overrides: Any) -> Flask:
    config = {
        **RELAXED_DATABASE_DEADLINES,
        "APP_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SITE_NAME": "Test Status",
        "SITE_URL": "http://localhost",
        # Most tests post forms directly; `csrf_client` turns protection back on.
        "WTF_CSRF_ENABLED": False,
        "EVIDENCE_DIR": os.path.join(tempfile.gettempdir(), f"statuspage-evidence-{os.getpid()}"),
    }
    config.update(overrides)
    application = create_app(config)
    _apps_made.append(application)
    return application


# The apps `make_app` built during the current test (see `apps_leave_no_connection_open`).
_apps_made: list[Flask] = []


def dispose_app(app: Flask) -> None:
    """Close the database connections `app` keeps: its engine's pool (and with it the public
    cache's version reader, which closes its own when the engine is disposed) and the readers'
    IP-range engine."""
    from statuspage.extensions import db
    from statuspage.public.readers import NETWORKS_ENGINE

    with app.app_context():
        db.engine.dispose()
    networks_engine = app.extensions.get(NETWORKS_ENGINE)
    if networks_engine is not None:
        networks_engine.dispose()


def pooled_connections(app: Flask) -> int:
    """How many connections `app`'s engine pool holds, idle or checked out."""
    from statuspage.extensions import db

    with app.app_context():
        pool = db.engine.pool
    if not hasattr(pool, "checkedin"):
        return 0  # a pool that keeps no count (SQLite in memory) is not made by make_app
    return int(pool.checkedin() + pool.checkedout())


@pytest.fixture(autouse=True)
def apps_leave_no_connection_open() -> Iterator[None]:
    """Fails a test that leaves an app it made with pooled connections still open.

    Such a pool is dropped with the app and its connections are garbage-collected open: on
    PostgreSQL psycopg then warns (`ResourceWarning: ... was deleted while still open`) in
    whichever later test the collector happens to run, which made the leak look random. Here
    it is found in the test that made it, every time, on either database. Dispose the app
    (`dispose_app`, or `_empty_database` for one that wrote), or build it with `another_app`.
    """
    _apps_made.clear()  # made by wider fixtures before this test: not this test's to check
    yield
    made = list(_apps_made)
    _apps_made.clear()
    left = [(app, pooled_connections(app)) for app in made]
    left = [(app, count) for app, count in left if count]
    for app, _count in left:
        dispose_app(app)  # closed here so that the warning does not land in another test
    assert not left, (
        f"{len(left)} app(s) made by this test still held {sum(c for _, c in left)} pooled "
        "connection(s) at its end: dispose them (dispose_app) or use the another_app fixture"
    )


@pytest.fixture
def another_app(database_url: str) -> Iterator[Callable[..., Flask]]:
    """Makes more apps on the test database (`another_app(SETTING=value)`), disposed after
    the test."""
    made: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        application = make_app(database_url, **overrides)
        made.append(application)
        return application

    yield make
    for application in made:
        dispose_app(application)


def migrate(app: Flask) -> None:
    from flask_migrate import upgrade

    from statuspage.extensions import db

    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database of each backend, shared by the tests of one run."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    else:
        url = request.getfixturevalue("fresh_postgres_database")()
    migrate(make_app(url))
    return url


def _empty_database(app: Flask) -> None:
    from statuspage.extensions import db

    with app.app_context():
        db.session.remove()
        tables = [t for t in Base.metadata.sorted_tables if t.name not in DEFAULT_DATA_TABLES]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for table in reversed(tables):
                    conn.execute(table.delete())
        _restore_defaults(db.session)
        db.session.commit()
        db.engine.dispose()


def _restore_defaults(session: Any) -> None:
    """Put the default matrix, SLA and stakeholder lists back, in case a test changed them."""
    from statuspage.core.db import utcnow
    from statuspage.incidents.models import PriorityRule, SlaPolicy
    from statuspage.incidents.priority import DEFAULT_MATRIX, DEFAULT_SLA
    from statuspage.stakeholders.lists import install_default_lists

    install_default_lists(session, now=utcnow())  # as the migration installs them
    session.execute(sa.delete(PriorityRule))
    session.execute(sa.delete(SlaPolicy))
    for (impact, urgency), priority in DEFAULT_MATRIX.items():
        session.add(PriorityRule(impact=impact, urgency=urgency, priority=priority))
    for priority, (name, ack, mitigate, resolve, cadence, business) in DEFAULT_SLA.items():
        session.add(
            SlaPolicy(
                priority=priority,
                name=name,
                acknowledge_minutes=ack,
                mitigate_minutes=mitigate,
                resolve_minutes=resolve,
                update_cadence_minutes=cadence,
                business_hours_only=business,
                escalation_contacts=[],
            )
        )


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    application = make_app(database_url)
    yield application
    _empty_database(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class _AppRunner:
    """`app.test_cli_runner()`, run inside `app`'s own context (not the `session` fixture's)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.runner = app.test_cli_runner()

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        with self.app.app_context():
            return self.runner.invoke(*args, **kwargs)


@pytest.fixture
def runner(app: Flask) -> _AppRunner:
    return _AppRunner(app)


@pytest.fixture
def session(app: Flask, database_url: str) -> Iterator[Any]:
    """A SQLAlchemy session on the test database, for arranging and checking data.

    It lives in the app context of a second app object on the same database. Requests through
    `client` therefore get their own app context, `g` and session each time, as in production;
    if this fixture pushed a context of `app` itself, every request would reuse it, and the
    logged-in user cached in `g` would leak from one request (and one client) to the next.
    """
    from statuspage.extensions import db

    arranging = make_app(database_url)
    with arranging.app_context():
        yield db.session
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def mail_dir(app: Flask, tmp_path: Path) -> Path:
    """Email of `app` goes to .eml files in this folder (the file transport)."""
    directory = tmp_path / "mail"
    app.config.update(MAIL_TRANSPORT="file", MAIL_FILE_DIR=str(directory))
    return directory


@pytest.fixture
def mailer(app: Flask, mail_dir: Path) -> Any:
    """A Mailer writing to `mail_dir`."""
    from statuspage.mail.mailer import mailer_from_config

    return mailer_from_config(app.config, instance_path=app.instance_path)


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def count_queries(app: Flask) -> Callable[[Callable[[], Any]], int]:
    """Run a callable and return how many SQL statements it sent."""
    from statuspage.extensions import db

    def run(action: Callable[[], Any]) -> int:
        with app.app_context():
            engine = db.engine
        return count_statements(engine, action)

    return run


def count_statements(engine: sa.Engine, action: Callable[[], Any]) -> int:
    """How many SQL statements `action` sent to `engine`: the app's own, and the version
    reads of the public cache's fast path (which uses driver connections of its own)."""
    from statuspage.public.cache import VersionReader

    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    def record_read(target: sa.Engine, statement: str) -> None:
        if target is engine:
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    VersionReader.statement_listeners.append(record_read)
    try:
        action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
        VersionReader.statement_listeners.remove(record_read)
    return len(statements)


# Factories: callables that build through the domain functions, overridable per test.


@pytest.fixture
def make_component(session: Any, now: datetime) -> Callable[..., Any]:
    from statuspage.components.models import ComponentGroup
    from statuspage.components.status import add_component

    groups: dict[str, int] = {}

    def make(
        name: str = "API",
        *,
        group: str | None = None,
        created: datetime | None = None,
        **fields: Any,
    ) -> Any:
        group_id = None
        if group is not None:
            if group not in groups:
                row = ComponentGroup(name=group, position=len(groups))
                session.add(row)
                session.flush()
                groups[group] = row.id
            group_id = groups[group]
        component = add_component(
            session, name=name, group_id=group_id, now=created or now - timedelta(days=120)
        )
        for key, value in fields.items():
            setattr(component, key, value)
        session.flush()
        return component

    return make


@pytest.fixture
def make_incident(session: Any, now: datetime) -> Callable[..., Any]:
    from statuspage.incidents.models import PublicStatus
    from statuspage.incidents.operations import NewIncident, open_incident, post_update

    def make(
        title: str = "Something is broken",
        *,
        components: dict[int, Any] | None = None,
        started: datetime | None = None,
        resolved_after: timedelta | None = None,
        public: bool = True,
        body: str = "We are investigating.",
    ) -> Any:
        started = started or now - timedelta(minutes=30)
        incident = open_incident(
            session,
            NewIncident(
                title=title, impact_started_at=started, component_ids=list(components or {})
            ),
            actor_id=None,
            now=started,
        )
        if public:
            post_update(
                session,
                incident,
                status=PublicStatus.INVESTIGATING,
                body=body,
                component_statuses=components or {},
                actor_id=None,
                now=started,
            )
        if resolved_after is not None:
            post_update(
                session,
                incident,
                status=PublicStatus.RESOLVED,
                body="Resolved.",
                component_statuses={cid: "operational" for cid in (components or {})},
                actor_id=None,
                now=started + resolved_after,
            )
        session.flush()
        return incident

    return make


PASSWORD = "a perfectly long password"


@pytest.fixture
def make_user(session: Any) -> Callable[..., Any]:
    from statuspage.auth.models import Role
    from statuspage.auth.users import create_user

    counter = iter(range(1, 1000))

    def make(role: str = "admin", *, email: str | None = None, name: str = "") -> Any:
        user = create_user(
            session,
            email=email or f"{role}{next(counter)}@example.com",
            password=PASSWORD,
            role=Role(role),
            name=name,
        )
        session.commit()
        return user

    return make


@pytest.fixture
def login(client: FlaskClient) -> Callable[..., Any]:
    """Log a user in through the real login form (CSRF is off in tests unless asked)."""

    def do(user: Any, password: str = PASSWORD) -> Any:
        response = client.post("/login", data={"email": user.email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    return do


@pytest.fixture
def csrf_client(database_url: str) -> Iterator[FlaskClient]:
    """A client of an app with CSRF protection on, as in production."""
    application = make_app(database_url, WTF_CSRF_ENABLED=True)
    yield application.test_client()
    _empty_database(application)


def csrf_token_from(html: str) -> str:
    """The CSRF token a rendered form carries."""
    import re

    match = re.search(r'name="(?:[\w-]+-)?csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="(?:[\w-]+-)?csrf_token"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


def login_with_csrf(client: FlaskClient, user: Any, password: str = PASSWORD) -> None:
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"email": user.email, "password": password, "csrf_token": csrf_token_from(page)},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


@pytest.fixture
def immediate_huey() -> Iterator[Any]:
    """The real Huey instance in immediate mode: tasks run in the caller, queue in memory."""
    from statuspage.worker import tasks

    storage = tasks.huey.storage
    tasks.huey.immediate = True
    yield tasks
    tasks.huey._immediate = False
    tasks.huey.storage = storage
