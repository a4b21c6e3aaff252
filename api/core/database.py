"""Database set-up: SQLite pragmas, read-only primaries, migrations on start-up, ``flask db``.

Alembic (through Flask-Migrate) is loaded only when it has work to do: at
start-up when the database is behind the migration scripts, and by the
``flask db`` commands. A worker whose database is at the head never imports it
(about 12 MB of resident memory and a second of start-up per worker).
"""

from __future__ import annotations

import fcntl
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

import click
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy import CursorResult, Result, event, exc, text
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.exc import SQLAlchemyError

MIGRATIONS = str(Path(__file__).parent.parent / "migrations")
_REVISION = re.compile(r"^revision\b[^=]*=\s*['\"](\w+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=]*=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"](\w+)['\"]")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Enforce foreign keys and allow concurrent readers on SQLite."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched."""
    return int(cast(CursorResult[Any], result).rowcount)


READ_ONLY_SQL_TRANSACTION = "25006"  # SQLSTATE: a write on a read-only connection


@event.listens_for(Engine, "handle_error")
def _read_only_is_an_outage(context: ExceptionContext) -> Exception | None:
    """A primary that turned read-only (demoted, or set so by an operator) is an outage.

    A connection opened while the database was read-only stays read-only after
    it is writable again, and ``pool_pre_ping`` cannot tell (``SELECT 1``
    works). So a write refused for that reason counts as a disconnect:
    SQLAlchemy discards this connection and every pooled one opened before
    now, and the error becomes an ``OperationalError``, which the app answers
    with 503. The next request gets a fresh connection and writes again once
    the database does.
    """
    if getattr(context.original_exception, "sqlstate", None) != READ_ONLY_SQL_TRANSACTION:
        return None
    context.is_disconnect = True
    return exc.OperationalError(
        context.statement,
        context.parameters,
        context.original_exception,
        hide_parameters=True,  # like the engine: an error never carries the values
        connection_invalidated=True,
    )


def script_heads(directory: str = MIGRATIONS) -> set[str]:
    """The head revisions of the migration scripts, read from the files (no alembic)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in Path(directory, "versions").glob("*.py"):
        source = path.read_text()
        revision = _REVISION.search(source)
        if revision:
            revisions.add(revision.group(1))
        down = _DOWN_REVISION.search(source)
        if down:
            parents.update(_QUOTED.findall(down.group(1)))
    return revisions - parents


def database_heads(engine: Engine) -> set[str]:
    """The revisions the database is stamped with (empty: none, or unreadable)."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
            return {row[0] for row in rows}
    except SQLAlchemyError:
        return set()


P = ParamSpec("P")
R = TypeVar("R")


def needs_schema(command: Callable[P, R]) -> Callable[P, R]:
    """For a ``flask`` command that reads or writes tables: refuse, with what to run,
    when the database is not at the migrations' head (instead of a traceback)."""

    @functools.wraps(command)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        from .extensions import db

        expected, found = script_heads(), database_heads(db.engine)
        if expected and found != expected:
            at = ", ".join(sorted(found)) or "no revision"
            raise click.ClickException(
                f"the database is at {at}, this code needs {', '.join(sorted(expected))}: "
                "run `flask --app api db upgrade` first"
            )
        return command(*args, **kwargs)

    return checked


def starts_a_server() -> bool:
    """Whether this process is about to serve requests.

    The app is made by a server (gunicorn, granian, any WSGI host, a test)
    outside any click command, or by ``flask run``. Any other ``flask`` command
    (``flask db downgrade``, ``flask db current``, ``flask users create``, ...)
    makes it from inside its click context, and must do only what it says.
    """
    context = click.get_current_context(silent=True)
    return context is None or context.info_name == "run"


def register_migrate(app: Flask) -> None:
    """Set up Flask-Migrate on ``app`` (imports alembic): what ``flask db`` and upgrades need."""
    if "migrate" in app.extensions:
        return
    from flask_migrate import Migrate

    from .extensions import db

    Migrate(app, db, directory=MIGRATIONS)


def init_app(app: Flask) -> None:
    """Bring the schema to the newest migration when a server starts, unless
    ``AUTO_MIGRATE`` is off; never as a side effect of another CLI command.

    A database already at the head is left alone without loading alembic. Else
    a file lock in the instance folder serialises workers on one host; on
    PostgreSQL the migration environment also takes an advisory lock, which
    serialises hosts.
    """
    app.cli.add_command(MigrateCommands("db", help="Database migrations (Flask-Migrate)."))
    if not app.config["AUTO_MIGRATE"] or not starts_a_server():
        return
    from .extensions import db

    with app.app_context():
        heads = script_heads()
        if heads and database_heads(db.engine) == heads:
            return
    lock_path = Path(app.instance_path) / ".migrate.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock, app.app_context():
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            register_migrate(app)
            import flask_migrate

            flask_migrate.upgrade(directory=MIGRATIONS)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class MigrateCommands(click.Group):
    """``flask db``: Flask-Migrate's command group, imported when it is used."""

    def _commands(self, ctx: click.Context | None) -> click.Group:
        info = ctx.find_object(ScriptInfo) if ctx is not None else None
        if info is not None:
            register_migrate(info.load_app())
        from flask_migrate.cli import db as commands

        group: click.Group = commands
        return group

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        # the context (and so the invocation) is Flask-Migrate's own group's
        return self._commands(parent).make_context(info_name, args, parent=parent, **extra)
