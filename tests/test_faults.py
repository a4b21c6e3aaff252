"""Backend faults: an unreachable or hung database or Redis gives 503, and recovery is automatic.

Redis faults use a redis-server of the test's own (stopped, frozen, restarted);
database faults use a closed port or a TCP proxy in front of PostgreSQL that
is cut and restored. The shared servers are never disturbed.
"""

import threading

import backends
import pytest
from helpers import PASSWORD, Api, assert_problem
from live import call, server, together
from sqlalchemy.engine import make_url

from api import create_app

needs_redis_server = pytest.mark.skipif(
    not backends.have_redis_server(), reason="needs the redis-server binary"
)
CLOSED_PORT = 9  # discard: nothing listens on it here


def assert_unavailable(response):
    body = assert_problem(response, 503)
    assert response.headers["Retry-After"] == "1"
    return body


@pytest.fixture
def own_redis(tmp_path):
    with backends.RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def redis_app(config, own_redis):
    config.update(
        REDIS_URL=own_redis.url,
        RATELIMIT_ENABLED=True,
        RATELIMIT_LOGIN="1000 per minute",
        RATELIMIT_LOGIN_USERNAME="1000 per minute",
    )
    app = create_app(config)
    yield app
    app.extensions["redis"].close()


@needs_redis_server
def test_redis_outage_gives_503_fails_closed_loses_nothing_and_recovers(redis_app, own_redis):
    api = Api(redis_app.test_client())
    pair = api.tokens()
    revoked = api.login().json
    assert api.post("/auth/logout", revoked["access_token"]).status_code == 204

    own_redis.stop()
    assert_unavailable(api.get("/protected", pair["access_token"]))
    # fail closed: a revoked token is not let through because the check cannot be made
    assert_unavailable(api.get("/protected", revoked["access_token"]))
    assert_unavailable(api.post("/auth/refresh", pair["refresh_token"]))
    assert_unavailable(api.post("/auth/logout", pair["access_token"]))
    assert_unavailable(api.login())  # rate-limit counters live in Redis too
    assert "Redis" in assert_unavailable(api.client.get("/health"))["detail"]

    own_redis.start()  # same port, same data (append-only file)
    assert api.client.get("/health").status_code == 200
    assert api.get("/protected", pair["access_token"]).status_code == 200
    assert api.get("/protected", revoked["access_token"]).status_code == 401
    # nothing half-done during the outage: the refresh token was not spent
    assert api.post("/auth/refresh", pair["refresh_token"]).status_code == 200


@needs_redis_server
def test_hung_redis_gives_503_not_a_hang(redis_app, own_redis):
    api = Api(redis_app.test_client())
    token = api.tokens()["access_token"]
    own_redis.pause()
    result = {}
    try:
        worker = threading.Thread(
            target=lambda: result.update(response=api.get("/protected", token)), daemon=True
        )
        worker.start()
        worker.join(timeout=20)  # liveness bound, far above the 1 s socket timeout
        assert not worker.is_alive(), "request hung on a frozen Redis"
    finally:
        own_redis.resume()
    assert_unavailable(result["response"])
    assert api.get("/protected", token).status_code == 200


def test_redis_on_a_closed_port(config):
    config["REDIS_URL"] = f"redis://127.0.0.1:{CLOSED_PORT}/0"
    app = create_app(config)
    api = Api(app.test_client())
    assert api.register().status_code == 201  # registration needs only the database
    assert_unavailable(api.login())  # issuing a refresh token needs Redis
    assert "Redis" in assert_unavailable(api.client.get("/health"))["detail"]
    app.extensions["redis"].close()


def test_unreachable_database_gives_503_and_sql_revocations_fail_closed(config, app):
    token = Api(app.test_client()).tokens()["access_token"]
    config.update(
        SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@127.0.0.1:{CLOSED_PORT}/none",
        AUTO_MIGRATE=False,
        REDIS_URL=None,  # revocations in the (unreachable) database
    )
    api = Api(create_app(config).test_client())  # same keys: the token verifies
    assert_unavailable(api.get("/protected", token))
    assert_unavailable(api.get("/users/me", token))
    assert_unavailable(api.login())
    assert_unavailable(api.register("newcomer"))


@pytest.mark.skipif(not backends.on_postgres(), reason="cuts the network to PostgreSQL")
def test_database_outage_gives_503_and_recovers(config, database_url):
    url = make_url(database_url)
    with backends.TcpProxy(url.host, url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port)
        config["SQLALCHEMY_DATABASE_URI"] = proxied.render_as_string(hide_password=False)
        app = create_app(config)
        api = Api(app.test_client())
        pair = api.tokens()
        token = pair["access_token"]
        proxy.cut()
        assert_unavailable(api.get("/users/me", token))
        assert_unavailable(api.post("/auth/refresh", pair["refresh_token"]))
        # a plain protected call needs only the token store: Redis, when configured
        expected = 200 if app.config["REDIS_URL"] else 503
        assert api.get("/protected", token).status_code == expected
        assert_unavailable(api.register("during"))
        assert "database" in assert_unavailable(api.client.get("/health"))["detail"]
        proxy.restore()
        assert api.get("/users/me", token).json["username"] == "alice"
        # the refresh refused during the outage did not spend the token
        assert api.post("/auth/refresh", pair["refresh_token"]).status_code == 200
        assert api.register("after").status_code == 201
        assert api.login("after", PASSWORD).status_code == 200


@needs_redis_server
@pytest.mark.live
def test_gunicorn_workers_ride_out_a_redis_restart(tmp_path, own_redis):
    env = {"REDIS_URL": own_redis.url}
    with server(tmp_path / "instance", workers=4, env=env) as running:
        call(running.base, "POST", "/auth/register", {"username": "rider", "password": PASSWORD})
        status, _, pair = call(
            running.base, "POST", "/auth/login", {"username": "rider", "password": PASSWORD}
        )
        assert status == 200
        token = pair["access_token"]

        own_redis.stop()
        down = together(8, call, running.base, "GET", "/protected", None, token)
        assert {status for status, _, _ in down} == {503}
        assert {headers["Content-Type"] for _, headers, _ in down} == {"application/problem+json"}

        own_redis.start()
        up = together(8, call, running.base, "GET", "/protected", None, token)
        assert {status for status, _, _ in up} == {200}


def test_rate_limit_counters_are_shared_through_redis(config, redis_url):
    """Two app instances (two workers) count login attempts together."""
    config.update(
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=backends.redis_prefix("limits"),
        RATELIMIT_ENABLED=True,
        RATELIMIT_LOGIN="3 per minute",
    )
    workers = [create_app(config) for _ in range(2)]
    first, second = (Api(app.test_client()) for app in workers)
    first.register()
    statuses = [api.login().status_code for api in (first, second, first, second)]
    assert statuses == [200, 200, 200, 429]
    for app in workers:
        backends.delete_prefixed(config["REDIS_KEY_PREFIX"], app.extensions["redis"])
        app.extensions["redis"].close()
