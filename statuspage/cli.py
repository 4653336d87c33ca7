"""Flask commands: `seed-demo`, `users create`. They call the same domain functions as views."""

from __future__ import annotations

import logging
import os
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from statuspage.auth.models import Role, User
from statuspage.auth.tokens import create_token
from statuspage.auth.users import UserError, create_user
from statuspage.branding.models import PageSettings
from statuspage.components import manage
from statuspage.components.models import ComponentGroup
from statuspage.components.queries import setup_listing
from statuspage.config import SETTINGS, mask
from statuspage.core.db import utcnow
from statuspage.core.errors import DomainError
from statuspage.extensions import db
from statuspage.importing.fetch import DEFAULT_TIMEOUT, FetchLimits
from statuspage.importing.run import ImportReport, plan_import
from statuspage.importing.statuspage_v2 import PATHS, read_page
from statuspage.seed.bench import (
    COMPONENTS_PER_GROUP,
    GROUP_NAMES,
    database_is_empty,
    seed_bench,
)
from statuspage.seed.demo import DemoDataExists, demo_steps
from statuspage.snapshot import snapshot_cli

users_cli = AppGroup("users", help="Manage staff accounts.")


@users_cli.command("create")
@click.option("--email", required=True, help="The account's email address (its login).")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    default=Role.VIEWER.value,
    show_default=True,
)
@click.option("--name", default="", help="Display name.")
@click.password_option(help="Asked for when not given (hidden, typed twice).")
def create_user_command(email: str, role: str, name: str, password: str) -> None:
    """Create a staff account. There is no default account: make the first admin here."""
    try:
        user = create_user(db.session, email=email, password=password, role=Role(role), name=name)
    except UserError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Created {user.role.value} account {user.email} (id {user.id}).")


@users_cli.command("unbind-sso")
@click.argument("email")
def unbind_sso_command(email: str) -> None:
    """Let the account's next single sign-on bind a new provider identity (the person moved
    to another account at the provider, or the site to another provider)."""
    from statuspage.auth.sso import unbind_identity
    from statuspage.core.errors import NotFound

    try:
        unbound = unbind_identity(db.session, email, actor_id=None, now=utcnow())
    except NotFound as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    if unbound:
        click.echo(f"{email}: the next single sign-on with this address binds its identity.")
    else:
        click.echo(f"{email}: not bound to a provider identity; nothing to do.")


@click.command("seed-demo")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Do nothing, successfully, when data exists.")
def seed_demo_command(if_empty: bool) -> None:
    """Fill an empty database with a realistic demo status page and 90 days of history."""
    try:
        steps = demo_steps(db.session, now=utcnow())
    except DemoDataExists as error:
        if if_empty:
            click.echo("Demo data: the database already has data; leaving it as it is.")
            return
        raise click.ClickException(str(error)) from error
    with click.progressbar(
        steps, label="Seeding demo data", item_show_func=lambda s: s[0] if s else None
    ) as bar:
        for _label, step in bar:
            step(db.session)
    db.session.commit()
    click.echo("Demo data ready.")


sla_cli = AppGroup("sla", help="SLA clocks and their escalation.")


@sla_cli.command("check")
def sla_check_command() -> None:
    """Record SLA clocks at risk or breached, escalate breaches: once each.

    The worker does this every minute; running it again never repeats an escalation.
    """
    from statuspage.incidents.escalation import STATE_WORDS, TARGET_LABELS
    from statuspage.worker.incidents import run_sla_check

    report = run_sla_check()
    for finding in report.findings:
        priority = finding.priority.value if finding.priority else "-"
        line = (
            f"Incident #{finding.incident_id} ({priority}): {TARGET_LABELS[finding.target]} "
            f"{STATE_WORDS[finding.state]}, due {finding.due_at:%Y-%m-%d %H:%M} UTC"
        )
        if finding.escalated_to:
            line += f"; escalation email to {finding.escalated_to} contact(s)"
        click.echo(line)
    click.echo(
        f"Checked {report.checked} incident(s): {report.at_risk} at risk, "
        f"{report.breached} breached, {report.emails_sent} escalation email(s) sent, "
        f"{report.state_changes} SLA badge(s) changed."
    )
    if report.failures:
        raise click.ClickException(
            f"{report.failures} escalation email(s) could not be sent (see the log); "
            "the next check tries them again."
        )


@click.command("worker")
@with_appcontext
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option(
    "--periodic/--no-periodic",
    default=True,
    show_default=True,
    help="Schedule the periodic tasks (SLA check, delivery sweep...). Leave it on in one only.",
)
def worker_command(workers: int, periodic: bool) -> None:
    """Run the background worker (the Huey consumer) in the foreground until Ctrl-C."""
    from huey.exceptions import ConfigurationError

    from statuspage.worker import tasks

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    tasks.bind_app(current_app._get_current_object())  # type: ignore[attr-defined]
    lower_priority(current_app.config["WORKER_NICENESS"])
    try:
        consumer = tasks.huey.create_consumer(
            workers=workers,
            worker_type="thread",
            periodic=periodic,
            check_worker_health=True,
            # An idle worker polling the SQLite queue backs off to this, not Huey's 10 s
            # default: the snapshot export asked for after a publish starts within a second.
            # (Redis queues block on the list instead of polling.)
            max_delay=tasks.POLL_MAX_DELAY,
        )
        # In the main thread: the consumer installs its signal handlers (SIGINT finishes the
        # running tasks, SIGTERM stops at once, SIGHUP restarts).
        consumer.run()
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from error


def lower_priority(niceness: int) -> int:
    """Run this process (and the threads it starts next) at least at `niceness`: the worker's
    exports and sends then take the CPU that web requests leave, so a publish or a page is not
    kept waiting behind a snapshot render on a machine both share. Returns the niceness now."""
    current = os.nice(0)
    if niceness > current:
        current = os.nice(niceness - current)
    logging.getLogger(__name__).info("Worker CPU niceness %d (WORKER_NICENESS)", current)
    return current


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(sla_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(seed_bench_command)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(config_cli)
    app.cli.add_command(components_cli)
    app.cli.add_command(import_cli)
    app.cli.add_command(snapshot_cli)


@click.command("seed-bench")
@with_appcontext
@click.option(
    "--incidents",
    type=click.IntRange(min=30),
    default=100_000,
    show_default=True,
    help="Past incidents to write; 30 of them in the last 90 days, the rest before.",
)
@click.option(
    "--components-per-group",
    type=click.IntRange(min=1),
    default=COMPONENTS_PER_GROUP,
    show_default=True,
    help=f"Components in each of the {len(GROUP_NAMES)} groups ({COMPONENTS_PER_GROUP}: "
    f"{len(GROUP_NAMES) * COMPONENTS_PER_GROUP} components; 40: 200).",
)
def seed_bench_command(incidents: int, components_per_group: int) -> None:
    """Fill an EMPTY database with benchmark data: 5 groups of components, many past incidents."""
    if not database_is_empty(db.session):
        raise click.ClickException(
            "The database already has components or incidents; seed-bench only fills an empty "
            "one. Point DATABASE_URL at a new database and run `flask --app app db upgrade`."
        )
    with click.progressbar(length=incidents, label="Seeding benchmark data") as bar:
        try:
            summary = seed_bench(
                db.session,
                incidents=incidents,
                now=utcnow(),
                progress=bar.update,
                components_per_group=components_per_group,
            )
        except ValueError as error:
            raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(
        f"Benchmark data ready: {summary.components} components, {summary.incidents} incidents "
        f"since {summary.oldest_incident_at:%Y-%m-%d}, {summary.recent_incidents} of them "
        f"since {summary.window_start:%Y-%m-%d}."
    )


tokens_cli = AppGroup("tokens", help="API tokens for the write API (/api/v1).")


@tokens_cli.command("create")
@click.option("--email", required=True, help="The account the token acts as.")
@click.option("--name", required=True, help="What will use the token, e.g. Grafana.")
def create_token_command(email: str, name: str) -> None:
    """Create an API token for an account and print its secret, once."""
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.lower()))
    if user is None:
        raise click.ClickException(f"There is no account {email}.")
    try:
        token, secret = create_token(db.session, user, name, actor_id=None, now=utcnow())
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(
        f"Created token {token.prefix}... ({token.name}) for {user.email}, "
        f"acting with the {user.role.value} role."
    )
    click.echo("Copy it now; it is not shown again:", err=True)
    click.echo(secret)


config_cli = AppGroup("config", help="The site's settings.")


@config_cli.command("show")
@with_appcontext
def config_show_command() -> None:
    """Print every setting with its effective value and where it came from; secrets masked."""

    sources = current_app.extensions.get("settings_sources", {})
    rows = []
    for setting in SETTINGS:
        key = setting.config_key
        value = current_app.config.get(key)
        if isinstance(value, frozenset):
            value = ",".join(sorted(value)) or "none"
        rows.append((setting.name, mask(key, value), sources.get(key, "default")))
    # What staff set in the app (Admin > Settings > Your page) overrides these for readers.
    try:
        stored = db.session.get(PageSettings, 1)
    except Exception:  # no database yet (before `db upgrade`): nothing stored to show
        db.session.rollback()
        stored = None
    if stored is not None:
        for label, value in (
            ("SITE_NAME", stored.name),
            ("SITE_TIME_ZONE", stored.time_zone),
        ):
            if value:
                rows.append((label, value, "database (Admin > Settings > Your page)"))
    width = max(len(name) for name, _, _ in rows)
    value_width = min(60, max(len(value) for _, value, _ in rows))
    for name, value, source in rows:
        click.echo(f"{name:<{width}}  {value:<{value_width}}  {source}")


components_cli = AppGroup("components", help="Set up the page's components and groups.")


def _run_component_action(action: Any) -> Any:
    """One domain call, committed; a refusal is a clean error message and nothing saved."""
    try:
        result = action()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    db.session.commit()
    return result


def _group_id(name: str | None) -> int | None:
    if not name:
        return None
    group_id = db.session.scalar(sa.select(ComponentGroup.id).where(ComponentGroup.name == name))
    if group_id is None:
        raise click.ClickException(f"No group named {name!r}; add it with `components add-group`.")
    return group_id


@components_cli.command("list")
@with_appcontext
def components_list_command() -> None:
    """Groups and components in page order, with their ids."""
    listing = setup_listing(db.session)
    for entry in listing.grouped:
        click.echo(f"[group {entry.group.id}] {entry.group.name}")
        for component in entry.components:
            click.echo(f"  {component.id:>5}  {component.name}  ({component.status.value})")
    for component in listing.ungrouped:
        click.echo(f"{component.id:>7}  {component.name}  ({component.status.value})")
    for component in listing.archived:
        click.echo(f"{component.id:>7}  {component.name}  (archived)")


def _component_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option("--description", default=None, help="Plain text shown under the name."),
            click.option("--group", "group_name", default=None, help="The group's name."),
            click.option("--public/--hidden", "is_public", default=None, help="Listed or not."),
            click.option("--uptime/--no-uptime", "showcase", default=None, help="Uptime bar."),
            click.option(
                "--only-if-degraded/--always",
                "only_show_if_degraded",
                default=None,
                help="List it only while it is not operational.",
            ),
            click.option(
                "--start-date",
                type=click.DateTime(formats=["%Y-%m-%d"]),
                default=None,
                help="Uptime counts from this day (YYYY-MM-DD).",
            ),
        ]
    ):
        command = option(command)
    return command


@components_cli.command("add")
@click.argument("name")
@_component_options
@with_appcontext
def components_add_command(name: str, group_name: str | None, **options: Any) -> None:
    """Add a component (operational, last in its group)."""
    start = options.pop("start_date")
    values = manage.ComponentFields(
        name=name,
        group_id=_group_id(group_name),
        start_date=start.date() if start else None,
        **options,
    )
    component = _run_component_action(
        lambda: manage.create_component(db.session, values, actor_id=None, now=utcnow())
    )
    click.echo(f"Added component {component.id}: {component.name}")


@components_cli.command("edit")
@click.argument("component_id", type=click.IntRange(min=1, max=2**31 - 1))
@click.option("--name", default=None)
@click.option("--no-group", is_flag=True, help="Move it out of its group.")
@_component_options
@with_appcontext
def components_edit_command(
    component_id: int, name: str | None, no_group: bool, group_name: str | None, **options: Any
) -> None:
    """Change a component; options not given stay as they are."""
    start = options.pop("start_date")
    values = manage.ComponentFields(
        name=name,
        group_id=_group_id(group_name),
        ungroup=no_group,
        start_date=start.date() if start else None,
        **options,
    )
    component = _run_component_action(
        lambda: manage.edit_component(db.session, component_id, values, actor_id=None, now=utcnow())
    )
    click.echo(f"Saved component {component.id}: {component.name}")


@components_cli.command("remove")
@click.argument("component_id", type=click.IntRange(min=1, max=2**31 - 1))
@with_appcontext
def components_remove_command(component_id: int) -> None:
    """Archive a component with history; delete one without."""
    outcome = _run_component_action(
        lambda: manage.remove_component(db.session, component_id, actor_id=None, now=utcnow())
    )
    click.echo(f"Component {component_id} {outcome}.")


@components_cli.command("move")
@click.argument("component_id", type=click.IntRange(min=1, max=2**31 - 1))
@click.argument("direction", type=click.Choice(["up", "down"]))
@with_appcontext
def components_move_command(component_id: int, direction: str) -> None:
    """Move a component one place up or down within its group."""
    moved = _run_component_action(
        lambda: manage.move_component(
            db.session,
            component_id,
            direction,
            actor_id=None,
            now=utcnow(),  # type: ignore[arg-type]
        )
    )
    click.echo("Moved." if moved else f"Already {'first' if direction == 'up' else 'last'}.")


@components_cli.command("add-group")
@click.argument("name")
@click.option("--description", default="")
@with_appcontext
def components_add_group_command(name: str, description: str) -> None:
    """Add a group (last on the page)."""
    group = _run_component_action(
        lambda: manage.create_group(
            db.session,
            manage.GroupFields(name=name, description=description),
            actor_id=None,
            now=utcnow(),
        )
    )
    click.echo(f"Added group {group.id}: {group.name}")


# --- moving in from another status page -------------------------------------------------


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
