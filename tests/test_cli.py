"""Operator commands: users, keys, tokens."""

import contextlib

import backends
import pytest
from helpers import close_app

from api.core import config as app_config


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def test_users_create_from_stdin(runner, api):
    result = runner.invoke(
        args=["users", "create", "ops", "--admin"], input="an operator password\n"
    )
    assert result.exit_code == 0, result.output
    assert "roles: user, admin" in result.output
    token = api.login("ops", "an operator password").json["access_token"]
    assert api.get("/users", token).status_code == 200


def test_users_create_rejects_weak_password(runner):
    result = runner.invoke(args=["users", "create", "ops"], input="short\n")
    assert result.exit_code == 2
    assert "password" in result.output


def test_users_create_duplicate(runner):
    runner.invoke(args=["users", "create", "ops"], input="an operator password\n")
    result = runner.invoke(args=["users", "create", "ops"], input="an operator password\n")
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_keys_rotate_list_retire(runner, app):
    first = runner.invoke(args=["keys", "list"]).output.split()
    old = first[1]
    rotated = runner.invoke(args=["keys", "rotate"])
    new = rotated.output.split()[-1]
    listing = runner.invoke(args=["keys", "list"]).output
    assert f"* {new}" in listing and f"  {old}" in listing
    refused = runner.invoke(args=["keys", "retire", new])
    assert refused.exit_code == 1 and "current" in refused.output
    assert runner.invoke(args=["keys", "retire", old]).exit_code == 0
    assert old not in runner.invoke(args=["keys", "list"]).output
    assert runner.invoke(args=["keys", "retire", "nope"]).exit_code == 1


def test_keys_commands_refuse_hs256(config):
    from api import create_app

    config.update(JWT_ALGORITHM="HS256", JWT_SECRET_KEY="s" * 40 + "-random-bytes")
    result = create_app(config).test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 1 and "HS256" in result.output


def test_tokens_purge(runner):
    result = runner.invoke(args=["tokens", "purge"])
    assert result.exit_code == 0
    assert "purged 0" in result.output


def test_keys_retire_takes_a_kid_that_starts_with_a_dash(runner, app, monkeypatch):
    """A base64url thumbprint may start with '-': it is still the KID, not an option."""
    from api.tokens.keys import KeyDirectory

    retired = []
    monkeypatch.setattr(KeyDirectory, "retire", lambda self, kid: retired.append(kid))
    result = runner.invoke(args=["keys", "retire", "-abc_DEF"])
    assert result.exit_code == 0, result.output
    assert retired == ["-abc_DEF"]


@pytest.mark.parametrize(
    "args",
    [["users", "create", "ops"], ["clients", "create", "rs"], ["clients", "list"],
     ["clients", "delete", "x"]],
    ids=" ".join,
)  # fmt: skip
def test_commands_on_an_unmigrated_database_say_what_to_run(config, args):
    """Not a traceback: the database has no tables yet (no server has started on it)."""
    from api import create_app

    config["AUTO_MIGRATE"] = False
    with contextlib.ExitStack() as cleanup:
        if backends.on_postgres():  # the session's schema is migrated: an empty one of its own
            url = cleanup.enter_context(backends.postgres_schema(tag="unmigrated"))
            config["SQLALCHEMY_DATABASE_URI"] = app_config._sqlalchemy_url(url)
        app = create_app(config)
        cleanup.callback(close_app, app)
        result = app.test_cli_runner().invoke(args=args, input="an operator password\n")
    assert result.exit_code == 1, result.output
    assert "is at no revision" in result.output
    assert "run `flask --app api db upgrade` first" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
