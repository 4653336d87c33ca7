"""Stakeholder channels: a channel subscription may belong to a stakeholder list
(`channel_subscription.stakeholder_list_id`, added by staff), and a stakeholder message
records the lists it tells by id (`stakeholder_message_list`), so the worker sends each
summary to exactly those lists' channels.

Revision ID: 0018
Revises: 0017
"""

from alembic import op
import sqlalchemy as sa


revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("channel_subscription", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stakeholder_list_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_channel_subscription_stakeholder_list_id"),
            ["stakeholder_list_id"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_channel_subscription_stakeholder_list_id_stakeholder_list"),
            "stakeholder_list",
            ["stakeholder_list_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.create_table(
        "stakeholder_message_list",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["stakeholder_list.id"],
            name=op.f("fk_stakeholder_message_list_list_id_stakeholder_list"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["stakeholder_message.id"],
            name=op.f("fk_stakeholder_message_list_message_id_stakeholder_message"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "list_id", name=op.f("pk_stakeholder_message_list")),
    )
    with op.batch_alter_table("stakeholder_message_list", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stakeholder_message_list_list_id"), ["list_id"], unique=False
        )
    # Messages written before this revision keep their names only: their lists' channels
    # did not exist yet, so nothing is to be sent to them.


def downgrade():
    with op.batch_alter_table("stakeholder_message_list", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stakeholder_message_list_list_id"))
    op.drop_table("stakeholder_message_list")
    op.execute("DELETE FROM channel_subscription WHERE stakeholder_list_id IS NOT NULL")
    with op.batch_alter_table("channel_subscription", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_channel_subscription_stakeholder_list_id_stakeholder_list"),
            type_="foreignkey",
        )
        batch_op.drop_index(batch_op.f("ix_channel_subscription_stakeholder_list_id"))
        batch_op.drop_column("stakeholder_list_id")
