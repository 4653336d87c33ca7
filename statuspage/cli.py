"""Flask commands: `seed-demo`, `users create`. They call the same domain functions as views."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from statuspage.auth.models import Role
from statuspage.auth.users import UserError, create_user
from statuspage.db import utcnow
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


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(seed_demo_command)
