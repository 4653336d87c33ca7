"""The static snapshot: byte-identical to the live site, skipped when current, switched
atomically, and a failed export leaves the previous snapshot in place."""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from statuspage import PROJECT_ROOT
from statuspage.components.models import ComponentStatus
from statuspage.components.status import set_component_status
from statuspage.core.models import SiteState
from statuspage.core.records import bump_public_version
from statuspage.incidents.maintenance import NewMaintenance, schedule_maintenance
from statuspage.incidents.models import PublicStatus
from statuspage.incidents.operations import post_update
from statuspage.snapshot import SnapshotError, export_snapshot, file_for, snapshot_cli
from tests.conftest import make_app

SITE_URL = "http://localhost"


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch, now: datetime) -> datetime:
    """Every `utcnow` the views (and the exporter) call answers `now`: pages that show times
    are then the same for the live request and the snapshot."""
    import statuspage.core.db

    real = statuspage.core.db.utcnow
    for name, module in list(sys.modules.items()):
        if name.startswith("statuspage") and getattr(module, "utcnow", None) is real:
            monkeypatch.setattr(module, "utcnow", lambda: now)
    return now


@pytest.fixture
def root(app: Flask, tmp_path: Path) -> Path:
    directory = tmp_path / "snapshot"
    app.config["STATIC_EXPORT_DIR"] = str(directory)
    return directory


def version_in_db(session: Any) -> int:
    session.rollback()
    return session.scalar(sa.select(SiteState.public_version).where(SiteState.id == 1))


def manifest(root: Path) -> dict[str, Any]:
    return json.loads((root / "current" / ".snapshot.json").read_text())


def builds(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".build-"))


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith((".partial-", ".current-")))


def stored(root: Path, url: str, *, html_page: bool) -> bytes:
    path, _, query = url.partition("?")
    return (root / "current" / file_for(path, query, html_page=html_page)).read_bytes()


def test_file_layout_for_pages_documents_and_queries() -> None:
    assert str(file_for("/", "", html_page=True)) == "index.html"
    assert str(file_for("/incidents/5", "", html_page=True)) == "incidents/5/index.html"
    assert str(file_for("/history", "page=2", html_page=True)) == "history/index?page=2.html"
    assert str(file_for("/api/v2/summary.json", "", html_page=False)) == "api/v2/summary.json"
    assert str(file_for("/history.rss", "", html_page=False)) == "history.rss"
    for path, query, html_page in (
        ("/.snapshot.json", "", False),
        ("/a/../b", "", True),
        ("/history", "x=/etc", True),
        ("/feed.rss", "page=2", False),
    ):
        with pytest.raises(SnapshotError):
            file_for(path, query, html_page=html_page)


def test_snapshot_files_equal_the_live_responses(
    app: Flask,
    client: FlaskClient,
    session: Any,
    root: Path,
    frozen: datetime,
    make_component: Callable[..., Any],
    make_incident: Callable[..., Any],
) -> None:
    api = make_component("API", group="Core")
    web = make_component("Website")
    active = make_incident("Slow API", components={api.id: ComponentStatus.PARTIAL_OUTAGE})
    make_incident(
        "Website down",
        components={web.id: ComponentStatus.MAJOR_OUTAGE},
        started=frozen - timedelta(days=3),
        resolved_after=timedelta(hours=1),
    )
    window = schedule_maintenance(
        session,
        NewMaintenance(
            title="Database upgrade",
            scheduled_for=frozen + timedelta(days=1),
            scheduled_until=frozen + timedelta(days=1, hours=2),
            component_ids=[api.id],
        ),
        actor_id=None,
        now=frozen,
    )
    session.commit()

    with app.app_context():
        result = export_snapshot(app)
    assert result.exported and result.version == version_in_db(session)

    pages = [
        "/",
        "/history",
        f"/history?component={api.id}",
        f"/incidents/{active.id}",
        f"/maintenance/{window.id}",
    ]
    documents = [
        "/history.rss",
        "/history.atom",
        f"/components/{web.id}/history.rss",
        "/maintenance.ics",
        "/api/v2/summary.json",
        "/api/v2/incidents/unresolved.json",
        "/api/v2/scheduled-maintenances/upcoming.json",
        "/badge.svg",
        f"/components/{api.id}/badge.svg",
        "/static/css/site.css",
    ]
    for url in pages + documents:
        with client.get(url, base_url=SITE_URL) as live:
            assert live.status_code == 200, url
            assert stored(root, url, html_page=url in pages) == live.data, url
    # The snapshot says what is happening, not just that it is a page.
    front = stored(root, "/", html_page=True).decode()
    assert "Slow API" in front and "Database upgrade" in front
    files = manifest(root)["files"]
    assert all((root / "current" / name).is_file() for name in files)
    assert f"incidents/{active.id}/index.html" in files
    assert "api/v2/scheduled-maintenances/active.json" in files


def test_history_pages_and_linked_incidents_are_followed_within_bounds(
    app: Flask,
    session: Any,
    root: Path,
    now: datetime,
    make_incident: Callable[..., Any],
) -> None:
    app.config.update(HISTORY_PAGE_SIZE=1, STATIC_EXPORT_DAYS=1, STATIC_EXPORT_HISTORY_PAGES=2)
    old = [
        make_incident(
            f"Old {n}", started=now - timedelta(days=20 + n), resolved_after=timedelta(hours=1)
        )
        for n in range(3)
    ]
    session.commit()
    with app.app_context():
        export_snapshot(app)
    files = set(manifest(root)["files"])
    assert {"history/index.html", "history/index?page=2.html"} <= files
    assert "history/index?page=3.html" not in files  # beyond STATIC_EXPORT_HISTORY_PAGES
    # Older than STATIC_EXPORT_DAYS, but linked from the exported history pages.
    assert f"incidents/{old[0].id}/index.html" in files
    assert f"incidents/{old[1].id}/index.html" in files
    assert f"incidents/{old[2].id}/index.html" not in files


def test_export_is_skipped_when_current_and_redone_after_a_publish(
    app: Flask,
    session: Any,
    root: Path,
    now: datetime,
    make_component: Callable[..., Any],
    make_incident: Callable[..., Any],
) -> None:
    api = make_component("API")
    incident = make_incident("Errors on the API", components={api.id: "partial_outage"})
    session.commit()
    with app.app_context():
        first = export_snapshot(app)
        again = export_snapshot(app)
    assert first.exported
    assert again.outcome == "current" and again.version == first.version
    assert len(builds(root)) == 1

    post_update(
        session,
        incident,
        status=PublicStatus.IDENTIFIED,
        body="We found a bad deploy.",
        component_statuses={api.id: "partial_outage"},
        actor_id=None,
        now=now + timedelta(minutes=1),
    )
    session.commit()
    with app.app_context():
        after = export_snapshot(app)
        forced = export_snapshot(app, force=True)
    assert after.exported and after.version > first.version
    assert manifest(root)["version"] == after.version == forced.version
    page = (root / "current" / f"incidents/{incident.id}/index.html").read_text()
    assert "We found a bad deploy." in page
    # The one in place and the one before it (for readers half-way through); no more.
    assert len(builds(root)) == 2
    assert (root / "current").resolve().name in builds(root)
    assert leftovers(root) == []


def test_an_old_snapshot_is_refreshed_and_a_new_site_url_exports_again(
    app: Flask, database_url: str, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from statuspage.extensions import db

    with app.app_context():
        assert export_snapshot(app).exported
        assert export_snapshot(app).outcome == "current"
    moved = make_app(
        database_url, SITE_URL="https://status.example.com", STATIC_EXPORT_DIR=str(root)
    )
    with moved.app_context():
        assert export_snapshot(moved).exported
        db.engine.dispose()
    assert manifest(root)["site_url"] == "https://status.example.com"
    feed = (root / "current" / "history.atom").read_text()
    assert "https://status.example.com/history" in feed

    with app.app_context():
        assert export_snapshot(app).exported  # back to the first SITE_URL
        assert export_snapshot(app).outcome == "current"
    later = datetime.fromisoformat(manifest(root)["exported_at"]) + timedelta(hours=1)
    monkeypatch.setattr("statuspage.snapshot.export.utcnow", lambda: later)
    with app.app_context():
        assert export_snapshot(app).exported  # older than STATIC_EXPORT_REFRESH
        app.config["STATIC_EXPORT_REFRESH"] = 0
        monkeypatch.setattr("statuspage.snapshot.export.utcnow", lambda: later + timedelta(days=30))
        assert export_snapshot(app).outcome == "current"


def test_readers_never_see_a_partial_snapshot(
    app: Flask,
    client: FlaskClient,
    session: Any,
    root: Path,
    frozen: datetime,
    make_component: Callable[..., Any],
) -> None:
    component = make_component("Round 0")
    session.commit()
    expected: set[bytes] = set()
    problems: list[str] = []
    reads = 0
    stop = threading.Event()

    def read_forever() -> None:
        nonlocal reads
        while not stop.is_set():
            try:
                # Resolves the `current` link afresh on every open, as nginx does.
                data = (root / "current" / "index.html").read_bytes()
                json.loads((root / "current" / ".snapshot.json").read_text())
            except (OSError, ValueError) as error:
                problems.append(repr(error))
                continue
            reads += 1
            if data not in expected:
                problems.append(f"unexpected content, {len(data)} bytes, ends {data[-20:]!r}")

    def export(force: bool) -> None:
        try:
            with app.app_context():
                export_snapshot(app, force=force)
        except Exception as error:  # noqa: BLE001 - reported by the test
            problems.append(f"export failed: {error!r}")

    reader = threading.Thread(target=read_forever)
    for round_number in range(3):
        if round_number:
            component.name = f"Round {round_number}"
            bump_public_version(session, frozen)
            session.commit()
        live = client.get("/", base_url=SITE_URL).data
        assert live.rstrip().endswith(b"</html>")
        expected.add(live)
        # Two workers exporting the same change at once (one of them forced).
        exporters = [threading.Thread(target=export, args=(force,)) for force in (False, True)]
        for thread in exporters:
            thread.start()
        for thread in exporters:
            thread.join()
        if round_number == 0:
            reader.start()
    stop.set()
    reader.join()

    assert problems == []
    assert reads > 0
    assert len(expected) == 3
    assert (root / "current" / "index.html").read_bytes() == live
    assert manifest(root)["version"] == version_in_db(session)
    assert len(builds(root)) <= 2 and leftovers(root) == []


@pytest.mark.parametrize("propagate", [True, False], ids=["view-raises", "answers-500"])
def test_a_failed_export_leaves_the_previous_snapshot(
    app: Flask,
    session: Any,
    root: Path,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
    make_component: Callable[..., Any],
    propagate: bool,
) -> None:
    api = make_component("API")
    session.commit()
    with app.app_context():
        first = export_snapshot(app)
    before = (root / "current").resolve()
    front = (root / "current" / "index.html").read_bytes()

    set_component_status(session, api, ComponentStatus.MAJOR_OUTAGE, now=now)
    bump_public_version(session, now)
    session.commit()

    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("the feed cannot be rendered")

    monkeypatch.setattr("statuspage.public.feeds.render_feed", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = propagate
    with app.app_context(), pytest.raises(SnapshotError, match="history"):
        export_snapshot(app)

    assert (root / "current").resolve() == before
    assert manifest(root)["version"] == first.version
    assert (root / "current" / "index.html").read_bytes() == front
    assert builds(root) == [before.name]
    assert leftovers(root) == []


def test_current_must_be_a_symlink(app: Flask, root: Path) -> None:
    (root / "current").mkdir(parents=True)
    with app.app_context(), pytest.raises(SnapshotError, match="not a symlink"):
        export_snapshot(app)
    assert builds(root) == [] and leftovers(root) == []


def test_cli_export(app: Flask, runner: Any, root: Path, tmp_path: Path) -> None:
    result = runner.invoke(snapshot_cli, ["export"])
    assert result.exit_code == 0, result.output
    assert "Exported public version" in result.output
    assert (root / "current" / "index.html").is_file()

    result = runner.invoke(snapshot_cli, ["export"])
    assert result.exit_code == 0 and "is current" in result.output
    result = runner.invoke(snapshot_cli, ["export", "--force"])
    assert result.exit_code == 0 and "Exported" in result.output

    other = tmp_path / "elsewhere"
    result = runner.invoke(snapshot_cli, ["export", "--dir", str(other)])
    assert result.exit_code == 0 and (other / "current" / "badge.svg").is_file()

    del app.config["STATIC_EXPORT_DIR"]
    result = runner.invoke(snapshot_cli, ["export"])
    assert result.exit_code == 1
    assert "STATIC_EXPORT_DIR is not set" in result.output


def test_worker_task_exports_only_when_configured(app: Flask, tmp_path: Path) -> None:
    from statuspage.extensions import db
    from statuspage.worker.snapshot import run_snapshot_export

    with app.app_context():
        assert run_snapshot_export() is None
        app.config["STATIC_EXPORT_DIR"] = str(tmp_path / "out")
        assert run_snapshot_export().exported
        assert run_snapshot_export().outcome == "current"
        # Each page had a session of its own, closed after it: none is left holding a
        # connection in the task's app context.
        assert db.engine.pool.checkedout() == 0
    assert (tmp_path / "out" / "current" / "api" / "v2" / "status.json").is_file()


def test_a_commit_that_changes_the_public_version_enqueues_an_export(
    app: Flask,
    root: Path,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
    make_component: Callable[..., Any],
    session: Any,
) -> None:
    from statuspage.components.models import Component
    from statuspage.extensions import db
    from statuspage.worker import hooks
    from statuspage.worker import snapshot as snapshot_tasks

    api_id = make_component("API").id
    session.commit()
    calls: list[int] = []
    monkeypatch.setattr(snapshot_tasks, "export_snapshot_task", lambda: calls.append(1))
    hooks.register(app)
    app.config["STATIC_EXPORT_ENQUEUE"] = True
    with app.app_context():
        api = db.session.get(Component, api_id)
        set_component_status(db.session, api, ComponentStatus.DEGRADED_PERFORMANCE, now=now)
        bump_public_version(db.session, now)
        db.session.commit()
        assert calls == [1]

        db.session.get(Component, api_id)  # a commit without a public change: no export
        db.session.commit()
        assert calls == [1]

        bump_public_version(db.session, now)
        db.session.rollback()
        db.session.commit()
        assert calls == [1]

        app.config["STATIC_EXPORT_ENQUEUE"] = False
        bump_public_version(db.session, now)
        db.session.commit()
        assert calls == [1]


# Public GET pages that are personal or forms: never in the snapshot, always the app's.
NOT_EXPORTED = {
    "public.subscribe",
    "public.confirm_subscription",
    "public.manage_subscription",
    "public.unsubscribe_page",
    # Audiences: signing in, and an audience's own feeds and JSON behind a secret token.
    "public.sign_in",
    "public.sign_in_link",
    "public.audience_history_rss",
    "public.audience_history_atom",
    "api_v2.audience_summary",
    "api_v2.audience_incidents",
    # Single sign-on for readers: redirects to and from the provider.
    "public.sign_in_oidc",
    "public.sign_in_oidc_callback",
    # Channel subscriptions: forms and pages reached by a token, never in the snapshot.
    "public.subscribe_webhook",
    "public.manage_channel",
    "public.subscribe_chat",
    "public.subscribe_sms",
    "public.confirm_sms",
    # The language switcher: sets a cookie and redirects (the snapshot is the default language).
    "public.choose_language",
}


def _url_of(name: str) -> str:
    """The URL path a snapshot file answers for (the reverse of `file_for`)."""
    directory, _, last = name.rpartition("/")
    if last == "index.html" or (last.startswith("index?") and last.endswith(".html")):
        return "/" + directory
    return "/" + name


def _nginx_public_pattern() -> re.Pattern[str]:
    """The public-URL location of the documented nginx configuration (deploy/nginx.conf)."""
    text = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text()
    match = re.search(r"location ~ (\^/\S+\$) \{\n\s+proxy_pass", text)
    assert match, "the public location is gone from deploy/nginx.conf"
    return re.compile(match.group(1))


def test_every_public_page_is_exported_and_served_by_the_documented_nginx_config(
    app: Flask,
    session: Any,
    root: Path,
    now: datetime,
    make_component: Callable[..., Any],
    make_incident: Callable[..., Any],
) -> None:
    api = make_component("API")
    make_incident("Errors", components={api.id: "partial_outage"})
    schedule_maintenance(
        session,
        NewMaintenance(
            title="Upgrade",
            scheduled_for=now + timedelta(hours=1),
            scheduled_until=now + timedelta(hours=2),
        ),
        actor_id=None,
        now=now,
    )
    session.commit()
    with app.app_context():
        export_snapshot(app)
    paths = {_url_of(name) for name in manifest(root)["files"]}
    adapter = app.url_map.bind("localhost")
    exported = {adapter.match(path)[0] for path in paths}
    public_gets = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in ("public", "api_v2") and "GET" in (rule.methods or ())
    }
    assert public_gets - NOT_EXPORTED <= exported
    assert not exported & NOT_EXPORTED

    pattern = _nginx_public_pattern()
    for path in paths:
        assert pattern.match(path) or path.startswith("/static/"), path
    for path in ("/login", "/admin/", "/subscribe", "/api/v1/incidents", "/unsubscribe/x", "/x"):
        assert not pattern.match(path), path


def test_cli_export_when_the_database_does_not_answer(tmp_path: Path) -> None:
    unreachable = make_app(
        "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2",
        STATIC_EXPORT_DIR=str(tmp_path),
    )
    with unreachable.app_context():
        result = unreachable.test_cli_runner().invoke(snapshot_cli, ["export"])
    assert result.exit_code == 1
    assert "database is not answering" in result.output
    assert not (tmp_path / "current").exists()
