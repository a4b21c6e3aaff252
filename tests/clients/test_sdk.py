"""A Python client generated from the committed spec, used against a live server."""

import importlib
import time

import pytest
from clientkit import SDK_PACKAGE
from helpers import PASSWORD

pytestmark = pytest.mark.live

# module under api/ -> the operations of that tag, named from the spec's operationIds
OPERATIONS = {
    "auth": {"register", "login", "verify_mfa", "refresh", "logout"},
    "users": {"get_me", "change_password", "list_users", "delete_user"},
    "mfa": {"enroll_totp", "confirm_totp", "disable_totp", "regenerate_recovery_codes"},
    "protected": {"get_protected"},
    "meta": {"get_health", "get_jwks", "get_livez", "get_readyz"},
    "sessions": {
        "list_my_sessions", "delete_my_other_sessions", "delete_my_session",
        "list_user_sessions", "delete_user_sessions",
    },
    "oauth": {
        "request_token", "revoke_token", "introspect_token",
        "get_authorization_server_metadata", "get_protected_resource_metadata",
    },
}  # fmt: skip
MODELS = {
    "Health", "Jwk", "Jwks", "Login", "Logout", "PaginationMetadata", "PasswordChange",
    "Problem", "ProblemErrors", "Protected", "Register", "TokenPair", "User",
    "LoginTokens", "MfaChallenge", "MfaLogin", "Password", "Enrolment", "Code",
    "SecondFactor", "RecoveryCodes",
    "AuthorizationServer", "Introspection", "OAuthError", "OAuthErrorError", "ProtectedResource",
    "TokenParameter", "TokenRequest", "TokenRequestGrantType", "TokenResponse", "Session",
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


@pytest.mark.parametrize(
    "model", ["User", "TokenPair", "LoginTokens", "MfaChallenge", "Protected", "Problem"]
)
def test_response_fields_are_required_not_optional(sdk, model):
    models = importlib.import_module(f"{SDK_PACKAGE}.models")
    with pytest.raises(KeyError):
        getattr(models, model).from_dict({})


def test_session_with_the_generated_client(sdk, live_server):
    from jwt_auth_api_client import AuthenticatedClient, Client
    from jwt_auth_api_client.api.auth import login, logout, refresh, register
    from jwt_auth_api_client.api.protected import get_protected
    from jwt_auth_api_client.api.users import get_me
    from jwt_auth_api_client.models import (
        Login,
        LoginTokens,
        Problem,
        ProblemErrors,
        Register,
        TokenPair,
        User,
    )

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
    assert isinstance(pair, LoginTokens)
    assert (pair.token_type, pair.expires_in, pair.mfa_required) == ("Bearer", 900, False)

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


def test_two_factor_login_with_the_generated_client(sdk, live_server):
    """Enrol, confirm, then log in in two steps: login answers an MfaChallenge."""
    import pyotp
    from jwt_auth_api_client import AuthenticatedClient, Client
    from jwt_auth_api_client.api.auth import login, register, verify_mfa
    from jwt_auth_api_client.api.mfa import confirm_totp, disable_totp, enroll_totp
    from jwt_auth_api_client.api.protected import get_protected
    from jwt_auth_api_client.api.users import get_me
    from jwt_auth_api_client.models import (
        Code,
        Enrolment,
        Login,
        LoginTokens,
        MfaChallenge,
        MfaLogin,
        Password,
        Problem,
        RecoveryCodes,
        Register,
        SecondFactor,
        TokenPair,
    )

    credentials = Login(username="sdk_mfa", password=PASSWORD)
    with Client(base_url=live_server) as anonymous:
        register.sync(client=anonymous, body=Register(username="sdk_mfa", password=PASSWORD))
        first = login.sync(client=anonymous, body=credentials)
    assert isinstance(first, LoginTokens)

    with AuthenticatedClient(base_url=live_server, token=first.access_token) as api:
        enrolment = enroll_totp.sync(client=api, body=Password(password=PASSWORD))
        assert isinstance(enrolment, Enrolment)
        totp = pyotp.TOTP(enrolment.secret)
        step = int(time.time() // 30)
        # this step's code confirms; the next step's (one step of skew) logs in below
        codes = confirm_totp.sync(client=api, body=Code(code=totp.generate_otp(step)))
        assert isinstance(codes, RecoveryCodes) and len(codes.recovery_codes) == 10
        assert get_me.sync(client=api).mfa_enabled is True

    with Client(base_url=live_server) as anonymous:
        challenge = login.sync(client=anonymous, body=credentials)
        assert isinstance(challenge, MfaChallenge)
        assert challenge.mfa_required is True and challenge.expires_in == 300
        wrong = verify_mfa.sync_detailed(
            client=anonymous,
            body=MfaLogin(mfa_token=challenge.mfa_token, recovery_code="nope0-nope0"),
        )
        assert (wrong.status_code, type(wrong.parsed)) == (401, Problem)
        pair = verify_mfa.sync(
            client=anonymous,
            body=MfaLogin(mfa_token=challenge.mfa_token, code=totp.generate_otp(step + 1)),
        )
    assert isinstance(pair, TokenPair)

    with AuthenticatedClient(base_url=live_server, token=pair.access_token) as api:
        assert get_protected.sync(client=api).username == "sdk_mfa"
        off = disable_totp.sync_detailed(
            client=api, body=SecondFactor(recovery_code=codes.recovery_codes[0])
        )
        assert off.status_code == 204
    with Client(base_url=live_server) as anonymous:
        assert isinstance(login.sync(client=anonymous, body=credentials), LoginTokens)


def test_token_endpoint_with_the_generated_client(sdk, live_server):
    """OAuth 2 password and refresh grants, revocation and discovery through the SDK."""
    from jwt_auth_api_client import AuthenticatedClient, Client
    from jwt_auth_api_client.api.auth import register
    from jwt_auth_api_client.api.oauth import (
        get_authorization_server_metadata,
        request_token,
        revoke_token,
    )
    from jwt_auth_api_client.api.protected import get_protected
    from jwt_auth_api_client.models import (
        OAuthError,
        OAuthErrorError,
        Register,
        TokenParameter,
        TokenRequest,
        TokenRequestGrantType,
        TokenResponse,
    )

    with Client(base_url=live_server) as anonymous:
        register.sync(client=anonymous, body=Register(username="sdk_oauth", password=PASSWORD))
        metadata = get_authorization_server_metadata.sync(client=anonymous)
        assert metadata.token_endpoint == f"{live_server}/oauth/token"

        wrong = request_token.sync(
            client=anonymous,
            body=TokenRequest(
                grant_type=TokenRequestGrantType.PASSWORD, username="sdk_oauth", password="x" * 12
            ),
        )
        assert isinstance(wrong, OAuthError)
        assert wrong.error == OAuthErrorError.INVALID_GRANT

        pair = request_token.sync(
            client=anonymous,
            body=TokenRequest(
                grant_type=TokenRequestGrantType.PASSWORD, username="sdk_oauth", password=PASSWORD
            ),
        )
        assert isinstance(pair, TokenResponse)
        assert (pair.token_type, pair.expires_in) == ("Bearer", 900)

        renewed = request_token.sync(
            client=anonymous,
            body=TokenRequest(
                grant_type=TokenRequestGrantType.REFRESH_TOKEN, refresh_token=pair.refresh_token
            ),
        )
        assert isinstance(renewed, TokenResponse)
        with AuthenticatedClient(base_url=live_server, token=renewed.access_token) as api:
            assert get_protected.sync(client=api).username == "sdk_oauth"

        revoked = revoke_token.sync_detailed(
            client=anonymous, body=TokenParameter(token=renewed.refresh_token)
        )
        assert revoked.status_code == 200
        with AuthenticatedClient(base_url=live_server, token=renewed.access_token) as api:
            assert get_protected.sync_detailed(client=api).status_code == 401


def test_sessions_with_the_generated_client(sdk, live_server):
    """List my sessions, end one, and sign out everywhere else, through the SDK."""
    import uuid

    from jwt_auth_api_client import AuthenticatedClient, Client
    from jwt_auth_api_client.api.auth import login, register
    from jwt_auth_api_client.api.protected import get_protected
    from jwt_auth_api_client.api.sessions import (
        delete_my_other_sessions,
        delete_my_session,
        list_my_sessions,
    )
    from jwt_auth_api_client.models import Login, Problem, Register, Session

    credentials = Login(username="sdk_sessions", password=PASSWORD)
    with Client(base_url=live_server, headers={"User-Agent": "sdk-test/1"}) as anonymous:
        register.sync(client=anonymous, body=Register(username="sdk_sessions", password=PASSWORD))
        pairs = [login.sync(client=anonymous, body=credentials) for _ in range(3)]
    with AuthenticatedClient(base_url=live_server, token=pairs[-1].access_token) as api:
        listed = list_my_sessions.sync(client=api)
        assert all(isinstance(item, Session) for item in listed)
        assert [item.current for item in listed] == [True, False, False]
        assert {item.user_agent for item in listed} == {"sdk-test/1"}
        oldest = listed[-1]
        assert delete_my_session.sync_detailed(client=api, session_id=oldest.id).status_code == 204
        gone = delete_my_session.sync(client=api, session_id=oldest.id)
        assert isinstance(gone, Problem) and gone.status == 404
        unknown = delete_my_session.sync(client=api, session_id=uuid.uuid4())
        assert isinstance(unknown, Problem) and unknown.status == 404
        assert len(list_my_sessions.sync(client=api)) == 2
        assert delete_my_other_sessions.sync_detailed(client=api).status_code == 204
        assert [item.current for item in list_my_sessions.sync(client=api)] == [True]
        assert get_protected.sync(client=api).username == "sdk_sessions"
    with AuthenticatedClient(base_url=live_server, token=pairs[0].access_token) as api:
        assert get_protected.sync_detailed(client=api).status_code == 401
