"""Exporting the public site into a snapshot: what to render, rendering it through the app,
and switching `STATIC_EXPORT_DIR/current` to the new build atomically (see the package's
docstring for the layout and the guarantees)."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import fcntl
import hashlib
import html
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.components.models import Component
from statuspage.core.db import utcnow
from statuspage.core.models import SiteState
from statuspage.extensions import db
from statuspage.incidents.models import (
    Incident,
    IncidentComponent,
    Maintenance,
    MaintenanceStatus,
    maintenance_component,
)
from statuspage.incidents.queries import UNRESOLVED
from statuspage.snapshot.changes import SnapshotChanges
from statuspage.snapshot.coalesce import coalescer_for
from statuspage.snapshot.remote import publish_remote

if TYPE_CHECKING:
    from flask import Flask
    from werkzeug.test import TestResponse

logger = logging.getLogger(__name__)

CURRENT = "current"
MANIFEST = ".snapshot.json"
LOCK = ".lock"
BUILD_PREFIX = ".build-"
PARTIAL_PREFIX = ".partial-"
LINK_PREFIX = ".current-"
# Back-to-back export rounds (changes kept coming during the last one) start at least this
# many seconds apart; a change after a quiet spell is exported at once.
ROUND_INTERVAL = 2.0
# A partial build or temporary link this old belongs to an exporter that died.
STALE_AFTER = 60 * 60

DEFAULTS: dict[str, int] = {
    "STATIC_EXPORT_DAYS": 90,
    "STATIC_EXPORT_LIMIT": 500,
    "STATIC_EXPORT_HISTORY_PAGES": 10,
    "STATIC_EXPORT_REFRESH": 600,
}

API_V2_DOCUMENTS = (
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
)
FIXED_URLS = (
    "/",
    "/history",
    # The filter form's "All components" choice.
    "/history?component=",
    "/history.rss",
    "/history.atom",
    "/maintenance.ics",
    "/badge.svg",
    # The embeddable widget's script: other sites load it also while this app is down.
    "/widget.js",
    *API_V2_DOCUMENTS,
)
_HREF = re.compile(r'href="([^"]*)"')
_DETAIL_PAGE = re.compile(r"^/(incidents|maintenance)/\d+$")
_HISTORY_PAGE_FILE = re.compile(r"^history/index\?page=(\d+)\.html$")
# A component's pages in the snapshot (listed components only).
COMPONENT_URLS = (
    "/history?component={id}",
    "/components/{id}/history.rss",
    "/components/{id}/history.atom",
    "/components/{id}/badge.svg",
    "/components/{id}/uptime",
)


class SnapshotError(RuntimeError):
    """The export failed; the snapshot in place (if any) is left as it was."""


@dataclass(frozen=True)
class SnapshotResult:
    """What an export did: `exported`, or why not (`current`, `superseded`, or `queued`: an
    export was running, and it runs once more for this request)."""

    outcome: str
    version: int
    path: Path | None = None
    files: int = 0
    changed: int = 0  # files written, not linked from the snapshot before
    rendered: int = 0  # responses rendered (all pages on a full export, fewer otherwise)
    incremental: bool = False

    @property
    def exported(self) -> bool:
        return self.outcome == "exported"


@dataclass
class _Plan:
    """The URLs still to render, and the bounds on what links may add."""

    queue: list[str]
    detail_limit: int
    seen: set[str] = field(default_factory=set)
    detail_pages: int = 0
    # Incremental: files already in the snapshot, which a link alone does not render again.
    known_files: set[str] | None = None

    def add(self, url: str, *, linked: bool = False) -> None:
        if url in self.seen:
            return
        if linked and self.known_files is not None:
            parts = urlsplit(url)
            if str(file_for(parts.path, parts.query, html_page=True)) in self.known_files:
                return
        if _DETAIL_PAGE.match(url):
            if self.detail_pages >= self.detail_limit:
                return
            self.detail_pages += 1
        self.seen.add(url)
        self.queue.append(url)


def setting(config: Any, name: str) -> int:
    return int(config.get(name, DEFAULTS[name]))


def export_dir(config: Any) -> Path | None:
    """`STATIC_EXPORT_DIR` as a path, or None when snapshots are off."""
    value = config.get("STATIC_EXPORT_DIR")
    return Path(value) if value else None


def read_manifest(root: Path) -> dict[str, Any] | None:
    """The manifest of the snapshot `root/current` points to, or None when there is none."""
    try:
        return json.loads((root / CURRENT / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def public_version(session: Session) -> int:
    return session.scalar(sa.select(SiteState.public_version).where(SiteState.id == 1)) or 0


def is_current(
    manifest: dict[str, Any] | None, *, version: int, site_url: str, now: datetime, refresh: int
) -> bool:
    """Whether the snapshot described by `manifest` is the one an export would write now."""
    if not manifest or manifest.get("version") != version:
        return False
    return is_fresh(manifest, site_url=site_url, now=now, refresh=refresh)


def is_fresh(
    manifest: dict[str, Any] | None, *, site_url: str, now: datetime, refresh: int
) -> bool:
    """Whether every page of the snapshot was rendered less than `refresh` seconds ago for
    this `SITE_URL`: pages an incremental export leaves alone are as old as the last full one
    (`full_at`), and carry times (today's uptime, "ongoing", the feeds' build date)."""
    if not manifest or manifest.get("site_url") != site_url:
        return False
    if refresh <= 0:
        return True
    try:
        full_at = datetime.fromisoformat(manifest.get("full_at") or manifest["exported_at"])
    except (KeyError, TypeError, ValueError):
        return False
    return now - full_at < timedelta(seconds=refresh)


def file_for(path: str, query: str, *, html_page: bool) -> PurePosixPath:
    """Where the response for `path?query` lives in a build (see the module docstring)."""
    parts = [part for part in path.split("/") if part]
    if any(part.startswith(".") for part in parts) or "/" in query or "\0" in path + query:
        raise SnapshotError(f"Refusing to store {path!r} with query {query!r} in the snapshot.")
    if html_page:
        name = f"index?{query}.html" if query else "index.html"
        return PurePosixPath(*parts, name)
    if query or not parts:
        raise SnapshotError(f"Only HTML pages are stored with a query string: {path}?{query}")
    return PurePosixPath(*parts)


def _start_urls(session: Session, config: Any, *, now: datetime) -> list[str]:
    since = now - timedelta(days=setting(config, "STATIC_EXPORT_DAYS"))
    limit = setting(config, "STATIC_EXPORT_LIMIT")
    urls = list(FIXED_URLS)
    for component_id in session.scalars(
        sa.select(Component.id).where(Component.listed_clause()).order_by(Component.id)
    ):
        urls += [
            f"/history?component={component_id}",
            f"/components/{component_id}/history.rss",
            f"/components/{component_id}/history.atom",
            f"/components/{component_id}/badge.svg",
            f"/components/{component_id}/uptime",
        ]
    # Unresolved first (they matter most during an outage), then the most recent; two
    # statements that their indexes serve.
    public = Incident.is_public.is_(True)
    incident_ids = list(
        session.scalars(
            sa.select(Incident.id)
            .where(public, Incident.public_status.in_(UNRESOLVED))
            .order_by(Incident.id.desc())
            .limit(limit)
        )
    )
    incident_ids += session.scalars(
        sa.select(Incident.id)
        .where(public, Incident.impact_started_at >= since)
        .order_by(Incident.impact_started_at.desc(), Incident.id.desc())
        .limit(limit)
    )
    maintenance_ids = list(
        session.scalars(
            sa.select(Maintenance.id)
            .where(
                sa.or_(
                    Maintenance.status != MaintenanceStatus.COMPLETED,
                    Maintenance.scheduled_for >= since,
                )
            )
            .order_by(Maintenance.scheduled_for.desc(), Maintenance.id.desc())
            .limit(limit)
        )
    )
    urls += [f"/incidents/{i}" for i in dict.fromkeys(incident_ids)][:limit]
    urls += [f"/maintenance/{m}" for m in maintenance_ids]
    return urls


def _follow_links(plan: _Plan, body: str, *, prefix: str, config: Any) -> None:
    """Add the incident and maintenance pages `body` links to, and the next history page."""
    history_pages = setting(config, "STATIC_EXPORT_HISTORY_PAGES")
    for raw in _HREF.findall(body):
        href = html.unescape(raw)
        if not href.startswith(prefix + "/") or href.startswith("//"):
            continue
        href = href[len(prefix) :]
        parts = urlsplit(href)
        if not parts.query and _DETAIL_PAGE.match(parts.path):
            plan.add(href, linked=True)
        elif parts.path == "/history" and parts.query:
            args = parse_qs(parts.query, keep_blank_values=True)
            pages = args.get("page", [])
            unfiltered_page = (
                set(args) == {"page"}
                and len(pages) == 1
                and pages[0].isascii()
                and pages[0].isdigit()
            )
            if unfiltered_page and 1 < int(pages[0]) <= history_pages:
                plan.add(href, linked=True)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Files:
    """Writes a build's files; a file whose content is the same as in the build in place is
    hard-linked from it instead of written again (only what changed is rewritten)."""

    def __init__(self, build: Path, previous: Path | None, hashes: dict[str, str]) -> None:
        self.build = build
        self.previous = previous
        self.previous_hashes = hashes
        self.hashes: dict[str, str] = {}
        self.changed: list[str] = []

    def put(self, relative: PurePosixPath, data: bytes) -> None:
        name = str(relative)
        digest = hashlib.sha256(data).hexdigest()
        self.hashes[name] = digest
        target = self.build / relative
        if self.previous is not None and self.previous_hashes.get(name) == digest:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(self.previous / relative, target)
                return
            except OSError:
                pass  # gone meanwhile, another file system: write it
        _write(target, data)
        self.changed.append(name)


def _render_into(
    app: Flask, files: _Files, urls: list[str], known_files: set[str] | None = None
) -> tuple[list[str], list[str], int]:
    """Render every URL (and the pages they lead to) into the build; return the files
    written, the detail pages gone (404) and how many responses were rendered. With
    `known_files` (incremental), a link to a page already in the snapshot is not followed."""
    config = app.config
    client = app.test_client(use_cookies=False)
    plan = _Plan(
        queue=[],
        detail_limit=2 * setting(config, "STATIC_EXPORT_LIMIT"),
        known_files=known_files,
    )
    for url in urls:
        plan.add(url)
    site_url = site_url_of(config)
    prefix = urlsplit(site_url).path.rstrip("/")
    written: list[str] = []
    gone: list[str] = []
    rendered = 0
    while plan.queue:
        url = plan.queue.pop(0)
        try:
            response: TestResponse = client.get(url, base_url=site_url)
        except Exception as error:  # a view raised (the app propagates errors under TESTING)
            raise SnapshotError(f"{url} failed: {error!r}; the export stops here.") from error
        rendered += 1
        try:
            if response.status_code == 404 and _DETAIL_PAGE.match(url):
                # Made private or deleted since the list was read: not part of the snapshot.
                logger.info("Snapshot: %s is gone (404), left out", url)
                gone.append(str(file_for(url, "", html_page=True)))
                continue
            if response.status_code != 200:
                raise SnapshotError(f"{url} answered {response.status}; the export stops here.")
            parts = urlsplit(url)
            html_page = response.mimetype == "text/html"
            relative = file_for(parts.path, parts.query, html_page=html_page)
            body = response.get_data()
            files.put(relative, body)
            written.append(str(relative))
            # Only the front page and the unfiltered history lead further: following every
            # component's history too would export most of the archive at each change.
            if html_page and (
                parts.path == "/" or (parts.path == "/history" and "component" not in parts.query)
            ):
                _follow_links(plan, body.decode("utf-8"), prefix=prefix, config=config)
        finally:
            response.close()
    if app.static_folder:
        static = Path(app.static_folder)
        url_path = (app.static_url_path or "/static").strip("/")
        for source in sorted(static.rglob("*")):
            relative_source = source.relative_to(static)
            if not source.is_file() or any(p.startswith(".") for p in relative_source.parts):
                continue
            relative = PurePosixPath(url_path, *relative_source.parts)
            files.put(relative, source.read_bytes())
            written.append(str(relative))
    return written, gone, rendered


def _fsync_dirs(build: Path, names: list[str]) -> None:
    for directory in sorted({(build / name).parent for name in names}, reverse=True):
        _fsync_dir(directory)


def site_url_of(config: Any) -> str:
    return str(config.get("SITE_URL") or "http://localhost").rstrip("/")


def _affected_urls(
    session: Session,
    config: Any,
    previous: Path,
    known_files: set[str],
    changes: SnapshotChanges,
) -> list[str]:
    """The pages `changes` can have changed (see `snapshot.changes`): the site-wide pages
    (front page, unfiltered history's first page, feeds, badge, calendar, JSON), each changed
    incident's and maintenance's page, the pages of the components they affect and of the
    components whose status changed, and the history pages that list a changed incident (all
    of them when one is new to the snapshot: it moves every later entry down a place)."""
    prefix = urlsplit(site_url_of(config)).path.rstrip("/")
    urls = list(FIXED_URLS)
    new_entry = False
    links: list[bytes] = []
    for kind, ids in (("incidents", changes.incidents), ("maintenance", changes.maintenance)):
        for item in sorted(ids):
            url = f"/{kind}/{item}"
            urls.append(url)
            links.append(f'href="{prefix}{url}"'.encode())
            if str(file_for(url, "", html_page=True)) not in known_files:
                new_entry = True
    components = set(changes.components)
    if changes.incidents:
        components.update(
            session.scalars(
                sa.select(IncidentComponent.component_id).where(
                    IncidentComponent.incident_id.in_(sorted(changes.incidents))
                )
            )
        )
    if changes.maintenance:
        components.update(
            session.scalars(
                sa.select(maintenance_component.c.component_id).where(
                    maintenance_component.c.maintenance_id.in_(sorted(changes.maintenance))
                )
            )
        )
    if components:
        listed = session.scalars(
            sa.select(Component.id)
            .where(Component.listed_clause(), Component.id.in_(sorted(components)))
            .order_by(Component.id)
        )
        for component_id in listed:
            urls += [template.format(id=component_id) for template in COMPONENT_URLS]
    history_pages = sorted(
        (int(match.group(1)), name)
        for name in known_files
        if (match := _HISTORY_PAGE_FILE.match(name))
    )
    for number, name in history_pages:
        if new_entry:
            urls.append(f"/history?page={number}")
            continue
        try:
            body = (previous / name).read_bytes()
        except OSError:
            urls.append(f"/history?page={number}")
            continue
        if any(link in body for link in links):
            urls.append(f"/history?page={number}")
    return urls


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    with open(root / LOCK, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _current_target(root: Path) -> str | None:
    try:
        return os.readlink(root / CURRENT)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.EINVAL:  # not a symlink
            raise SnapshotError(
                f"{root / CURRENT} exists and is not a symlink; move it away so the snapshot "
                "can be switched atomically."
            ) from error
        raise


def _swap(root: Path, build_name: str) -> None:
    """Point `root/current` at `build_name` with one rename of a new symlink over it."""
    link = root / f"{LINK_PREFIX}{secrets.token_hex(6)}"
    os.symlink(build_name, link)
    try:
        os.replace(link, root / CURRENT)
    except OSError:
        link.unlink(missing_ok=True)
        raise
    _fsync_dir(root)


def _clean(root: Path, keep: set[str]) -> None:
    """Delete builds other than `keep`, and leftovers of exporters that died."""
    stale_before = time.time() - STALE_AFTER
    for entry in root.iterdir():
        name = entry.name
        try:
            if name.startswith(BUILD_PREFIX) and name not in keep:
                shutil.rmtree(entry, ignore_errors=True)
            elif (
                name.startswith((PARTIAL_PREFIX, LINK_PREFIX))
                and entry.lstat().st_mtime < stale_before
            ):
                if entry.is_symlink():
                    entry.unlink(missing_ok=True)
                else:
                    shutil.rmtree(entry, ignore_errors=True)
        except FileNotFoundError:
            continue


def export_snapshot(
    app: Flask,
    *,
    force: bool = False,
    directory: Path | None = None,
    changes: SnapshotChanges | None = None,
    settle_seconds: int = 0,
) -> SnapshotResult:
    """Export the public site into `STATIC_EXPORT_DIR` (or `directory`) unless it is current.

    With `changes` (what a commit changed, from the session hooks) the export is incremental:
    only the pages those changes affect are rendered again, the others are linked from the
    snapshot in place. Without (the CLI, the periodic check), or when the changes say `full`,
    or when there is no snapshot yet or its pages are older than `STATIC_EXPORT_REFRESH`,
    every page is rendered.

    Exports never run two at once (`coalesce`): a call while another export runs marks the
    snapshot dirty (keeping its changes) and returns "queued"; the running export then goes
    round once more, with every change that waited.
    With `settle_seconds` (the worker's periodic check) the call backs off instead: it does
    nothing while another export runs, or while the snapshot is fresh and the public version
    changed less than `settle_seconds` ago (the commit's own task, with its changes, is on its
    way; exporting every page now would only delay it).
    Raises SnapshotError (the snapshot in place untouched) when a page cannot be rendered.
    """
    config = app.config
    root = directory or export_dir(config)
    if root is None:
        raise SnapshotError("STATIC_EXPORT_DIR is not set: there is nowhere to export to.")
    root.mkdir(parents=True, exist_ok=True)
    exports = coalescer_for(config, root)
    result: SnapshotResult | None = None
    if settle_seconds > 0:
        if not exports.acquire():
            return SnapshotResult("queued", 0, root / CURRENT)
        try:
            settling = _settling(app, root, settle_seconds)
        finally:
            exports.release()
        if settling is not None:
            return settling
    exports.mark_dirty(changes)
    last_round: float | None = None
    while exports.acquire():
        try:
            while exports.take_dirty():
                if last_round is not None:
                    # Publishing every second or faster: rounds at most every
                    # ROUND_INTERVAL seconds, each taking what came meanwhile, so that the
                    # worker does not take a whole CPU from the web processes.
                    time.sleep(max(0.0, last_round + ROUND_INTERVAL - time.monotonic()))
                last_round = time.monotonic()
                waiting = exports.take_changes()
                result = _export_once(app, root, force=force, changes=waiting)
                force = False
        finally:
            exports.release()
        # A request that came between the last look and the release: its caller found the
        # lock taken, so it is this one's to run (unless another exporter took it over).
        if not exports.is_dirty():
            break
    if result is None:
        return SnapshotResult("queued", 0, root / CURRENT)
    return result


def _settling(app: Flask, root: Path, settle_seconds: int) -> SnapshotResult | None:
    """A "settling" result when the snapshot is fresh and behind a change younger than
    `settle_seconds`, else None."""
    config = app.config
    now = utcnow()
    with app.app_context():
        engine = db.engine
    with Session(engine) as session:
        row = session.execute(
            sa.select(SiteState.public_version, SiteState.public_changed_at).where(
                SiteState.id == 1
            )
        ).one_or_none()
    in_place = read_manifest(root)
    if row is None or in_place is None:
        return None
    version, changed_at = int(row[0]), row[1]
    if changed_at is not None and changed_at.tzinfo is None:
        changed_at = changed_at.replace(tzinfo=now.tzinfo)
    fresh = is_fresh(
        in_place,
        site_url=str(config.get("SITE_URL") or ""),
        now=now,
        refresh=setting(config, "STATIC_EXPORT_REFRESH"),
    )
    behind = in_place.get("version") != version
    recent = changed_at is not None and now - changed_at < timedelta(seconds=settle_seconds)
    if fresh and behind and recent:
        return SnapshotResult("settling", version, root / CURRENT)
    return None


def _export_once(
    app: Flask, root: Path, *, force: bool, changes: SnapshotChanges | None = None
) -> SnapshotResult:
    config = app.config
    site_url = str(config.get("SITE_URL") or "")
    now = utcnow()
    refresh = setting(config, "STATIC_EXPORT_REFRESH")
    with app.app_context():
        engine = db.engine
    previous_target = _current_target(root)  # refuses a `current` that is not a symlink
    previous = root / previous_target if previous_target else None
    # A session of its own, so the caller's (a CLI command, a task) is never touched. The
    # version is read before any page (and after the changes were taken): a change committed
    # during the export makes the next check see a newer version and export again.
    with Session(engine) as session:
        version = public_version(session)
        in_place = read_manifest(root)
        known_files = set((in_place or {}).get("files") or [])
        incremental = (
            changes is not None
            and not changes.full
            and not force
            and previous is not None
            and bool(known_files)
            and isinstance((in_place or {}).get("hashes"), dict)
            and is_fresh(in_place, site_url=site_url, now=now, refresh=refresh)
        )
        if incremental:
            assert changes is not None and previous is not None
            urls = _affected_urls(session, config, previous, known_files, changes)
        elif not force and is_current(
            in_place, version=version, site_url=site_url, now=now, refresh=refresh
        ):
            publish_remote(config, root / CURRENT, in_place)
            return SnapshotResult("current", version, root / CURRENT)
        else:
            urls = _start_urls(session, config, now=now)

    token = secrets.token_hex(6)
    partial = root / f"{PARTIAL_PREFIX}{version}-{token}"
    build_name = f"{BUILD_PREFIX}{version}-{token}"
    partial.mkdir()
    previous_hashes = (in_place or {}).get("hashes") or {}
    files = _Files(partial, previous, previous_hashes)
    try:
        # In an empty context: a request made while an app context of the same app is active
        # (the caller's: a task, a CLI command) would reuse it, and with it one database
        # session for every page, never closed; here each page gets its own, as live.
        written, gone, rendered = contextvars.Context().run(
            _render_into, app, files, urls, known_files if incremental else None
        )
        if incremental:
            assert previous is not None and in_place is not None
            # Every other file of the snapshot in place, as it is.
            kept = sorted(known_files - set(written) - set(gone))
            for name in kept:
                target = partial / name
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(previous / name, target)
                digest = previous_hashes.get(name)
                if digest is None:
                    digest = hashlib.sha256(target.read_bytes()).hexdigest()
                files.hashes[name] = digest
            written += kept
        _fsync_dirs(partial, written)
        full_at = (in_place or {}).get("full_at") or (in_place or {}).get("exported_at")
        manifest = {
            "version": version,
            "exported_at": now.isoformat(),
            "full_at": full_at if incremental else now.isoformat(),
            "site_url": site_url,
            "files": sorted(written),
            "hashes": files.hashes,
        }
        _write(partial / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
        _fsync_dir(partial)
        with _locked(root):
            in_place = read_manifest(root)
            if in_place and int(in_place.get("version", 0)) > version:
                logger.info(
                    "Snapshot of version %d dropped: version %s is already in place",
                    version,
                    in_place.get("version"),
                )
                shutil.rmtree(partial, ignore_errors=True)
                return SnapshotResult("superseded", version, root / CURRENT)
            previous = _current_target(root)
            os.rename(partial, root / build_name)
            try:
                _swap(root, build_name)
            except BaseException:
                shutil.rmtree(root / build_name, ignore_errors=True)
                raise
            _clean(root, keep={build_name} | ({previous} if previous else set()))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    logger.info(
        "Snapshot of public version %d exported (%s): %d files in %s, %d rendered, %d rewritten",
        version,
        "incremental" if incremental else "full",
        len(written),
        root,
        rendered,
        len(files.changed),
    )
    publish_remote(config, root / build_name, manifest)
    return SnapshotResult(
        "exported",
        version,
        root / CURRENT,
        files=len(written),
        changed=len(files.changed),
        rendered=rendered,
        incremental=incremental,
    )
