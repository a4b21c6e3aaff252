"""Migrations run when a server starts, never as a side effect of another ``flask``
command (issue 10 item 8): the real ``flask`` command, in subprocesses."""

import os
import re
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import backends
import pytest
from live import ROOT, _wait_ready, call

REVISION = re.compile(r"^[0-9a-f]{12}\b", re.MULTILINE)


@pytest.fixture
def flask_env(tmp_path):
    """Environment for ``flask --app api ...`` with its own instance folder and database."""
    with ExitStack() as stack:
        env = {
            **os.environ,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "FLASK_SECRET_KEY": "cli-test-" + "k" * 40,
            "FLASK_RATELIMIT_ENABLED": "false",
        }
        env.pop("DATABASE_URL", None)
        if backends.on_postgres():
            env["DATABASE_URL"] = stack.enter_context(backends.postgres_schema(tag="cli"))
        yield env


def flask(env, *args):
    """Run ``flask --app api ARGS``; its combined output."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "api", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout + done.stderr


def test_db_commands_do_only_what_they_say(flask_env):
    # a command that is not `db upgrade` leaves a fresh database unmigrated
    assert not REVISION.search(flask(flask_env, "db", "current"))
    flask(flask_env, "db", "upgrade")
    head = REVISION.search(flask(flask_env, "db", "heads")).group()
    assert REVISION.search(flask(flask_env, "db", "current")).group() == head
    flask(flask_env, "db", "downgrade", "base")
    # before: `db current` itself upgraded to head first, then reported it
    assert not REVISION.search(flask(flask_env, "db", "current"))
    flask(flask_env, "keys", "list")  # other commands do not migrate either
    assert not REVISION.search(flask(flask_env, "db", "current"))


@pytest.mark.live
def test_flask_run_migrates_on_start(flask_env):
    port = backends.free_port()
    flask(flask_env, "db", "downgrade", "base")
    log = Path(flask_env["INSTANCE_PATH"]).parent / "flask-run.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "api", "run", "--port", str(port)],
            cwd=ROOT,
            env=flask_env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process, log, timeout=60)
        body = {"username": "zed", "password": "correct horse battery"}
        assert call(base, "POST", "/auth/register", body)[0] == 201
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert REVISION.search(flask(flask_env, "db", "current"))
