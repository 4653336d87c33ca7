"""Uptime days: each closed calendar day of a component's uptime, counted once and kept, and
each bar's closed days summed once a day, so the public page counts only today live. The (component_id, changed_at) index of the status
history gains id, so "the last change before a moment" is one backward index step.

Revision ID: 0016
Revises: 0015
"""

from alembic import op
import sqlalchemy as sa


revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "uptime_day",
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("has_data", sa.Boolean(), nullable=False),
        sa.Column("measured_minutes", sa.Double(), nullable=False),
        sa.Column("maintenance_minutes", sa.Double(), nullable=False),
        sa.Column("operational_minutes", sa.Double(), nullable=False),
        sa.Column("degraded_minutes", sa.Double(), nullable=False),
        sa.Column("partial_minutes", sa.Double(), nullable=False),
        sa.Column("major_minutes", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["component.id"],
            name=op.f("fk_uptime_day_component_id_component"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("component_id", "zone", "day", name=op.f("pk_uptime_day")),
    )
    with op.batch_alter_table("uptime_day", schema=None) as batch_op:
        batch_op.create_index(
            "ix_uptime_day_component_ends", ["component_id", "ends_at"], unique=False
        )
    op.create_table(
        "uptime_window",
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("levels", sa.String(length=400), nullable=False),
        sa.Column("measured_minutes", sa.Double(), nullable=False),
        sa.Column("downtime_minutes", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["component.id"],
            name=op.f("fk_uptime_window_component_id_component"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("component_id", "zone", name=op.f("pk_uptime_window")),
    )
    with op.batch_alter_table("component_status_change", schema=None) as batch_op:
        batch_op.drop_index("ix_component_status_change_component_changed")
        batch_op.create_index(
            "ix_component_status_change_component_changed",
            ["component_id", "changed_at", "id"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("component_status_change", schema=None) as batch_op:
        batch_op.drop_index("ix_component_status_change_component_changed")
        batch_op.create_index(
            "ix_component_status_change_component_changed",
            ["component_id", "changed_at"],
            unique=False,
        )
    with op.batch_alter_table("uptime_day", schema=None) as batch_op:
        batch_op.drop_index("ix_uptime_day_component_ends")
    op.drop_table("uptime_window")
    op.drop_table("uptime_day")
