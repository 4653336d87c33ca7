"""The snapshot under load and past one machine (issue 18): exports never run two at once and
none is lost, only changed files are rewritten, a publish is in the snapshot within seconds
through the real worker, and the snapshot is published to S3-compatible storage (moto's S3
server on loopback), changed objects only, with their types and cache headers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from statuspage import PROJECT_ROOT
from statuspage.core.models import SiteState
from statuspage.incidents.models import PublicStatus
from statuspage.incidents.operations import post_update
from statuspage.snapshot import export as export_module
from statuspage.snapshot import export_snapshot
from statuspage.snapshot import remote as remote_module
from tests.integration.test_worker import Output, child_environment, started, wait_until

__all__ = ["started"]  # the fixture, used below

# How soon (issue 18's 5 s) is measured by benchmarks/production.py's "fresh" row, not here: a
# timed assertion fails on a loaded CI machine for reasons that are not the code's.


@pytest.fixture
def site(session: Any, make_component: Any, make_incident: Any) -> dict[str, Any]:
    api = make_component("API")
    incident = make_incident("Errors", components={api.id: "partial_outage"}, body="First.")
    session.commit()
    return {"api": api, "incident": incident}


@pytest.fixture
def root(app: Flask, tmp_path: Path) -> Path:
    directory = tmp_path / "snapshot"
    app.config["STATIC_EXPORT_DIR"] = str(directory)
    return directory


def publish(session: Any, incident: Any, body: str, now: datetime) -> None:
    post_update(
        session,
        incident,
        status=PublicStatus.IDENTIFIED,
        body=body,
        component_statuses={},
        actor_id=None,
        now=now,
    )
    session.commit()


def manifest(root: Path) -> dict[str, Any]:
    return json.loads((root / "current" / ".snapshot.json").read_text())


# --- coalescing -------------------------------------------------------------------------------


def test_an_export_asked_for_during_another_runs_once_after_it_never_beside_it(
    app: Flask, root: Path, site: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    running = 0
    most = 0
    calls = 0
    first_started = threading.Event()
    second_returned = threading.Event()
    real = export_module._export_once

    def observed(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, most, calls
        running += 1
        calls += 1
        most = max(most, running)
        try:
            if calls == 1:
                first_started.set()
                assert second_returned.wait(30)  # the other request came meanwhile
            return real(*args, **kwargs)
        finally:
            running -= 1

    monkeypatch.setattr(export_module, "_export_once", observed)
    results: dict[str, Any] = {}
    first = threading.Thread(target=lambda: results.update(first=export_snapshot(app)))
    first.start()
    assert first_started.wait(30)
    results["second"] = export_snapshot(app, force=True)
    second_returned.set()
    first.join(60)
    assert results["second"].outcome == "queued"  # returned at once, nothing rendered
    assert most == 1  # never two at once
    assert calls == 2  # the request that came during the export made it run once more
    assert results["first"].outcome in ("exported", "current")
    assert not (root / ".export-dirty").exists()


# --- incremental ------------------------------------------------------------------------------


def test_only_changed_files_are_rewritten(
    app: Flask, root: Path, site: dict[str, Any], session: Any, now: datetime
) -> None:
    first = export_snapshot(app)
    assert first.exported and first.changed == first.files
    css = root / "current" / "static" / "css" / "site.css"
    page = root / "current" / "incidents" / str(site["incident"].id) / "index.html"
    before = {"css": css.stat().st_ino, "page": page.stat().st_ino}

    publish(session, site["incident"], "Second words.", now)
    second = export_snapshot(app)
    assert second.exported and second.version == first.version + 1
    assert 0 < second.changed < second.files
    assert "Second words." in page.read_text()
    assert page.stat().st_ino != before["page"]  # rewritten
    assert css.stat().st_ino == before["css"]  # the same file, linked from the last build
    hashes = manifest(root)["hashes"]
    assert set(hashes) == set(manifest(root)["files"])


def test_a_publish_renders_only_the_pages_it_affects(
    app: Flask,
    root: Path,
    site: dict[str, Any],
    session: Any,
    now: datetime,
    make_component: Any,
    make_incident: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from statuspage.extensions import db
    from statuspage.incidents.models import Incident
    from statuspage.snapshot.changes import SnapshotChanges
    from statuspage.worker import hooks
    from statuspage.worker import snapshot as snapshot_tasks

    web = make_component("Web")
    other = make_incident("Slow pages", components={web.id: "degraded_performance"}, body="Slow.")
    session.commit()
    full = export_snapshot(app)
    assert full.exported and not full.incremental
    current = root / "current"
    before = {name: (current / name).stat().st_ino for name in manifest(root)["files"]}
    hashes_before = manifest(root)["hashes"]
    full_at = manifest(root)["full_at"]

    # The commit hands what it changed to the export task; take it from there.
    asked: list[str] = []
    monkeypatch.setattr(snapshot_tasks, "export_snapshot_task", asked.append)
    hooks.register(app)
    app.config["STATIC_EXPORT_ENQUEUE"] = True
    api_id, incident_id = site["api"].id, site["incident"].id
    with app.app_context():
        incident = db.session.get(Incident, incident_id)
        post_update(
            db.session,
            incident,
            status=PublicStatus.MONITORING,
            body="A fix is out.",
            component_statuses={api_id: "operational"},
            actor_id=None,
            now=now,
        )
        db.session.commit()
    assert len(asked) == 1
    changes = SnapshotChanges.from_json(asked[0])
    assert changes == SnapshotChanges(incidents={incident_id}, components={api_id})

    result = export_snapshot(app, changes=changes)
    assert result.exported and result.incremental
    assert result.version == full.version + 1
    assert result.rendered < full.rendered
    after = manifest(root)
    assert after["files"] == sorted(before)  # the same set of files as the full export
    # Pages it did not render are as old as the full export: the refresh counts from there.
    assert after["full_at"] == full_at != after["exported_at"]

    def rewritten(name: str) -> bool:
        return (current / name).stat().st_ino != before[name]

    # Rendered again and changed: the incident, the front page, the feeds, the JSON, the
    # pages of the component whose status changed.
    for name in (
        f"incidents/{incident_id}/index.html",
        "index.html",
        "history.rss",
        "api/v2/summary.json",
        f"components/{api_id}/badge.svg",
        f"components/{api_id}/history.rss",
    ):
        assert rewritten(name), name
        assert after["hashes"][name] != hashes_before[name], name
    assert "A fix is out." in (current / f"incidents/{incident_id}/index.html").read_text()
    assert "A fix is out." in (current / "index.html").read_text()
    # Left alone: the other incident and component, the static files (the same inode: linked
    # from the build before, not rendered or written again).
    for name in (
        f"incidents/{other.id}/index.html",
        f"components/{web.id}/badge.svg",
        f"components/{web.id}/uptime/index.html",
        f"components/{web.id}/history.rss",
        "static/css/site.css",
    ):
        assert not rewritten(name), name
        assert after["hashes"][name] == hashes_before[name], name

    # The result is what a full export writes now: the same files, and the pages that did
    # not carry the change are the same bytes.
    forced = export_snapshot(app, force=True, directory=root.parent / "full")
    again = json.loads((root.parent / "full" / "current" / ".snapshot.json").read_text())
    assert forced.exported and again["files"] == after["files"]
    assert (
        again["hashes"][f"incidents/{other.id}/index.html"]
        == (after["hashes"][f"incidents/{other.id}/index.html"])
    )
    assert (
        again["hashes"][f"incidents/{incident_id}/index.html"]
        == (after["hashes"][f"incidents/{incident_id}/index.html"])
    )


def test_changes_asked_for_during_an_export_are_rendered_by_the_next_round(
    app: Flask,
    root: Path,
    site: dict[str, Any],
    session: Any,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from statuspage.snapshot.changes import SnapshotChanges

    assert export_snapshot(app).exported
    incident_id = site["incident"].id
    rounds: list[tuple[bool, int]] = []
    asked_during = threading.Event()
    real = export_module._export_once

    starts: list[float] = []

    def observed(*args: Any, **kwargs: Any) -> Any:
        starts.append(time.monotonic())
        result = real(*args, **kwargs)
        rounds.append((result.incremental, result.version))
        if len(rounds) == 1:
            # A publish committed while this export runs; its task finds the lock taken.
            publish(session, site["incident"], "Came during the export.", now)
            queued = export_snapshot(app, changes=SnapshotChanges(incidents={incident_id}))
            assert queued.outcome == "queued"
            asked_during.set()
        return result

    monkeypatch.setattr(export_module, "_export_once", observed)
    publish(session, site["incident"], "First change.", now)
    export_snapshot(app, changes=SnapshotChanges(incidents={incident_id}))
    assert asked_during.is_set()
    assert [incremental for incremental, _ in rounds] == [True, True]  # one after the other
    assert rounds[1][1] == rounds[0][1] + 1
    # Back to back, the second round waited for the interval (what came meanwhile joins it).
    assert starts[1] - starts[0] >= export_module.ROUND_INTERVAL - 0.01
    page = root / "current" / "incidents" / str(incident_id) / "index.html"
    assert "Came during the export." in page.read_text()
    assert not (root / ".export-dirty").exists()
    assert not any((root / ".export-changes").glob("*.json"))


def test_the_periodic_check_leaves_a_fresh_change_to_its_own_task(
    app: Flask, root: Path, site: dict[str, Any], session: Any
) -> None:
    from statuspage.core.db import utcnow
    from statuspage.snapshot.coalesce import DirectoryCoalescer

    assert export_snapshot(app).exported
    before = manifest(root)
    publish(session, site["incident"], "Just now.", utcnow())

    # Changed a moment ago: the commit's task (with its changes) is on its way.
    settling = export_snapshot(app, settle_seconds=30)
    assert settling.outcome == "settling"
    assert manifest(root) == before

    # While another export holds the lock the check neither waits nor asks for another round.
    holder = DirectoryCoalescer(root)
    assert holder.acquire()
    try:
        assert export_snapshot(app, settle_seconds=30).outcome == "queued"
    finally:
        holder.release()
    assert not (root / ".export-dirty").exists()

    # A change older than that, which no task brought: every page, as before.
    session.execute(sa.update(SiteState).values(public_changed_at=utcnow() - timedelta(seconds=45)))
    session.commit()
    late = export_snapshot(app, settle_seconds=30)
    assert late.exported and not late.incremental
    assert "Just now." in (root / "current" / "index.html").read_text()


# --- within seconds, through the worker -----------------------------------------------------


def test_a_publish_is_in_the_snapshot_within_seconds_through_the_worker(
    app: Flask,
    database_url: str,
    root: Path,
    site: dict[str, Any],
    tmp_path: Path,
    now: datetime,
    started: Callable[..., subprocess.Popen[str]],
) -> None:
    from statuspage.extensions import db
    from statuspage.incidents.models import Incident

    queue_file = os.environ["HUEY_SQLITE_PATH"]  # this test process's queue (conftest)
    env = child_environment(
        tmp_path,
        DATABASE_URL=database_url,
        HUEY_SQLITE_PATH=queue_file,
        STATUSPAGE_STATIC_EXPORT_DIR=str(root),
        SITE_URL="http://localhost",
    )
    worker = started(
        [sys.executable, "-m", "flask", "--app", "app", "worker", "--no-periodic"], env
    )
    output = Output(worker)
    assert output.wait_for("Huey consumer started", 90), output.text
    time.sleep(2)  # idle long enough for the poll to back off as far as it goes

    app.config.update(STATIC_EXPORT_ENQUEUE=True)
    with app.app_context():
        incident = db.session.get(Incident, site["incident"].id)
        publish(db.session, incident, "Fresh in the snapshot.", now)
        committed = time.monotonic()
        version = db.session.scalar(sa.select(SiteState.public_version))

    def exported() -> bool:
        try:
            return manifest(root)["version"] >= version
        except (OSError, ValueError, KeyError):
            return False

    assert wait_until(exported, 60), output.text
    took = time.monotonic() - committed
    assert "Fresh in the snapshot." in (root / "current" / "index.html").read_text()
    print(f"in the snapshot {took:.1f} s after the commit")  # noqa: T201


# --- S3 ---------------------------------------------------------------------------------------


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A real S3 API server on loopback (moto's), with a bucket, and a client for checking."""
    boto3 = pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("NO_PROXY", "127.0.0.1"),
    ):
        monkeypatch.setenv(name, value)
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its buckets per process, across servers: start from none.
    reset = urllib.request.Request(endpoint + "/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310 (loopback, our server)
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket="status-snapshot")
    yield endpoint, client
    server.stop()


def objects(client: Any, prefix: str) -> dict[str, Any]:
    listed = client.list_objects_v2(Bucket="status-snapshot", Prefix=prefix)
    return {item["Key"][len(prefix) :]: item for item in listed.get("Contents", [])}


def test_the_snapshot_is_published_to_s3_changed_objects_only(
    app: Flask,
    root: Path,
    site: dict[str, Any],
    session: Any,
    now: datetime,
    s3: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint, client = s3
    app.config.update(
        SNAPSHOT_S3_BUCKET="status-snapshot",
        SNAPSHOT_S3_PREFIX="site/",
        SNAPSHOT_S3_ENDPOINT_URL=endpoint,
    )
    uploads: list[list[str]] = []
    real = remote_module.publish_to_s3

    def recorded(*args: Any, **kwargs: Any) -> list[str]:
        uploads.append(real(*args, **kwargs))
        return uploads[-1]

    monkeypatch.setattr(remote_module, "publish_to_s3", recorded)
    monkeypatch.setattr(export_module, "publish_remote", remote_module.publish_remote)

    first = export_snapshot(app)
    files = manifest(root)["files"]
    stored = objects(client, "site/")
    assert set(stored) == set(files) | {".snapshot.json"}
    assert sorted(uploads[0]) == sorted(files)
    for name, content_type, cache_control in (
        ("index.html", "text/html; charset=utf-8", "public, max-age=30"),
        ("api/v2/summary.json", "application/json", "public, max-age=30"),
        ("history.rss", "application/rss+xml; charset=utf-8", "public, max-age=30"),
        ("badge.svg", "image/svg+xml", "public, max-age=30"),
        ("static/css/site.css", "text/css; charset=utf-8", "public, max-age=3600"),
    ):
        got = client.get_object(Bucket="status-snapshot", Key="site/" + name)
        assert got["ContentType"] == content_type, name
        assert got["CacheControl"] == cache_control, name
        assert got["Body"].read() == (root / "current" / name).read_bytes(), name

    publish(session, site["incident"], "Words for the CDN.", now)
    second = export_snapshot(app)
    assert second.version == first.version + 1
    changed = uploads[-1]
    assert "index.html" in changed and "api/v2/summary.json" in changed
    assert "static/css/site.css" not in changed
    assert len(changed) < len(files)
    front = client.get_object(Bucket="status-snapshot", Key="site/index.html")["Body"].read()
    assert b"Words for the CDN." in front
    remote_manifest = client.get_object(Bucket="status-snapshot", Key="site/.snapshot.json")
    assert json.loads(remote_manifest["Body"].read())["version"] == second.version

    # Nothing changed: nothing uploaded (the check compares with the bucket's manifest).
    assert export_snapshot(app).outcome == "current"
    assert uploads[-1] == []


def test_a_bucket_that_cannot_be_reached_leaves_the_local_snapshot_alone(
    app: Flask,
    root: Path,
    site: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.faults.test_database_down import closed_port

    app.config.update(
        SNAPSHOT_S3_BUCKET="status-snapshot",
        SNAPSHOT_S3_ENDPOINT_URL=f"http://127.0.0.1:{closed_port()}",
    )
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    result = export_snapshot(app)
    assert result.exported
    assert (root / "current" / "index.html").is_file()
    assert any("not published to S3" in record.getMessage() for record in caplog.records)


def test_object_types_follow_the_file_names() -> None:
    assert remote_module.content_type("maintenance.ics") == "text/calendar; charset=utf-8"
    assert remote_module.content_type("history/index?page=2.html").startswith("text/html")
    assert remote_module.content_type("static/img/favicon.png") == "image/png"
    assert remote_module.cache_control("static/js/localtime.js") == "public, max-age=3600"
    assert PROJECT_ROOT.exists()


def test_the_cli_says_when_its_export_is_left_to_the_running_one(
    app: Flask, root: Path, runner: Any
) -> None:
    from statuspage.snapshot import snapshot_cli
    from statuspage.snapshot.coalesce import DirectoryCoalescer

    root.mkdir(parents=True)
    running = DirectoryCoalescer(root)
    assert running.acquire()  # another exporter
    try:
        result = runner.invoke(snapshot_cli, ["export", "--force"])
    finally:
        running.release()
    assert result.exit_code == 0, result.output
    assert "Another export is running" in result.output
    assert running.is_dirty()  # the running one goes round once more
    assert not (root / "current").exists()
