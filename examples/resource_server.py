"""A separate service that trusts our access tokens, in one of two modes.

**JWKS mode** (the default) verifies each bearer token locally: the signing key comes
from the auth API's ``/.well-known/jwks.json`` (fetched once, cached, fetched again when a
token names a ``kid`` it does not know, so a key rotation needs no redeploy), and the token
must be an access token (``typ: at+jwt`` header, ``type: access`` claim) for our issuer and
audience, unexpired, signed with the algorithm its key is published for. What it cannot
know: anything that happened after the token was issued. A logout, a password change or a
deleted user revokes tokens in the auth API; this mode never asks, so it accepts such a
token until it expires. That is why access tokens are short-lived (15 minutes by default).

**Introspection mode** (``INTROSPECTION_CLIENT_ID`` and ``INTROSPECTION_CLIENT_SECRET`` set,
from ``flask --app api clients create NAME``) asks the auth API instead: ``POST`` the token
to the introspection endpoint (RFC 7662, found in the RFC 8414 metadata) with the client's
HTTP Basic credentials. An active answer is cached for ``INTROSPECTION_CACHE_SECONDS``
(default 10, never past the token's ``exp``), inactive answers are not cached: a revoked
token stops working here within that many seconds, at the price of one call to the auth
API per token and cache lifetime.

Run it (the auth API on port 5000)::

    AUTH_API_URL=http://127.0.0.1:5000 flask --app examples/resource_server.py run --port 5001
    curl -s http://127.0.0.1:5001/resource -H "Authorization: Bearer $ACCESS"
"""

import base64
import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict

import jwt
from flask import Flask, jsonify, request

JWKS_PATH = "/.well-known/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "type"]
MIN_REFETCH_SECONDS = 5.0  # unknown kids never make us hammer the auth API
MAX_AGE_SECONDS = 300.0  # retired keys drop out of the cache within this time
CACHE_ENTRIES = 10_000


class JWKSCache:
    """The auth API's public keys by ``kid``, refetched when stale or a kid is unknown."""

    def __init__(self, url, timeout=5.0):
        self.url = url
        self.timeout = timeout
        self._keys = {}
        self._fetched = float("-inf")
        self._lock = threading.Lock()

    def key(self, kid):
        """The :class:`jwt.PyJWK` for ``kid``, or None."""
        with self._lock:
            age = time.monotonic() - self._fetched
            if age > MAX_AGE_SECONDS or (kid not in self._keys and age > MIN_REFETCH_SECONDS):
                self._fetch()
            return self._keys.get(kid)

    def _fetch(self):
        with urllib.request.urlopen(self.url, timeout=self.timeout) as response:  # noqa: S310
            jwks = json.load(response)
        keys = {}
        for data in jwks.get("keys", []):
            try:
                keys[data["kid"]] = jwt.PyJWK(data)
            except (KeyError, jwt.PyJWKError):
                continue  # a key type this service cannot use
        self._keys = keys
        self._fetched = time.monotonic()


class Rejected(Exception):
    """The bearer token is missing or not acceptable."""


def verify(token, keys, *, issuer, audience):
    """The claims of a valid access token; raise :class:`Rejected` otherwise."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise Rejected("malformed token") from error
    if header.get("typ") != "at+jwt":
        raise Rejected("not an access token")
    kid = header.get("kid")
    key = keys.key(kid) if isinstance(kid, str) else None
    if key is None:
        raise Rejected("unknown key")
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm_name],  # the one the key is published for
            issuer=issuer,
            audience=audience,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as error:
        raise Rejected(str(error)) from error
    if claims["type"] != "access":
        raise Rejected("not an access token")
    return claims


class Introspector:
    """RFC 7662 client with a short positive cache (keyed by the token's SHA-256)."""

    def __init__(self, base, client_id, client_secret, *, cache_seconds=10.0, timeout=5.0):
        self.base = base
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        pair = f"{urllib.parse.quote(client_id)}:{urllib.parse.quote(client_secret)}"
        self._authorization = "Basic " + base64.b64encode(pair.encode()).decode()
        self._endpoint = None
        self._cache = OrderedDict()  # sha256(token) -> (valid until, claims)
        self._lock = threading.Lock()
        self.calls = 0  # introspection requests made (for tests and metrics)

    def endpoint(self):
        """The introspection endpoint named by the auth API's RFC 8414 metadata."""
        if self._endpoint is None:
            url = self.base + METADATA_PATH
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310
                self._endpoint = json.load(response)["introspection_endpoint"]
        return self._endpoint

    def claims(self, token):
        """The introspection answer of an active token; raise :class:`Rejected` otherwise."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.time()
        with self._lock:
            cached = self._cache.get(digest)
            if cached is not None and cached[0] > now:
                return cached[1]
            self._cache.pop(digest, None)
        answer = self._ask(token)
        if not answer.get("active"):
            raise Rejected("token is not active")
        until = min(now + self.cache_seconds, float(answer.get("exp", now)))
        if until > now:
            with self._lock:
                self._cache[digest] = (until, answer)
                while len(self._cache) > CACHE_ENTRIES:
                    self._cache.popitem(last=False)
        return answer

    def _ask(self, token):
        body = urllib.parse.urlencode({"token": token, "token_type_hint": "access_token"})
        call = urllib.request.Request(self.endpoint(), data=body.encode(), method="POST")  # noqa: S310
        call.add_header("Content-Type", "application/x-www-form-urlencoded")
        call.add_header("Authorization", self._authorization)
        self.calls += 1
        try:
            with urllib.request.urlopen(call, timeout=self.timeout) as response:  # noqa: S310
                return json.load(response)
        except urllib.error.HTTPError as error:
            raise Rejected(f"introspection refused ({error.code})") from error


def create_app(auth_api_url=None, issuer="jwt-auth-api", audience="jwt-auth-api"):
    app = Flask(__name__)
    base = (auth_api_url or os.environ.get("AUTH_API_URL", "http://127.0.0.1:5000")).rstrip("/")
    issuer = os.environ.get("TOKEN_ISSUER", issuer)
    audience = os.environ.get("TOKEN_AUDIENCE", audience)
    client_id = os.environ.get("INTROSPECTION_CLIENT_ID")
    if client_id:
        introspector = Introspector(
            base,
            client_id,
            os.environ.get("INTROSPECTION_CLIENT_SECRET", ""),
            cache_seconds=float(os.environ.get("INTROSPECTION_CACHE_SECONDS", "10")),
        )
        check = introspector.claims
        app.config["MODE"] = "introspection"
    else:
        keys = JWKSCache(base + JWKS_PATH)

        def check(token):
            claims = verify(token, keys, issuer=issuer, audience=audience)
            return {**claims, "username": claims.get("preferred_username")}

        app.config["MODE"] = "jwks"

    @app.get("/resource")
    def resource():
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer" or not token:
                raise Rejected("bearer token required")
            claims = check(token)
        except Rejected as error:
            return unauthorized(str(error), token_given=bool(token))
        return {"message": "Hello from the resource server!", "sub": claims["sub"],
                "username": claims.get("username")}  # fmt: skip

    @app.get("/health")
    def health():
        return {"status": "ok", "mode": app.config["MODE"]}

    return app


def unauthorized(detail, token_given):
    """A 401 problem+json with an RFC 6750 challenge."""
    body = {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": detail}
    response = jsonify(body)
    response.status_code = 401
    response.mimetype = "application/problem+json"
    challenge = 'Bearer realm="resource"'
    if token_given:
        challenge += ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = challenge
    return response
