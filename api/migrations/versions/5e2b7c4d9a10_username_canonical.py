"""users.username_canonical: one account per NFKC + casefolded username

Revision ID: 5e2b7c4d9a10
Revises: 5e55a0e1c0de
Create Date: 2026-12-01 04:00:00.000000

Existing rows get the canonical form of their username. When two existing
accounts have the same canonical form (``Alice`` and ``alice``), the migration
refuses to run and names them: merging or renaming accounts is a decision for
the operator (e.g. rename the newer one with SQL, or delete it with
``DELETE /users/{id}``), not something to do silently at start-up.
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '5e2b7c4d9a10'
down_revision = '5e55a0e1c0de'
branch_labels = None
depends_on = None

# SQLite's batch mode recreates the table: keep AUTOINCREMENT (ids are never reused)
KEEP = {"schema": None, "table_kwargs": {"sqlite_autoincrement": True}}


def canonical(username):
    """Frozen copy of api.users.names.canonical as of this revision."""
    return unicodedata.normalize("NFKC", username).casefold()


def upgrade():
    connection = op.get_bind()
    users = sa.table(
        'users',
        sa.column('id', sa.Integer),
        sa.column('username', sa.String),
        sa.column('username_canonical', sa.String),
    )
    rows = connection.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)).all()
    owners = {}
    for user_id, username in rows:
        owners.setdefault(canonical(username), []).append((user_id, username))
    collisions = {key: accounts for key, accounts in owners.items() if len(accounts) > 1}
    if collisions:
        listed = "; ".join(
            ", ".join(f"id {user_id} {username!r}" for user_id, username in accounts)
            for accounts in collisions.values()
        )
        raise RuntimeError(
            "Usernames are now case-insensitive (NFKC + casefold), and these existing accounts "
            f"would become one: {listed}. Rename or delete all but one of each group "
            "(e.g. UPDATE users SET username = 'alice2' WHERE id = ...), then start again."
        )
    # checked before any change, so a refused migration leaves the database as it was
    with op.batch_alter_table('users', **KEEP) as batch_op:
        batch_op.add_column(sa.Column('username_canonical', sa.String(length=255), nullable=True))
    for key, ((user_id, _),) in owners.items():
        connection.execute(
            users.update().where(users.c.id == user_id).values(username_canonical=key)
        )

    with op.batch_alter_table('users', **KEEP) as batch_op:
        batch_op.alter_column('username_canonical', existing_type=sa.String(length=255), nullable=False)
        batch_op.create_index(batch_op.f('ix_users_username_canonical'), ['username_canonical'], unique=True)


def downgrade():
    with op.batch_alter_table('users', **KEEP) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_username_canonical'))
        batch_op.drop_column('username_canonical')
