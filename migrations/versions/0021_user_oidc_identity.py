"""Single sign-on binds a staff account to the provider's issuer and subject
(`user.oidc_identity`, unique), so that a sign-in finds the account by who the provider says
the person is, not only by an email address that may pass to someone else.

Revision ID: 0021_user_oidc_identity
Revises: 0020_maintenance_translations
"""

from alembic import op
import sqlalchemy as sa


revision = "0021_user_oidc_identity"
down_revision = "0020_maintenance_translations"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("oidc_identity", sa.String(length=600), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_user_oidc_identity"), ["oidc_identity"])


def downgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_user_oidc_identity"), type_="unique")
        batch_op.drop_column("oidc_identity")
