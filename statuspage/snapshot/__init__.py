"""A static snapshot of the public site, for nginx or a CDN to serve while the app is down.

Every page, feed, JSON document and badge in the snapshot is rendered through the app itself
(`app.test_client()`, a clean WSGI environ on `SITE_URL`), so a file holds exactly the bytes
the live site answered. What is exported, newest first and bounded:

- `/`, `/history` (its first `STATIC_EXPORT_HISTORY_PAGES` pages, as the "Older" links reach
  them), `/history?component=<id>` (first page) for every component shown publicly;
- the page of every unresolved public incident and of public incidents that started in the
  last `STATIC_EXPORT_DAYS` days, and of maintenance not completed or scheduled in those days,
  each at most `STATIC_EXPORT_LIMIT`; plus the incident and maintenance pages the front page
  and those history pages link to, while there are at most twice `STATIC_EXPORT_LIMIT` such
  pages in all;
- `/history.rss`, `/history.atom`, each shown component's feeds and badge, `/badge.svg`,
  `/maintenance.ics`, `/widget.js`, every `/api/v2/*.json` document; the files under `static/`.

Layout, so that nginx finds a file with `try_files $uri/index$is_args$args.html $uri`:
an HTML page `/a/b` is `a/b/index.html` (`/` is `index.html`), with a query string
`/a?x=1&y=2` is `a/index?x=1&y=2.html` (the query exactly as the page's links write it);
anything else keeps its path (`api/v2/summary.json`, `history.rss`, `badge.svg`).

Switching is atomic: a build is written (and fsynced) into `STATIC_EXPORT_DIR/.partial-*`,
renamed to `.build-<version>-<random>`, and `STATIC_EXPORT_DIR/current` is a symlink moved onto
it with one `rename` (`os.replace` of a new link), so a reader resolves either the old build or
the new one, whole. The previous build is kept for readers half-way through; older ones are
deleted. Exports of one directory run one at a time (`coalesce`: an export asked for meanwhile
makes the running one go round once more, at least `export.ROUND_INTERVAL` seconds after the
last round began, so that a stream of publishes does not keep a CPU busy); a file that did
not change is hard-linked from the build in place instead of written again. An export asked
for with what a commit changed (`changes.SnapshotChanges`, from the session hooks) is
incremental: it renders only the pages those changes affect and links the rest from the
snapshot in place; the first export, the CLI, a `full` change and a snapshot whose last full
export is older than `STATIC_EXPORT_REFRESH` render every page. The swap and the clean-up
hold a file lock (`.lock`), and a build older than the snapshot in place is thrown away. With
`SNAPSHOT_S3_BUCKET` the changed files are also uploaded to S3-compatible storage (`remote`).
`current/.snapshot.json` records the public version exported, when, for which `SITE_URL`, the
files and their SHA-256.

An export is skipped when the snapshot in place has the current `site_state.public_version`,
the same `SITE_URL`, and is younger than `STATIC_EXPORT_REFRESH` seconds (pages carry times:
today's uptime, "ongoing", the feeds' build date), unless forced.

Settings (`app.config`, or `STATUSPAGE_<NAME>` in the environment):

- `STATIC_EXPORT_DIR` (unset: no snapshot)
- `STATIC_EXPORT_DAYS` (90), `STATIC_EXPORT_LIMIT` (500), `STATIC_EXPORT_HISTORY_PAGES` (10)
- `STATIC_EXPORT_REFRESH` (600 seconds; 0: only when the public version changes)
- `STATIC_EXPORT_ENQUEUE` (on, except under `TESTING`): export from the worker right after a
  commit that changed the public version (`statuspage.worker.hooks`), besides the
  every-minute check.

The package: `export` (what is exported and how a build is written and switched), `changes`
(what a commit changed, sorted by the pages it affects), `coalesce` (one export at a time),
`remote` (S3) and `cli` (`flask snapshot export`). The after-commit hook that asks the worker
for an export at once lives with the other hooks in `statuspage.worker.hooks`.
"""

from __future__ import annotations

from statuspage.snapshot.cli import snapshot_cli
from statuspage.snapshot.export import (
    SnapshotError,
    SnapshotResult,
    export_dir,
    export_snapshot,
    file_for,
)

__all__ = [
    "SnapshotError",
    "SnapshotResult",
    "export_dir",
    "export_snapshot",
    "file_for",
    "snapshot_cli",
]
