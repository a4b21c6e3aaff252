"""Crafted request bodies: never a 5xx, every error problem+json (issue 10 item 4).

Every operation that takes a body is found by walking the app's URL map (POST,
PUT, PATCH), so a new operation is covered without editing this file; the
spec gives each one's field names and whether it needs a token. The bodies:
nesting thousands of levels deep, lone surrogates (escaped and as raw bytes),
NUL, characters of every Unicode category, huge and non-finite numbers,
duplicate names, bytes that are not UTF-8.
"""

import json
import re
import unicodedata
from contextlib import ExitStack

import backends
import pytest
from helpers import PASSWORD, bearer, close_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import create_app
from api.core import config as app_config
from api.core import jsonbody

BODY_METHODS = {"POST", "PUT", "PATCH"}
CATEGORIES = sorted({unicodedata.category(chr(c)) for c in range(0x110000)})
DEEP = 3000  # levels: every deep body below stays under the 16 KiB body limit


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    """One app for the module: cheap argon2, rate limits on (their key functions read
    the body too) but far away, and an admin whose fresh tokens reach every body.

    Module-scoped, so it runs before the per-test isolation: on PostgreSQL and Redis it
    makes its own schema and key prefix, and removes them at the end.
    """
    settings = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("crafted") / "instance"),
        "SECRET_KEY": "c" * 48,
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "RATELIMIT_LOGIN": "100000 per minute",
        "RATELIMIT_LOGIN_USERNAME": "100000 per minute",
        "RATELIMIT_REGISTER": "100000 per minute",
    }
    with ExitStack() as cleanup:
        if backends.on_postgres():
            url = cleanup.enter_context(backends.postgres_schema(tag="crafted"))
            settings["SQLALCHEMY_DATABASE_URI"] = app_config._sqlalchemy_url(url)
        if backends.REDIS_URL:
            settings["REDIS_KEY_PREFIX"] = prefix = backends.redis_prefix("crafted")
            cleanup.callback(backends.delete_prefixed, prefix)
        app = create_app(settings)
        cleanup.callback(close_app, app)
        with app.app_context():
            from api.users import service

            service.create("root", PASSWORD, is_admin=True)
        yield app


def body_operations(app):
    """(method, url, field names) for every route that takes a body."""
    spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        spec_path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        url = re.sub(r"<[^>]+>", "1", rule.rule)
        for method in sorted(rule.methods & BODY_METHODS):
            operation = spec["paths"].get(spec_path, {}).get(method.lower(), {})
            found.append((method, url, _fields(spec, operation)))
    return found


def _fields(spec, operation):
    media = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not media:
        return ["username", "password"]
    schema = media["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return sorted(schema.get("properties", {})) or ["username", "password"]


def send(app, method, url, data):
    client = app.test_client()
    token = client.post("/auth/login", json={"username": "root", "password": PASSWORD})
    assert token.status_code == 200, token.json
    headers = {"Content-Type": "application/json", **bearer(token.json["access_token"])}
    return client.open(url, method=method, data=data, headers=headers)


def assert_handled(response):
    """Not a server error; an error is problem+json (RFC 6749 JSON on OAuth endpoints)."""
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        if response.request.path.startswith("/oauth/"):
            assert response.mimetype == "application/json", response.mimetype
            assert isinstance(response.get_json()["error"], str)
            return
        assert response.mimetype == "application/problem+json", response.mimetype
        assert response.get_json()["status"] == response.status_code


def test_body_operations_are_found(target):
    urls = {(method, url) for method, url, _ in body_operations(target)}
    assert {
        ("POST", "/auth/login"),
        ("POST", "/auth/register"),
        ("POST", "/auth/logout"),
        ("PUT", "/users/me/password"),
    } <= urls


def _deep(kind, depth=DEEP):
    if kind == "array":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"":' * depth + "1" + "}" * depth
    return '{"username":' + "[" * depth + "]" * depth + ', "password": "x"}'


@pytest.mark.parametrize("kind", ["array", "object", "in a field"])
def test_deep_nesting_is_400_everywhere(target, kind):
    for method, url, _ in body_operations(target):
        response = send(target, method, url, _deep(kind))
        assert_handled(response)
        assert response.status_code in (400, 401), (method, url, response.status_code)


@pytest.mark.parametrize(
    "raw",
    [
        '"\\ud800"',  # the escape
        '"\\udfff\\ud800"',
        b'"\xed\xa0\x80"',  # the raw UTF-8-like bytes (not UTF-8)
    ],
)
def test_lone_surrogates_are_refused_in_every_field(target, raw):
    raw = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    for method, url, fields in body_operations(target):
        for name in fields:
            body = {field: "@" if field == name else "correct horse battery" for field in fields}
            text = json.dumps(body).replace('"@"', raw)
            response = send(target, method, url, text.encode("latin-1"))
            assert_handled(response)
            assert response.status_code in (400, 401, 422), (method, url, name, response.status)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ('{"username": "a", "username": "b", "password": "correct horse battery"}', "duplicate"),
        ('{"username": ' + "1" * 5000 + ', "password": "x"}', "number longer"),
        ('{"username": 1e999, "password": "x"}', "out of range"),
        ('{"username": NaN, "password": "x"}', "not JSON"),
        ('{"username": -Infinity, "password": "x"}', "not JSON"),
    ],
)
def test_not_i_json_is_400(target, raw, why):
    for method, url, _ in body_operations(target):
        response = send(target, method, url, raw)
        assert_handled(response)
        if response.status_code != 401:  # bodies behind auth_required are read after it
            assert response.status_code == 400
            if not url.startswith("/oauth/"):  # form bodies there: JSON is not even read
                assert why in response.get_json()["detail"]


@pytest.mark.parametrize(("path", "status"), [("/auth/login", 401), ("/auth/register", 422)])
@pytest.mark.parametrize("value", ["ali\x00ce", "\x00"])
def test_nul_in_a_username_never_reaches_the_database(target, path, status, value):
    """Login: an unknown user, never looked up (PostgreSQL text cannot hold NUL)."""
    response = send(target, "POST", path, json.dumps({"username": value, "password": PASSWORD}))
    assert_handled(response)
    assert response.status_code == status


def test_password_change_refuses_a_surrogate_new_password(target):
    body = '{"current_password": "correct horse battery", "new_password": "abcdefghijkl\\ud800"}'
    response = send(target, "PUT", "/users/me/password", body)
    assert response.status_code == 400
    assert_handled(response)


# ---- properties --------------------------------------------------------------------------

any_character = st.one_of(
    st.sampled_from(CATEGORIES).flatmap(lambda c: st.characters(categories=[c])),
    st.sampled_from(["\x00", "\n", "\ud800", "\udbff", "\udc00", "\udfff", "\ufeff", "\u202e"]),
)
text = st.text(any_character, max_size=40)
scalar = st.one_of(
    text,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**80), max_value=10**80),
    st.floats(allow_nan=True, allow_infinity=True),
)
json_value = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


def _dumps(value, ascii_only):
    """JSON text as bytes; with ``ascii_only=False`` surrogates become raw (invalid) bytes."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def crafted_body(draw, fields):
    """A body aimed at an operation's own fields, then maybe twisted at the byte level."""
    body = {name: draw(st.one_of(text, json_value)) for name in fields if draw(st.booleans())}
    body.update(draw(st.dictionaries(text, json_value, max_size=2)))
    data = _dumps(body, draw(st.booleans()))
    twist = draw(st.sampled_from(["none", "deep", "duplicate", "huge", "nonfinite", "bytes"]))
    if twist == "deep":
        depth = draw(st.integers(min_value=jsonbody.MAX_DEPTH - 2, max_value=DEEP))
        data = b"[" * depth + data + b"]" * depth
    elif twist == "duplicate" and fields:
        name = json.dumps(draw(st.sampled_from(fields))).encode()
        data = b"{" + name + b': "x", ' + name + b': "y", ' + data[1:]
    elif twist == "huge" and fields:
        number = draw(st.sampled_from([b"9" * 5000, b"1e999", b"-1e400", b"1" + b"0" * 70]))
        data = b'{"' + fields[0].encode() + b'": ' + number + b", " + data[1:]
    elif twist == "nonfinite" and fields:
        data = b'{"' + fields[0].encode() + b'": NaN, ' + data[1:]
    elif twist == "bytes":
        data = data + draw(st.binary(min_size=1, max_size=8))
    return data


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
@given(data=st.data())
@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_crafted_body_gets_a_server_error(target, data):
    method, url, fields = data.draw(st.sampled_from(body_operations(target)), label="operation")
    body = data.draw(crafted_body(fields), label="body")
    assert_handled(send(target, method, url, body))
