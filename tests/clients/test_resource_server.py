"""examples/resource_server.py in both modes: our tokens through the JWKS alone (across a key
rotation; a logout goes unseen), or through introspection (a logout is seen within the cache
lifetime)."""

import json
import os
import re
import subprocess
import sys
import time
import uuid

import jwt
import pytest
from clientkit import resource_server
from cryptography.hazmat.primitives.asymmetric import ed25519
from helpers import PASSWORD
from live import ROOT, call, gunicorn, server

from api.tokens.keys import KeyDirectory

pytestmark = pytest.mark.live

ISSUER = AUDIENCE = "jwt-auth-api"


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """(auth API base URL, resource server base URL, the auth API's instance folder)."""
    folder = tmp_path_factory.mktemp("resource")
    instance = folder / "instance"
    with gunicorn(instance) as api, resource_server(api, folder) as resource:
        status, _, _ = call(
            api, "POST", "/auth/register", {"username": "carol", "password": PASSWORD}
        )
        assert status == 201
        yield api, resource, instance


def login(api):
    status, _, pair = call(api, "POST", "/auth/login", {"username": "carol", "password": PASSWORD})
    assert status == 200, pair
    return pair


def kid_of(token):
    return jwt.get_unverified_header(token)["kid"]


def mint(instance, *, key=None, kid=None, headers=None, **changes):
    """An access token like ours, signed with our current key unless ``key`` is given."""
    keys, current = KeyDirectory(instance / "keys").load()
    now = int(time.time())
    claims = {
        "sub": "1", "jti": str(uuid.uuid4()), "iat": now, "nbf": now, "exp": now + 60,
        "type": "access", "fresh": False, "roles": ["user"], "iss": ISSUER, "aud": AUDIENCE,
    }  # fmt: skip
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    header = {"kid": kid or current, "typ": "at+jwt", **(headers or {})}
    return jwt.encode(claims, key or keys[current].private, algorithm="EdDSA", headers=header)


def unsigned(instance):
    """A token with ``alg: none`` and otherwise valid claims and headers."""
    _, signed = mint(instance).split(".", 1)
    header = jwt.utils.base64url_encode(
        b'{"alg":"none","kid":"%s","typ":"at+jwt"}' % kid_of(mint(instance)).encode()
    )
    return header.decode() + "." + signed.rsplit(".", 1)[0] + "."


def test_our_access_token_is_accepted(services):
    api, resource, instance = services
    status, _, body = call(resource, "GET", "/resource", token=login(api)["access_token"])
    assert (status, body["username"], body["sub"]) == (200, "carol", "1")
    assert call(resource, "GET", "/resource", token=mint(instance))[0] == 200


@pytest.mark.parametrize(
    ("case", "detail"),
    [
        ("expired", "Signature has expired"),
        ("forged signature", "Signature verification failed"),
        ("unknown kid", "unknown key"),
        ("other audience", "Audience doesn't match"),
        ("other issuer", "Invalid issuer"),
        ("refresh token", "not an access token"),
        ("no typ header", "not an access token"),
        ("type claim missing", 'Token is missing the "type" claim'),
        ("alg none", "alg value is not allowed"),
        ("garbage", "malformed token"),
    ],
)
def test_bad_tokens_are_rejected(services, case, detail):
    api, resource, instance = services
    stranger = ed25519.Ed25519PrivateKey.generate()
    token = {
        "expired": lambda: mint(instance, iat=int(time.time()) - 120, exp=int(time.time()) - 60),
        "forged signature": lambda: mint(instance, key=stranger),
        "unknown kid": lambda: mint(instance, key=stranger, kid="x" * 43),
        "other audience": lambda: mint(instance, aud="another-service"),
        "other issuer": lambda: mint(instance, iss="https://evil.example"),
        "refresh token": lambda: login(api)["refresh_token"],
        "no typ header": lambda: mint(instance, headers={"typ": "JWT"}),
        "type claim missing": lambda: mint(instance, type=None),
        "alg none": lambda: unsigned(instance),
        "garbage": lambda: "not-a-jwt",
    }[case]()
    status, _, problem = call(resource, "GET", "/resource", token=token)
    assert (status, problem["status"]) == (401, 401)
    assert detail in problem["detail"]


def test_no_token_is_rejected(services):
    _, resource, _ = services
    assert call(resource, "GET", "/resource")[0] == 401


def test_a_revoked_token_still_works_there_until_it_expires(services):
    """The documented limit: the resource server cannot see a logout."""
    api, resource, _ = services
    access = login(api)["access_token"]
    assert call(api, "POST", "/auth/logout", token=access)[0] == 204
    assert call(api, "GET", "/protected", token=access)[0] == 401
    assert call(resource, "GET", "/resource", token=access)[0] == 200


def test_key_rotation_needs_no_restart(services):
    api, resource, instance = services
    before = login(api)["access_token"]
    assert call(resource, "GET", "/resource", token=before)[0] == 200

    env = {**os.environ, "INSTANCE_PATH": str(instance)}
    rotated = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "api", "keys", "rotate"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    new_kid = re.search(r"new current key: (\S+)", rotated.stdout)[1]
    assert new_kid != kid_of(before)

    def signed_with_new_key():
        token = login(api)["access_token"]
        return token if kid_of(token) == new_kid else None

    after = wait_for(signed_with_new_key)  # workers re-read the key directory
    status = wait_for(lambda: call(resource, "GET", "/resource", token=after)[0] == 200 or None)
    assert status
    assert call(resource, "GET", "/resource", token=before)[0] == 200  # the old key still verifies


def wait_for(probe, seconds=15):
    """Poll ``probe`` until it returns something truthy (workers and caches catch up)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(f"not reached within {seconds}s")


# --- introspection mode ----------------------------------------------------------------

CACHE_SECONDS = 2


@pytest.fixture(scope="module")
def introspecting(tmp_path_factory):
    """(auth API, a resource server in introspection mode, the client's credentials)."""
    folder = tmp_path_factory.mktemp("introspection")
    with server(folder / "instance") as api:
        created = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "api", "clients", "create", "resource"],
            cwd=ROOT, env={**os.environ, **api.env}, capture_output=True, text=True,
            timeout=60, check=True,
        )  # fmt: skip
        credentials = json.loads(created.stdout)
        env = {
            "INTROSPECTION_CLIENT_ID": credentials["client_id"],
            "INTROSPECTION_CLIENT_SECRET": credentials["client_secret"],
            "INTROSPECTION_CACHE_SECONDS": str(CACHE_SECONDS),
        }
        with resource_server(api.base, folder, env=env) as resource:
            status, _, _ = call(
                api.base, "POST", "/auth/register", {"username": "carol", "password": PASSWORD}
            )
            assert status == 201
            assert call(resource, "GET", "/health")[2]["mode"] == "introspection"
            yield api.base, resource, credentials


def test_introspection_mode_accepts_an_active_token(introspecting):
    api, resource, _ = introspecting
    status, _, body = call(resource, "GET", "/resource", token=login(api)["access_token"])
    assert (status, body["username"], body["sub"]) == (200, "carol", "1")


@pytest.mark.parametrize("case", ["refresh token", "garbage", "logged out"])
def test_introspection_mode_rejects(introspecting, case):
    api, resource, _ = introspecting
    pair = login(api)
    value = pair["refresh_token"] if case == "refresh token" else pair["access_token"]
    if case == "garbage":
        value = "not-a-jwt"
    if case == "logged out":  # never seen by the resource server: nothing cached
        assert call(api, "POST", "/auth/logout", token=value)[0] == 204
    status, _, problem = call(resource, "GET", "/resource", token=value)
    assert (status, problem["detail"]) == (401, "token is not active")


def test_introspection_mode_honours_a_logout_within_its_cache_lifetime(introspecting):
    """Unlike JWKS mode: a logged-out token stops working within the cache lifetime."""
    api, resource, _ = introspecting
    access = login(api)["access_token"]
    assert call(resource, "GET", "/resource", token=access)[0] == 200  # cached as active
    assert call(api, "POST", "/auth/logout", token=access)[0] == 204
    logged_out = time.monotonic()
    refused = wait_for(
        lambda: call(resource, "GET", "/resource", token=access)[0] == 401 or None,
        seconds=CACHE_SECONDS + 5,
    )
    elapsed = time.monotonic() - logged_out
    assert refused and elapsed <= CACHE_SECONDS + 1, elapsed
    print(f"logout honoured by the resource server after {elapsed:.2f}s (cache {CACHE_SECONDS}s)")


def test_introspection_mode_with_wrong_client_credentials(introspecting, tmp_path):
    api, _, credentials = introspecting
    env = {
        "INTROSPECTION_CLIENT_ID": credentials["client_id"],
        "INTROSPECTION_CLIENT_SECRET": "wrong-" + credentials["client_secret"],
    }
    with resource_server(api, tmp_path, env=env) as resource:
        status, _, problem = call(resource, "GET", "/resource", token=login(api)["access_token"])
    assert (status, problem["detail"]) == (401, "introspection refused (401)")
