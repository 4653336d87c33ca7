"""The public cache: pages, feeds, badges, the calendar and /api/v2 served from a copy keyed by
the public version, with ETag, Last-Modified, 304 and Cache-Control (statuspage/public/cache/).
On SQLite and PostgreSQL; the Redis backend on 127.0.0.1:6379 (skipped when Redis is down,
except under CI)."""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from statuspage.components.manage import ComponentFields, edit_component
from statuspage.components.models import ComponentStatus
from statuspage.components.status import change_component_status
from statuspage.core.errors import DomainError
from statuspage.core.models import SiteState
from statuspage.incidents.casework import IncidentDetails, update_details
from statuspage.incidents.lifecycle import TransitionDetails, transition_incident
from statuspage.incidents.maintenance import NewMaintenance, schedule_maintenance
from statuspage.incidents.models import IncidentSource, IncidentStatus, PublicStatus
from statuspage.incidents.operations import post_update
from statuspage.public.cache import (
    CACHED_ENDPOINTS,
    NEVER_CACHED,
    Entry,
    MemoryStore,
    public_cache,
    request_key,
)
from statuspage.public.cache import flask_path as flask_path_module
from statuspage.public.cache.policy import VARY_BY_READER
from tests.conftest import count_statements, csrf_token_from, login_with_csrf, make_app

CACHE_CONTROL = "public, max-age=15, stale-while-revalidate=60, stale-if-error=86400"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def version(session: Any) -> int:
    session.expire_all()
    return session.scalar(sa.select(SiteState.public_version).where(SiteState.id == 1))


def counted(count_queries: Any, action: Callable[[], Any]) -> tuple[int, Any]:
    """How many statements `action` sent, and what it returned."""
    box: list[Any] = []
    return count_queries(lambda: box.append(action())), box[0]


def queries_of(app: Flask) -> Callable[[Callable[[], Any]], int]:
    """Like the `count_queries` fixture, for any app."""
    from statuspage.extensions import db

    def run(action: Callable[[], Any]) -> int:
        with app.app_context():
            engine = db.engine
        return count_statements(engine, action)

    return run


@pytest.fixture
def site(session: Any, make_component: Any, make_incident: Any, now: datetime) -> dict[str, Any]:
    api = make_component("REST API", group="Core")
    web = make_component("Website", group="Core")
    incident = make_incident(
        "Slow checkout", components={api.id: "degraded_performance"}, body="First words."
    )
    maintenance = schedule_maintenance(
        session,
        NewMaintenance(
            title="Database upgrade",
            scheduled_for=now + timedelta(days=1),
            scheduled_until=now + timedelta(days=1, hours=2),
            body="Planned.",
            component_ids=[web.id],
        ),
        actor_id=None,
        now=now,
    )
    session.commit()
    return {"api": api, "web": web, "incident": incident, "maintenance": maintenance}


def public_paths(site: dict[str, Any]) -> list[str]:
    api, incident = site["api"].id, site["incident"].id
    return [
        "/",
        f"/incidents/{incident}",
        f"/maintenance/{site['maintenance'].id}",
        "/history",
        "/history.rss",
        "/history.atom",
        f"/components/{api}/history.rss",
        f"/components/{api}/history.atom",
        "/badge.svg",
        f"/components/{api}/badge.svg",
        "/maintenance.ics",
        "/api/v2/summary.json",
        "/api/v2/status.json",
        "/api/v2/components.json",
        "/api/v2/incidents.json",
        "/api/v2/incidents/unresolved.json",
        "/api/v2/scheduled-maintenances.json",
        "/api/v2/scheduled-maintenances/upcoming.json",
        "/api/v2/scheduled-maintenances/active.json",
    ]


def publish(
    session: Any, incident: Any, body: str, statuses: dict[int, str], now: datetime
) -> None:
    post_update(
        session,
        incident,
        status=PublicStatus.IDENTIFIED,
        body=body,
        component_statuses=statuses,
        actor_id=None,
        now=now,
    )
    session.commit()


# --- which endpoints ------------------------------------------------------------------------


def test_every_public_get_endpoint_is_either_cached_or_never_cached(app: Flask) -> None:
    public = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in ("public", "api_v2") and "GET" in (rule.methods or ())
    }
    assert public == set(CACHED_ENDPOINTS) | NEVER_CACHED
    assert not set(CACHED_ENDPOINTS) & NEVER_CACHED


# --- hits -----------------------------------------------------------------------------------


def test_a_hit_serves_the_same_bytes_with_one_query(
    client: FlaskClient, site: dict[str, Any], count_queries: Any
) -> None:
    for path in public_paths(site):
        first = client.get(path)
        assert first.status_code == 200, path
        assert first.headers["X-Public-Cache"] == "MISS", path
        statements, hit = counted(count_queries, partial(client.get, path))
        assert statements == 1, path
        assert hit.status_code == 200, path
        assert hit.headers["X-Public-Cache"] == "HIT", path
        assert hit.get_data() == first.get_data(), path
        for header in ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Cache-Control"):
            assert hit.headers[header] == first.headers[header], (path, header)
        assert int(hit.headers["Content-Length"]) == len(first.get_data())

        statements, head = counted(count_queries, partial(client.head, path))
        assert statements == 1, path
        assert head.status_code == 200 and head.get_data() == b"", path
        assert head.headers["Content-Length"] == first.headers["Content-Length"], path
        assert head.headers["Content-Type"] == first.headers["Content-Type"], path


def test_view_specific_headers_survive_a_hit(client: FlaskClient, site: dict[str, Any]) -> None:
    client.get("/badge.svg")
    badge = client.get("/badge.svg")
    assert badge.headers["X-Public-Cache"] == "HIT"
    assert badge.headers["Content-Security-Policy"] == "default-src 'none'"
    client.get("/maintenance.ics")
    calendar = client.get("/maintenance.ics")
    assert calendar.headers["Content-Disposition"] == 'inline; filename="maintenance.ics"'
    client.get("/api/v2/status.json")
    api = client.get("/api/v2/status.json", headers={"Origin": "https://example.org"})
    assert api.headers["X-Public-Cache"] == "HIT"
    assert api.headers["Access-Control-Allow-Origin"] == "*"
    assert api.headers.getlist("Access-Control-Allow-Origin") == ["*"]


def test_query_parameters_the_view_ignores_share_one_copy(
    client: FlaskClient, site: dict[str, Any], count_queries: Any
) -> None:
    client.get("/")
    assert count_queries(lambda: client.get("/?utm_source=mail&x=1")) == 1
    assert client.get("/?utm_source=other").headers["X-Public-Cache"] == "HIT"
    client.get("/history")
    # History reads `page` and `component`: those make their own copy.
    assert client.get("/history?page=2").headers["X-Public-Cache"] == "MISS"
    assert client.get("/history?page=2&utm=x").headers["X-Public-Cache"] == "HIT"
    assert client.get("/history?page=02&page=7").headers["X-Public-Cache"] == "HIT"
    filtered = client.get(f"/history?component={site['api'].id}")
    assert filtered.headers["X-Public-Cache"] == "MISS"


def test_not_found_and_refused_requests_are_not_stored(
    client: FlaskClient, site: dict[str, Any], count_queries: Any
) -> None:
    assert client.get("/incidents/999999").status_code == 404
    assert count_queries(lambda: client.get("/incidents/999999")) > 1
    assert client.get("/history?page=abc").status_code == 400
    assert "X-Public-Cache" not in client.get("/history?page=abc").headers
    assert len(public_cache(client.application).store) == 0  # type: ignore[arg-type]


# --- never stale after a publish ------------------------------------------------------------


def test_publishing_shows_on_the_next_request_everywhere(
    client: FlaskClient, session: Any, site: dict[str, Any], now: datetime
) -> None:
    incident, api = site["incident"], site["api"]
    paths = {
        "/": None,
        f"/incidents/{incident.id}": None,
        "/history.rss": None,
        "/history.atom": None,
        f"/components/{api.id}/history.atom": None,
        "/api/v2/incidents.json": None,
        "/api/v2/summary.json": None,
        "/badge.svg": None,
        f"/components/{api.id}/badge.svg": None,
    }
    for path in paths:
        client.get(path)
        assert client.get(path).headers["X-Public-Cache"] == "HIT"
    before = version(session)

    publish(session, incident, "Cause found: a full disk.", {api.id: "major_outage"}, now)
    assert version(session) > before

    for path in list(paths)[:7]:
        response = client.get(path)
        assert response.headers["X-Public-Cache"] == "MISS", path
        assert "Cause found: a full disk." in text(response), path
    assert "Major System Outage" in text(client.get("/badge.svg"))
    assert "Major outage" in text(client.get(f"/components/{api.id}/badge.svg"))
    assert "Major System Outage" in text(client.get("/"))


def test_a_component_status_change_invalidates(
    client: FlaskClient, session: Any, site: dict[str, Any], now: datetime
) -> None:
    web = site["web"]
    assert "Operational" in text(client.get(f"/components/{web.id}/badge.svg"))
    before = version(session)
    change_component_status(session, web, ComponentStatus.PARTIAL_OUTAGE, now=now)
    session.commit()
    assert version(session) == before + 1
    assert "Partial outage" in text(client.get(f"/components/{web.id}/badge.svg"))
    components = client.get("/api/v2/components.json").get_json()["components"]
    assert {c["name"]: c["status"] for c in components}["Website"] == "partial_outage"

    # Setting the status it already has changes nothing and keeps the copies.
    assert change_component_status(session, web, ComponentStatus.PARTIAL_OUTAGE, now=now) is None
    session.commit()
    assert version(session) == before + 1


def test_the_api_component_status_change_invalidates(
    client: FlaskClient, session: Any, site: dict[str, Any], make_user: Any, now: datetime
) -> None:
    from statuspage.auth.tokens import create_token

    user = make_user("admin")
    _, token = create_token(session, user, "monitor", actor_id=None, now=now)
    session.commit()
    client.get("/api/v2/components.json")
    answer = client.patch(
        f"/api/v1/components/{site['web'].id}",
        json={"status": "major_outage"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    components = client.get("/api/v2/components.json").get_json()["components"]
    assert {c["name"]: c["status"] for c in components}["Website"] == "major_outage"


def test_a_component_rename_invalidates_and_is_audited(
    client: FlaskClient, session: Any, site: dict[str, Any], now: datetime
) -> None:
    from statuspage.core.models import AuditEntry

    web = site["web"]
    assert "Website" in text(client.get("/"))
    edit_component(
        session, web.id, ComponentFields(name="Web shop", is_public=True), now=now, actor_id=None
    )
    session.commit()
    page = text(client.get("/"))
    assert "Web shop" in page and "Website" not in page
    audit = session.scalar(sa.select(AuditEntry).where(AuditEntry.entity_type == "component"))
    assert audit.changes == {"name": ["Website", "Web shop"]}  # is_public did not change

    before = version(session)
    edit_component(
        session, web.id, ComponentFields(name="Web shop"), now=now, actor_id=None
    )  # no change: no bump
    edit_component(session, web.id, ComponentFields(is_public=False), now=now, actor_id=None)
    session.commit()
    assert version(session) == before + 1
    components = client.get("/api/v2/components.json").get_json()["components"]
    assert "Web shop" not in {c["name"] for c in components}
    assert "Web shop</h3>" not in text(client.get("/"))


def test_a_component_rename_refuses_a_blank_or_long_name(
    session: Any, site: dict[str, Any], now: datetime
) -> None:
    web = site["web"]
    before = version(session)
    for name, message in (("  ", "needs a name"), ("x" * 121, "under 120")):
        with pytest.raises(DomainError, match=message) as refused:
            edit_component(session, web.id, ComponentFields(name=name), now=now, actor_id=None)
        assert refused.value.field == "name"
    session.rollback()
    assert version(session) == before
    assert session.get(type(web), web.id).name == "Website"


def test_editing_a_public_incident_title_invalidates(
    client: FlaskClient, session: Any, site: dict[str, Any], make_incident: Any, now: datetime
) -> None:
    incident = site["incident"]
    path = f"/incidents/{incident.id}"
    client.get(path)

    def details(title: str, component_ids: list[int], started: datetime) -> IncidentDetails:
        return IncidentDetails(
            title=title,
            description="",
            reporter_name="",
            reporter_contact="",
            source=IncidentSource.MONITORING,
            impact_started_at=started,
            detected_at=None,
            component_ids=component_ids,
        )

    update_details(
        session,
        incident,
        details("Checkout is slow", [site["api"].id], incident.impact_started_at),
        expected_version=None,
        actor_id=None,
        now=now,
    )
    session.commit()
    assert "Checkout is slow" in text(client.get(path))

    # Internal incidents are nobody's business outside: no bump.
    internal = make_incident("Internal only", public=False)
    session.commit()
    before = version(session)
    update_details(
        session,
        internal,
        details("Renamed internally", [], internal.impact_started_at),
        expected_version=None,
        actor_id=None,
        now=now,
    )
    session.commit()
    assert version(session) == before


def test_cancelling_a_public_incident_invalidates(
    session: Any, site: dict[str, Any], now: datetime
) -> None:
    incident = site["incident"]
    before = version(session)
    transition_incident(
        session,
        incident,
        IncidentStatus.CANCELLED,
        actor_id=None,
        now=now,
        details=TransitionDetails(reason="Duplicate"),
    )
    session.commit()
    assert version(session) == before + 1


# --- HTTP: ETag, Last-Modified, 304, Cache-Control ------------------------------------------


def test_etag_and_if_none_match_answer_304_with_one_query(
    client: FlaskClient, site: dict[str, Any], count_queries: Any
) -> None:
    for path in ("/", "/history.rss", "/api/v2/summary.json", "/badge.svg"):
        first = client.get(path)
        etag = first.headers["ETag"]
        assert not etag.startswith("W/") and len(etag.strip('"')) == 40
        for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            conditional = partial(client.get, path, headers={"If-None-Match": sent})
            statements, again = counted(count_queries, conditional)
            assert statements == 1, (path, sent)
            assert again.status_code == 304, (path, sent)
            assert again.get_data() == b""
            assert again.headers["ETag"] == etag
            assert again.headers["Cache-Control"] == CACHE_CONTROL
        other = client.get(path, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200 and other.get_data() == first.get_data()


def test_a_miss_answers_304_too(client: FlaskClient, site: dict[str, Any]) -> None:
    etag = client.get("/api/v2/components.json").headers["ETag"]
    public_cache(client.application).store.clear()  # type: ignore[union-attr]
    again = client.get("/api/v2/components.json", headers={"If-None-Match": etag})
    assert again.headers["X-Public-Cache"] == "MISS"
    assert again.status_code == 304 and again.headers["ETag"] == etag
    assert again.headers["Access-Control-Allow-Origin"] == "*"


def test_if_modified_since_when_no_etag_is_sent(
    client: FlaskClient, session: Any, site: dict[str, Any], now: datetime
) -> None:
    first = client.get("/")
    modified = first.headers["Last-Modified"]
    changed_at = session.scalar(sa.select(SiteState.public_changed_at))
    assert first.last_modified == changed_at.replace(microsecond=0)
    assert client.get("/", headers={"If-Modified-Since": modified}).status_code == 304
    earlier = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get("/", headers={"If-Modified-Since": earlier}).status_code == 200
    # If-None-Match decides when both are sent.
    both = client.get("/", headers={"If-Modified-Since": modified, "If-None-Match": '"nope"'})
    assert both.status_code == 200

    publish(session, site["incident"], "Later.", {}, now + timedelta(seconds=5))
    assert client.get("/", headers={"If-Modified-Since": modified}).status_code == 200


def test_cache_control_values_come_from_the_settings(
    client: FlaskClient, app: Flask, site: dict[str, Any]
) -> None:
    for path in public_paths(site):
        assert client.get(path).headers["Cache-Control"] == CACHE_CONTROL, path
    app.config.update(
        PUBLIC_CACHE_MAX_AGE=5,
        PUBLIC_CACHE_STALE_WHILE_REVALIDATE=30,
        PUBLIC_CACHE_STALE_IF_ERROR=3600,
    )
    response = client.get("/history.rss")
    assert response.headers["X-Public-Cache"] == "HIT"
    cache = response.cache_control
    assert cache.public and cache.max_age == 5
    assert cache["stale-while-revalidate"] == "30" and cache["stale-if-error"] == "3600"


# --- sessions and cookies -------------------------------------------------------------------


def test_public_responses_carry_no_cookie_even_for_a_logged_in_user(
    client: FlaskClient, site: dict[str, Any], make_user: Any, login: Any
) -> None:
    login(make_user("admin"))
    for path in public_paths(site):
        for response in (client.get(path), client.get(path)):
            # The page's language may come from the language cookie: Vary names Cookie for
            # that (never the session's Set-Cookie); with ?lang= the URL alone decides.
            assert response.headers["Vary"] == VARY_BY_READER, path
            assert "Set-Cookie" not in response.headers, path
        by_url = client.get(path + ("&" if "?" in path else "?") + "lang=de")
        assert "Cookie" not in by_url.headers["Vary"], path
        assert "Set-Cookie" not in by_url.headers, path
    # The staff session was left alone by the public pages.
    assert client.get("/admin/incidents").status_code == 200


def test_a_flashed_message_never_reaches_a_shared_page(
    app: Flask, client: FlaskClient, site: dict[str, Any], make_user: Any, login: Any
) -> None:
    login(make_user("admin"))
    with client.session_transaction() as cookie:  # the test tool still reaches the session
        cookie["_flashes"] = [("message", "Only for you")]
    mine = client.get("/")
    assert mine.status_code == 200 and "Only for you" not in text(mine)
    assert "Only for you" not in text(app.test_client().get("/"))
    # The message is kept for the next page of the visitor's own.
    assert "Only for you" in text(client.get("/admin/incidents"))


def test_admin_pages_are_never_cached(
    csrf_client: FlaskClient, make_user: Any, site: dict[str, Any]
) -> None:
    login_with_csrf(csrf_client, make_user("admin"))
    count = queries_of(csrf_client.application)
    for _ in range(2):
        page = csrf_client.get("/admin/incidents")
        assert page.status_code == 200
        assert "X-Public-Cache" not in page.headers
        assert "public" not in page.headers.get("Cache-Control", "")
    assert count(lambda: csrf_client.get("/admin/incidents")) > 1
    # Forms keep their CSRF protection: the token in the page is accepted.
    form = csrf_client.get(f"/admin/incidents/{site['incident'].id}").get_data(as_text=True)
    assert csrf_token_from(form)


def test_subscribe_pages_are_never_cached_and_keep_csrf(
    csrf_client: FlaskClient, site: dict[str, Any], session: Any
) -> None:
    from statuspage.notifications.models import Subscriber

    for _ in range(2):
        page = csrf_client.get("/subscribe")
        assert "X-Public-Cache" not in page.headers
        assert "Cookie" in page.headers.get("Vary", "")
    refused = csrf_client.post("/subscribe", data={"email": "a@example.com", "scope": "all"})
    assert refused.status_code == 400
    token = csrf_token_from(csrf_client.get("/subscribe").get_data(as_text=True))
    accepted = csrf_client.post(
        "/subscribe", data={"email": "a@example.com", "scope": "all", "csrf_token": token}
    )
    assert accepted.status_code == 200, accepted.get_data(as_text=True)[:300]
    assert session.scalar(sa.select(sa.func.count(Subscriber.id))) == 1


# --- time -----------------------------------------------------------------------------------


class Clock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app: Flask) -> Clock:
    ticking = Clock()
    public_cache(app).clock = ticking
    return ticking


def test_a_copy_is_refreshed_after_public_cache_seconds(
    client: FlaskClient, site: dict[str, Any], clock: Clock, count_queries: Any
) -> None:
    assert client.get("/").headers["X-Public-Cache"] == "MISS"
    clock.now += 29
    assert count_queries(lambda: client.get("/")) == 1
    clock.now += 2  # 31 s old: pages show durations and today's uptime, so render again
    statements, refreshed = counted(count_queries, partial(client.get, "/"))
    assert statements > 1 and refreshed.headers["X-Public-Cache"] == "MISS"
    assert client.get("/").headers["X-Public-Cache"] == "HIT"


def test_while_one_request_refreshes_a_copy_the_others_get_it(
    app: Flask, client: FlaskClient, site: dict[str, Any], clock: Clock, session: Any, now: datetime
) -> None:
    client.get("/")
    clock.now += 60
    with app.test_request_context("/"):
        key = request_key("public.index")
    assert public_cache(app).store.claim(key, 10)  # type: ignore[union-attr]  # another request
    assert client.get("/").headers["X-Public-Cache"] == "STALE"
    # A new version is never answered with an older copy, claim or not.
    publish(session, site["incident"], "New words.", {}, now)
    fresh = client.get("/")
    assert fresh.headers["X-Public-Cache"] == "MISS" and "New words." in text(fresh)


def test_when_the_database_is_down_the_stored_copy_is_served(
    client: FlaskClient, site: dict[str, Any], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = client.get("/api/v2/status.json")

    def down(session: Any) -> None:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(flask_path_module, "read_version", down)
    clock.now += 3600
    served = client.get("/api/v2/status.json")
    assert served.status_code == 200 and served.get_data() == first.get_data()
    assert served.headers["X-Public-Cache"] == "STALE-ERROR"
    # Nothing stored for this one: the error page says so, and nobody caches it.
    missing = client.get("/api/v2/components.json")
    assert missing.status_code == 503
    assert missing.headers["Cache-Control"] == "no-store"
    clock.now += 86400  # older than stale-if-error
    assert client.get("/api/v2/status.json").status_code == 503


# --- the stores -----------------------------------------------------------------------------


def entry(version: int, body: bytes = b"x", at: float = 0.0) -> Entry:
    return Entry(version, at, body, [("Content-Type", "text/plain")], "etag")


def test_memory_store_is_bounded_by_entries_and_bytes() -> None:
    store = MemoryStore(max_entries=3, max_bytes=10_000, clock=Clock())
    for name in "abcd":
        store.put(name, entry(1), keep_seconds=60)
    assert store.get("a") is None and len(store) == 3
    store.get("b")  # recently used: survives the next eviction
    store.put("e", entry(1), keep_seconds=60)
    assert store.get("b") is not None and store.get("c") is None
    store.put("big", entry(1, b"x" * 9_700), keep_seconds=60)  # the others must make room
    assert store.get("big") is not None and len(store) == 1
    store.put("huge", entry(1, b"x" * 20_000), keep_seconds=60)
    assert store.get("huge") is None


def test_memory_store_keeps_the_newer_version_and_claims_expire() -> None:
    clock = Clock()
    store = MemoryStore(max_entries=10, max_bytes=10_000, clock=clock)
    store.put("k", entry(5, b"new"), keep_seconds=60)
    store.put("k", entry(4, b"old"), keep_seconds=60)  # a slow render of an older version
    assert store.get("k").body == b"new"  # type: ignore[union-attr]
    assert store.claim("k", 10) and not store.claim("k", 10)
    clock.now += 11
    assert store.claim("k", 10)


def test_entries_round_trip_without_pickle() -> None:
    stored = Entry(7, 123.5, b"\x00body\nwith lines", [("Content-Type", "a/b"), ("X", "1")], "e")
    raw = stored.dumps()
    assert Entry.loads(raw) == stored
    assert b"pickle" not in raw and raw.startswith(b"{")


# --- Redis ----------------------------------------------------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        message = f"Redis not reachable at {REDIS_URL}: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI requires Redis)")
        pytest.skip(message)
    prefix = f"test:public-cache:{secrets.token_hex(6)}:"
    yield prefix
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_the_redis_store_is_shared_by_processes(
    database_url: str,
    app: Flask,
    session: Any,
    site: dict[str, Any],
    redis_prefix: str,
    now: datetime,
) -> None:
    from statuspage.extensions import db
    from statuspage.public.cache import RedisStore

    settings = {"REDIS_URL": REDIS_URL, "PUBLIC_CACHE_PREFIX": redis_prefix}
    one, two = make_app(database_url, **settings), make_app(database_url, **settings)
    try:
        assert isinstance(public_cache(one).store, RedisStore)
        first = one.test_client().get("/api/v2/summary.json")
        assert first.headers["X-Public-Cache"] == "MISS"
        other = two.test_client()
        statements, hit = counted(queries_of(two), partial(other.get, "/api/v2/summary.json"))
        assert statements == 1 and hit.headers["X-Public-Cache"] == "HIT"
        assert hit.get_data() == first.get_data()
        assert hit.headers["ETag"] == first.headers["ETag"]

        publish(session, site["incident"], "Shared news.", {}, now)
        after = other.get("/api/v2/incidents.json")
        assert after.headers["X-Public-Cache"] == "MISS"
        assert "Shared news." in after.get_data(as_text=True)
    finally:
        for application in (one, two):
            with application.app_context():
                db.engine.dispose()


def test_a_redis_outage_falls_back_to_rendering(
    database_url: str, app: Flask, site: dict[str, Any]
) -> None:
    from statuspage.extensions import db

    down = make_app(database_url, REDIS_URL="redis://127.0.0.1:9/0", PUBLIC_CACHE_STORAGE="redis")
    try:
        client = down.test_client()
        for _ in range(2):
            response = client.get("/")
            assert response.status_code == 200
            assert response.headers["X-Public-Cache"] == "MISS"
    finally:
        with down.app_context():
            db.engine.dispose()


def test_storage_none_still_answers_conditionally(database_url: str, app: Flask) -> None:
    from statuspage.extensions import db

    uncached = make_app(database_url, PUBLIC_CACHE_STORAGE="none")
    try:
        client = uncached.test_client()
        # The badge: the front page says "as of" to the second, so its ETag may change
        # between two renders.
        first = client.get("/badge.svg")
        assert first.headers["X-Public-Cache"] == "MISS"
        assert client.get("/badge.svg").headers["X-Public-Cache"] == "MISS"
        again = client.get("/badge.svg", headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304
    finally:
        with uncached.app_context():
            db.engine.dispose()


# --- the fast path and one render per version -----------------------------------------------


def test_a_hit_is_answered_in_front_of_flask_with_the_headers_flask_would_send(
    app: Flask, client: FlaskClient, site: dict[str, Any]
) -> None:
    seen: list[str] = []
    # Runs first for every request that reaches Flask.
    app.before_request_funcs.setdefault(None, []).insert(0, lambda: seen.append("flask"))
    for path in public_paths(site):
        client.get(path)  # the copy
        seen.clear()
        fast = client.get(path)
        assert fast.headers["X-Public-Cache"] == "HIT", path
        assert seen == [], path  # Flask never saw it
        app.config["PUBLIC_CACHE_FAST_PATH"] = 0
        try:
            slow = client.get(path)
        finally:
            app.config["PUBLIC_CACHE_FAST_PATH"] = 1
        assert slow.headers["X-Public-Cache"] == "HIT" and seen == ["flask"], path
        assert fast.get_data() == slow.get_data(), path
        assert sorted(fast.headers.items()) == sorted(slow.headers.items()), path

    seen.clear()
    etag = client.get("/").headers["ETag"]
    conditional = client.get("/", headers={"If-None-Match": etag})
    assert conditional.status_code == 304 and conditional.get_data() == b""
    assert conditional.headers["ETag"] == etag and seen == []
    head = client.head("/history")
    assert head.status_code == 200 and head.get_data() == b"" and seen == []


def test_the_fast_path_leaves_misses_and_other_pages_to_flask(
    app: Flask, client: FlaskClient, site: dict[str, Any], session: Any, now: datetime
) -> None:
    seen: list[str] = []
    app.before_request_funcs.setdefault(None, []).insert(0, lambda: seen.append("flask"))
    client.get("/")
    seen.clear()
    publish(session, site["incident"], "Newer words.", {}, now)
    changed = client.get("/")  # the copy is of the old version: Flask renders
    assert changed.headers["X-Public-Cache"] == "MISS" and "Newer words." in text(changed)
    assert seen == ["flask"]
    assert client.get("/incidents/999999").status_code == 404
    assert client.get("/history?page=x").status_code in (200, 400)
    assert client.post("/").status_code == 405
    assert len(seen) == 4


def waiting_for_render(app: Flask, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once a request is waiting for another request's render."""
    store = public_cache(app).store
    waiting = threading.Event()
    real = store.claimed  # type: ignore[union-attr]

    def claimed(key: str) -> bool:
        waiting.set()
        return real(key)

    monkeypatch.setattr(store, "claimed", claimed)
    return waiting


def get_in_thread(app: Flask, path: str) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(response=app.test_client().get(path)))
    thread.start()
    return thread, result


def test_after_a_change_one_request_renders_and_the_others_wait_for_its_copy(
    app: Flask,
    client: FlaskClient,
    site: dict[str, Any],
    session: Any,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client.get("/")
    publish(session, site["incident"], "New words.", {}, now)
    current = version(session)
    with app.test_request_context("/"):
        key = request_key("public.index")
    store = public_cache(app).store
    assert store is not None
    claim = f"render:{current}:{key}"
    assert store.claim(claim, 10)  # another request is rendering this version
    waiting = waiting_for_render(app, monkeypatch)
    thread, result = get_in_thread(app, "/")
    assert waiting.wait(5)
    body = b"<p>rendered by the other request</p>"
    headers = [("Content-Type", "text/html; charset=utf-8")]
    store.put(key, Entry(current, public_cache(app).clock(), body, headers, "e1"), keep_seconds=60)
    store.release(claim)
    thread.join(10)
    response = result["response"]
    assert response.headers["X-Public-Cache"] == "WAIT"
    assert response.get_data() == body  # its copy, not a render of its own


def test_when_the_renderer_gives_up_a_waiting_request_renders(
    app: Flask,
    client: FlaskClient,
    site: dict[str, Any],
    session: Any,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client.get("/")
    publish(session, site["incident"], "Later words.", {}, now)
    with app.test_request_context("/"):
        key = request_key("public.index")
    store = public_cache(app).store
    assert store is not None
    claim = f"render:{version(session)}:{key}"
    assert store.claim(claim, 10)
    waiting = waiting_for_render(app, monkeypatch)
    thread, result = get_in_thread(app, "/")
    assert waiting.wait(5)
    store.release(claim)  # rendered nothing that can be stored (an error, say)
    thread.join(10)
    response = result["response"]
    assert response.headers["X-Public-Cache"] == "MISS" and "Later words." in text(response)
    assert not store.claimed(claim)  # and it let go of the claim it took


def test_a_renderer_lets_go_of_its_claim(
    app: Flask, client: FlaskClient, site: dict[str, Any], session: Any, now: datetime
) -> None:
    store = public_cache(app).store
    assert store is not None
    with app.test_request_context("/incidents/999999"):
        key = request_key("public.incident")
    claim = f"render:{version(session)}:{key}"
    assert client.get("/incidents/999999").status_code == 404  # not stored
    assert not store.claimed(claim)
    assert store.claim(claim, 10)  # the next request for it may render at once


def test_render_claims_in_redis_are_shared_and_released(redis_prefix: str) -> None:
    from statuspage.public.cache import RedisStore

    one = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    two = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    try:
        assert one.claim("render:3:k", 10)
        assert two.claimed("render:3:k") and not two.claim("render:3:k", 10)
        one.release("render:3:k")
        assert not two.claimed("render:3:k") and two.claim("render:3:k", 10)
    finally:
        one.client.close()
        two.client.close()


def test_the_fast_path_throws_away_a_broken_connection(
    app: Flask, client: FlaskClient, site: dict[str, Any]
) -> None:
    client.get("/")
    assert client.get("/").headers["X-Public-Cache"] == "HIT"
    reader = app.wsgi_app.reader()  # type: ignore[attr-defined]
    broken = reader.idle.get_nowait()
    broken.close()  # as a restarted database server would leave it
    reader.idle.put(broken)
    assert reader.read() is None  # that request goes on to Flask
    assert broken not in reader.open
    assert reader.read() is not None  # the next one connects afresh
    assert client.get("/").headers["X-Public-Cache"] == "HIT"
