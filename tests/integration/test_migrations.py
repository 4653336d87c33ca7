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
