"""Migrations: one head, and `upgrade` builds the models' schema on an empty database."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from statuspage.core.db import Base
from tests.conftest import make_app, migrate

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def test_there_is_exactly_one_head():
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several heads: {heads}"


def _upgrade_and_compare(url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    app = make_app(url)
    migrate(app)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            assert {t.name for t in Base.metadata.sorted_tables} <= tables
            assert "alembic_version" in tables
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert diff == [], f"models and migrations differ: {diff}"
            matrix = conn.execute(sa.text("SELECT count(*) FROM priority_rule")).scalar()
            assert matrix == 9
            p1 = conn.execute(
                sa.text("SELECT acknowledge_minutes FROM sla_policy WHERE priority = 'P1'")
            ).scalar()
            assert p1 == 60
    finally:
        engine.dispose()


def test_upgrade_on_an_empty_sqlite_database(fresh_sqlite_database):
    _upgrade_and_compare(fresh_sqlite_database())


@pytest.mark.postgres
def test_upgrade_on_an_empty_postgresql_database(fresh_postgres_database):
    _upgrade_and_compare(fresh_postgres_database())


MAINTENANCE_TRANSLATION_TABLES = {"maintenance_translation", "maintenance_update_translation"}


def _down_and_up_through_maintenance_translations(url: str) -> None:
    """0020 adds the maintenance translation tables, its downgrade drops them (rows and all),
    and upgrading again gives them back."""
    from flask_migrate import downgrade, upgrade

    from statuspage.extensions import db

    app = make_app(url)
    migrate(app)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO maintenance (id, title, body, status, scheduled_for,"
                    " scheduled_until, auto_start, auto_complete, created_at, updated_at)"
                    " VALUES (1, 'Upgrade', '', 'scheduled', :at, :at, false, false, :at, :at)"
                ),
                {"at": "2026-12-01 10:00:00+00:00"},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO maintenance_translation (maintenance_id, language, title, body,"
                    " source_digest, outdated, created_at, updated_at)"
                    " VALUES (1, 'fr', 'Mise à niveau', '', '', false, :at, :at)"
                ),
                {"at": "2026-12-01 10:00:00+00:00"},
            )
        with app.app_context():
            downgrade(revision="0019_translations")
            db.engine.dispose()
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            assert not MAINTENANCE_TRANSLATION_TABLES & tables
            assert "incident_update_translation" in tables  # 0019's stay
        with app.app_context():
            upgrade()
            db.engine.dispose()
        with engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) >= MAINTENANCE_TRANSLATION_TABLES
            count = conn.execute(sa.text("SELECT count(*) FROM maintenance_translation")).scalar()
            assert count == 0
    finally:
        engine.dispose()


def test_maintenance_translations_downgrade_and_upgrade_on_sqlite(fresh_sqlite_database):
    _down_and_up_through_maintenance_translations(fresh_sqlite_database())


@pytest.mark.postgres
def test_maintenance_translations_downgrade_and_upgrade_on_postgresql(fresh_postgres_database):
    _down_and_up_through_maintenance_translations(fresh_postgres_database())


@pytest.mark.postgres
def test_a_migration_is_not_held_to_a_requests_time_limits(fresh_postgres_database):
    """A request's statement is cancelled by the server after `DATABASE_STATEMENT_TIMEOUT` and
    its socket shut a second later; a migration (an index on a big table, rows rewritten)
    may rightly take longer than both, so `flask db upgrade` lifts them."""
    from flask_migrate import upgrade

    from statuspage.extensions import db

    url = fresh_postgres_database()
    app = make_app(url, DATABASE_STATEMENT_TIMEOUT=0.2)
    slowed: list[str] = []

    def slow_first_index(conn, cursor, statement, parameters, context, many) -> None:
        # Runs after the app's own listener has started the statement's deadline (1.2 s): the
        # server works on the migration's connection for longer than both limits first.
        if statement.startswith("CREATE INDEX") and not slowed:
            slowed.append(statement)
            cursor.execute("SELECT pg_sleep(1.3)")

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", slow_first_index)
        try:
            upgrade()
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", slow_first_index)
            db.engine.dispose()
    assert slowed
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM priority_rule")).scalar() == 9
    finally:
        engine.dispose()

    # The same app's requests still have both limits.
    with app.app_context():
        with pytest.raises(sa.exc.OperationalError):
            db.session.execute(sa.text("SELECT pg_sleep(0.3)"))
        db.session.rollback()
        db.engine.dispose()
