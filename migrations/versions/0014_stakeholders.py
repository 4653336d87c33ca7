"""Stakeholder lists (members and rules), their messages and recipients, templates for updates
sent by hand; the outbox learns the kind `stakeholder_summary`; the default lists Leadership
(P1) and Support (P1 and P2) are installed.

Revision ID: 0014
Revises: 0013
"""

from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# The outbox kinds before this revision (0005).
KINDS = (
    "incident_update",
    "closure_report",
    "review_published",
    "maintenance_scheduled",
    "maintenance_reminder",
    "maintenance_started",
    "maintenance_completed",
)

# Kept in step with statuspage.stakeholders.lists.DEFAULT_LISTS (a test compares them).
DEFAULT_LISTS = (
    (
        "Leadership",
        "Told at once of critical (P1) incidents, their breaches, resolution and review.",
        ["P1"],
        ["declared", "priority_raised", "sla_breached", "resolved", "review_published"],
    ),
    (
        "Support",
        "Told of P1 and P2 incidents as they move, so they can answer customers.",
        ["P1", "P2"],
        ["declared", "priority_raised", "status_changed", "sla_breached", "resolved"],
    ),
)


def _kind_type(kinds):
    return sa.Enum(
        *kinds, name="notification_kind", native_enum=False, create_constraint=True, length=21
    )


def _set_notification_kinds(new, old):
    """Replace the CHECK constraint on notification.kind (the column stays VARCHAR(21))."""
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot alter a constraint: batch mode copies the table with the new one.
        with op.batch_alter_table("notification", recreate="always") as batch_op:
            batch_op.alter_column("kind", existing_type=_kind_type(old), type_=_kind_type(new))
        return
    op.drop_constraint(op.f("ck_notification_notification_kind"), "notification", type_="check")
    op.create_check_constraint(
        op.f("ck_notification_notification_kind"),
        "notification",
        sa.column("kind").in_(new),
    )


def upgrade():
    op.create_table(
        "stakeholder_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("priorities", sa.JSON(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stakeholder_list")),
        sa.UniqueConstraint("name", name=op.f("uq_stakeholder_list_name")),
    )
    op.create_table(
        "stakeholder_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stakeholder_template")),
        sa.UniqueConstraint("name", name=op.f("uq_stakeholder_template_name")),
    )
    op.create_table(
        "stakeholder_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["stakeholder_list.id"],
            name=op.f("fk_stakeholder_member_list_id_stakeholder_list"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_stakeholder_member_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stakeholder_member")),
        sa.UniqueConstraint("list_id", "email", name="uq_stakeholder_member_email"),
        sa.UniqueConstraint("list_id", "user_id", name="uq_stakeholder_member_user"),
    )
    with op.batch_alter_table("stakeholder_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stakeholder_member_list_id"), ["list_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stakeholder_member_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "stakeholder_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column(
            "event",
            sa.Enum(
                "declared",
                "priority_raised",
                "status_changed",
                "sla_breached",
                "resolved",
                "review_published",
                "manual",
                name="stakeholder_event",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("list_names", sa.JSON(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user.id"],
            name=op.f("fk_stakeholder_message_actor_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_stakeholder_message_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name=op.f("fk_stakeholder_message_notification_id_notification"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stakeholder_message")),
        sa.UniqueConstraint("notification_id", name=op.f("uq_stakeholder_message_notification_id")),
    )
    with op.batch_alter_table("stakeholder_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stakeholder_message_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "stakeholder_recipient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["stakeholder_message.id"],
            name=op.f("fk_stakeholder_recipient_message_id_stakeholder_message"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stakeholder_recipient")),
    )
    with op.batch_alter_table("stakeholder_recipient", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stakeholder_recipient_message_id"), ["message_id"], unique=False
        )

    _set_notification_kinds(KINDS + ("stakeholder_summary",), KINDS)

    # The default lists, as the seeds have them (no members: staff add them).
    stakeholder_list = sa.table(
        "stakeholder_list",
        sa.column("name", sa.String),
        sa.column("description", sa.Text),
        sa.column("priorities", sa.JSON),
        sa.column("events", sa.JSON),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("version", sa.Integer),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        stakeholder_list,
        [
            {
                "name": name,
                "description": description,
                "priorities": priorities,
                "events": events,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
            for name, description, priorities, events in DEFAULT_LISTS
        ],
    )


def downgrade():
    op.execute("DELETE FROM notification WHERE kind = 'stakeholder_summary'")
    _set_notification_kinds(KINDS, KINDS + ("stakeholder_summary",))
    with op.batch_alter_table("stakeholder_recipient", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stakeholder_recipient_message_id"))

    op.drop_table("stakeholder_recipient")
    with op.batch_alter_table("stakeholder_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stakeholder_message_incident_id"))

    op.drop_table("stakeholder_message")
    with op.batch_alter_table("stakeholder_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stakeholder_member_user_id"))
        batch_op.drop_index(batch_op.f("ix_stakeholder_member_list_id"))

    op.drop_table("stakeholder_member")
    op.drop_table("stakeholder_template")
    op.drop_table("stakeholder_list")
