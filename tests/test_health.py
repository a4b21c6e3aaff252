"""GET /health: readiness of the backends."""

from helpers import assert_problem

from api import create_app


def test_healthy(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_unreachable_database_gives_503(config):
    # a real PostgreSQL URL on a closed port: the driver fails to connect
    config.update(
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:9/none?connect_timeout=2",
        AUTO_MIGRATE=False,
    )
    client = create_app(config).test_client()
    body = assert_problem(client.get("/health"), 503)
    assert "database" in body["detail"]
