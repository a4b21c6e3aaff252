"""The verified-token cache: a token's signature is checked once, nothing else is skipped."""

import time

import pytest
from helpers import PASSWORD, Api, assert_challenge, assert_problem

from api import create_app
from api.tokens.keys import KeyDirectory
from api.tokens.verified import VerifiedTokens


def cache_of(app):
    return app.extensions["verified_tokens"]


def bearer(token):
    return f"Bearer {token}"


def test_second_use_is_served_from_the_cache_with_the_same_claims(app, api):
    token = api.tokens()["access_token"]
    first = api.get("/users/me", token)
    assert bearer(token) in cache_of(app)
    second = api.get("/users/me", token)  # the claims on a cache hit
    assert first.status_code == second.status_code == 200
    assert second.json == first.json
    assert api.get("/protected", token).json["username"] == "alice"


def test_cached_token_is_refused_once_revoked(app, api):
    token = api.tokens()["access_token"]
    assert api.get("/protected", token).status_code == 200
    assert api.post("/auth/logout", token).status_code == 204
    assert bearer(token) in cache_of(app)  # still cached: revocation is checked per request
    assert_challenge(api.get("/protected", token))


def test_revocation_on_another_worker_is_honoured_on_the_next_request(config):
    """Two apps on one instance folder and database are two workers."""
    worker_a = Api(create_app(config).test_client())
    worker_b = Api(create_app(config).test_client())
    token = worker_a.tokens()["access_token"]
    assert worker_a.get("/protected", token).status_code == 200
    assert worker_a.get("/protected", token).status_code == 200  # a cache hit
    assert worker_b.post("/auth/logout", token).status_code == 204
    assert_challenge(worker_a.get("/protected", token))


def test_cached_token_is_refused_once_expired(config):
    config["JWT_ACCESS_TOKEN_EXPIRES"] = 1
    app = create_app(config)
    api = Api(app.test_client())
    token = api.tokens()["access_token"]
    assert api.get("/protected", token).status_code == 200
    assert bearer(token) in cache_of(app)
    time.sleep(2.05)  # exp is in whole seconds
    body = assert_challenge(api.get("/protected", token))
    assert "expired" in body["detail"].lower()
    assert bearer(token) not in cache_of(app)


def test_cached_token_is_refused_once_its_key_is_retired(app, api, monkeypatch):
    monkeypatch.setattr("api.tokens.keys.RELOAD_SECONDS", 0.0)
    token = api.tokens()["access_token"]
    assert api.get("/protected", token).status_code == 200
    directory = KeyDirectory(app.config["KEYS_DIR"])
    old = directory.current_kid()
    directory.rotate("EdDSA")
    directory.retire(old)
    assert bearer(token) in cache_of(app)
    assert_challenge(api.get("/protected", token))
    assert bearer(token) not in cache_of(app)


def test_tampered_token_bytes_never_reach_the_cache(app, api):
    token = api.tokens()["access_token"]
    assert api.get("/protected", token).status_code == 200
    size = len(cache_of(app))
    head, payload, signature = token.split(".")
    flipped = "A" if signature[5] != "A" else "B"
    tampered = [
        f"{head}.{payload}.{signature[:5]}{flipped}{signature[6:]}",
        f"{head}.{payload[:-2]}{'x' if payload[-2] != 'x' else 'y'}{payload[-1]}.{signature}",
        token + "x",
        f"{head}.{payload}.",
    ]
    for bad in tampered:
        for _ in range(2):
            response = api.client.get("/protected", headers={"Authorization": bearer(bad)})
            assert response.status_code in (400, 401), bad
        assert bearer(bad) not in cache_of(app)
    assert len(cache_of(app)) == size


def test_token_type_and_freshness_are_checked_on_a_hit(app, api):
    pair = api.tokens()
    refreshed = api.post("/auth/refresh", pair["refresh_token"]).json
    assert bearer(pair["refresh_token"]) in cache_of(app)
    assert_challenge(api.get("/protected", pair["refresh_token"]))  # refresh token, access route
    stale = refreshed["access_token"]  # not fresh
    assert api.get("/protected", stale).status_code == 200
    body = {"current_password": PASSWORD, "new_password": "another long password"}
    response = api.client.put(
        "/users/me/password", json=body, headers={"Authorization": bearer(stale)}
    )
    assert_challenge(response)


def test_roles_are_checked_on_a_hit(app, api):
    token = api.tokens()["access_token"]
    for _ in range(2):
        assert_problem(api.get("/users", token), 403)


def test_a_route_cannot_change_what_the_cache_holds(app, api):
    token = api.tokens()["access_token"]
    api.get("/protected", token)
    _header, claims, _key = cache_of(app)._entries[bearer(token)]
    from api.tokens.verified import claims as current
    from api.tokens.verified import verify_request

    with app.test_request_context(headers={"Authorization": bearer(token)}):
        verify_request(cache_of(app))
        current()["roles"].append("admin")
        current()["sub"] = "0"
    assert cache_of(app)._entries[bearer(token)][1] == claims
    assert claims["roles"] == ["user"]


def test_size_zero_disables_the_cache(config):
    config["VERIFIED_TOKEN_CACHE_SIZE"] = 0
    app = create_app(config)
    api = Api(app.test_client())
    token = api.tokens()["access_token"]
    assert api.get("/protected", token).status_code == 200
    assert len(cache_of(app)) == 0


@pytest.mark.parametrize("size", [1, 3])
def test_cache_is_bounded_least_recently_used_first(app, size):
    cache = VerifiedTokens(size)
    key = object()
    for number in range(size + 2):
        cache.put(f"t{number}", {"kid": "k"}, {"exp": 0}, key)
    assert len(cache) == size
    assert f"t{size + 1}" in cache
    assert "t0" not in cache


def test_unknown_key_is_never_cached():
    cache = VerifiedTokens(4)
    cache.put("t", {"kid": "k"}, {"exp": 0}, None)
    assert len(cache) == 0


def _signed(app, token, **changes):
    """``token`` re-signed with the server's own key, its claims changed (None: removed)."""
    import jwt

    from api.tokens import signing

    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    with app.app_context():
        key = signing.ring().signing_key()
    return jwt.encode(claims, key.private, algorithm=key.algorithm, headers=header)


@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "sub", "type", "iss", "aud"])
def test_required_claims_are_required_even_when_signed_by_our_key(app, api, claim):
    token = api.tokens()["access_token"]
    body = assert_challenge(api.get("/protected", _signed(app, token, **{claim: None})))
    assert claim in body["detail"]


@pytest.mark.parametrize("typ", [None, "JWT"])
def test_access_token_without_at_jwt_typ_is_refused(app, api, typ):
    import jwt

    from api.tokens import signing

    token = api.tokens()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    header = {"kid": jwt.get_unverified_header(token)["kid"], **({"typ": typ} if typ else {})}
    with app.app_context():
        key = signing.ring().signing_key()
    forged = jwt.encode(claims, key.private, algorithm=key.algorithm, headers=header)
    assert_challenge(api.get("/protected", forged))


@pytest.mark.parametrize(
    ("value", "status", "token_given"),
    [
        ("Basic YWxpY2U6cHc=, Bearer {token}", 200, None),
        ("Bearer {token},", 200, None),
        ("Bearer {token} extra", 401, True),
        ("Bearer {token}, Bearer {token}", 401, False),
        ("Bearer", 401, True),
        ("Basic YWxpY2U6cHc=", 401, False),
    ],
)
def test_authorization_header_forms(app, api, value, status, token_given):
    token = api.tokens()["access_token"]
    response = api.client.get("/protected", headers={"Authorization": value.format(token=token)})
    if status == 200:
        assert response.status_code == 200
    else:
        assert_challenge(response, token_given=token_given)


def test_claims_outside_a_protected_view_is_an_error(app):
    from api.tokens.verified import claims

    with app.test_request_context(), pytest.raises(RuntimeError):
        claims()
