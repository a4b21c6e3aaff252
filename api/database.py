"""Database set-up: SQLite pragmas and migrations applied on start-up."""

import fcntl
from pathlib import Path

import flask_migrate
from sqlalchemy import event
from sqlalchemy.engine import Engine

MIGRATIONS = str(Path(__file__).parent / "migrations")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """Enforce foreign keys and allow concurrent readers on SQLite."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


def init_app(app):
    """Bring the schema to the newest migration unless ``AUTO_MIGRATE`` is off.

    A file lock in the instance folder serialises workers on one host; on
    PostgreSQL the migration environment also takes an advisory lock, which
    serialises hosts.
    """
    if not app.config["AUTO_MIGRATE"]:
        return
    lock_path = Path(app.instance_path) / ".migrate.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock, app.app_context():
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            flask_migrate.upgrade(directory=MIGRATIONS)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
