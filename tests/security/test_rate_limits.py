"""Brute-force protection: per client address, per username, per user and per session,
shared by every worker, never forever."""

from collections import Counter

import backends
import pytest
from helpers import PASSWORD, Api, assert_problem
from live import call, server, together

from api import create_app
from api.core.extensions import limiter


def reset(app):
    with app.app_context():
        limiter.reset()


@pytest.fixture
def limited(config):
    config.update(
        RATELIMIT_ENABLED=True,
        RATELIMIT_LOGIN="4 per minute",
        RATELIMIT_LOGIN_USERNAME="3 per minute",
        RATELIMIT_REGISTER="2 per minute",
    )
    app = create_app(config)
    reset(app)
    return app.test_client()


def login(client, username="alice", password="wrong password 123", address="10.0.0.1"):
    return client.post(
        "/auth/login",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_login_limited_per_address(limited):
    statuses = [login(limited, f"user{i}").status_code for i in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    # another client address is not affected
    assert login(limited, "user9", address="10.0.0.2").status_code == 401


def test_429_is_a_problem_with_retry_after(limited):
    for i in range(4):
        login(limited, f"user{i}")
    response = login(limited, "user5")
    assert_problem(response, 429)
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 60


def test_failed_logins_limited_per_username_across_addresses(limited):
    statuses = [login(limited, "alice", address=f"10.0.1.{i}").status_code for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert login(limited, "bob", address="10.0.1.9").status_code == 401


def test_successful_logins_do_not_count_against_the_username(limited):
    limited.post("/auth/register", json={"username": "alice", "password": PASSWORD})
    for i in range(5):  # more than the limit of 3: each success gives its attempt back
        ok = login(limited, "alice", PASSWORD, address=f"10.0.2.{i}")
        assert ok.status_code == 200
    statuses = [login(limited, "alice", address=f"10.0.4.{i}").status_code for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    # the right password is refused too once the limit is reached: it is never checked
    assert login(limited, "alice", PASSWORD, address="10.0.4.9").status_code == 429


def test_register_limited(limited):
    statuses = [
        limited.post(
            "/auth/register",
            json={"username": f"user{i}", "password": PASSWORD},
            environ_base={"REMOTE_ADDR": "10.0.3.1"},
        ).status_code
        for i in range(3)
    ]
    assert statuses == [201, 201, 429]


def test_limits_expire(config, monkeypatch):
    """A fixed window: after it passes the same client may try again (no permanent lockout)."""
    import time as real_time

    config.update(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_USERNAME="1 per second")
    app = create_app(config)
    reset(app)
    client = app.test_client()
    assert login(client).status_code == 401
    assert login(client).status_code == 429
    real_time.sleep(1.1)
    assert login(client).status_code == 401


@pytest.fixture
def throttled(config):
    config.update(
        RATELIMIT_ENABLED=True,
        RATELIMIT_PASSWORD_CHANGE="3 per minute",
        RATELIMIT_REFRESH="3 per minute",
    )
    app = create_app(config)
    reset(app)
    return app


def change_password(api, token, current, new=PASSWORD + "!"):
    return api.client.put(
        "/users/me/password",
        json={"current_password": current, "new_password": new},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_wrong_current_passwords_limited_per_user(throttled):
    api = Api(throttled.test_client())
    token = api.tokens("alice")["access_token"]
    other = api.tokens("bob")["access_token"]
    statuses = [change_password(api, token, f"guess number {i}").status_code for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    refused = change_password(api, token, PASSWORD)  # the right one is not checked now
    assert_problem(refused, 429)
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert api.login("alice", PASSWORD).status_code == 200  # the password did not change
    assert change_password(api, other, "a wrong guess").status_code == 401  # per user


def enrol_totp(api, token, password):
    return api.client.post(
        "/users/me/mfa/totp",
        json={"password": password},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_wrong_passwords_at_mfa_enrolment_limited_per_user(throttled):
    """Enrolment checks the password too: a stolen fresh token cannot guess it there."""
    api = Api(throttled.test_client())
    token = api.tokens("alice")["access_token"]
    statuses = [enrol_totp(api, token, f"guess number {i}").status_code for i in range(4)]
    assert statuses == [401, 401, 401, 429]
    refused = enrol_totp(api, token, PASSWORD)  # the right one is not checked now
    assert_problem(refused, 429)
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_password_checks_share_one_budget_per_user(throttled):
    api = Api(throttled.test_client())
    token = api.tokens("alice")["access_token"]
    assert enrol_totp(api, token, "guess one").status_code == 401
    assert change_password(api, token, "guess two").status_code == 401
    assert enrol_totp(api, token, "guess three").status_code == 401
    assert change_password(api, token, "guess four").status_code == 429
    assert enrol_totp(api, token, PASSWORD).status_code == 429


def test_successful_password_changes_do_not_count(throttled):
    api = Api(throttled.test_client())
    password = PASSWORD
    for i in range(4):
        token = api.tokens("alice", password)["access_token"]
        new = f"{PASSWORD} {i}"
        assert change_password(api, token, password, new).status_code == 204
        password = new


def test_refresh_limited_per_session(throttled):
    api = Api(throttled.test_client())
    pair = api.tokens()
    for _ in range(3):
        response = api.post("/auth/refresh", pair["refresh_token"])
        assert response.status_code == 200
        pair = response.json
    refused = api.post("/auth/refresh", pair["refresh_token"])
    assert_problem(refused, 429)
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # another session of the same user is not affected
    assert api.post("/auth/refresh", api.tokens()["refresh_token"]).status_code == 200
    # the refused refresh spent nothing: once the window is over, the same token works
    reset(throttled)
    throttled.extensions["throttle"].storage.reset()
    assert api.post("/auth/refresh", pair["refresh_token"]).status_code == 200


BURST = 16
LIMIT = 5


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory, redis_url):
    """gunicorn, 2 workers, rate limits on and counted in Redis."""
    prefix = backends.redis_prefix("burst")
    env = {
        "REDIS_URL": redis_url,
        "FLASK_REDIS_KEY_PREFIX": prefix,
        "FLASK_RATELIMIT_ENABLED": "true",
        "FLASK_RATELIMIT_LOGIN": "1000 per minute",
        "FLASK_RATELIMIT_REGISTER": "1000 per minute",
        "FLASK_RATELIMIT_LOGIN_USERNAME": f"{LIMIT} per minute",
        "FLASK_RATELIMIT_PASSWORD_CHANGE": f"{LIMIT} per minute",
    }
    try:
        with server(tmp_path_factory.mktemp("burst") / "instance", workers=2, env=env) as running:
            yield running.base
    finally:
        import redis

        client = redis.Redis.from_url(redis_url)
        backends.delete_prefixed(prefix, client)
        client.close()


def verdicts(results):
    for status, headers, body in results:
        if status == 429:
            assert headers["Content-Type"] == "application/problem+json"
            assert int(headers["Retry-After"]) > 0
            assert body["status"] == 429
    return Counter(status for status, _, _ in results)


@pytest.mark.live
def test_concurrent_wrong_passwords_get_exactly_the_limit_of_verdicts(limited_server):
    """A burst of concurrent guesses on 2 workers: exactly LIMIT are checked, the rest 429."""
    base = limited_server
    credentials = {"username": "victim", "password": PASSWORD}
    assert call(base, "POST", "/auth/register", credentials)[0] == 201
    guess = {"username": "victim", "password": "wrong password 123"}
    counts = verdicts(together(BURST, call, base, "POST", "/auth/login", guess))
    assert counts == {401: LIMIT, 429: BURST - LIMIT}
    assert call(base, "POST", "/auth/login", credentials)[0] == 429


@pytest.mark.live
def test_concurrent_wrong_current_passwords_get_exactly_the_limit_of_verdicts(limited_server):
    base = limited_server
    credentials = {"username": "changer", "password": PASSWORD}
    assert call(base, "POST", "/auth/register", credentials)[0] == 201
    token = call(base, "POST", "/auth/login", credentials)[2]["access_token"]
    guess = {"current_password": "wrong password 123", "new_password": PASSWORD + "!"}
    results = together(BURST, call, base, "PUT", "/users/me/password", guess, token)
    assert verdicts(results) == {401: LIMIT, 429: BURST - LIMIT}
    change = {"current_password": PASSWORD, "new_password": PASSWORD + "!"}
    assert call(base, "PUT", "/users/me/password", change, token)[0] == 429
