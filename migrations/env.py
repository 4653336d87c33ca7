"""Alembic environment, run by Flask-Migrate inside the app's context."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from statuspage.database import unbounded

config = context.config
if config.config_file_name:
    # Keep the app's own logging when tests or the app run migrations in-process.
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

database = current_app.extensions["migrate"].db
engine = database.engine
config.set_main_option(
    "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
)


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=database.metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    def skip_empty_revision(context, revision, directives):  # noqa: ANN001
        # `flask db migrate` with no model change writes no empty script.
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    configure_args = dict(current_app.extensions["migrate"].configure_args)
    configure_args.setdefault("process_revision_directives", skip_empty_revision)
    # A migration may rightly take longer than a request's statement (an index built on a big
    # table, rows rewritten): neither the app's answer deadlines nor the server's statement
    # timeout apply to it (statuspage/database.py).
    with unbounded(), engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=database.metadata, **configure_args
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
