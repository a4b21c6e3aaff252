"""Brute-force protection: per client address and per username, never forever."""

import pytest
from helpers import PASSWORD, assert_problem

from api import create_app
from api.extensions import limiter


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
    for i in range(3):
        ok = login(limited, "alice", PASSWORD, address=f"10.0.2.{i}")
        assert ok.status_code == 200


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
