"""`flask import statuspage URL`: move in from an Atlassian Statuspage page.

Reads the page's public v2 API (no key needed), shows a progress bar, commits once at the end
and prints what it created, what was there from an earlier run, and what it skipped and why.
Run it again at any time: it creates nothing twice.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from statuspage.core.db import utcnow
from statuspage.core.errors import DomainError
from statuspage.extensions import db
from statuspage.importing.fetch import DEFAULT_TIMEOUT, FetchLimits
from statuspage.importing.run import ImportReport, plan_import
from statuspage.importing.statuspage_v2 import PATHS, read_page

import_cli = AppGroup("import", help="Move in from another status page.")


def report_lines(report: ImportReport) -> list[str]:
    """The summary people read after an import, on the command line and the staff page."""
    lines = [f"From {report.page_name or 'the page'} at {report.url}:"]
    lines += ["  " + line for line in report.lines()] or ["  Nothing to import."]
    for problem in report.mapped:
        lines.append(f"  Note: {problem.kind.replace('_', ' ')} {problem.name!r}: {problem.reason}")
    for problem in report.skipped:
        ident = f" ({problem.external_id})" if problem.external_id else ""
        lines.append(
            f"  Skipped {problem.kind.replace('_', ' ')} {problem.name!r}{ident}: {problem.reason}"
        )
    return lines


@import_cli.command("statuspage")
@click.argument("url")
@click.option(
    "--allow-private-network",
    is_flag=True,
    help="Allow a page on a private or loopback address (your own network).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1, max=120),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for each document.",
)
@with_appcontext
def import_statuspage_command(url: str, allow_private_network: bool, timeout: float) -> None:
    """Import components, groups, incident history and maintenance from a Statuspage page.

    URL is the page's address, e.g. https://status.example.com. Subscribers are not told.
    """
    now = utcnow()
    limits = FetchLimits(
        timeout=timeout,
        allow_private=allow_private_network
        or bool(current_app.config.get("IMPORT_ALLOW_PRIVATE_NETWORK")),
    )
    try:
        with click.progressbar(length=len(PATHS), label="Reading the page") as bar:
            page = read_page(url, limits=limits, now=now, on_document=lambda _name: bar.update(1))
        report, steps = plan_import(db.session, page, actor_id=None, now=now)
        with click.progressbar(
            steps, label="Importing", item_show_func=lambda step: step[0][:40] if step else None
        ) as bar:
            for _label, step in bar:
                step()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    for line in report_lines(report):
        click.echo(line)
