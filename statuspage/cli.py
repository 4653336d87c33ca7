"""Flask commands: `seed-demo`, `users create`. They call the same domain functions as views."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from statuspage.auth.models import Role
from statuspage.auth.users import UserError, create_user
from statuspage.core.db import utcnow
from statuspage.demo import DemoDataExists, demo_steps
from statuspage.extensions import db

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
    import logging

    from flask import current_app
    from huey.exceptions import ConfigurationError

    from statuspage.worker import tasks

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    tasks.bind_app(current_app._get_current_object())  # type: ignore[attr-defined]
    try:
        consumer = tasks.huey.create_consumer(
            workers=workers, worker_type="thread", periodic=periodic, check_worker_health=True
        )
        # In the main thread: the consumer installs its signal handlers (SIGINT finishes the
        # running tasks, SIGTERM stops at once, SIGHUP restarts).
        consumer.run()
    except ConfigurationError as error:
        raise click.ClickException(str(error)) from error


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(sla_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(seed_bench_command)
    app.cli.add_command(tokens_cli)
    from statuspage.snapshot import snapshot_cli

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
def seed_bench_command(incidents: int) -> None:
    """Fill an EMPTY database with benchmark data: 50 components and many past incidents."""
    from statuspage.benchdata import database_is_empty, seed_bench

    if not database_is_empty(db.session):
        raise click.ClickException(
            "The database already has components or incidents; seed-bench only fills an empty "
            "one. Point DATABASE_URL at a new database and run `flask --app app db upgrade`."
        )
    with click.progressbar(length=incidents, label="Seeding benchmark data") as bar:
        summary = seed_bench(db.session, incidents=incidents, now=utcnow(), progress=bar.update)
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
    import sqlalchemy as sa

    from statuspage.auth.models import User
    from statuspage.auth.tokens import create_token
    from statuspage.core.errors import DomainError

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
