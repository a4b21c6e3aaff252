"""Start-up migrations: alembic is loaded only when the database is behind the scripts."""

import json
import os
import subprocess
import sys

import pytest

from api.core import database

CHECK = """
import json, sys
from api import create_app
app = create_app({"INSTANCE_PATH": sys.argv[1], "SECRET_KEY": "t" * 48})
from api.core.database import database_heads
from api.core.extensions import db
with app.app_context():
    heads = sorted(database_heads(db.engine))
print(json.dumps({"alembic": "alembic" in sys.modules, "heads": heads}))
"""


def start(instance):
    """create_app in a fresh interpreter: whether it imported alembic, and the db's heads."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    out = subprocess.run(
        [sys.executable, "-c", CHECK, str(instance)],
        capture_output=True, text=True, check=True, env=env,
    ).stdout  # fmt: skip
    return json.loads(out.splitlines()[-1])


def test_alembic_is_loaded_only_while_the_database_is_behind(tmp_path):
    heads = sorted(database.script_heads())
    first = start(tmp_path / "instance")
    assert first == {"alembic": True, "heads": heads}  # a new database: migrated
    assert start(tmp_path / "instance") == {"alembic": False, "heads": heads}


def test_heads_read_from_the_files_match_alembic(app):
    from alembic.script import ScriptDirectory

    database.register_migrate(app)
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config(database.MIGRATIONS)
        assert database.script_heads() == set(ScriptDirectory.from_config(config).get_heads())


@pytest.mark.parametrize(
    ("down", "heads"),
    [
        ("None", {"a", "b", "c"}),
        ("'a'", {"b", "c"}),
        ("('a', 'c')", {"b"}),
        ("'x'", {"a", "b", "c"}),
    ],
)
def test_script_heads_parses_down_revisions(tmp_path, down, heads):
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text("revision = 'a'\ndown_revision = None\n")
    (versions / "c.py").write_text('revision: str = "c"\ndown_revision = None\n')
    (versions / "b.py").write_text(f"revision = 'b'\ndown_revision = {down}\n")
    assert database.script_heads(str(tmp_path)) == heads


def test_flask_db_commands_load_flask_migrate_on_use(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["INSTANCE_PATH"] = str(tmp_path / "instance")
    command = [sys.executable, "-m", "flask", "--app", "api", "db", "heads"]
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    assert out.split() == [*database.script_heads(), "(head)"]
