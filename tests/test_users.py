"""GET /users/me, PUT /users/me/password, GET /users, DELETE /users/{id}."""

import pytest
from helpers import PASSWORD, assert_challenge, assert_problem

NEW = "a brand new passphrase"


def test_me(api):
    pair = api.tokens("alice")
    response = api.get("/users/me", pair["access_token"])
    assert response.status_code == 200
    assert response.json["username"] == "alice"
    assert set(response.json) == {"id", "username", "roles", "created_at", "mfa_enabled"}
    assert response.json["mfa_enabled"] is False


def test_me_needs_token(api):
    assert_challenge(api.get("/users/me"), token_given=False)


def change(api, token, current=PASSWORD, new=NEW):
    return api.client.put(
        "/users/me/password",
        json={"current_password": current, "new_password": new},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_password_change_revokes_other_sessions(api):
    this = api.tokens()
    other = api.login().json
    assert change(api, this["access_token"]).status_code == 204
    assert_challenge(api.get("/protected", other["access_token"]))
    assert_challenge(api.post("/auth/refresh", other["refresh_token"]))
    assert api.get("/protected", this["access_token"]).status_code == 200
    assert_challenge(api.login(), token_given=False)
    assert api.login(password=NEW).status_code == 200


def test_password_change_needs_fresh_token(api):
    pair = api.tokens()
    refreshed = api.post("/auth/refresh", pair["refresh_token"]).json
    body = assert_challenge(change(api, refreshed["access_token"]))
    assert "fresh" in body["detail"].lower()
    assert api.login().status_code == 200  # password unchanged


def test_password_change_wrong_current_password(api):
    pair = api.tokens()
    assert_problem(change(api, pair["access_token"], current="not my password"), 401)
    assert api.login().status_code == 200


@pytest.mark.parametrize(
    "body",
    [{}, {"current_password": PASSWORD}, {"current_password": PASSWORD, "new_password": "short"}],
)
def test_password_change_validation(api, body):
    pair = api.tokens()
    response = api.client.put(
        "/users/me/password", json=body, headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert_problem(response, 422)


def test_list_users_needs_admin(api, admin_token):
    user = api.tokens("alice")
    assert_challenge(api.get("/users"), token_given=False)
    forbidden = api.get("/users", user["access_token"])
    assert_problem(forbidden, 403)
    assert 'error="insufficient_scope"' in forbidden.headers["WWW-Authenticate"]


def test_list_users_paginated(api, admin_token):
    for name in ("bob", "carol", "dave"):
        api.register(name)
    response = api.get("/users?page=2&page_size=2", admin_token)
    assert response.status_code == 200
    assert [u["username"] for u in response.json] == ["carol", "dave"]
    pagination = response.headers["X-Pagination"]
    assert '"total": 4' in pagination
    assert '"page": 2' in pagination


@pytest.mark.parametrize("page", [3, 2432902008176639999])
def test_list_users_past_the_last_page_is_empty(api, admin_token, page):
    """A page past the end (even beyond a 64-bit SQL OFFSET) is an empty list, not a 500."""
    response = api.get(f"/users?page={page}&page_size=92", admin_token)
    assert response.status_code == 200
    assert response.json == []
    assert '"total": 1' in response.headers["X-Pagination"]


@pytest.mark.parametrize("query", ["page=0", "page_size=0", "page_size=1000", "page=x"])
def test_list_users_bad_pagination(api, admin_token, query):
    assert_problem(api.get(f"/users?{query}", admin_token), 422)


def test_delete_user_kills_their_tokens(api, admin_token):
    bob = api.tokens("bob")
    bob_id = api.get("/users/me", bob["access_token"]).json["id"]
    response = api.client.delete(
        f"/users/{bob_id}", headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 204
    assert_challenge(api.get("/protected", bob["access_token"]))
    assert_challenge(api.post("/auth/refresh", bob["refresh_token"]))
    assert_challenge(api.login("bob"), token_given=False)


@pytest.mark.parametrize("user_id", ["999", "0", str(2**31), "23757850983789248160173391872"])
def test_delete_unknown_user(api, admin_token, user_id):
    """Unknown ids, including ones no SQL INTEGER can hold, are 404 problems (never 500)."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    assert_problem(api.client.delete(f"/users/{user_id}", headers=headers), 404)


def test_delete_needs_admin(api):
    alice = api.tokens("alice")
    response = api.client.delete(
        "/users/1", headers={"Authorization": f"Bearer {alice['access_token']}"}
    )
    assert_problem(response, 403)
    assert api.get("/users/me", alice["access_token"]).status_code == 200


def test_deleted_user_id_is_never_reused(api, admin_token):
    bob = api.tokens("bob")
    bob_id = api.get("/users/me", bob["access_token"]).json["id"]
    api.client.delete(f"/users/{bob_id}", headers={"Authorization": f"Bearer {admin_token}"})
    assert api.register("eve").json["id"] > bob_id
