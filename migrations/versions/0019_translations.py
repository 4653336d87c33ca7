"""Translations: what customers read in languages other than the page's default (public
updates, closure reports, post-incident reviews, incident templates' message texts), each
subscriber's email language, and delivery batches of one language each.

Self-contained: it only adds tables and columns, so it can be rechained after other
migrations by changing `down_revision` alone.

Revision ID: 0019_translations
Revises: 0018
"""

from alembic import op
import sqlalchemy as sa


revision = "0019_translations"
down_revision = "0018"
branch_labels = None
depends_on = None

TABLES = (
    "incident_update_translation",
    "closure_report_translation",
    "review_translation",
    "incident_template_translation",
)


def upgrade():
    op.create_table(
        "incident_update_translation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("source_digest", sa.String(length=64), nullable=False),
        sa.Column("outdated", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("update_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user.id"],
            name=op.f("fk_incident_update_translation_author_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["update_id"],
            ["incident_update.id"],
            name=op.f("fk_incident_update_translation_update_id_incident_update"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_update_translation")),
        sa.UniqueConstraint("update_id", "language", name="uq_incident_update_translation"),
    )
    with op.batch_alter_table("incident_update_translation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_update_translation_update_id"), ["update_id"], unique=False
        )
    op.create_table(
        "closure_report_translation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("source_digest", sa.String(length=64), nullable=False),
        sa.Column("outdated", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("impact", sa.Text(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("prevention", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user.id"],
            name=op.f("fk_closure_report_translation_author_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["closure_report.id"],
            name=op.f("fk_closure_report_translation_report_id_closure_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closure_report_translation")),
        sa.UniqueConstraint("report_id", "language", name="uq_closure_report_translation"),
    )
    with op.batch_alter_table("closure_report_translation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_closure_report_translation_report_id"), ["report_id"], unique=False
        )
    op.create_table(
        "review_translation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("source_digest", sa.String(length=64), nullable=False),
        sa.Column("outdated", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("impact", sa.Text(), nullable=False),
        sa.Column("leadup", sa.Text(), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("detection", sa.Text(), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("recovery", sa.Text(), nullable=False),
        sa.Column("contributing_factors", sa.Text(), nullable=False),
        sa.Column("went_well", sa.Text(), nullable=False),
        sa.Column("went_badly", sa.Text(), nullable=False),
        sa.Column("got_lucky", sa.Text(), nullable=False),
        sa.Column("communications", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user.id"],
            name=op.f("fk_review_translation_author_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["post_incident_review.id"],
            name=op.f("fk_review_translation_review_id_post_incident_review"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_translation")),
        sa.UniqueConstraint("review_id", "language", name="uq_review_translation"),
    )
    with op.batch_alter_table("review_translation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_translation_review_id"), ["review_id"], unique=False
        )
    op.create_table(
        "incident_template_translation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("source_digest", sa.String(length=64), nullable=False),
        sa.Column("outdated", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("message_templates", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user.id"],
            name=op.f("fk_incident_template_translation_author_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["incident_template.id"],
            name=op.f("fk_incident_template_translation_template_id_incident_template"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_template_translation")),
        sa.UniqueConstraint("template_id", "language", name="uq_incident_template_translation"),
    )
    with op.batch_alter_table("incident_template_translation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_template_translation_template_id"),
            ["template_id"],
            unique=False,
        )
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), server_default="", nullable=False)
        )
        batch_op.create_index("ix_subscriber_language_id", ["language", "id"], unique=False)
    with op.batch_alter_table("delivery_batch", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), server_default="", nullable=False)
        )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "expanded_through_language",
                sa.String(length=8),
                server_default="",
                nullable=False,
            )
        )


def downgrade():
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_column("expanded_through_language")
    with op.batch_alter_table("delivery_batch", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("subscriber", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriber_language_id")
        batch_op.drop_column("language")
    for name in reversed(TABLES):
        op.drop_table(name)
