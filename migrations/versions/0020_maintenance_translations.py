"""Translations of scheduled maintenance: its title and message, and each of its updates, in
languages other than the page's default (as 0019 did for incident updates).

Self-contained: it only adds tables, so it can be rechained after other migrations by changing
`down_revision` alone.

Revision ID: 0020_maintenance_translations
Revises: 0019_translations
"""

from alembic import op
import sqlalchemy as sa


revision = "0020_maintenance_translations"
down_revision = "0019_translations"
branch_labels = None
depends_on = None


def _common() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("source_digest", sa.String(length=64), nullable=False),
        sa.Column("outdated", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
    ]


def upgrade():
    op.create_table(
        "maintenance_translation",
        *_common(),
        sa.Column("maintenance_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user.id"],
            name=op.f("fk_maintenance_translation_author_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["maintenance_id"],
            ["maintenance.id"],
            name=op.f("fk_maintenance_translation_maintenance_id_maintenance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_translation")),
        sa.UniqueConstraint("maintenance_id", "language", name="uq_maintenance_translation"),
    )
    with op.batch_alter_table("maintenance_translation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_translation_maintenance_id"),
            ["maintenance_id"],
            unique=False,
        )
    op.create_table(
        "maintenance_update_translation",
        *_common(),
        sa.Column("update_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user.id"],
            name=op.f("fk_maintenance_update_translation_author_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["update_id"],
            ["maintenance_update.id"],
            name=op.f("fk_maintenance_update_translation_update_id_maintenance_update"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_update_translation")),
        sa.UniqueConstraint("update_id", "language", name="uq_maintenance_update_translation"),
    )
    with op.batch_alter_table("maintenance_update_translation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_update_translation_update_id"),
            ["update_id"],
            unique=False,
        )


def downgrade():
    op.drop_table("maintenance_update_translation")
    op.drop_table("maintenance_translation")
