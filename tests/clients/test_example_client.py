"""examples/client.py: the generated SDK with auto-refresh, against a live server."""

import importlib
import os
import subprocess
import sys
import time

import pytest
from helpers import PASSWORD
from live import ROOT, call, gunicorn

pytestmark = pytest.mark.live

ACCESS_SECONDS = 2


@pytest.fixture(scope="module")
def short_lived_server(tmp_path_factory):
    """A server whose access tokens expire after two seconds."""
    env = {"FLASK_JWT_ACCESS_TOKEN_EXPIRES": str(ACCESS_SECONDS)}
    with gunicorn(tmp_path_factory.mktemp("example") / "instance", env=env) as base:
        status, _, _ = call(
            base, "POST", "/auth/register", {"username": "bob", "password": PASSWORD}
        )
        assert status == 201
        yield base


@pytest.fixture(scope="module")
def example(sdk_path):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        yield importlib.import_module("client")
    finally:
        sys.path.remove(str(ROOT / "examples"))
        sys.modules.pop("client", None)


def test_session_refreshes_on_401_and_logs_out(example, short_lived_server):
    from jwt_auth_api_client.api.protected import get_protected
    from jwt_auth_api_client.api.users import get_me

    with example.Session(short_lived_server, "bob", PASSWORD) as session:
        assert session.call(get_me).username == "bob"
        time.sleep(ACCESS_SECONDS + 1)  # the access token expires: the next call gets 401
        assert session.call(get_protected).username == "bob"
        assert session.refreshes == 1
        access = session._client.token
    # logged out on exit: that access token is revoked
    status, _, problem = call(short_lived_server, "GET", "/protected", token=access)
    assert (status, problem["detail"]) == (401, "Token has been revoked.")


def test_wrong_password_is_a_typed_error(example, short_lived_server):
    with (
        pytest.raises(example.ApiError) as raised,
        example.Session(short_lived_server, "bob", "x" * 12),
    ):
        pass
    assert raised.value.problem.status == 401


def test_script(sdk_path, short_lived_server):
    env = {**os.environ, "PYTHONPATH": str(sdk_path), "API_PASSWORD": PASSWORD}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "client.py"), short_lived_server, "bob"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("logged in as bob (id 1, roles: user)")
    assert lines[1:] == ["Hello, bob!", "logged out"]
