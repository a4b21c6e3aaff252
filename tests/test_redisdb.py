"""REDIS_URL forms (plain and Sentinel) and durable writes (WAIT for replicas)."""

import os
import subprocess
import sys

import backends
import pytest
import redis
from helpers import Api, missing_tool

from api import create_app
from api.core import redisdb, redisurl
from api.core.config import ConfigError
from api.core.extensions import limiter


def needs_redis_server():
    if not backends.have_redis_server():
        missing_tool("needs the redis-server binary")


@pytest.mark.parametrize(
    ("url", "sentinels", "service", "db", "auth"),
    [
        ("redis+sentinel://h1:26380,h2:26381/mymaster/2", [("h1", 26380), ("h2", 26381)],
         "mymaster", 2, {}),
        ("redis+sentinel://h1/mymaster", [("h1", 26379)], "mymaster", 0, {}),
        ("redis+sentinel://h1:1/mymaster/", [("h1", 1)], "mymaster", 0, {}),
        ("redis+sentinel://:s%40cret@h1:1,[::1]:2/svc/0", [("h1", 1), ("::1", 2)], "svc", 0,
         {"password": "s@cret"}),
        ("REDIS+SENTINEL://u:p@h1:1/svc/15", [("h1", 1)], "svc", 15,
         {"username": "u", "password": "p"}),
    ],
)  # fmt: skip
def test_sentinel_url_is_parsed(url, sentinels, service, db, auth):
    parsed = redisurl.parse_sentinel_url(url)
    assert list(parsed.sentinels) == sentinels
    assert (parsed.service, parsed.db, parsed.auth()) == (service, db, auth)


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://h1:26379",  # no service
        "redis+sentinel://h1:26379/",
        "redis+sentinel://h1:26379/svc/zero",
        "redis+sentinel://h1:26379/svc/0/extra",
        "redis+sentinel://h1:notaport/svc",
        "redis+sentinel://h1:70000/svc",
        "redis+sentinel://:26379/svc",
        "redis+sentinel://h1,,h2/svc",
        "redis+sentinel://h1/svc?ssl=true",
    ],
)
def test_bad_sentinel_url_refuses_to_start(config, url):
    config["REDIS_URL"] = url
    with pytest.raises(ConfigError, match="REDIS_URL"):
        create_app(config)


@pytest.mark.parametrize(
    "settings",
    [
        {"REDIS_REPLICA_TIMEOUT": 1.0},  # not less than the 1 s socket timeout
        {"REDIS_REPLICA_TIMEOUT": 0},
        {"REDIS_MIN_REPLICAS": -1},
        {"REDIS_MIN_REPLICAS": "two"},
    ],
)
def test_bad_durability_settings_refuse_to_start(config, settings):
    config.update(REDIS_URL="redis://127.0.0.1:9/0", **settings)
    with pytest.raises(ConfigError, match="FLASK_REDIS_"):
        create_app(config)


@pytest.mark.parametrize(
    ("url", "setting", "replicas"),
    [
        ("redis+sentinel://127.0.0.1:9/mymaster/0", None, 1),
        ("redis://127.0.0.1:9/0", None, 0),
        ("redis+sentinel://127.0.0.1:9/mymaster/0", 0, 0),
        ("redis://127.0.0.1:9/0", 2, 2),
    ],
)
def test_min_replicas_default_follows_the_url(config, url, setting, replicas):
    config.update(REDIS_URL=url, REDIS_MIN_REPLICAS=setting)
    app = create_app(config)
    assert app.extensions["redis"].durability == redisdb.Durability(replicas, 500)
    app.extensions["redis"].close()


def test_rate_limiter_gets_the_service_without_the_db(config):
    """``limits`` would read ``/mymaster/3`` as the service ``mymaster3``."""
    config.update(
        REDIS_URL="redis+sentinel://127.0.0.1:9,127.0.0.1:10/mymaster/3", RATELIMIT_ENABLED=True
    )
    app = create_app(config)
    assert (
        app.config["RATELIMIT_STORAGE_URI"] == "redis+sentinel://127.0.0.1:9,127.0.0.1:10/mymaster"
    )
    storage = limiter._storage
    assert storage.service_name == "mymaster"
    assert storage.storage.connection_pool.connection_kwargs["db"] == 3
    assert storage.sentinel.sentinel_kwargs["socket_timeout"] == app.config["REDIS_SOCKET_TIMEOUT"]
    app.extensions["redis"].close()


def test_an_app_gets_no_rate_limit_options_of_an_earlier_one(config, redis_url):
    config.update(REDIS_URL="redis+sentinel://127.0.0.1:9/mymaster/3", RATELIMIT_ENABLED=True)
    create_app(config).extensions["redis"].close()
    config.update(REDIS_URL=redis_url, REDIS_KEY_PREFIX=backends.redis_prefix("limits"))
    app = create_app(config)
    api = Api(app.test_client())
    api.register()
    assert api.login().status_code == 200  # not a 500 from the Sentinel's options
    backends.delete_prefixed(config["REDIS_KEY_PREFIX"], app.extensions["redis"])
    app.extensions["redis"].close()


@pytest.fixture
def group(tmp_path):
    needs_redis_server()
    with backends.RedisSentinelGroup(tmp_path / "redis") as group:
        yield group


def test_app_on_a_sentinel_url(config, group):
    """Tokens, revocations and rate limits all go to the primary the sentinels name."""
    config.update(REDIS_URL=group.url, RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="2 per minute")
    app = create_app(config)
    api = Api(app.test_client())
    pair = api.tokens()
    assert api.get("/protected", pair["access_token"]).status_code == 200
    assert api.post("/auth/logout", pair["access_token"]).status_code == 204
    assert api.get("/protected", pair["access_token"]).status_code == 401
    assert [api.login().status_code for _ in range(2)] == [200, 429]
    primary = redis.Redis(port=group.primary_port())
    keys = {key.decode() for key in primary.scan_iter(count=1000)}
    prefix = app.config["REDIS_KEY_PREFIX"]
    assert any(key.startswith(prefix) and "limits" not in key for key in keys)
    assert any(key.startswith(prefix + "limits") for key in keys)
    primary.close()
    app.extensions["redis"].close()


@pytest.fixture
def replicated(tmp_path):
    """A primary and one replica, no sentinels: enough to see WAIT at work."""
    needs_redis_server()
    with backends.RedisSentinelGroup(tmp_path / "redis", sentinels=0) as group:
        yield group.servers


def settings(url, **more):
    # generous socket timeouts: on a loaded machine a 1 s timeout (and its retry) could
    # end a request before WAIT has answered, and these tests are about WAIT
    return {
        "REDIS_URL": url,
        "REDIS_SOCKET_TIMEOUT": 5.0,
        "REDIS_CONNECT_TIMEOUT": 5.0,
        "REDIS_REPLICA_TIMEOUT": 1.0,  # a healthy replica acks within it even here
        **more,
    }


@pytest.mark.parametrize("transaction", [True, False])
def test_durable_write_waits_for_a_replica_or_fails(replicated, transaction):
    primary, replica = replicated
    client = redisdb.make_client(primary.url, settings(primary.url, REDIS_MIN_REPLICAS=1))
    with redisdb.durable(client, transaction=transaction) as pipe:
        pipe.set("k", 1).incr("n")
        assert pipe.execute() == [True, 1]
    assert redis.Redis(port=replica.port).get("k") == b"1"  # on the replica when acknowledged

    replica.pause()  # a replica that stopped answering (or a partition)
    try:
        with (
            pytest.raises(redisdb.NotReplicated, match="0 of 1 replica"),
            redisdb.durable(client, transaction=transaction) as pipe,
        ):
            pipe.set("k", 2)
            pipe.execute()
    finally:
        replica.resume()
    assert client.get("k") == b"2"  # on the primary, but never acknowledged as durable
    client.close()


def test_durable_write_needs_no_replica_when_none_is_required(replicated):
    primary, replica = replicated
    client = redisdb.make_client(primary.url, settings(primary.url))
    assert client.durability.replicas == 0
    replica.pause()
    try:
        with redisdb.durable(client) as pipe:
            assert pipe.set("k", 3).execute() == [True]
    finally:
        replica.resume()
    client.close()


@pytest.fixture
def durable_app(config, replicated):
    primary, replica = replicated
    config.update(settings(primary.url, REDIS_MIN_REPLICAS=1))
    app = create_app(config)
    yield app, replica
    replica.resume()
    app.extensions["redis"].close()


def assert_unavailable(response):
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "1"


def test_token_state_changes_wait_for_a_replica(durable_app):
    """Logout, refresh and login answer only once a replica holds their change;
    a 503 leaves nothing the client was not told about, so its retry works."""
    app, replica = durable_app
    api = Api(app.test_client())
    leaving, staying = api.tokens(), api.login().json
    replica.pause()
    assert_unavailable(api.post("/auth/logout", leaving["access_token"]))
    assert_unavailable(api.post("/auth/refresh", staying["refresh_token"]))
    assert_unavailable(api.login())
    # not promised, but in effect on the primary at once (fail closed)
    assert api.get("/protected", leaving["access_token"]).status_code == 401
    replica.resume()

    with app.app_context():
        sessions = app.extensions["token_store"].sessions_of(1)
    assert len(sessions) == 1  # the refused login left no session behind
    # the refresh refused with 503 did not spend its token: the retry is no "reuse"
    assert api.post("/auth/refresh", staying["refresh_token"]).status_code == 200
    assert api.post("/auth/logout", leaving["access_token"]).status_code == 401  # already ended


LOADED_MODULES = """
import sys
import api
app = api.create_app({"INSTANCE_PATH": sys.argv[1], "TESTING": True, **eval(sys.argv[2])})
print(sorted({name.split(".")[0] for name in sys.modules} & {"redis", "alembic"}))
"""


@pytest.mark.parametrize(
    ("settings", "loaded"),
    [({}, []), ({"REDIS_URL": "redis://127.0.0.1:1/0"}, ["redis"])],
)
def test_redis_py_is_loaded_only_by_an_app_that_uses_redis(tmp_path, settings, loaded):
    """About 7 MB per worker (README "Performance"); migrations are not loaded either."""
    env = {k: v for k, v in os.environ.items() if "REDIS" not in k and "DATABASE" not in k}
    env["FLASK_AUTO_MIGRATE"] = "false"
    command = [sys.executable, "-c", LOADED_MODULES, str(tmp_path / "i"), repr(settings)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == repr(loaded)
