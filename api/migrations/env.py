"""Alembic environment: runs against the app's engine, same on SQLite and PostgreSQL."""

from contextlib import contextmanager

from alembic import context
from flask import current_app
from sqlalchemy import text

ADVISORY_LOCK_ID = 7_428_301  # serialises migrations across hosts on PostgreSQL

config = context.config
db = current_app.extensions["migrate"].db
target_metadata = db.metadata


def run_migrations_offline():
    context.configure(
        url=str(db.engine.url).replace("%", "%%"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    with db.engine.connect() as connection, _sqlite_foreign_keys_off(connection):
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})"))
            context.run_migrations()


@contextmanager
def _sqlite_foreign_keys_off(connection):
    """SQLite's batch mode rebuilds a table by copy, drop and rename: with foreign keys
    on, dropping ``users`` would cascade to every row that references it. PRAGMA
    foreign_keys only takes effect outside a transaction, so it goes straight to the
    driver before Alembic begins one, and is switched back on for the pool after."""
    driver = connection.connection.driver_connection
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        if sqlite:
            driver.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
