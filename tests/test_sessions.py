"""GET/DELETE /users/me/sessions, DELETE /users/me/sessions/{id}, admin /users/{id}/sessions,
on both token stores (SQL and Redis)."""

import json
import uuid
from datetime import datetime, timedelta

import backends
import pytest
from helpers import PASSWORD, assert_problem, bearer, close_app
from live import call, server, together

from api import create_app
from api.users import service as users


@pytest.fixture(params=["sql", "redis"])
def store_config(request, config):
    """The test app's settings on each token store."""
    if request.param == "redis":
        config["REDIS_URL"] = request.getfixturevalue("redis_url")
    else:
        config["REDIS_URL"] = None
    config["REDIS_KEY_PREFIX"] = backends.redis_prefix("sessions")
    yield config
    if config["REDIS_URL"]:
        import redis

        client = redis.Redis.from_url(config["REDIS_URL"])
        backends.delete_prefixed(config["REDIS_KEY_PREFIX"], client)
        client.close()


@pytest.fixture
def app(store_config):
    app = create_app(store_config)
    yield app
    close_app(app)


def login(client, username="alice", agent="agent-one"):
    response = client.post(
        "/auth/login",
        json={"username": username, "password": PASSWORD},
        headers={"User-Agent": agent},
    )
    assert response.status_code == 200, response.json
    return response.json


def sessions(client, token, path="/users/me/sessions", **query):
    response = client.get(path, headers=bearer(token), query_string=query)
    assert response.status_code == 200, response.json
    return response


def fam(token):
    import jwt

    return jwt.decode(token, options={"verify_signature": False})["fam"]


@pytest.fixture
def alice(api):
    api.register("alice")
    return api


def test_list_my_sessions(client, alice):
    first = login(client, agent="first-agent/1.0")
    second = login(client, agent="second-agent/2.0")
    response = sessions(client, second["access_token"])
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert [item["id"] for item in body] == [
        fam(second["access_token"]),
        fam(first["access_token"]),
    ]
    latest = body[0]
    assert set(latest) == {
        "id", "created_at", "last_used_at", "expires_at", "user_agent", "ip", "current"
    }  # fmt: skip
    assert (latest["user_agent"], latest["ip"], latest["current"]) == (
        "second-agent/2.0", "127.0.0.1", True
    )  # fmt: skip
    assert body[1]["current"] is False
    created = datetime.fromisoformat(latest["created_at"])
    lifetime = datetime.fromisoformat(latest["expires_at"]) - created
    assert abs(lifetime - timedelta(days=30)) < timedelta(seconds=5)
    assert json.loads(response.headers["X-Pagination"])["total"] == 2


def test_refresh_marks_the_session_used(client, alice):
    first = login(client)
    second = login(client)
    before = {s["id"]: s for s in sessions(client, second["access_token"]).json}
    renewed = client.post("/auth/refresh", headers=bearer(first["refresh_token"])).json
    after = sessions(client, renewed["access_token"]).json
    assert after[0]["id"] == fam(first["access_token"])  # most recently used first
    assert after[0]["last_used_at"] > before[after[0]["id"]]["last_used_at"]
    assert after[0]["created_at"] == before[after[0]["id"]]["created_at"]
    assert after[0]["current"] is True


def test_long_user_agents_are_truncated(client, alice):
    pair = login(client, agent="x" * 5000)
    (item,) = sessions(client, pair["access_token"]).json
    assert 0 < len(item["user_agent"]) < 5000
    assert item["user_agent"] == "x" * len(item["user_agent"])


def test_ip_is_the_client_address_after_trusted_proxies(store_config, monkeypatch):
    monkeypatch.setenv("FLASK_TRUSTED_PROXIES", "1")
    client = create_app(store_config).test_client()
    client.post("/auth/register", json={"username": "alice", "password": PASSWORD})
    response = client.post(
        "/auth/login",
        json={"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    (item,) = sessions(client, response.json["access_token"]).json
    assert item["ip"] == "203.0.113.9"


def test_pagination_like_get_users(client, alice):
    pairs = [login(client) for _ in range(3)]
    response = sessions(client, pairs[-1]["access_token"], page=2, page_size=2)
    assert len(response.json) == 1
    meta = json.loads(response.headers["X-Pagination"])
    assert (meta["total"], meta["total_pages"], meta["page"]) == (3, 2, 2)
    assert response.json[0]["id"] == fam(pairs[0]["access_token"])


def test_end_one_session(client, alice):
    ending, staying = login(client), login(client)
    session_id = fam(ending["access_token"])
    response = client.delete(
        f"/users/me/sessions/{session_id}", headers=bearer(staying["access_token"])
    )
    assert response.status_code == 204
    assert client.get("/protected", headers=bearer(ending["access_token"])).status_code == 401
    assert client.post("/auth/refresh", headers=bearer(ending["refresh_token"])).status_code == 401
    assert client.get("/protected", headers=bearer(staying["access_token"])).status_code == 200
    assert [s["id"] for s in sessions(client, staying["access_token"]).json] == [
        fam(staying["access_token"])
    ]
    again = client.delete(
        f"/users/me/sessions/{session_id}", headers=bearer(staying["access_token"])
    )
    assert_problem(again, 404)


def test_end_the_current_session(client, alice):
    pair = login(client)
    response = client.delete(
        f"/users/me/sessions/{fam(pair['access_token'])}", headers=bearer(pair["access_token"])
    )
    assert response.status_code == 204
    assert client.get("/protected", headers=bearer(pair["access_token"])).status_code == 401


def test_another_users_session_is_404_like_an_unknown_one(client, alice):
    alice.register("bob")
    mine = login(client)
    bobs = login(client, "bob")
    others = client.delete(
        f"/users/me/sessions/{fam(bobs['access_token'])}", headers=bearer(mine["access_token"])
    )
    unknown = client.delete(
        f"/users/me/sessions/{uuid.uuid4()}", headers=bearer(mine["access_token"])
    )
    assert_problem(others, 404)
    assert_problem(unknown, 404)
    assert others.json["detail"] == unknown.json["detail"]
    assert client.get("/protected", headers=bearer(bobs["access_token"])).status_code == 200


@pytest.mark.parametrize("bad", ["not-a-uuid", "1", "x" * 300])
def test_malformed_session_ids_are_404(client, alice, bad):
    pair = login(client)
    response = client.delete(f"/users/me/sessions/{bad}", headers=bearer(pair["access_token"]))
    assert_problem(response, 404)


def test_sign_out_everywhere_else(client, alice):
    others = [login(client) for _ in range(3)]
    current = login(client)
    response = client.delete("/users/me/sessions", headers=bearer(current["access_token"]))
    assert response.status_code == 204
    for pair in others:
        assert client.get("/protected", headers=bearer(pair["access_token"])).status_code == 401
        assert (
            client.post("/auth/refresh", headers=bearer(pair["refresh_token"])).status_code == 401
        )
    assert client.get("/protected", headers=bearer(current["access_token"])).status_code == 200
    renewed = client.post("/auth/refresh", headers=bearer(current["refresh_token"]))
    assert renewed.status_code == 200
    assert [s["current"] for s in sessions(client, renewed.json["access_token"]).json] == [True]


def test_admin_lists_and_ends_a_users_sessions(app, client, alice):
    with app.app_context():
        users.create("root", PASSWORD, is_admin=True)
    admin = login(client, "root")["access_token"]
    pairs = [login(client) for _ in range(2)]
    listed = sessions(client, admin, "/users/1/sessions").json
    assert {s["id"] for s in listed} == {fam(p["access_token"]) for p in pairs}
    assert not any(s["current"] for s in listed)
    assert client.delete("/users/1/sessions", headers=bearer(admin)).status_code == 204
    for pair in pairs:
        assert client.get("/protected", headers=bearer(pair["access_token"])).status_code == 401
    assert sessions(client, admin, "/users/1/sessions").json == []
    assert client.get("/protected", headers=bearer(admin)).status_code == 200


@pytest.mark.parametrize("method", ["get", "delete"])
def test_admin_session_operations(client, alice, method, admin_token):
    user = login(client)["access_token"]
    assert_problem(getattr(client, method)("/users/1/sessions", headers=bearer(user)), 403)
    assert_problem(getattr(client, method)("/users/999/sessions", headers=bearer(admin_token)), 404)
    assert_problem(getattr(client, method)("/users/me/sessions/x"), 404)
    assert_problem(getattr(client, method)("/users/1/sessions"), 401)


def test_a_password_change_ends_the_listed_sessions(client, alice):
    other = login(client)
    current = client.post(
        "/auth/login", json={"username": "alice", "password": PASSWORD}
    ).json  # fresh
    changed = client.put(
        "/users/me/password",
        json={"current_password": PASSWORD, "new_password": "another long password"},
        headers=bearer(current["access_token"]),
    )
    assert changed.status_code == 204
    listed = [s["id"] for s in sessions(client, current["access_token"]).json]
    assert listed == [fam(current["access_token"])]
    assert client.get("/protected", headers=bearer(other["access_token"])).status_code == 401


@pytest.mark.live
@pytest.mark.parametrize("store", ["sql", "redis"])
def test_an_ended_session_stops_on_every_worker(tmp_path, request, store):
    """Two gunicorn workers, each with its verified-token cache warm: a DELETE on one
    is seen by both at once."""
    env = {"REDIS_URL": request.getfixturevalue("redis_url")} if store == "redis" else {}
    if store == "sql":
        env["REDIS_URL"] = ""
    with server(tmp_path / "instance", workers=2, env=env) as running:
        base = running.base
        credentials = {"username": "worker", "password": PASSWORD}
        assert call(base, "POST", "/auth/register", credentials)[0] == 201
        ending = call(base, "POST", "/auth/login", credentials)[2]
        staying = call(base, "POST", "/auth/login", credentials)[2]
        token = ending["access_token"]
        before = served_by_both(running, token)  # each worker verified and cached the token
        assert {status for status, _ in before} == {200}
        session_id = fam(token)
        status = call(
            base, "DELETE", f"/users/me/sessions/{session_id}", token=staying["access_token"]
        )[0]
        assert status == 204
        after = served_by_both(running, token, skip=len(before))
        assert {status for status, _ in after} == {401}


def served_by_both(running, token, skip=0, workers=2):
    """GET /protected from 8 threads at once until every worker has served some;
    the access-log lines ``(status, pid)`` after the first ``skip``.

    Access lines are flushed in batches, so each round waits until every request it
    sent has its line: a late line of an earlier round never counts as a later one's.
    """
    sent = skip
    for _ in range(40):
        answers = together(8, call, running.base, "GET", "/protected", None, token)
        sent += len(answers)
        running.wait_for(lambda n=sent: len(running.access_lines("GET", "/protected")) >= n)
        lines = running.access_lines("GET", "/protected")
        assert len(lines) == sent, (len(lines), sent)
        lines = lines[skip:]
        if len({pid for _, pid in lines}) == workers:
            return lines
    pytest.fail("the requests never reached every worker")
