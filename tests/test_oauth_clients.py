"""``flask clients create | list | delete`` and how client secrets are kept."""

import json

import pytest

from api.core.extensions import db
from api.oauth import clients


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def create(runner, name="billing"):
    result = runner.invoke(args=["clients", "create", name])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_create_prints_id_and_secret_once_as_json(runner, app):
    created = create(runner)
    assert set(created) == {"client_id", "client_secret"}
    assert len(created["client_id"]) == 32 and not created["client_id"].startswith("-")
    assert len(created["client_secret"]) >= 43  # 256 bits, base64url
    listing = runner.invoke(args=["clients", "list"]).output
    assert created["client_id"] in listing and "billing" in listing
    assert created["client_secret"] not in listing
    with app.app_context():
        stored = db.session.get(clients.OAuthClient, created["client_id"])
        assert created["client_secret"] not in stored.secret_hash
        assert stored.secret_hash == clients.hash_secret(
            created["client_id"], created["client_secret"]
        )


def test_two_clients_get_different_credentials(runner):
    first, second = create(runner, "a"), create(runner, "b")
    assert first["client_id"] != second["client_id"]
    assert first["client_secret"] != second["client_secret"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "tab\there"])
def test_create_refuses_bad_names(runner, name):
    result = runner.invoke(args=["clients", "create", name])
    assert result.exit_code == 2
    assert "NAME" in result.output


def test_delete(runner, app):
    created = create(runner)
    result = runner.invoke(args=["clients", "delete", created["client_id"]])
    assert result.exit_code == 0, result.output
    assert created["client_id"] not in runner.invoke(args=["clients", "list"]).output
    with app.app_context():
        assert clients.authenticate(created["client_id"], created["client_secret"]) is None
    again = runner.invoke(args=["clients", "delete", created["client_id"]])
    assert again.exit_code == 1 and "no client" in again.output


@pytest.mark.parametrize(
    ("which", "accepted"),
    [("right", True), ("wrong secret", False), ("unknown id", False), ("nul id", False),
     ("long id", False), ("other client's secret", False)],
)  # fmt: skip
def test_authenticate(runner, app, which, accepted):
    mine, other = create(runner, "mine"), create(runner, "other")
    client_id, secret = {
        "right": (mine["client_id"], mine["client_secret"]),
        "wrong secret": (mine["client_id"], mine["client_secret"][::-1]),
        "unknown id": ("0" * 32, mine["client_secret"]),
        "nul id": ("\x00", mine["client_secret"]),
        "long id": ("a" * 10_000, mine["client_secret"]),
        "other client's secret": (mine["client_id"], other["client_secret"]),
    }[which]
    with app.app_context():
        found = clients.authenticate(client_id, secret)
    assert (found is not None) is accepted
    if accepted:
        assert found.name == "mine"
