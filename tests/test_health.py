"""GET /livez (liveness), GET /readyz and its alias /health (readiness of the backends)."""

import backends
import pytest
from helpers import assert_problem

from api import create_app

READINESS = ["/readyz", "/health"]
# what keeps answering 200 while Redis is down (README "What each failure does")
PUBLIC = ["/livez", "/.well-known/jwks.json", "/openapi.json", "/docs"]


@pytest.mark.parametrize("path", ["/livez", *READINESS])
def test_healthy(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


@pytest.mark.parametrize("path", READINESS)
def test_unreachable_database_gives_503(config, path):
    # a real PostgreSQL URL on a closed port: the driver fails to connect
    config.update(
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:9/none?connect_timeout=2",
        AUTO_MIGRATE=False,
    )
    client = create_app(config).test_client()
    body = assert_problem(client.get(path), 503)
    assert "database" in body["detail"]
    assert client.get("/livez").status_code == 200  # liveness asks no backend


@pytest.mark.redis_server
def test_public_routes_answer_while_redis_is_down(config, tmp_path):
    """Rate limits and token state on a private Redis, which is stopped."""
    with backends.RedisServer(tmp_path / "redis", persist=False) as redis_server:
        config.update(REDIS_URL=redis_server.url, RATELIMIT_ENABLED=True)
        app = create_app(config)
        client = app.test_client()
        for path in PUBLIC + READINESS:
            assert client.get(path).status_code == 200, path
        redis_server.stop()
        for path in PUBLIC:
            assert client.get(path).status_code == 200, path
        for path in READINESS:
            assert "redis" in assert_problem(client.get(path), 503)["detail"].lower()
        app.extensions["redis"].close()
