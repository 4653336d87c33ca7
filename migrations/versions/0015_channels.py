"""Channel subscriptions (webhook, slack, teams, discord, sms) and their deliveries.

Revision ID: 0015
Revises: 0014
"""

from alembic import op
import sqlalchemy as sa


revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def upgrade():
    op.create_table(
        "channel_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind", _enum("channel_kind", "webhook", "slack", "teams", "discord", "sms"),
            nullable=False,
        ),
        sa.Column("target", sa.String(length=2048), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            _enum("channel_status", "pending", "active", "disabled", "unsubscribed"),
            nullable=False,
        ),
        sa.Column("manage_token_hash", sa.String(length=64), nullable=False),
        sa.Column("all_components", sa.Boolean(), nullable=False),
        sa.Column("owner_email", sa.String(length=254), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("optin_code_hash", sa.String(length=128), nullable=False),
        sa.Column("optin_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_subscription")),
        sa.UniqueConstraint(
            "manage_token_hash", name=op.f("uq_channel_subscription_manage_token_hash")
        ),
    )
    with op.batch_alter_table("channel_subscription", schema=None) as batch_op:
        batch_op.create_index(
            "ix_channel_subscription_kind_status", ["kind", "status"], unique=False
        )

    for table, column, referred in (
        ("channel_subscription_component", "component_id", "component"),
        ("channel_subscription_group", "group_id", "component_group"),
    ):
        op.create_table(
            table,
            sa.Column("subscription_id", sa.Integer(), nullable=False),
            sa.Column(column, sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                [column],
                [f"{referred}.id"],
                name=op.f(f"fk_{table}_{column}_{referred}"),
                ondelete="CASCADE",
            ),
            sa.ForeignKeyConstraint(
                ["subscription_id"],
                ["channel_subscription.id"],
                name=op.f(f"fk_{table}_subscription_id_channel_subscription"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("subscription_id", column, name=op.f(f"pk_{table}")),
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)

    op.create_table(
        "channel_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column(
            "state",
            _enum("channel_delivery_state", "pending", "delivered", "failed", "gave_up"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_latency_ms", sa.Integer(), nullable=True),
        sa.Column("last_response_excerpt", sa.String(length=500), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name=op.f("fk_channel_delivery_notification_id_notification"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["channel_subscription.id"],
            name=op.f("fk_channel_delivery_subscription_id_channel_subscription"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_delivery")),
        sa.UniqueConstraint("message_id", name=op.f("uq_channel_delivery_message_id")),
        sa.UniqueConstraint(
            "subscription_id",
            "notification_id",
            name="uq_channel_delivery_subscription_id",
        ),
    )
    with op.batch_alter_table("channel_delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_channel_delivery_state_next", ["state", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_channel_delivery_subscription_id"), ["subscription_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_channel_delivery_notification_id"), ["notification_id"], unique=False
        )

    op.create_table(
        "channel_fanout",
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("expanded_through_id", sa.Integer(), nullable=False),
        sa.Column("expanded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name=op.f("fk_channel_fanout_notification_id_notification"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notification_id", name=op.f("pk_channel_fanout")),
    )


def downgrade():
    op.drop_table("channel_fanout")
    op.drop_table("channel_delivery")
    op.drop_table("channel_subscription_group")
    op.drop_table("channel_subscription_component")
    op.drop_table("channel_subscription")
