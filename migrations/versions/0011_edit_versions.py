"""Edit versions: public updates, closure reports, reviews and incident templates carry a
version, bumped on every edit, so a save based on an older copy is refused (409) instead of
silently overwriting someone else's words.

Revision ID: 0011
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLES = ("incident_update", "closure_report", "post_incident_review", "incident_template")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("version", sa.Integer(), nullable=False, server_default="1")
            )


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("version")
