"""Component events: the outbox learns the kind `component_status` and the status change it
announces (`notification.status_change_id`), for the webhook, chat and SMS channels.

Revision ID: 0017
Revises: 0016
"""

from alembic import op
import sqlalchemy as sa


revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# The outbox kinds before this revision (0005, then 0014).
KINDS = (
    "incident_update",
    "closure_report",
    "review_published",
    "maintenance_scheduled",
    "maintenance_reminder",
    "maintenance_started",
    "maintenance_completed",
    "stakeholder_summary",
)
NEW_KINDS = KINDS + ("component_status",)


def _kind_type(kinds):
    return sa.Enum(
        *kinds, name="notification_kind", native_enum=False, create_constraint=True, length=21
    )


def _set_notification_kinds(new, old):
    """Replace the CHECK constraint on notification.kind (the column stays VARCHAR(21))."""
    if op.get_bind().dialect.name == "sqlite":
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
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_change_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_notification_status_change_id_component_status_change"),
            "component_status_change",
            ["status_change_id"],
            ["id"],
            ondelete="CASCADE",
        )
    _set_notification_kinds(NEW_KINDS, KINDS)


def downgrade():
    op.execute("DELETE FROM notification WHERE kind = 'component_status'")
    _set_notification_kinds(KINDS, NEW_KINDS)
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_notification_status_change_id_component_status_change"),
            type_="foreignkey",
        )
        batch_op.drop_column("status_change_id")
