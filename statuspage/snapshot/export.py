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
from statuspage.incidents.models import Incident, Maintenance, MaintenanceStatus
from statuspage.incidents.queries import UNRESOLVED
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
    *API_V2_DOCUMENTS,
)
_HREF = re.compile(r'href="([^"]*)"')
_DETAIL_PAGE = re.compile(r"^/(incidents|maintenance)/\d+$")


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

    def add(self, url: str) -> None:
        if url in self.seen:
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
    if manifest.get("site_url") != site_url:
        return False
    if refresh <= 0:
        return True
    try:
        exported_at = datetime.fromisoformat(manifest["exported_at"])
    except (KeyError, TypeError, ValueError):
        return False
    return now - exported_at < timedelta(seconds=refresh)


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
            plan.add(href)
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
                plan.add(href)


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


def _render_into(app: Flask, files: _Files, urls: list[str]) -> list[str]:
    """Render every URL (and the pages they lead to) into the build; return the files."""
    build = files.build
    config = app.config
    site_url = str(config.get("SITE_URL") or "http://localhost").rstrip("/")
    prefix = urlsplit(site_url).path.rstrip("/")
    client = app.test_client(use_cookies=False)
    plan = _Plan(queue=[], detail_limit=2 * setting(config, "STATIC_EXPORT_LIMIT"))
    for url in urls:
        plan.add(url)
    written: list[str] = []
    while plan.queue:
        url = plan.queue.pop(0)
        try:
            response: TestResponse = client.get(url, base_url=site_url)
        except Exception as error:  # a view raised (the app propagates errors under TESTING)
            raise SnapshotError(f"{url} failed: {error!r}; the export stops here.") from error
        try:
            if response.status_code == 404 and _DETAIL_PAGE.match(url):
                # Made private or deleted since the list was read: not part of the snapshot.
                logger.info("Snapshot: %s is gone (404), left out", url)
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
    for directory in sorted({(build / name).parent for name in written}, reverse=True):
        _fsync_dir(directory)
    return written


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
    app: Flask, *, force: bool = False, directory: Path | None = None
) -> SnapshotResult:
    """Export the public site into `STATIC_EXPORT_DIR` (or `directory`) unless it is current.

    Exports never run two at once (`coalesce`): a call while another export runs marks the
    snapshot dirty and returns "queued"; the running export then goes round once more.
    Raises SnapshotError (the snapshot in place untouched) when a page cannot be rendered.
    """
    config = app.config
    root = directory or export_dir(config)
    if root is None:
        raise SnapshotError("STATIC_EXPORT_DIR is not set: there is nowhere to export to.")
    root.mkdir(parents=True, exist_ok=True)
    exports = coalescer_for(config, root)
    result: SnapshotResult | None = None
    exports.mark_dirty()
    while exports.acquire():
        try:
            while exports.take_dirty():
                result = _export_once(app, root, force=force)
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


def _export_once(app: Flask, root: Path, *, force: bool) -> SnapshotResult:
    config = app.config
    site_url = str(config.get("SITE_URL") or "")
    now = utcnow()
    with app.app_context():
        engine = db.engine
    # A session of its own, so the caller's (a CLI command, a task) is never touched. The
    # version is read before any page: a change committed during the export makes the next
    # check see a newer version and export again.
    with Session(engine) as session:
        version = public_version(session)
        in_place = read_manifest(root)
        if not force and is_current(
            in_place,
            version=version,
            site_url=site_url,
            now=now,
            refresh=setting(config, "STATIC_EXPORT_REFRESH"),
        ):
            publish_remote(config, root / CURRENT, in_place)
            return SnapshotResult("current", version, root / CURRENT)
        urls = _start_urls(session, config, now=now)

    previous_target = _current_target(root)  # refuses a `current` that is not a symlink
    token = secrets.token_hex(6)
    partial = root / f"{PARTIAL_PREFIX}{version}-{token}"
    build_name = f"{BUILD_PREFIX}{version}-{token}"
    partial.mkdir()
    previous_hashes = (in_place or {}).get("hashes") or {}
    files = _Files(partial, root / previous_target if previous_target else None, previous_hashes)
    try:
        # In an empty context: a request made while an app context of the same app is active
        # (the caller's: a task, a CLI command) would reuse it, and with it one database
        # session for every page, never closed; here each page gets its own, as live.
        written = contextvars.Context().run(_render_into, app, files, urls)
        manifest = {
            "version": version,
            "exported_at": now.isoformat(),
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
        "Snapshot of public version %d exported: %d files in %s, %d rewritten",
        version,
        len(written),
        root,
        len(files.changed),
    )
    publish_remote(config, root / build_name, manifest)
    return SnapshotResult(
        "exported", version, root / CURRENT, files=len(written), changed=len(files.changed)
    )
