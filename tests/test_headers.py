"""Security headers and request ids."""

import pytest


@pytest.mark.parametrize("path", ["/health", "/openapi.json", "/nowhere", "/docs"])
def test_security_headers_everywhere(client, path):
    headers = client.get(path).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_api_responses_allow_nothing(client):
    assert client.get("/health").headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_docs_page_works_under_its_csp(client):
    response = client.get("/docs")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    page = response.get_data(as_text=True)
    # no inline executable script: only external files and an inert JSON block
    assert page.count("<script") == page.count("<script src=") + 1
    assert '<script type="application/json" id="swagger-ui-config">' in page
    assert "http://" not in page and "https://" not in page
    for asset in ("/swagger-ui-assets/swagger-ui-bundle.js", "/static/swagger-init.js"):
        assert asset in page
        with client.get(asset) as served:
            assert served.status_code == 200


def test_request_id_is_echoed_or_made(client):
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == (
        "abc-123"
    )
    made = client.get("/health", headers={"X-Request-ID": "bad id\twith junk"}).headers
    assert len(made["X-Request-ID"]) == 32


def _operations(app):
    """(method, path, operation, example body) for every operation of the app's spec."""
    spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in {"get", "put", "post", "patch", "delete"}:
                yield method, path, operation, _example_body(spec, operation)


def _example_body(spec, operation):
    """The body example, else one made of the properties' examples (None: no body)."""
    media = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if media is None:
        return None
    if "example" in media:
        return media["example"]
    schema = media["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return {
        name: field["example"]
        for name, field in schema.get("properties", {}).items()
        if "example" in field
    }


PUBLIC_OPERATIONS = {"getJwks"}  # public documents, like /openapi.json and /docs


def test_every_operation_but_public_documents_is_no_store(app, api, admin_token):
    """Walks the spec: new operations are covered without editing this test."""
    from helpers import PASSWORD, bearer

    with app.app_context():
        from api.users import service

        victim = service.create("victim", "correct horse battery").id
    seen = set()
    for method, path, operation, body in _operations(app):
        pair = api.tokens("root")  # a fresh pair per call: logout spends its token
        token = pair["refresh_token" if operation["operationId"] == "refresh" else "access_token"]
        if operation["operationId"] in {"register", "login"}:
            body = {"username": "root", "password": PASSWORD}
        url = path.replace("{user_id}", str(victim))
        response = api.client.open(url, method=method.upper(), headers=bearer(token), json=body)
        seen.add((operation["operationId"], response.status_code))
        expected = None if operation["operationId"] in PUBLIC_OPERATIONS else "no-store"
        assert response.headers.get("Cache-Control") == expected, (method, path, response.status)
    # the responses that carry personal data or tokens were really produced
    for operation_id, status in [
        ("getMe", 200),
        ("listUsers", 200),
        ("login", 200),
        ("refresh", 200),
        ("getProtected", 200),
    ]:
        assert (operation_id, status) in seen, sorted(seen)


@pytest.mark.parametrize("path", ["/auth/nowhere", "/users/me", "/health"])
def test_errors_and_health_are_no_store(client, path):
    assert client.get(path).headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/.well-known/jwks.json"])
def test_public_documents_may_be_cached(client, path):
    assert "no-store" not in client.get(path).headers.get("Cache-Control", "")


def test_no_hsts_by_default(client):
    assert "Strict-Transport-Security" not in client.get("/health").headers


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"FLASK_HSTS_SECONDS": "63072000"}, "max-age=63072000"),
        (
            {"FLASK_HSTS_SECONDS": "300", "FLASK_HSTS_INCLUDE_SUBDOMAINS": "true"},
            "max-age=300; includeSubDomains",
        ),
    ],
)
def test_hsts_from_setting(monkeypatch, config, env, expected):
    from api import create_app

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = create_app(config).test_client()
    for path in ("/health", "/docs", "/nowhere"):
        assert client.get(path).headers["Strict-Transport-Security"] == expected


@pytest.mark.parametrize("value", ["-1", '"a year"', "1.5", "true"])
def test_bad_hsts_setting_refused_at_start(monkeypatch, config, value):
    from api import create_app
    from api.core.config import ConfigError

    monkeypatch.setenv("FLASK_HSTS_SECONDS", value)
    with pytest.raises(ConfigError, match="HSTS_SECONDS"):
        create_app(config)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Frame-Options", "SAMEORIGIN"),
        ("Content-Security-Policy", "default-src 'self'"),
        ("x-content-type-options", "nosniff"),
    ],
)
def test_a_header_the_view_set_is_kept_and_not_doubled(app, name, value):
    @app.get("/own-header")
    def own_header():
        return "", 204, {name: value}

    headers = app.test_client().get("/own-header").headers
    assert headers.getlist(name) == [value]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert len(headers.getlist("X-Request-ID")) == 1


def _through_middleware(view_headers, path="/x", request_id=None):
    """Call SecureHeaders around a WSGI app answering with ``view_headers``."""
    from api.core.headers import SecureHeaders

    def view(environ, start_response):
        start_response("200 OK", list(view_headers))
        return [b"{}"]

    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["headers"] = headers

    middleware = SecureHeaders(
        view, docs_path="/docs", cacheable=("/openapi.json",), hsts="max-age=60"
    )
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    if request_id is not None:
        environ["HTTP_X_REQUEST_ID"] = request_id
    middleware(environ, start_response)
    return seen["headers"]


def test_middleware_replaces_forced_headers_and_keeps_the_views_own():
    view = [
        ("Content-Type", "application/json"),
        ("cache-control", "max-age=600"),
        ("X-Request-ID", "from-the-view"),
        ("Content-Security-Policy", "default-src 'self'"),
        ("X-Frame-Options", "SAMEORIGIN"),
    ]
    headers = _through_middleware(view, request_id="abc-1")
    names = [name.lower() for name, _ in headers]
    assert len(names) == len(set(names)), headers  # each header once
    got = {name.lower(): value for name, value in headers}
    assert got["cache-control"] == "no-store" and got["x-request-id"] == "abc-1"
    assert got["strict-transport-security"] == "max-age=60"
    # set by the view: kept
    assert got["content-security-policy"] == "default-src 'self'"
    assert got["x-frame-options"] == "SAMEORIGIN"
    assert got["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "cache_control", "csp_start"),
    [
        ("/openapi.json", None, "default-src 'none'; frame-ancestors"),
        ("//openapi.json", None, "default-src 'none'; frame-ancestors"),
        ("/docs", "no-store", "default-src 'none'; script-src 'self'"),
        ("/users/me", "no-store", "default-src 'none'; frame-ancestors"),
    ],
)
def test_middleware_by_path(path, cache_control, csp_start):
    got = dict(_through_middleware([("Content-Type", "text/html")], path=path))
    assert got.get("Cache-Control") == cache_control
    assert got["Content-Security-Policy"].startswith(csp_start)


@pytest.mark.parametrize("given", ["abc\n", "a" * 65, "", "é", "a b"])
def test_malformed_request_ids_are_replaced(given):
    got = dict(_through_middleware([], request_id=given))
    assert got["X-Request-ID"] != given and len(got["X-Request-ID"]) == 32
