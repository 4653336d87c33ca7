"""Components set up in the app: listed publicly or not, archived.

Until now `showcase` false hid a component altogether; it now means what it means in
Statuspage's API (show the uptime bar), and `is_public` says whether the component is listed.
Components hidden before keep being hidden: is_public takes their showcase value.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('component', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('is_public', sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))
    component = sa.table('component', sa.column('is_public', sa.Boolean), sa.column('showcase', sa.Boolean))
    op.execute(component.update().values(is_public=component.c.showcase, showcase=sa.true()))


def downgrade():
    component = sa.table('component', sa.column('is_public', sa.Boolean), sa.column('showcase', sa.Boolean))
    op.execute(component.update().values(showcase=component.c.is_public))
    with op.batch_alter_table('component', schema=None) as batch_op:
        batch_op.drop_column('archived_at')
        batch_op.drop_column('is_public')
