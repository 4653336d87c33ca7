"""`flask snapshot export`: the same export as the worker's, from the command line or cron."""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from statuspage.snapshot.export import SnapshotError, export_snapshot

snapshot_cli = AppGroup("snapshot", help="The static snapshot of the public site.")


@snapshot_cli.command("export")
@click.option("--force", is_flag=True, help="Export even when the snapshot in place is current.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Export here instead of STATIC_EXPORT_DIR.",
)
def export_command(force: bool, directory: Path | None) -> None:
    """Write the public pages, feeds, JSON and badges to STATIC_EXPORT_DIR/current.

    Skipped when the snapshot there already has the current public version (and is younger
    than STATIC_EXPORT_REFRESH); safe to run from cron next to the worker's exports.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        result = export_snapshot(app, force=force, directory=directory)
    except SnapshotError as error:
        raise click.ClickException(str(error)) from error
    except sa.exc.OperationalError as error:
        raise click.ClickException(
            "The database is not answering; the snapshot in place is left as it is."
        ) from error
    if result.exported:
        click.echo(
            f"Exported public version {result.version}: {result.files} files, "
            f"served from {result.path}."
        )
    elif result.outcome == "queued":
        click.echo(
            "Another export is running; it will run once more when it ends, with whatever "
            "changed meanwhile."
        )
    elif result.outcome == "current":
        click.echo(
            f"The snapshot in {result.path} is current (public version {result.version}); "
            "nothing to do (--force exports anyway)."
        )
    else:
        click.echo(
            f"A newer snapshot was written meanwhile; version {result.version} was not used."
        )
