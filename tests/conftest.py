"""Fixtures: a fresh app (own instance folder, database and keys) per test."""

import pytest
from helpers import PASSWORD, Api

from api import create_app


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
    with app.app_context():
        from api.extensions import db

        db.session.remove()
        db.engine.dispose()


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
    """Base URL of the app under gunicorn (2 workers) on 127.0.0.1."""
    from live import gunicorn

    with gunicorn(tmp_path_factory.mktemp("live") / "instance") as base:
        yield base
