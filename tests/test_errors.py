"""Every error is problem+json with the right status; bad input never gets a 500."""

import pytest
from helpers import PASSWORD, assert_problem


def test_unknown_path(client):
    body = assert_problem(client.get("/nowhere"), 404)
    assert body["instance"] == "/nowhere"


def test_wrong_method_keeps_allow_header(client):
    response = client.delete("/protected")
    assert_problem(response, 405)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ("\x00", "application/json"),
        ('"just a string"', "application/json"),
        ("[1, 2]", "application/json"),
        ("null", "application/json"),
        ("username=alice", "application/x-www-form-urlencoded"),
        ('{"username": "alice"}', "text/plain"),
        ("", None),
    ],
)
def test_bad_bodies_get_4xx_problem(client, data, content_type):
    response = client.post("/auth/login", data=data, content_type=content_type)
    assert 400 <= response.status_code < 500
    assert_problem(response, response.status_code)


def test_body_too_large(client):
    response = client.post(
        "/auth/register",
        data='{"username": "alice", "password": "' + "x" * 20_000 + '"}',
        content_type="application/json",
    )
    assert_problem(response, 413)


def test_unhandled_exception_is_a_500_problem_that_leaks_nothing(app, client, monkeypatch):
    from api.users import service

    def explode(*args):
        raise RuntimeError("secret internals: /etc/passwd")

    monkeypatch.setattr(service, "authenticate", explode)
    response = client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    body = assert_problem(response, 500)
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert body["detail"] == "The server could not complete the request."


def test_validation_errors_are_flat(client):
    response = client.post("/auth/register", json={"username": "x"})
    body = assert_problem(response, 422)
    assert body["errors"]["username"] and body["errors"]["password"]
    assert "json" not in body["errors"]
