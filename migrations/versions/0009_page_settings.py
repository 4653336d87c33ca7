"""Page settings staff edit in the app: name, logo, favicon, brand colour, links, about text,
time zone and the sender name of emails (one row).

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'page_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('about', sa.Text(), nullable=False),
        sa.Column('brand_color', sa.String(length=7), nullable=False),
        sa.Column('support_url', sa.String(length=500), nullable=False),
        sa.Column('contact_url', sa.String(length=500), nullable=False),
        sa.Column('footer_links', sa.JSON(), nullable=False),
        sa.Column('time_zone', sa.String(length=64), nullable=False),
        sa.Column('email_sender_name', sa.String(length=120), nullable=False),
        sa.Column('logo_data', sa.LargeBinary(), nullable=True),
        sa.Column('logo_type', sa.String(length=40), nullable=False),
        sa.Column('logo_digest', sa.String(length=64), nullable=False),
        sa.Column('favicon_data', sa.LargeBinary(), nullable=True),
        sa.Column('favicon_type', sa.String(length=40), nullable=False),
        sa.Column('favicon_digest', sa.String(length=64), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_page_settings')),
    )


def downgrade():
    op.drop_table('page_settings')
