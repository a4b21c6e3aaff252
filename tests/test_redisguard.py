"""Redis must not evict token state: maxmemory-policy checked at start-up and in readiness."""

import logging

import backends
import pytest
import redis
from helpers import Api, assert_problem

from api import create_app
from api.core.config import ConfigError

pytestmark = pytest.mark.redis_server


@pytest.fixture(scope="module")
def evicting(tmp_path_factory):
    """A private redis-server; each test sets the policy it needs."""
    with backends.RedisServer(tmp_path_factory.mktemp("redis"), persist=False) as server:
        yield server


@pytest.fixture
def policy(evicting):
    client = redis.Redis(port=evicting.port)

    def set_policy(name):
        client.config_set("maxmemory-policy", name)

    yield set_policy
    set_policy("noeviction")
    client.close()


def make_app(config, url, **settings):
    config.update(REDIS_URL=url, **settings)
    app = create_app(config)
    return app


@pytest.mark.parametrize("name", ["allkeys-lru", "volatile-lru", "volatile-ttl", "allkeys-random"])
def test_evicting_policy_refused_at_start(config, evicting, policy, name):
    policy(name)
    with pytest.raises(ConfigError, match=f"maxmemory-policy {name}.*noeviction") as refused:
        make_app(config, evicting.url)
    assert "FLASK_REDIS_ALLOW_EVICTION=true" in str(refused.value)


def test_eviction_accepted_when_allowed(config, evicting, policy, caplog):
    policy("allkeys-lru")
    with caplog.at_level(logging.WARNING, logger="api.core.redisguard"):
        app = make_app(config, evicting.url, REDIS_ALLOW_EVICTION=True)
    assert "allkeys-lru accepted" in caplog.text
    assert app.test_client().get("/health").status_code == 200
    app.extensions["redis"].close()


def test_readiness_reports_an_evicting_policy(config, evicting, policy):
    app = make_app(config, evicting.url)
    client = app.test_client()
    assert client.get("/health").status_code == 200
    policy("volatile-lru")
    response = client.get("/health")
    body = assert_problem(response, 503)
    assert response.headers["Retry-After"] == "1"
    assert "maxmemory-policy volatile-lru" in body["detail"]
    policy("noeviction")
    assert client.get("/health").status_code == 200
    app.extensions["redis"].close()


@pytest.fixture(scope="module")
def managed(tmp_path_factory):
    """A redis-server whose CONFIG command is disabled, like many managed services."""
    directory = tmp_path_factory.mktemp("managed")
    server = backends.RedisServer(directory, persist=False, args=["--rename-command", "CONFIG", ""])
    with server:
        yield server


def test_config_command_disabled_warns_and_starts(config, managed, caplog):
    with caplog.at_level(logging.WARNING, logger="api.core.redisguard"):
        app = make_app(config, managed.url)
    assert "FLASK_REDIS_MAXMEMORY_POLICY=noeviction" in caplog.text
    api = Api(app.test_client())
    assert api.client.get("/health").status_code == 200
    assert api.tokens()["access_token"]
    app.extensions["redis"].close()


@pytest.mark.parametrize(("stated", "refused"), [("noeviction", False), ("allkeys-lru", True)])
def test_stated_policy_decides_when_config_is_disabled(config, managed, caplog, stated, refused):
    if refused:
        with pytest.raises(ConfigError, match="maxmemory-policy allkeys-lru"):
            make_app(config, managed.url, REDIS_MAXMEMORY_POLICY=stated)
        return
    with caplog.at_level(logging.WARNING, logger="api.core.redisguard"):
        app = make_app(config, managed.url, REDIS_MAXMEMORY_POLICY=stated)
    assert "maxmemory-policy" not in caplog.text
    assert app.test_client().get("/health").status_code == 200
    app.extensions["redis"].close()
