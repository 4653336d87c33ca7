"""The database stops answering: clean 503s, nothing half written, and recovery afterwards.

Real failures, no mocks:

- a PostgreSQL URL on a closed loopback port (nothing listens: connections are refused);
- a loopback TCP relay in front of PostgreSQL that is cut (every connection dropped, new ones
  refused) and restored, for an app that was working a moment before;
- a commit that fails after the whole publish was flushed: on PostgreSQL the server ends the
  request's backend (`pg_terminate_backend`) just before COMMIT; on SQLite another connection
  holds a read transaction, so the writer cannot take the lock it needs to commit.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from statuspage.auth.tokens import create_token
from statuspage.components.models import ComponentStatusChange
from statuspage.core.models import AuditEntry, SiteState, TimelineEvent
from statuspage.core.outbox import Notification, NotificationKind
from statuspage.incidents.models import IncidentUpdate
from tests.conftest import PASSWORD, make_app, production_deadlines

LEAKS = ("Traceback", "sqlalchemy", "psycopg", "OperationalError", "SELECT ", "INSERT ")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when this returns: nothing listens


def unreachable_database_url() -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/gone?connect_timeout=2"


def assert_clean_503(response: Any, *, json: bool) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == 503, body[:300]
    assert int(response.headers["Retry-After"]) > 0
    assert "no-store" in response.headers.get("Cache-Control", "")
    for leak in LEAKS:
        assert leak not in body, (leak, body[:300])
    if json:
        assert response.mimetype == "application/json"
        error = response.get_json()["error"]
        assert error["code"] == 503 and "not answering" in error["message"]
    else:
        assert response.mimetype == "text/html"
        assert "The status database is not answering" in body


def logged_in(app: Flask, user: Any) -> FlaskClient:
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


@pytest.fixture
def site(
    session: Any,
    make_user: Callable[..., Any],
    make_component: Callable[..., Any],
    make_incident: Callable[..., Any],
    now: Any,
) -> dict[str, Any]:
    """A public incident on API and Website, a communicator and an admin token."""
    api, web = make_component("API"), make_component("Website")
    incident = make_incident(
        "Errors", components={api.id: "partial_outage", web.id: "degraded_performance"}
    )
    communicator = make_user("communicator")
    _, token = create_token(session, make_user("admin"), "faults", actor_id=None, now=now)
    session.commit()
    return {
        "incident_id": incident.id,
        "components": (api.id, web.id),
        "communicator": communicator,
        "token": token,
    }


def publish_form(site: dict[str, Any]) -> dict[str, str]:
    api_id, web_id = site["components"]
    return {
        "status": "identified",
        "body": "We found the cause.",
        f"component-{api_id}": "major_outage",
        f"component-{web_id}": "partial_outage",
        "notify": "y",
    }


def api_body(site: dict[str, Any]) -> dict[str, Any]:
    api_id, web_id = site["components"]
    return {
        "status": "identified",
        "body": "We found the cause.",
        "component_statuses": {str(api_id): "major_outage", str(web_id): "partial_outage"},
    }


def written(session: Any) -> dict[str, Any]:
    """Everything a publish writes, counted."""
    session.rollback()
    counts: dict[str, Any] = {
        model.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (
            IncidentUpdate,
            ComponentStatusChange,
            AuditEntry,
            TimelineEvent,
        )
    }
    # The outbox by kind: the update's notification apart from the component events
    # (one per changed component, for the channels) written in the same transaction.
    for kind in NotificationKind:
        counts[f"notification:{kind}"] = session.scalar(
            sa.select(sa.func.count(Notification.id)).where(Notification.kind == kind)
        )
    counts["public_version"] = session.scalar(
        sa.select(SiteState.public_version).where(SiteState.id == 1)
    )
    counts["statuses"] = session.execute(
        sa.text("SELECT name, status FROM component ORDER BY name")
    ).all()
    session.rollback()
    return counts


# --- nothing listens ---------------------------------------------------------------------------


PUBLIC_HTML = ("/", "/history", "/incidents/1", "/maintenance/1", "/subscribe", "/history.rss")
PUBLIC_JSON = ("/api/v2/summary.json", "/api/v2/status.json", "/api/v2/incidents.json")


def test_every_kind_of_request_gets_a_clean_503_when_the_database_is_unreachable() -> None:
    app = make_app(unreachable_database_url(), **production_deadlines())
    client = app.test_client()
    for path in PUBLIC_HTML:
        assert_clean_503(client.get(path), json=False)
    for path in PUBLIC_JSON:
        assert_clean_503(client.get(path), json=True)
    # Staff logging in, and machines with a token: the same 503, never a 500.
    assert_clean_503(
        client.post("/login", data={"email": "a@example.com", "password": "x" * 20}), json=False
    )
    bearer = {"Authorization": "Bearer sp_" + "x" * 40}
    assert_clean_503(client.get("/api/v1/incidents", headers=bearer), json=True)
    assert_clean_503(
        client.post(
            "/api/v1/incidents/1/updates",
            json={"status": "identified", "body": "x"},
            headers=bearer,
        ),
        json=True,
    )
    assert_clean_503(
        client.post("/api/v1/alerts/generic", json={"title": "x"}, headers=bearer), json=True
    )


def test_a_logged_in_publisher_gets_a_clean_503_and_can_publish_once_it_is_back(
    app: Flask, database_url: str, session: Any, site: dict[str, Any]
) -> None:
    client = logged_in(app, site["communicator"])
    before = written(session)
    # The same browser, the same signed cookie, against the site whose database is gone.
    down = make_app(unreachable_database_url(), **production_deadlines()).test_client()
    down.set_cookie("session", client.get_cookie("session").value)
    url = f"/admin/incidents/{site['incident_id']}/updates"
    assert_clean_503(down.post(url, data=publish_form(site)), json=False)
    assert_clean_503(down.get(f"/admin/incidents/{site['incident_id']}"), json=False)
    assert written(session) == before

    assert client.post(url, data=publish_form(site)).status_code == 302
    after = written(session)
    assert after["incident_update"] == before["incident_update"] + 1
    assert after["public_version"] == before["public_version"] + 1


# --- the commit itself fails -------------------------------------------------------------------


@contextlib.contextmanager
def failing_commit(app: Flask, database_url: str, admin_url: str | None) -> Iterator[list[str]]:
    """While inside, a transaction that wrote an incident update cannot commit, for real.

    Yields the list of failures injected (so a test can check one happened)."""
    from statuspage.extensions import db

    injected: list[str] = []
    if database_url.startswith("sqlite"):
        # A reader in the middle of a transaction holds a shared lock; the writer's COMMIT
        # needs the exclusive lock and gives up after the busy timeout ("database is locked").
        reader = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM incident").fetchone()
        injected.append("sqlite reader lock")
        try:
            yield injected
        finally:
            reader.execute("ROLLBACK")
            reader.close()
        return

    import psycopg

    with app.app_context():
        engine = db.engine

    def note_publish(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO INCIDENT_UPDATE "):
            conn.info["publishing"] = True

    def terminate(conn: sa.Connection) -> None:
        if not conn.info.pop("publishing", False):
            return
        pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        assert admin_url is not None
        with psycopg.connect(admin_url, autocommit=True) as admin:
            # Waits (up to 5 s) until the backend is gone; then COMMIT meets a dead socket.
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
        injected.append(f"terminated backend {pid}")

    sa.event.listen(engine, "before_cursor_execute", note_publish)
    sa.event.listen(engine, "commit", terminate)
    try:
        yield injected
    finally:
        sa.event.remove(engine, "before_cursor_execute", note_publish)
        sa.event.remove(engine, "commit", terminate)


@pytest.fixture
def fragile_app(database_url: str) -> Iterator[Flask]:
    """The site, with a short SQLite busy timeout (the default waits five seconds)."""
    options: dict[str, Any] = {"pool_pre_ping": True}
    if database_url.startswith("sqlite"):
        options["connect_args"] = {"timeout": 0.2}
    application = make_app(database_url, SQLALCHEMY_ENGINE_OPTIONS=options)
    yield application
    from statuspage.extensions import db

    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def admin_url(database_url: str) -> str | None:
    if database_url.startswith("sqlite"):
        return None
    from tests.conftest import POSTGRES_ADMIN_URL

    return POSTGRES_ADMIN_URL


def test_a_publish_whose_commit_fails_answers_503_and_writes_nothing(
    fragile_app: Flask,
    database_url: str,
    admin_url: str | None,
    session: Any,
    site: dict[str, Any],
) -> None:
    client = logged_in(fragile_app, site["communicator"])
    url = f"/admin/incidents/{site['incident_id']}/updates"
    before = written(session)
    with failing_commit(fragile_app, database_url, admin_url) as injected:
        assert_clean_503(client.post(url, data=publish_form(site)), json=False)
    assert injected
    assert written(session) == before  # no update, history, outbox row, audit or version

    # The same process carries on once the database is back: the dead connection was dropped.
    response = client.post(url, data=publish_form(site))
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    after = written(session)
    assert after["incident_update"] == before["incident_update"] + 1
    assert after["notification:incident_update"] == before["notification:incident_update"] + 1
    assert after["component_status_change"] == before["component_status_change"] + 2
    assert after["notification:component_status"] == before["notification:component_status"] + 2
    assert after["public_version"] == before["public_version"] + 1


def test_an_api_publish_whose_commit_fails_answers_json_503_and_writes_nothing(
    fragile_app: Flask,
    database_url: str,
    admin_url: str | None,
    session: Any,
    site: dict[str, Any],
) -> None:
    client = fragile_app.test_client()
    url = f"/api/v1/incidents/{site['incident_id']}/updates"
    headers = {"Authorization": f"Bearer {site['token']}"}
    before = written(session)
    with failing_commit(fragile_app, database_url, admin_url) as injected:
        assert_clean_503(client.post(url, json=api_body(site), headers=headers), json=True)
    assert injected
    assert written(session) == before

    assert client.post(url, json=api_body(site), headers=headers).status_code == 201
    assert written(session)["incident_update"] == before["incident_update"] + 1


# --- a working site loses its PostgreSQL server, then gets it back -------------------------------


class Relay:
    """A loopback TCP relay to a server, which can be cut (all connections dropped, new ones
    refused, as when the database host goes away) and restored on the same port, or made to
    hang (every byte taken and none passed on, on open connections and new ones, as when the
    server stops answering)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._hung = threading.Event()

    def start(self) -> Relay:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            if self._hung.is_set():
                with self._lock:
                    self._sockets.append(client)  # accepted, never answered
                continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if not self._hung.is_set():
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_RDWR)

    def hang(self) -> None:
        self._hung.set()

    def cut(self) -> None:
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.fixture
def relayed_app(relayed: tuple[str, Relay]) -> Iterator[tuple[Flask, Relay]]:
    url, relay = relayed
    with_timeout = sa.make_url(url).update_query_dict({"connect_timeout": "2"})
    application = make_app(
        with_timeout.render_as_string(hide_password=False), **production_deadlines()
    )
    yield application, relay
    relay.cut()
    from statuspage.extensions import db

    with application.app_context():
        db.engine.dispose()


def test_when_postgresql_goes_away_pages_seen_before_are_served_others_get_503_then_it_recovers(
    relayed_app: tuple[Flask, Relay], session: Any, site: dict[str, Any]
) -> None:
    app, relay = relayed_app
    client = app.test_client()
    front = client.get("/")
    summary = client.get("/api/v2/summary.json")
    assert front.status_code == summary.status_code == 200
    publisher = logged_in(app, site["communicator"])

    relay.cut()
    # Pages rendered before the outage come from the public cache's stored copy...
    for path, live in (("/", front), ("/api/v2/summary.json", summary)):
        stale = client.get(path)
        assert stale.status_code == 200 and stale.get_data() == live.get_data()
        assert stale.headers["X-Public-Cache"] == "STALE-ERROR"
    # ...pages never rendered and every write get the clean 503.
    assert_clean_503(client.get("/history"), json=False)
    assert_clean_503(client.get("/api/v2/incidents.json"), json=True)
    url = f"/admin/incidents/{site['incident_id']}/updates"
    assert_clean_503(publisher.post(url, data=publish_form(site)), json=False)

    relay.start()  # the database is back, on the same address
    assert publisher.post(url, data=publish_form(site)).status_code == 302
    fresh = client.get("/")
    assert fresh.status_code == 200 and "We found the cause." in fresh.get_data(as_text=True)


# --- the static snapshot outlives the database ---------------------------------------------------


def test_the_static_snapshot_stays_in_place_while_the_database_is_down(
    app: Flask, site: dict[str, Any], tmp_path: Path
) -> None:
    snapshot = pytest.importorskip("statuspage.snapshot")
    root = tmp_path / "snapshot"
    app.config["STATIC_EXPORT_DIR"] = str(root)
    with app.app_context():
        snapshot.export_snapshot(app)
    files = {
        path: (root / "current" / path).read_bytes()
        for path in ("index.html", "api/v2/summary.json", "history.rss")
    }
    assert b"Errors" in files["index.html"]

    down = make_app(
        unreachable_database_url(), **production_deadlines(), STATIC_EXPORT_DIR=str(root)
    )
    assert_clean_503(down.test_client().get("/"), json=False)
    with down.app_context(), pytest.raises((snapshot.SnapshotError, sa.exc.OperationalError)):
        snapshot.export_snapshot(down, force=True)
    # What nginx or the CDN serves is untouched, whole and readable.
    for path, data in files.items():
        assert (root / "current" / path).read_bytes() == data
