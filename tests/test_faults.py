"""Backend faults: an unreachable or hung database or Redis gives 503, and recovery is automatic.

Redis faults use a redis-server of the test's own (stopped, frozen, restarted);
database faults use a closed port or a TCP proxy in front of PostgreSQL that
is cut and restored. The shared servers are never disturbed.
"""

import threading
import time
from contextlib import contextmanager

import backends
import pytest
import redis
from helpers import PASSWORD, Api, assert_problem
from live import call, server, together
from sqlalchemy.engine import make_url

from api import create_app

needs_redis_server = pytest.mark.redis_server
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


# Every Redis error is a 503 that changed nothing: a full Redis (OOM under noeviction),
# a read-only replica (READONLY, e.g. the app still points at a demoted primary) and a
# hung one (timeouts). Each runs the same writes and checks the state afterwards.


class Scenario:
    """Sessions and users whose state every refused write must leave as it was."""

    def __init__(self, app):
        from api.users import service

        self.api = api = Api(app.test_client())
        with app.app_context():
            service.create("root", PASSWORD, is_admin=True)
        self.admin = api.login("root").json["access_token"]
        self.pair = api.tokens("alice")
        self.other = api.login("alice").json  # a second session: a password change ends it
        self.leaving = api.login("alice").json  # the session logout tries to end
        self.victim = api.tokens("bob")
        self.victim_id = api.get("/users/me", self.victim["access_token"]).json["id"]

    def writes(self, *, limited):
        """Every operation that writes to Redis, as responses."""
        api = self.api
        responses = {
            "login": api.login("alice"),
            "refresh": api.post("/auth/refresh", self.pair["refresh_token"]),
            "logout": api.post("/auth/logout", self.leaving["access_token"]),
            "password": api.client.put(
                "/users/me/password",
                json={"current_password": PASSWORD, "new_password": PASSWORD + "!"},
                headers={"Authorization": f"Bearer {self.pair['access_token']}"},
            ),
            "delete": api.client.delete(
                f"/users/{self.victim_id}", headers={"Authorization": f"Bearer {self.admin}"}
            ),
        }
        if limited:  # register touches Redis only through its rate limit
            responses["register"] = api.register("newcomer")
        return responses

    def assert_refused(self, responses, *, may_succeed=()):
        """Every write refused with 503, except those in ``may_succeed`` if they succeeded."""
        for name, response in responses.items():
            if name in may_succeed and response.status_code < 300:
                continue
            assert response.status_code == 503, (name, response.get_data(as_text=True))
            assert_unavailable(response)

    def assert_unchanged(self, responses):
        """State as before, but for the writes that succeeded (``responses``)."""
        api = self.api
        done = {name for name, response in responses.items() if response.status_code < 300}
        assert done <= {"logout", "password", "delete"}, done  # only endings may go through

        def works(token, status=200):
            assert api.get("/users/me", token).status_code == status

        works(self.leaving["access_token"], 401 if "logout" in done else 200)
        works(self.pair["access_token"])  # the password change keeps the caller's session
        works(self.other["access_token"], 401 if "password" in done else 200)
        works(self.victim["access_token"], 401 if "delete" in done else 200)
        old, new = (401, 200) if "password" in done else (200, 401)
        assert api.login("alice", PASSWORD).status_code == old
        assert api.login("alice", PASSWORD + "!").status_code == new
        assert api.login("newcomer").status_code == 401  # not registered
        # the refused refresh did not spend the token
        assert api.post("/auth/refresh", self.pair["refresh_token"]).status_code == 200


@contextmanager
def redis_full(server):
    """Used memory above ``maxmemory`` under noeviction: Redis refuses every write (OOM)."""
    client = redis.Redis(port=server.port)
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    client.config_set("maxmemory", 1)
    try:
        yield
    finally:
        client.config_set("maxmemory", 0)
        client.close()


def _wait_replicating(client):
    deadline = time.monotonic() + 20
    while client.info("replication").get("master_link_status") != "up":
        assert time.monotonic() < deadline, "replica did not sync"
        time.sleep(0.05)


@contextmanager
def demoted(server, directory):
    """``server`` becomes a read-only replica of another with the same data (a failover
    the app did not follow): writes get READONLY, reads still work."""
    with backends.RedisServer(directory, persist=False) as other:
        old, new = redis.Redis(port=server.port), redis.Redis(port=other.port)
        try:
            new.replicaof("127.0.0.1", server.port)  # copy the data over
            _wait_replicating(new)
            new.replicaof("NO", "ONE")
            old.replicaof("127.0.0.1", other.port)  # the old primary follows the new one
            _wait_replicating(old)
            yield
        finally:
            old.replicaof("NO", "ONE")
            old.close()
            new.close()


@pytest.fixture(params=[True, False], ids=["limits-on", "limits-off"])
def fault_app(request, config, own_redis):
    """The app on a private Redis, with the rate limiter's writes first or not at all."""
    config.update(
        REDIS_URL=own_redis.url,
        RATELIMIT_ENABLED=request.param,
        RATELIMIT_LOGIN="1000 per minute",
        RATELIMIT_LOGIN_USERNAME="1000 per minute",
        RATELIMIT_REGISTER="1000 per minute",
        RATELIMIT_PASSWORD_CHANGE="1000 per minute",
        RATELIMIT_REFRESH="1000 per minute",
    )
    app = create_app(config)
    yield app
    app.extensions["redis"].close()


@needs_redis_server
@pytest.mark.parametrize("fault", ["out-of-memory", "read-only"])
def test_refused_redis_writes_give_503_and_change_nothing(fault_app, own_redis, tmp_path, fault):
    scenario = Scenario(fault_app)
    limited = fault_app.config["RATELIMIT_ENABLED"]
    context = redis_full(own_redis) if fault == "out-of-memory" else demoted(own_redis, tmp_path)
    with context:
        responses = scenario.writes(limited=limited)
        # ending sessions starts by deleting keys, which a full Redis still allows (a script
        # whose first write is allowed runs to its end): logout, password change and deletion
        # may complete; everything that creates state is refused
        endings = ("logout", "password", "delete") if fault == "out-of-memory" else ()
        scenario.assert_refused(responses, may_succeed=endings)
        # reads are still served: a token check needs no write
        assert scenario.api.get("/protected", scenario.pair["access_token"]).status_code == 200
        assert fault_app.test_client().get("/health").status_code == 200
    scenario.assert_unchanged(responses)


@needs_redis_server
def test_hung_redis_refuses_writes_with_503_and_changes_nothing(fault_app, own_redis):
    scenario = Scenario(fault_app)
    limited = fault_app.config["RATELIMIT_ENABLED"]
    result = {}
    own_redis.pause()
    try:
        worker = threading.Thread(
            target=lambda: result.update(responses=scenario.writes(limited=limited)), daemon=True
        )
        worker.start()
        worker.join(timeout=60)  # liveness bound: 6 requests of about 2 s each
        assert not worker.is_alive(), "requests hung on a frozen Redis"
    finally:
        own_redis.resume()
    scenario.assert_refused(result["responses"])
    scenario.assert_unchanged(result["responses"])


@pytest.fixture
def after_view(config, own_redis):
    """An app on a private Redis, and switches run after the view, before the response:
    ``stop`` stops the server, ``read`` then reads from it (as a header hook would)."""
    config.update(
        REDIS_URL=own_redis.url,
        RATELIMIT_ENABLED=True,
        RATELIMIT_LOGIN="1000 per minute",
        RATELIMIT_LOGIN_USERNAME="1000 per minute",
    )
    app = create_app(config)
    switches = {"stop": threading.Event(), "read": threading.Event()}

    @app.after_request
    def _read_redis(response):  # runs after _stop_redis, before the hooks of create_app
        if switches["read"].is_set():
            app.extensions["redis"].get("anything")
        return response

    @app.after_request
    def _stop_redis(response):
        if switches["stop"].is_set():
            own_redis.stop()
        return response

    api = Api(app.test_client())
    api.register()
    yield api, switches
    app.extensions["redis"].close()


@needs_redis_server
def test_redis_error_after_the_view_is_a_503_not_a_500(after_view):
    api, switches = after_view
    switches["stop"].set()
    switches["read"].set()
    assert_unavailable(api.login())


@needs_redis_server
def test_a_login_done_is_delivered_when_redis_fails_after_it(after_view):
    """Nothing reads Redis after the view (no X-RateLimit-* headers by default): a login
    that issued its tokens returns them instead of an error."""
    api, switches = after_view
    switches["stop"].set()
    assert api.login().status_code == 200
