"""A separate service that trusts our access tokens, knowing only our public JWKS.

It verifies each bearer token locally: the signing key comes from the auth API's
``/.well-known/jwks.json`` (fetched once, cached, fetched again when a token names a
``kid`` it does not know, so a key rotation needs no redeploy), and the token must be an
access token (``typ: at+jwt`` header, ``type: access`` claim) for our issuer and audience,
unexpired, signed with the algorithm its key is published for.

What it cannot know: anything that happened after the token was issued. A logout, a
password change or a deleted user revokes tokens in the auth API's database; this service
never asks, so it accepts such a token until it expires. That is why access tokens are
short-lived (15 minutes by default): the lifetime bounds how long a revoked token still works
here. A service that needs revocation at once must call the auth API (e.g. ``GET /users/me``)
instead of verifying locally.

Run it (the auth API on port 5000)::

    AUTH_API_URL=http://127.0.0.1:5000 flask --app examples/resource_server.py run --port 5001
    curl -s http://127.0.0.1:5001/resource -H "Authorization: Bearer $ACCESS"
"""

import json
import os
import threading
import time
import urllib.request

import jwt
from flask import Flask, jsonify, request

JWKS_PATH = "/.well-known/jwks.json"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "type"]
MIN_REFETCH_SECONDS = 5.0  # unknown kids never make us hammer the auth API
MAX_AGE_SECONDS = 300.0  # retired keys drop out of the cache within this time


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


def create_app(auth_api_url=None, issuer="jwt-auth-api", audience="jwt-auth-api"):
    app = Flask(__name__)
    base = (auth_api_url or os.environ.get("AUTH_API_URL", "http://127.0.0.1:5000")).rstrip("/")
    keys = JWKSCache(base + JWKS_PATH)
    issuer = os.environ.get("TOKEN_ISSUER", issuer)
    audience = os.environ.get("TOKEN_AUDIENCE", audience)

    @app.get("/resource")
    def resource():
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer" or not token:
                raise Rejected("bearer token required")
            claims = verify(token, keys, issuer=issuer, audience=audience)
        except Rejected as error:
            return unauthorized(str(error), token_given=bool(token))
        return {"message": "Hello from the resource server!", "sub": claims["sub"],
                "username": claims.get("preferred_username")}  # fmt: skip

    @app.get("/health")
    def health():
        return {"status": "ok"}

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
