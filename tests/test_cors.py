"""CORS: an allowlist from FLASK_CORS_ORIGINS, preflight for bearer tokens and JSON, no credentials.

The browser's side of it (a page on another origin calling fetch()) is in
tests/clients/test_cors_browser.py.
"""

import pytest
from helpers import PASSWORD, Api

from api import create_app
from api.core.config import ConfigError

ALLOWED = "http://127.0.0.1:5173"
OTHER = "http://127.0.0.1:6000"


def preflight(client, path, origin, method="POST", headers="content-type"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.fixture
def cors_app(config):
    config.update(CORS_ORIGINS=[ALLOWED], RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3 per minute")
    return create_app(config)


def test_no_cors_headers_by_default(client):
    response = preflight(client, "/auth/login", ALLOWED)
    assert "Access-Control-Allow-Origin" not in response.headers
    response = client.get("/livez", headers={"Origin": ALLOWED})
    assert not [h for h in response.headers.keys() if h.lower().startswith("access-control")]


@pytest.mark.parametrize(
    ("path", "method", "headers"),
    [("/auth/login", "POST", "content-type"), ("/protected", "GET", "authorization")],
)
def test_preflight_from_an_allowed_origin(cors_app, path, method, headers):
    response = preflight(cors_app.test_client(), path, ALLOWED, method, headers)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert method in response.headers["Access-Control-Allow-Methods"]
    assert headers in response.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Origin" in response.headers["Vary"]


def test_answers_to_an_allowed_origin_expose_the_request_id(cors_app):
    api = Api(cors_app.test_client())
    api.register()
    response = api.client.post(
        "/auth/login",
        json={"username": "alice", "password": PASSWORD},
        headers={"Origin": ALLOWED},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]
    # errors too: the browser lets the page read a 401 problem
    response = api.client.get("/protected", headers={"Origin": ALLOWED})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED


def test_another_origin_gets_no_cors_headers(cors_app):
    client = cors_app.test_client()
    assert "Access-Control-Allow-Origin" not in preflight(client, "/auth/login", OTHER).headers
    response = client.get("/livez", headers={"Origin": OTHER})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_preflights_do_not_spend_the_login_rate_limit(cors_app):
    api = Api(cors_app.test_client())
    api.register()
    for _ in range(5):
        assert preflight(api.client, "/auth/login", ALLOWED).status_code == 200
    assert api.login().status_code == 200


def test_origins_from_the_environment(monkeypatch, config):
    monkeypatch.setenv("FLASK_CORS_ORIGINS", f'["{ALLOWED}", "https://app.example.com"]')
    app = create_app(config)
    assert app.config["CORS_ORIGINS"] == [ALLOWED, "https://app.example.com"]
    response = preflight(app.test_client(), "/auth/login", "https://app.example.com")
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"


@pytest.mark.parametrize(
    "value",
    [
        "https://app.example.com",  # not a list
        ["*"],
        ["https://app.example.com/"],
        ["app.example.com"],
        ["https://app.example.com/path"],
        ["https://*.example.com"],
        [42],
        {"origin": ALLOWED},
    ],
)
def test_bad_origin_lists_are_refused(config, value):
    config["CORS_ORIGINS"] = value
    with pytest.raises(ConfigError, match="CORS_ORIGINS"):
        create_app(config)
