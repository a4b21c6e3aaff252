"""sessions (one row per login) and user token epochs; refresh_tokens folded into sessions

Revision ID: 5e55a0e1c0de
Revises: 3c1f0a7d2b9e
Create Date: 2026-12-01 03:00:00

Each refresh family with an unspent, unexpired refresh token becomes a session
holding that token, so nobody is logged out by the upgrade. The downgrade
turns sessions back into one refresh_tokens row each.
"""

import sqlalchemy as sa
from alembic import op

import api.core.dbtypes

revision = '5e55a0e1c0de'
down_revision = '3c1f0a7d2b9e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_epoch', sa.Integer(), server_default='0', nullable=False))

    op.create_table('sessions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('refresh_jti', sa.String(length=36), nullable=False),
    sa.Column('created_at', api.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', api.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', api.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_agent', sa.String(length=200), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sessions_user_id'), ['user_id'], unique=False)

    # live families: the one unspent refresh token of each, not revoked as a family
    op.execute(
        "INSERT INTO sessions (id, user_id, epoch, refresh_jti, created_at, last_used_at, expires_at) "
        "SELECT r.family, r.user_id, 0, r.jti, r.expires_at, r.expires_at, r.expires_at "
        "FROM refresh_tokens r WHERE r.spent_at IS NULL "
        "AND r.family NOT IN (SELECT \"key\" FROM revocations) "
        "AND r.jti = (SELECT MAX(o.jti) FROM refresh_tokens o "
        "             WHERE o.family = r.family AND o.spent_at IS NULL)"
    )
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refresh_tokens_family'))
        batch_op.drop_index(batch_op.f('ix_refresh_tokens_user_id'))
    op.drop_table('refresh_tokens')


def downgrade():
    op.create_table('refresh_tokens',
    sa.Column('jti', sa.String(length=36), nullable=False),
    sa.Column('family', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', api.core.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('spent_at', api.core.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('jti')
    )
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refresh_tokens_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refresh_tokens_family'), ['family'], unique=False)
    op.execute(
        "INSERT INTO refresh_tokens (jti, family, user_id, expires_at) "
        "SELECT refresh_jti, id, user_id, expires_at FROM sessions"
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_sessions_expires_at'))
    op.drop_table('sessions')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('token_epoch')
