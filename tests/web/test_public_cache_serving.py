"""Serving cached public pages cheaply (issue 18): compressed copies chosen by Accept-Encoding,
and, with Redis, the public version published there and a copy kept in each process, both
dropped as soon as another process publishes a change."""

from __future__ import annotations

import gzip
import os
import secrets
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import brotli
import pytest
from flask import Flask
from flask.testing import FlaskClient

from statuspage.public.cache import Entry, RedisStore, public_cache
from statuspage.public.cache.encoding import acceptable, compress
from statuspage.public.cache.policy import VARY_BY_READER
from tests.conftest import make_app

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def site(session: Any, make_component: Any, make_incident: Any) -> dict[str, Any]:
    api = make_component("REST API", group="Core")
    make_component("Website", group="Core")
    incident = make_incident(
        "Slow checkout", components={api.id: "degraded_performance"}, body="First words."
    )
    session.commit()
    return {"api": api, "incident": incident}


def fast_path(app: Flask, on: bool) -> None:
    app.config["PUBLIC_CACHE_FAST_PATH"] = int(on)


# --- compressed copies --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/api/v2/summary.json", "/history.rss"])
def test_each_encoding_has_its_own_body_length_and_etag(
    client: FlaskClient, site: dict[str, Any], path: str
) -> None:
    plain = client.get(path)
    assert plain.headers["X-Public-Cache"] == "MISS"
    assert "Content-Encoding" not in plain.headers
    assert plain.headers["Vary"] == VARY_BY_READER  # the language may come from them
    etags = {plain.headers["ETag"]}
    for header, encoding, decode in (
        ("gzip, deflate, br", "br", brotli.decompress),
        ("gzip", "gzip", gzip.decompress),
        ("br;q=0, gzip;q=0.5", "gzip", gzip.decompress),
        ("*", "br", brotli.decompress),
    ):
        response = client.get(path, headers={"Accept-Encoding": header})
        assert response.headers["X-Public-Cache"] == "HIT", header
        assert response.headers["Content-Encoding"] == encoding, header
        assert response.headers["Vary"] == VARY_BY_READER
        body = response.get_data()
        assert int(response.headers["Content-Length"]) == len(body) < len(plain.get_data())
        assert decode(body) == plain.get_data(), header
        etags.add(response.headers["ETag"])
    assert len(etags) == 3  # plain, br, gzip: a cache never takes one for another
    refused = client.get(path, headers={"Accept-Encoding": "br;q=0, gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers
    assert refused.get_data() == plain.get_data()


def test_the_render_itself_is_answered_compressed(
    client: FlaskClient, site: dict[str, Any]
) -> None:
    response = client.get("/", headers={"Accept-Encoding": "br"})
    assert response.headers["X-Public-Cache"] == "MISS"
    assert response.headers["Content-Encoding"] == "br"
    page = brotli.decompress(response.get_data()).decode()
    assert "Slow checkout" in page
    assert int(response.headers["Content-Length"]) == len(response.get_data())


def test_conditional_requests_match_the_representation_asked_for(
    app: Flask, client: FlaskClient, site: dict[str, Any]
) -> None:
    client.get("/")
    br = client.get("/", headers={"Accept-Encoding": "br"})
    plain_etag = client.get("/").headers["ETag"]
    for on in (True, False):  # the fast path and Flask's path answer alike
        fast_path(app, on)
        conditional = {"Accept-Encoding": "br", "If-None-Match": br.headers["ETag"]}
        again = client.get("/", headers=conditional)
        assert again.status_code == 304 and again.get_data() == b""
        assert again.headers["ETag"] == br.headers["ETag"]
        # The brotli ETag says nothing about the plain body: that one is sent.
        other = client.get("/", headers={"If-None-Match": br.headers["ETag"]})
        assert other.status_code == 200 and other.headers["ETag"] == plain_etag
        assert "Content-Encoding" not in other.headers


def test_fast_and_flask_paths_send_the_same_compressed_answer(
    app: Flask, client: FlaskClient, site: dict[str, Any]
) -> None:
    headers = {"Accept-Encoding": "gzip, br"}
    client.get("/", headers=headers)
    fast = client.get("/", headers=headers)
    fast_path(app, False)
    slow = client.get("/", headers=headers)
    assert fast.headers["X-Public-Cache"] == slow.headers["X-Public-Cache"] == "HIT"
    assert fast.get_data() == slow.get_data()
    assert sorted(fast.headers.items()) == sorted(slow.headers.items())
    head = client.head("/", headers=headers)
    assert head.get_data() == b""
    assert head.headers["Content-Length"] == fast.headers["Content-Length"]


def test_compressed_bodies_round_trip_through_the_stored_form() -> None:
    body = b"<p>status</p>" * 200
    stored = Entry(3, 10.0, body, [("Content-Type", "text/html")], "e", compress(body))
    assert set(stored.variants) == {"br", "gzip"}
    assert Entry.loads(stored.dumps()) == stored
    assert compress(b"tiny") == {}
    assert acceptable("gzip;q=1.0, br;q=0") == ("gzip",)
    assert acceptable(None) == ()


# --- Redis: the published version and each process's copy -------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {error}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {error}")
    prefix = f"test:serving:{secrets.token_hex(6)}:"
    yield prefix
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def two_apps(database_url: str, app: Flask, redis_prefix: str) -> Iterator[tuple[Flask, Flask]]:
    from statuspage.extensions import db

    # Each process trusts the version it knows for half a minute: only the announcement of a
    # change can make the other see it.
    settings = {
        "REDIS_URL": REDIS_URL,
        "PUBLIC_CACHE_PREFIX": redis_prefix,
        "PUBLIC_CACHE_VERSION_LOCAL_SECONDS": 30,
    }
    one, two = make_app(database_url, **settings), make_app(database_url, **settings)
    yield one, two
    for application in (one, two):
        public_cache(application).version_watch.stop()
        with application.app_context():
            db.engine.dispose()


def heard(app: Flask, version: int) -> bool:
    """Whether `app`'s process learnt of `version` (announcements arrive within milliseconds;
    give them two seconds on a busy machine)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        known = public_cache(app).version_watch.cached()
        if known is not None and known[0] >= version:
            return True
        time.sleep(0.01)
    return False


def publish_in(app: Flask, incident_id: int, body: str, now: datetime) -> None:
    """Publish through `app`'s own session, as a web process or the worker would."""
    from statuspage.extensions import db
    from statuspage.incidents.models import Incident, PublicStatus
    from statuspage.incidents.operations import post_update

    with app.app_context():
        incident = db.session.get(Incident, incident_id)
        post_update(
            db.session,
            incident,
            status=PublicStatus.IDENTIFIED,
            body=body,
            component_statuses={},
            actor_id=None,
            now=now,
        )
        db.session.commit()


def test_a_process_keeps_its_own_copy_until_another_publishes(
    two_apps: tuple[Flask, Flask],
    site: dict[str, Any],
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.web.test_public_cache import queries_of

    one, two = two_apps
    reader = two.test_client()
    assert reader.get("/").headers["X-Public-Cache"] == "MISS"
    assert reader.get("/").headers["X-Public-Cache"] == "HIT"  # copied into this process
    store = public_cache(two).store
    assert isinstance(store, RedisStore)
    fetched: list[str] = []
    real_get, real_version = store.get, store.read_version
    monkeypatch.setattr(store, "get", lambda key: fetched.append(key) or real_get(key))
    monkeypatch.setattr(store, "read_version", lambda: fetched.append("version") or real_version())
    answers: list[Any] = []
    statements = queries_of(two)(lambda: answers.extend(reader.get("/") for _ in range(3)))
    assert [answer.headers["X-Public-Cache"] for answer in answers] == ["HIT"] * 3
    # Neither the body nor the version from Redis, nor the version from the database: this
    # process had both at hand.
    assert fetched == [] and statements == 0

    before = public_cache(two).version_watch.cached()[0]
    publish_in(one, site["incident"].id, "Published by the other process.", now)
    assert heard(two, before + 1)  # announced, long before its 30 s were up
    changed = reader.get("/")
    assert changed.headers["X-Public-Cache"] == "MISS"
    assert "Published by the other process." in changed.get_data(as_text=True)
    assert reader.get("/").headers["X-Public-Cache"] == "HIT"
    # The first process, whose own copy is older, sees the change too.
    assert "Published by the other process." in one.test_client().get("/").get_data(as_text=True)


def test_a_lower_version_never_replaces_a_higher_one(redis_prefix: str) -> None:
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    at = datetime(2026, 1, 2, 3, 4, 5).astimezone()
    try:
        assert store.read_version() is None
        store.offer_version(7, at, keep_seconds=5)
        store.offer_version(6, at, keep_seconds=5)  # a reader that read the database earlier
        assert store.read_version() == (7, at)
        store.offer_version(8, at, keep_seconds=5)
        assert store.read_version() == (8, at)
        store.offer_version(9, at, keep_seconds=0.05)
        time.sleep(0.1)
        assert store.read_version() is None  # expired: the next reader asks the database
    finally:
        store.client.close()


@pytest.mark.parametrize("fast", [True, False])
def test_a_copy_is_kept_per_script_root(
    app: Flask, client: FlaskClient, site: dict[str, Any], fast: bool
) -> None:
    """Behind two proxies mounting the app at different paths, each page's links start with
    its own path: a copy drawn for one must not be sent to the other."""
    fast_path(app, fast)
    root = client.get("/")
    client.get("/")
    mounted = client.get("/", base_url="http://localhost/status")
    assert mounted.headers["X-Public-Cache"] == "MISS"
    incident = site["incident"].id
    assert f'href="/status/incidents/{incident}"' in mounted.get_data(as_text=True)
    assert f'href="/incidents/{incident}"' in root.get_data(as_text=True)
    again = client.get("/", base_url="http://localhost/status")
    assert again.headers["X-Public-Cache"] == "HIT"
    assert again.get_data() == mounted.get_data()
    assert client.get("/").get_data() == root.get_data()
