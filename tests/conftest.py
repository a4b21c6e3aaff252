"""Fixtures: a fresh app (own instance folder, database and keys) per test.

On the embedded defaults each test gets its own SQLite file. With
``DATABASE_URL`` (PostgreSQL) the session gets its own schema, emptied after
each test and dropped at the end; with ``REDIS_URL`` each test gets its own
key prefix, deleted after it (see tests/backends.py).
"""

import itertools

import backends
import pytest
from helpers import PASSWORD, Api, close_app, missing_tool

from api import create_app


def pytest_runtest_setup(item):
    if item.get_closest_marker("redis_server") and not backends.have_redis_server():
        missing_tool("needs the redis-server binary")


@pytest.fixture(scope="session")
def database_url():
    """The session's PostgreSQL schema URL, or None on the SQLite default."""
    if not backends.on_postgres():
        yield None
        return
    with backends.postgres_schema(tag="suite") as url:
        yield url


@pytest.fixture(scope="session")
def redis_prefix():
    """The session's Redis key prefix (None without REDIS_URL); its keys go at the end."""
    if not backends.REDIS_URL:
        yield None
        return
    prefix = backends.redis_prefix("suite")
    yield prefix
    backends.delete_prefixed(prefix)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """REDIS_URL, or a private redis-server when it is unset (tests of Redis code)."""
    if backends.REDIS_URL:
        yield backends.REDIS_URL
        return
    if not backends.have_redis_server():
        missing_tool("no REDIS_URL and no redis-server binary to start one")
    with backends.RedisServer(tmp_path_factory.mktemp("redis"), persist=False) as server:
        yield server.url


_test_number = itertools.count()


@pytest.fixture(autouse=True)
def _isolated_backends(monkeypatch, database_url, redis_prefix):
    """Point every app a test makes at the session schema and a per-test Redis prefix;
    afterwards close their connections, empty the tables and delete the keys."""
    if database_url:
        monkeypatch.setenv("DATABASE_URL", database_url)
    prefix = f"{redis_prefix}{next(_test_number)}:" if redis_prefix else None
    if prefix:
        monkeypatch.setenv("FLASK_REDIS_KEY_PREFIX", prefix)
    with backends.tracked_engines() as engines:
        yield
    for engine in engines:
        engine.dispose()
    if database_url:
        backends.truncate(database_url)
    if prefix:
        backends.delete_prefixed(prefix)


@pytest.fixture
def config(tmp_path):
    """Settings for a test app; tests may edit it before using ``app``."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "t" * 48,
        "RATELIMIT_ENABLED": False,
    }


@pytest.fixture
def app(config):
    app = create_app(config)
    yield app
    close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(client):
    return Api(client)


@pytest.fixture
def admin_token(app, api):
    """An access token of an admin made with the operator command."""
    from api.users import service

    with app.app_context():
        service.create("root", PASSWORD, is_admin=True)
    return api.login("root").json["access_token"]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """Base URL of the app under `jwt-auth-api serve` (2 workers) on 127.0.0.1."""
    from live import gunicorn

    with gunicorn(tmp_path_factory.mktemp("live") / "instance") as base:
        yield base
