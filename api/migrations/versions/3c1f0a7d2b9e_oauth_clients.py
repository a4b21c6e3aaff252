"""oauth clients

Revision ID: 3c1f0a7d2b9e
Revises: 98eb4cd497e3
Create Date: 2026-12-01 03:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

import api.core.dbtypes

revision = '3c1f0a7d2b9e'
down_revision = '98eb4cd497e3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('oauth_clients',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', api.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('client_id')
    )


def downgrade():
    op.drop_table('oauth_clients')
