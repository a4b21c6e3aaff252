"""OAuth 2 endpoints: token (RFC 6749), revocation (RFC 7009), introspection (RFC 7662),
discovery (RFC 8414, RFC 9728), and the resource_metadata of 401 challenges (RFC 9728 §5.1)."""

import base64
import json
import time

import pytest
from helpers import PASSWORD, bearer

from api import create_app
from api.oauth import clients

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def client_credentials(app):
    with app.app_context():
        client, secret = clients.create("resource-server")
        return client.client_id, secret


def basic(client_id, secret):
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def introspect(client, credentials, token, **form):
    headers = basic(*credentials) if credentials else {}
    return client.post("/oauth/introspect", data={"token": token, **form}, headers=headers)


def token(client, **form):
    return client.post("/oauth/token", data=form)


def assert_oauth_error(response, status, error):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert response.headers["Cache-Control"] == "no-store"
    return body


# --- token endpoint ---------------------------------------------------------------------


def test_password_grant_issues_a_working_pair(api, client):
    api.register()
    response = token(client, grant_type="password", username="alice", password=PASSWORD)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    pair = response.json
    assert set(pair) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert (pair["token_type"], pair["expires_in"]) == ("Bearer", 900)
    assert api.get("/protected", pair["access_token"]).json["username"] == "alice"


def test_refresh_grant_rotates_and_detects_reuse(api, client):
    pair = api.tokens()
    first = token(client, grant_type="refresh_token", refresh_token=pair["refresh_token"])
    assert first.status_code == 200, first.json
    assert api.get("/protected", first.json["access_token"]).status_code == 200
    reused = token(client, grant_type="refresh_token", refresh_token=pair["refresh_token"])
    assert "reuse" in assert_oauth_error(reused, 400, "invalid_grant")["error_description"]
    # the whole session ended: the pair from the first refresh is dead too
    assert api.get("/protected", first.json["access_token"]).status_code == 401
    again = token(client, grant_type="refresh_token", refresh_token=first.json["refresh_token"])
    assert_oauth_error(again, 400, "invalid_grant")


def test_refresh_grant_and_auth_refresh_share_rotation(api, client):
    pair = api.tokens()
    assert api.post("/auth/refresh", pair["refresh_token"]).status_code == 200
    reused = token(client, grant_type="refresh_token", refresh_token=pair["refresh_token"])
    assert_oauth_error(reused, 400, "invalid_grant")


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({}, 400, "invalid_request"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "code": "x"}, 400, "unsupported_grant_type"),
        ({"grant_type": "password", "username": "alice"}, 400, "invalid_request"),
        ({"grant_type": "password", "password": PASSWORD}, 400, "invalid_request"),
        ({"grant_type": "password", "username": "alice", "password": "wrong password!"},
         400, "invalid_grant"),
        ({"grant_type": "password", "username": "nobody", "password": PASSWORD},
         400, "invalid_grant"),
        ({"grant_type": "password", "username": "a" * 65, "password": PASSWORD},
         400, "invalid_request"),
        ({"grant_type": "password", "username": "nul\x00", "password": PASSWORD},
         400, "invalid_grant"),
        ({"grant_type": "refresh_token"}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "garbage"}, 400, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "x" * 9000}, 400, "invalid_request"),
    ],
)  # fmt: skip
def test_token_errors_are_rfc6749_json(api, client, form, status, error):
    api.register()
    assert_oauth_error(token(client, **form), status, error)


def test_unknown_user_and_wrong_password_look_the_same(api, client):
    api.register()
    wrong = token(client, grant_type="password", username="alice", password="wrong password!")
    unknown = token(client, grant_type="password", username="nobody", password="wrong password!")
    assert wrong.get_data() == unknown.get_data()


def test_an_access_token_is_not_a_refresh_grant(api, client):
    pair = api.tokens()
    response = token(client, grant_type="refresh_token", refresh_token=pair["access_token"])
    assert_oauth_error(response, 400, "invalid_grant")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps({"grant_type": "password"}), "application/json"),
        ("grant_type=password", "text/plain"),
        ("grant_type=password&grant_type=refresh_token", FORM),
        (b"\xff\xfe=\x00", FORM),
    ],
    ids=["json", "text", "repeated", "bytes"],
)
def test_malformed_token_requests(client, body, content_type):
    response = client.post("/oauth/token", data=body, content_type=content_type)
    assert_oauth_error(response, 400, "invalid_request")


def test_too_large_body_is_an_oauth_error(client):
    response = token(client, grant_type="password", username="alice", password="x" * 20_000)
    assert_oauth_error(response, 413, "invalid_request")


def test_password_grant_can_be_turned_off(config, api):
    config["OAUTH_PASSWORD_GRANT"] = False
    client = create_app(config).test_client()
    client.post("/auth/register", json={"username": "alice", "password": PASSWORD})
    response = token(client, grant_type="password", username="alice", password=PASSWORD)
    assert_oauth_error(response, 400, "unsupported_grant_type")
    metadata = client.get("/.well-known/oauth-authorization-server").json
    assert metadata["grant_types_supported"] == ["refresh_token"]


def test_password_grant_is_rate_limited_per_username(config):
    config.update(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_USERNAME="2 per minute")
    client = create_app(config).test_client()
    client.post("/auth/register", json={"username": "alice", "password": PASSWORD})
    statuses = [  # one account, one limit, however the name is written
        token(client, grant_type="password", username=name, password="wrong password!")
        for name in ("alice", "ALICE", "Alice")
    ]
    assert [r.status_code for r in statuses] == [400, 400, 429]
    limited = assert_oauth_error(statuses[-1], 429, "invalid_request")
    assert "Retry-After" in statuses[-1].headers
    assert "many" in limited["error_description"].lower()
    # the right password is refused as well while the limit holds
    right = token(client, grant_type="password", username="alice", password=PASSWORD)
    assert right.status_code == 429


def test_refresh_grant_shares_the_per_session_refresh_limit(config):
    """/oauth/token cannot refresh a session past RATELIMIT_REFRESH that /auth/refresh keeps."""
    config.update(RATELIMIT_ENABLED=True, RATELIMIT_REFRESH="3 per minute")
    client = create_app(config).test_client()
    client.post("/auth/register", json={"username": "alice", "password": PASSWORD})
    refresh = client.post("/auth/login", json={"username": "alice", "password": PASSWORD}).json[
        "refresh_token"
    ]
    answered = client.post("/auth/refresh", headers=bearer(refresh))
    assert answered.status_code == 200
    refresh = answered.json["refresh_token"]
    for _ in range(2):
        answered = token(client, grant_type="refresh_token", refresh_token=refresh)
        assert answered.status_code == 200, answered.json
        refresh = answered.json["refresh_token"]
    limited = token(client, grant_type="refresh_token", refresh_token=refresh)
    assert_oauth_error(limited, 429, "invalid_request")
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert client.post("/auth/refresh", headers=bearer(refresh)).status_code == 429
    # nothing was spent by the refused attempts: the session's token is still the live one
    config["RATELIMIT_ENABLED"] = False
    unlimited = create_app(config).test_client()
    assert unlimited.post("/auth/refresh", headers=bearer(refresh)).status_code == 200


def test_an_untrusted_host_is_refused_in_rfc_6749_form(config):
    """FLASK_TRUSTED_HOSTS: refused before routing, still an OAuth error on /oauth/*."""
    config["TRUSTED_HOSTS"] = ["api.example.com"]
    client = create_app(config).test_client()
    evil = {"Host": "evil.example"}
    refused = client.post("/oauth/token", data={"grant_type": "password"}, headers=evil)
    assert_oauth_error(refused, 400, "invalid_request")
    assert client.get("/.well-known/oauth-protected-resource", headers=evil).status_code == 400
    metadata = client.get(
        "/.well-known/oauth-protected-resource", headers={"Host": "api.example.com"}
    )
    assert metadata.json["resource"].startswith("http://api.example.com")


def test_password_grant_is_audited(api, client, caplog):
    import logging

    api.register()
    caplog.set_level(logging.INFO, logger="api.audit")
    caplog.clear()
    token(client, grant_type="password", username="alice", password="wrong password!")
    token(client, grant_type="password", username="alice", password=PASSWORD)
    events = [r.audit["event"] for r in caplog.records if r.name == "api.audit"]
    assert events == ["login.failure", "login.success"]


# --- revocation -------------------------------------------------------------------------


def test_revoking_an_access_token(api, client):
    pair = api.tokens()
    response = client.post("/oauth/revoke", data={"token": pair["access_token"]})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert api.get("/protected", pair["access_token"]).status_code == 401
    # only that access token: the session's refresh token still works
    assert api.post("/auth/refresh", pair["refresh_token"]).status_code == 200


def test_revoking_a_refresh_token_ends_its_session(api, client):
    pair = api.tokens()
    other = api.login().json
    response = client.post(
        "/oauth/revoke", data={"token": pair["refresh_token"], "token_type_hint": "refresh_token"}
    )
    assert response.status_code == 200
    assert api.get("/protected", pair["access_token"]).status_code == 401
    assert api.post("/auth/refresh", pair["refresh_token"]).status_code == 401
    assert api.get("/protected", other["access_token"]).status_code == 200


@pytest.mark.parametrize(
    "value", ["garbage", "x" * 8192, "eyJhbGciOiJub25lIn0.e30.", "a.b.c", "\x00"]
)
def test_revoking_anything_else_is_200(client, value):
    assert client.post("/oauth/revoke", data={"token": value}).status_code == 200


def test_revoke_needs_a_token(client):
    assert_oauth_error(client.post("/oauth/revoke", data={}), 400, "invalid_request")


# --- introspection ----------------------------------------------------------------------


def test_introspect_active_access_token(api, client, client_credentials):
    pair = api.tokens()
    response = introspect(client, client_credentials, pair["access_token"])
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["active"] is True
    assert (body["sub"], body["username"], body["token_type"]) == ("1", "alice", "Bearer")
    assert (body["iss"], body["aud"]) == ("jwt-auth-api", "jwt-auth-api")
    assert (body["scope"], body["roles"]) == ("user", ["user"])
    assert body["exp"] > time.time() >= body["iat"]
    assert len(body["jti"]) == 36


@pytest.mark.parametrize(
    "which",
    [
        "logged out",
        "revoked",
        "refresh token",
        "garbage",
        "expired",
        "deleted user",
        "unknown kid",
        "known kid, other key",
    ],
)
def test_introspect_inactive(api, client, client_credentials, admin_token, config, which):
    pair = api.tokens()
    value = pair["access_token"]
    if which == "logged out":
        assert api.post("/auth/logout", value).status_code == 204
    elif which == "revoked":
        client.post("/oauth/revoke", data={"token": pair["refresh_token"]})
    elif which == "refresh token":
        value = pair["refresh_token"]
    elif which == "garbage":
        value = "not-a-token"
    elif which == "expired":
        value = _expired_access_token(config)
    elif which == "deleted user":
        assert client.delete("/users/2", headers=bearer(admin_token)).status_code == 204
    elif which in ("unknown kid", "known kid, other key"):
        value = _signed_elsewhere(config, value, keep_kid=which.startswith("known"))
    response = introspect(client, client_credentials, value)
    assert response.status_code == 200
    assert response.json == {"active": False}


def _signed_elsewhere(config, token, *, keep_kid):
    """The same claims, signed by another instance's key (its own kid, or the real one)."""
    import jwt
    from flask_jwt_extended import create_access_token

    from api.tokens import signing

    claims = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]
    other = create_app({**config, "INSTANCE_PATH": config["INSTANCE_PATH"] + "-other"})
    with other.test_request_context():
        key = signing.signing_key()
        assert key.kid != kid
        extra = {name: claims[name] for name in ("fam", "preferred_username", "roles")}
        return create_access_token(
            claims["sub"],
            additional_claims=extra,
            additional_headers={"kid": kid if keep_kid else key.kid, "typ": "at+jwt"},
        )


def _expired_access_token(config):
    from flask_jwt_extended import create_access_token

    from api.tokens import signing

    app = create_app({**config, "JWT_ACCESS_TOKEN_EXPIRES": -10})
    with app.test_request_context():
        key = signing.signing_key()
        return create_access_token(
            "1",
            additional_claims={"fam": "f"},
            additional_headers={"kid": key.kid, "typ": "at+jwt"},
        )


@pytest.mark.parametrize(
    "credentials", ["none", "wrong secret", "unknown client", "bearer", "garbage basic"]
)
def test_introspect_needs_client_credentials(api, client, client_credentials, credentials):
    pair = api.tokens()
    client_id, secret = client_credentials
    headers = {
        "none": {},
        "wrong secret": basic(client_id, secret + "x"),
        "unknown client": basic("0" * 32, secret),
        "bearer": bearer(pair["access_token"]),
        "garbage basic": {"Authorization": "Basic !!!"},
    }[credentials]
    response = client.post(
        "/oauth/introspect", data={"token": pair["access_token"]}, headers=headers
    )
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_introspection_is_rate_limited_per_client(config):
    config.update(RATELIMIT_ENABLED=True, RATELIMIT_INTROSPECT="2 per minute")
    app = create_app(config)
    with app.app_context():
        first, first_secret = clients.create("one")
        second, second_secret = clients.create("two")
        first, second = first.client_id, second.client_id
    client = app.test_client()
    statuses = [introspect(client, (first, first_secret), "x").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert introspect(client, (second, second_secret), "x").status_code == 200
    assert_oauth_error(introspect(client, (first, first_secret), "x"), 429, "invalid_request")


def test_introspection_limit_is_not_spent_from_another_address(config):
    """A client id is not a secret: calls claiming it from elsewhere spend their own budget."""
    config.update(RATELIMIT_ENABLED=True, RATELIMIT_INTROSPECT="2 per minute")
    app = create_app(config)
    with app.app_context():
        made, secret = clients.create("billing")
        client_id = made.client_id
    client = app.test_client()
    elsewhere = {"REMOTE_ADDR": "203.0.113.9"}
    attempts = [
        client.post(
            "/oauth/introspect",
            data={"token": "x"},
            headers=basic(client_id, "guess"),
            environ_overrides=elsewhere,
        ).status_code
        for _ in range(3)
    ]
    assert attempts == [401, 401, 429]
    assert introspect(client, (client_id, secret), "x").status_code == 200


def test_deleted_client_is_refused(app, client, client_credentials):
    with app.app_context():
        clients.remove(client_credentials[0])
    assert_oauth_error(introspect(client, client_credentials, "x"), 401, "invalid_client")


# --- discovery --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "headers", "base"),
    [
        ("0", {}, "http://localhost"),
        ("0", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"},
         "http://localhost"),
        ("1", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"},
         "https://api.example.com"),
        ("1", {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com",
               "X-Forwarded-Prefix": "/auth"}, "https://api.example.com/auth"),
    ],
    ids=["direct", "untrusted-headers", "behind-proxy", "behind-proxy-with-prefix"],
)  # fmt: skip
def test_metadata_urls_are_absolute(monkeypatch, config, trusted, headers, base):
    monkeypatch.setenv("FLASK_TRUSTED_PROXIES", trusted)
    client = create_app(config).test_client()
    server = client.get("/.well-known/oauth-authorization-server", headers=headers)
    assert server.status_code == 200
    assert server.json == {
        "issuer": base,
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "introspection_endpoint": f"{base}/oauth/introspect",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": ["password", "refresh_token"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "service_documentation": f"{base}/docs",
    }
    resource = client.get("/.well-known/oauth-protected-resource", headers=headers).json
    assert resource == {
        "resource": base,
        "authorization_servers": [base],
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "bearer_methods_supported": ["header"],
        "resource_documentation": f"{base}/docs",
    }
    challenge = client.get("/protected", headers=headers).headers["WWW-Authenticate"]
    assert f'resource_metadata="{base}/.well-known/oauth-protected-resource"' in challenge


def test_issuer_is_the_configured_one_when_it_is_a_url(config):
    config.update(
        JWT_ENCODE_ISSUER="https://auth.example.com", JWT_DECODE_ISSUER="https://auth.example.com"
    )
    client = create_app(config).test_client()
    assert client.get("/.well-known/oauth-authorization-server").json["issuer"] == (
        "https://auth.example.com"
    )
    resource = client.get("/.well-known/oauth-protected-resource").json
    assert resource["authorization_servers"] == ["https://auth.example.com"]


@pytest.mark.parametrize(
    ("path", "token_kind"),
    [("/protected", None), ("/protected", "garbage"), ("/users", "user"), ("/users/me", "expired")],
)
def test_bearer_challenges_carry_resource_metadata(api, config, path, token_kind):
    value = {
        None: None,
        "garbage": "garbage",
        "user": api.tokens()["access_token"] if token_kind == "user" else None,
        "expired": _expired_access_token(config) if token_kind == "expired" else None,
    }[token_kind]
    response = api.get(path, value)
    assert response.status_code in (401, 403)
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'resource_metadata="http://localhost/.well-known/oauth-protected-resource"' in challenge


def test_a_host_header_cannot_break_out_of_the_challenge(client):
    response = client.get("/protected", headers={"Host": 'evil", error="x'})
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.count('"') % 2 == 0
    assert 'error="x' not in challenge


def test_password_grant_refuses_accounts_with_a_second_factor(api, client, app):
    """No way around TOTP: the grant has no second step, so it says where to log in."""
    from api.core.extensions import db
    from api.users import service as users

    api.register()
    with app.app_context():
        user = users.get(1)
        user.mfa_enabled = True
        db.session.commit()
    response = token(client, grant_type="password", username="alice", password=PASSWORD)
    body = assert_oauth_error(response, 400, "invalid_grant")
    assert "two-factor" in body["error_description"]
    wrong = token(client, grant_type="password", username="alice", password="wrong password!")
    assert "two-factor" not in assert_oauth_error(wrong, 400, "invalid_grant")["error_description"]
