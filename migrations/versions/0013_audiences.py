"""Audiences: named groups of readers, their feed tokens and sign-in links, and what is
addressed to them (private components, incidents and updates, subscribers, notifications).

Revision ID: 0013
Revises: 0012
"""

from alembic import op
import sqlalchemy as sa


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

LINKS = (
    ("component_audience", "component_id", "component"),
    ("incident_update_audience", "update_id", "incident_update"),
    ("incident_audience", "incident_id", "incident"),
    ("subscriber_audience", "subscriber_id", "subscriber"),
)


def upgrade():
    op.create_table(
        "audience",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("slug", sa.String(length=60), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("allowed_emails", sa.JSON(), nullable=False),
        sa.Column("allowed_domains", sa.JSON(), nullable=False),
        sa.Column("ip_ranges", sa.JSON(), nullable=False),
        sa.Column("oidc_group", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience")),
        sa.UniqueConstraint("slug", name=op.f("uq_audience_slug")),
    )
    op.create_table(
        "audience_feed_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audience_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["audience_id"],
            ["audience.id"],
            name=op.f("fk_audience_feed_token_audience_id_audience"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audience_feed_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_audience_feed_token_token_hash")),
    )
    with op.batch_alter_table("audience_feed_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audience_feed_token_audience_id"), ["audience_id"], unique=False
        )
    op.create_table(
        "reader_sign_in_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reader_sign_in_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_reader_sign_in_token_token_hash")),
    )
    with op.batch_alter_table("reader_sign_in_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reader_sign_in_token_expires_at"), ["expires_at"], unique=False
        )
    for table, column, target in LINKS:
        op.create_table(
            table,
            sa.Column(column, sa.Integer(), nullable=False),
            sa.Column("audience_id", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(
                ["audience_id"],
                ["audience.id"],
                name=op.f(f"fk_{table}_audience_id_audience"),
                ondelete="CASCADE",
            ),
            sa.ForeignKeyConstraint(
                [column],
                [f"{target}.id"],
                name=op.f(f"fk_{table}_{column}_{target}"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint(column, "audience_id", name=op.f(f"pk_{table}")),
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f(f"ix_{table}_audience_id"), ["audience_id"], unique=False
            )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("audience_ids", sa.JSON(), server_default="[]", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_column("audience_ids")
    for table, _, _ in reversed(LINKS):
        op.drop_table(table)
    op.drop_table("reader_sign_in_token")
    op.drop_table("audience_feed_token")
    op.drop_table("audience")
