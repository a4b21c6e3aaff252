"""A Python client generated from the committed spec, used against a live server."""

import importlib

import pytest
from clientkit import SDK_PACKAGE
from helpers import PASSWORD

pytestmark = pytest.mark.live

# module under api/ -> the operations of that tag, named from the spec's operationIds
OPERATIONS = {
    "auth": {"register", "login", "refresh", "logout"},
    "users": {"get_me", "change_password", "list_users", "delete_user"},
    "protected": {"get_protected"},
    "meta": {"get_health", "get_jwks"},
}
MODELS = {
    "Health", "Jwk", "Jwks", "Login", "Logout", "PaginationMetadata", "PasswordChange",
    "Problem", "ProblemErrors", "Protected", "Register", "TokenPair", "User",
}  # fmt: skip


@pytest.fixture(scope="module")
def sdk(sdk_path):
    return importlib.import_module(SDK_PACKAGE)


def test_names_are_idiomatic(sdk, sdk_path):
    api = sdk_path / SDK_PACKAGE / "api"
    generated = {
        tag.name: {module.stem for module in tag.glob("*.py") if module.stem != "__init__"}
        for tag in api.iterdir()
        if tag.is_dir() and not tag.name.startswith("__")
    }
    assert generated == OPERATIONS
    models = importlib.import_module(f"{SDK_PACKAGE}.models")
    assert set(models.__all__) == MODELS


@pytest.mark.parametrize("model", ["User", "TokenPair", "Protected", "Problem"])
def test_response_fields_are_required_not_optional(sdk, model):
    models = importlib.import_module(f"{SDK_PACKAGE}.models")
    with pytest.raises(KeyError):
        getattr(models, model).from_dict({})


def test_session_with_the_generated_client(sdk, live_server):
    from jwt_auth_api_client import AuthenticatedClient, Client
    from jwt_auth_api_client.api.auth import login, logout, refresh, register
    from jwt_auth_api_client.api.protected import get_protected
    from jwt_auth_api_client.api.users import get_me
    from jwt_auth_api_client.models import Login, Problem, ProblemErrors, Register, TokenPair, User

    def authed(token):
        return AuthenticatedClient(base_url=live_server, token=token)

    with Client(base_url=live_server) as anonymous:
        user = register.sync(
            client=anonymous, body=Register(username="sdk_user", password=PASSWORD)
        )
        assert isinstance(user, User)
        assert (user.username, user.roles) == ("sdk_user", ["user"])

        invalid = register.sync_detailed(
            client=anonymous, body=Register(username="x", password="short")
        )
        assert invalid.status_code == 422
        assert isinstance(invalid.parsed, Problem)
        assert isinstance(invalid.parsed.errors, ProblemErrors)
        assert set(invalid.parsed.errors.additional_properties) == {"username", "password"}

        wrong = login.sync_detailed(
            client=anonymous, body=Login(username="sdk_user", password="x" * 12)
        )
        assert wrong.status_code == 401
        assert isinstance(wrong.parsed, Problem)
        assert wrong.parsed.status == 401
        assert wrong.headers["WWW-Authenticate"].startswith("Bearer")

        no_token = get_protected.sync_detailed(client=anonymous)
        assert (no_token.status_code, type(no_token.parsed)) == (401, Problem)

        pair = login.sync(client=anonymous, body=Login(username="sdk_user", password=PASSWORD))
    assert isinstance(pair, TokenPair)
    assert (pair.token_type, pair.expires_in) == ("Bearer", 900)

    with authed(pair.access_token) as api:
        assert get_protected.sync(client=api).username == "sdk_user"
        me = get_me.sync(client=api)
        assert (me.id, me.username) == (user.id, "sdk_user")

    with authed(pair.refresh_token) as api:
        new = refresh.sync(client=api)
    assert isinstance(new, TokenPair)
    assert new.refresh_token != pair.refresh_token

    with authed(new.access_token) as api:
        assert get_me.sync(client=api).username == "sdk_user"
        assert logout.sync_detailed(client=api).status_code == 204
        revoked = get_protected.sync_detailed(client=api)
    assert revoked.status_code == 401
    assert isinstance(revoked.parsed, Problem)
    assert revoked.parsed.detail == "Token has been revoked."

    with authed(new.refresh_token) as api:
        ended = refresh.sync(client=api)  # the session was logged out
    assert isinstance(ended, Problem)
    assert ended.status == 401
