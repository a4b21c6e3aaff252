"""POST /auth/register, /auth/login, /auth/refresh, /auth/logout."""

import pytest
from helpers import PASSWORD, assert_challenge, assert_problem


def test_register_creates_user(api):
    response = api.register("alice")
    assert response.status_code == 201
    body = response.json
    assert body["username"] == "alice"
    assert body["roles"] == ["user"]
    assert isinstance(body["id"], int)
    assert body["created_at"].endswith("+00:00")
    assert "password" not in response.get_data(as_text=True)


def test_register_twice_conflicts(api):
    api.register("alice")
    body = assert_problem(api.register("alice", "another password 123"), 409)
    assert "taken" in body["detail"]


def test_register_closed(config, client):
    config["REGISTRATION_OPEN"] = False
    from api import create_app

    closed = create_app(config).test_client()
    response = closed.post("/auth/register", json={"username": "bob", "password": PASSWORD})
    assert_problem(response, 403)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"username", "password"}),
        ({"username": "al", "password": PASSWORD}, {"username"}),
        ({"username": "a" * 65, "password": PASSWORD}, {"username"}),
        ({"username": "bad name", "password": PASSWORD}, {"username"}),
        ({"username": "al/ice", "password": PASSWORD}, {"username"}),
        ({"username": "alice", "password": "short"}, {"password"}),
        ({"username": "alice", "password": "x" * 1025}, {"password"}),
        ({"username": 5, "password": PASSWORD}, {"username"}),
        ({"username": "alice", "password": None}, {"password"}),
        ({"username": "alice", "password": PASSWORD, "admin": True}, {"admin"}),
    ],
)
def test_register_validation(api, body, fields):
    response = api.client.post("/auth/register", json=body)
    problem = assert_problem(response, 422)
    assert set(problem["errors"]) == fields
    assert all(isinstance(m, str) for msgs in problem["errors"].values() for m in msgs)


def test_password_policy_is_configurable(config):
    config["PASSWORD_MIN_LENGTH"] = 30
    from api import create_app

    client = create_app(config).test_client()
    short = client.post("/auth/register", json={"username": "bob", "password": PASSWORD})
    assert_problem(short, 422)
    ok = client.post("/auth/register", json={"username": "bob", "password": "p" * 30})
    assert ok.status_code == 201


def test_login_returns_token_pair(api):
    api.register()
    response = api.login()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert set(body) == {
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "mfa_required",
    }
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["mfa_required"] is False


def test_wrong_password_and_unknown_user_look_identical(api):
    api.register()
    wrong = api.login("alice", "wrong password 1234")
    unknown = api.login("nobody", "wrong password 1234")
    assert_challenge(wrong, token_given=False)
    assert_challenge(unknown, token_given=False)
    assert wrong.get_data() == unknown.get_data().replace(b"nobody", b"alice")
    assert wrong.json == unknown.json
    assert wrong.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"]


@pytest.mark.parametrize("username", ["\x00", "ali\x00ce"])
def test_login_with_nul_in_username_is_an_unknown_user(api, username):
    """PostgreSQL text cannot hold NUL: such a name is never looked up, just refused."""
    api.register()
    assert_challenge(api.login(username), token_given=False)


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "alice"}, {"password": PASSWORD}, {"username": "", "password": PASSWORD}],
)
def test_login_validation(api, body):
    assert_problem(api.client.post("/auth/login", json=body), 422)


def test_login_huge_password_is_rejected_before_hashing(api):
    api.register()
    response = api.login("alice", "x" * 100_000)
    assert response.status_code in (413, 422)
    assert response.mimetype == "application/problem+json"


def test_refresh_rotates(api):
    pair = api.tokens()
    response = api.post("/auth/refresh", pair["refresh_token"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    new = response.json
    assert new["refresh_token"] != pair["refresh_token"]
    assert api.get("/protected", new["access_token"]).status_code == 200
    # the new refresh token works once more
    assert api.post("/auth/refresh", new["refresh_token"]).status_code == 200


def test_spent_refresh_token_revokes_family(api):
    pair = api.tokens()
    second = api.post("/auth/refresh", pair["refresh_token"]).json
    reuse = api.post("/auth/refresh", pair["refresh_token"])
    body = assert_challenge(reuse)
    assert "reuse" in body["detail"]
    # every token of the family is dead now, including the newest pair
    assert_challenge(api.post("/auth/refresh", second["refresh_token"]))
    assert_challenge(api.get("/protected", second["access_token"]))
    assert_challenge(api.get("/protected", pair["access_token"]))


def test_reuse_does_not_touch_other_sessions(api):
    first = api.tokens()
    other = api.login().json
    api.post("/auth/refresh", first["refresh_token"])
    api.post("/auth/refresh", first["refresh_token"])
    assert api.get("/protected", other["access_token"]).status_code == 200


def test_access_token_rejected_at_refresh(api):
    pair = api.tokens()
    body = assert_challenge(api.post("/auth/refresh", pair["access_token"]))
    assert "refresh" in body["detail"].lower()


def test_refresh_token_rejected_at_protected(api):
    pair = api.tokens()
    body = assert_challenge(api.get("/protected", pair["refresh_token"]))
    assert "access" in body["detail"].lower()


def test_refresh_needs_token(api):
    assert_challenge(api.client.post("/auth/refresh"), token_given=False)


def test_logout_revokes_access_and_family(api):
    pair = api.tokens()
    response = api.post("/auth/logout", pair["access_token"])
    assert response.status_code == 204
    assert response.get_data() == b""
    assert_challenge(api.get("/protected", pair["access_token"]))
    assert_challenge(api.post("/auth/refresh", pair["refresh_token"]))


def test_logout_keeps_other_sessions(api):
    first = api.tokens()
    second = api.login().json
    api.post("/auth/logout", first["access_token"])
    assert api.get("/protected", second["access_token"]).status_code == 200
    assert api.post("/auth/refresh", second["refresh_token"]).status_code == 200


def test_logout_with_refresh_token_of_another_session(api):
    first = api.tokens()
    second = api.login().json
    response = api.post(
        "/auth/logout", first["access_token"], json={"refresh_token": second["refresh_token"]}
    )
    assert response.status_code == 204
    assert_challenge(api.post("/auth/refresh", second["refresh_token"]))


def test_logout_refuses_foreign_refresh_token(api):
    alice = api.tokens("alice")
    bob = api.tokens("bob")
    response = api.post(
        "/auth/logout", alice["access_token"], json={"refresh_token": bob["refresh_token"]}
    )
    assert_challenge(response)
    # nothing was half-done: alice's session is still alive, bob's too
    assert api.get("/protected", alice["access_token"]).status_code == 200
    assert api.post("/auth/refresh", bob["refresh_token"]).status_code == 200


def test_logout_refuses_garbage_refresh_token(api):
    pair = api.tokens()
    response = api.post("/auth/logout", pair["access_token"], json={"refresh_token": "nope"})
    assert_challenge(response)
    assert api.get("/protected", pair["access_token"]).status_code == 200


def test_logout_twice(api):
    pair = api.tokens()
    api.post("/auth/logout", pair["access_token"])
    assert_challenge(api.post("/auth/logout", pair["access_token"]))
