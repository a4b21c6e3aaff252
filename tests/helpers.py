"""Helpers shared by the tests: an HTTP-contract client and problem assertions."""

import os

import pytest

PASSWORD = "correct horse battery"


def close_app(app):
    """Release what a test app holds: its database connections and its Redis client."""
    from api.core.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    client = app.extensions.get("redis")
    if client is not None:
        client.close()


def missing_tool(message):
    """A tool the test needs is not installed: a clear skip locally, a failure in CI.

    CI (``.ci/run``, which sets ``CI``) installs every tool, so there a missing one
    means the run would test less than it claims.
    """
    (pytest.fail if os.environ.get("CI") else pytest.skip)(message)


class Api:
    """Small helpers over the test client, speaking the HTTP contract."""

    def __init__(self, client):
        self.client = client

    def register(self, username="alice", password=PASSWORD):
        return self.client.post("/auth/register", json={"username": username, "password": password})

    def login(self, username="alice", password=PASSWORD):
        return self.client.post("/auth/login", json={"username": username, "password": password})

    def tokens(self, username="alice", password=PASSWORD):
        """Register (if needed) and log in; return the token pair."""
        self.register(username, password)
        response = self.login(username, password)
        assert response.status_code == 200, response.json
        return response.json

    def get(self, path, token=None, **kwargs):
        return self.client.get(path, headers=bearer(token), **kwargs)

    def post(self, path, token=None, **kwargs):
        return self.client.post(path, headers=bearer(token), **kwargs)


def bearer(token):
    return {"Authorization": f"Bearer {token}"} if token else {}


def assert_problem(response, status):
    """The response is an RFC 9457 problem with ``status``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= set(body)
    return body


def assert_challenge(response, *, token_given=True):
    """A 401 problem with an RFC 6750 challenge."""
    body = assert_problem(response, 401)
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) is token_given
    return body
