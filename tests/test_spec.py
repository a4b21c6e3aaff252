"""The OpenAPI document: committed copy in sync, valid, and honest about security."""

import json
import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

import api as package

SPEC_FILE = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture
def spec(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_committed_spec_matches_live_app(spec):
    committed = json.loads(SPEC_FILE.read_text())
    assert committed == spec, (
        "openapi/openapi.json is stale: run "
        "`flask --app api openapi write --format=json openapi/openapi.json`"
    )


def test_spec_validates(spec):
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["version"] == package.__version__


def test_bearer_scheme(spec):
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert scheme["bearerFormat"] == "JWT"


def test_oauth2_password_flow_beside_bearer(spec):
    schemes = spec["components"]["securitySchemes"]
    password = schemes["oauth2"]["flows"]["password"]
    assert (schemes["oauth2"]["type"], password["tokenUrl"]) == ("oauth2", "/oauth/token")
    assert schemes["oauthClient"] == {**schemes["oauthClient"], "type": "http", "scheme": "basic"}


def test_no_catch_all_default_response(spec):
    for path, method, operation in operations(spec):
        assert "default" not in operation["responses"], (method, path)


def test_every_operation_has_id_summary_and_tag(spec):
    ids = [operation["operationId"] for _, _, operation in operations(spec)]
    assert len(ids) == len(set(ids))
    for path, method, operation in operations(spec):
        assert operation.get("summary"), (method, path)
        assert operation.get("tags"), (method, path)


def test_protected_operations_document_bearer_and_errors(spec):
    protected = [(p, m, o) for p, m, o in operations(spec) if bearer(o)]
    assert {(p, m) for p, m, _ in protected} >= {
        ("/protected", "get"),
        ("/users/me", "get"),
        ("/auth/refresh", "post"),
        ("/auth/logout", "post"),
    }
    for path, method, operation in protected:
        # a refresh token comes only from a login, never from the oauth2 flow
        alternatives = [{"bearerAuth": []}]
        if operation["operationId"] != "refresh":
            alternatives.append({"oauth2": []})
        assert operation["security"] == alternatives, (method, path)
        assert "401" in operation["responses"], (method, path)


def bearer(operation):
    return any("bearerAuth" in requirement for requirement in operation.get("security") or ())


def test_oauth_operations(spec):
    """Public except introspection (client Basic); errors are RFC 6749 JSON."""
    oauth = {(p, m): o for p, m, o in operations(spec) if p.startswith("/oauth/")}
    assert set(oauth) == {
        ("/oauth/token", "post"),
        ("/oauth/revoke", "post"),
        ("/oauth/introspect", "post"),
    }
    for (path, _method), operation in oauth.items():
        expected = [{"oauthClient": []}] if path == "/oauth/introspect" else []
        assert operation["security"] == expected, path
        body = operation["requestBody"]["content"]
        assert list(body) == ["application/x-www-form-urlencoded"], path
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert list(response["content"]) == ["application/json"], (path, status)
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/OAuthError"}, (path, status)
    assert "401" in oauth["/oauth/introspect", "post"]["responses"]


def test_errors_are_documented_as_problem_json(spec):
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if int(status) < 400 or path.startswith("/oauth/"):
                continue
            name = response["$ref"].rsplit("/", 1)[-1]
            content = spec["components"]["responses"][name]["content"]
            assert list(content) == ["application/problem+json"], (method, path, status)


def test_spec_is_the_same_for_every_app_instance(spec, config, tmp_path):
    from api import create_app

    config["INSTANCE_PATH"] = str(tmp_path / "second")
    again = create_app(config).test_client().get("/openapi.json").json
    assert again == spec


def test_protection_and_documentation_go_together(app, spec):
    """No view is protected without the bearer doc, none documented without protection."""
    documented = {(p, m) for p, m, o in operations(spec) if bearer(o)}
    enforced = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        if view_class is None:
            continue
        for method in METHODS:
            handler = getattr(view_class, method, None)
            if handler is not None and getattr(handler, "_auth_required", None) is not None:
                path = re.sub(r"<(?:[^>]*:)?(\w+)>", r"{\1}", rule.rule)  # <int(...):id> → {id}
                enforced.add((path, method))
    assert documented == enforced
