"""Wire the key ring into flask-jwt-extended: kid on every token, lookup by kid.

Verification takes keys only from our own key ring, by ``kid``; it ignores
``jku``/``jwk``/``x5u`` headers, pins each key's algorithm, and requires the
claims the contract names before the signature is even checked.
"""

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, g
from flask_jwt_extended import JWTManager
from jwt.exceptions import InvalidTokenError

from .keys import JwkSet, Key, KeyDirectory, KeyRing, PrivateKey, PublicKey

REQUIRED_CLAIMS = ("exp", "iat", "jti", "sub", "type")
ACCESS_TYP = "at+jwt"  # RFC 9068 §2.1


class SecretRing:
    """HS256/HS384/HS512 with one shared secret: same interface as :class:`KeyRing`."""

    def __init__(self, secret: str | bytes, algorithm: str = "HS256") -> None:
        secret = secret.encode() if isinstance(secret, str) else secret
        jwk = {"k": base64.urlsafe_b64encode(secret).rstrip(b"=").decode(), "kty": "oct"}
        digest = hashlib.sha256(json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode())
        kid = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
        self.current = Key(kid, algorithm, secret, secret)  # the algorithm is pinned

    def signing_key(self) -> Key:
        return self.current

    def verification_key(self, kid: str) -> Key | None:
        return self.current if kid == self.current.kid else None

    def jwks(self) -> JwkSet:
        return {"keys": []}  # a shared secret is never published


def make_ring(config: Mapping[str, Any]) -> SecretRing | KeyRing:
    algorithm = config["JWT_ALGORITHM"]
    if algorithm.startswith("HS"):
        return SecretRing(config["JWT_SECRET_KEY"], algorithm)
    return KeyRing(KeyDirectory(config["KEYS_DIR"]), algorithm)


def ring() -> SecretRing | KeyRing:
    """The key ring of the current app."""
    found: SecretRing | KeyRing = current_app.extensions["keyring"]
    return found


def signing_key() -> Key:
    """Pick the key for the tokens of this request (one key for a whole pair)."""
    key: Key | None = getattr(g, "_signing_key", None)
    if key is None:
        key = g._signing_key = ring().signing_key()
    return key


def init_app(app: Flask, jwt: JWTManager) -> None:
    app.extensions["keyring"] = make_ring(app.config)

    @jwt.encode_key_loader
    def _encode_key(identity: Any) -> PrivateKey | bytes:
        return signing_key().private

    @jwt.decode_key_loader
    def _decode_key(header: dict[str, Any], claims: dict[str, Any]) -> PublicKey | bytes:
        return verification_key(header, claims).public


def verification_key(header: Mapping[str, Any], claims: Mapping[str, Any]) -> Key:
    """The key that must have signed a token with this header and claims."""
    missing = [name for name in REQUIRED_CLAIMS if name not in claims]
    if missing:
        raise InvalidTokenError(f"Missing required claim: {missing[0]}")
    if claims["type"] == "access" and header.get("typ") != ACCESS_TYP:
        raise InvalidTokenError("Access tokens must have typ at+jwt")
    kid = header.get("kid")
    if not isinstance(kid, str) or len(kid) > 128:
        raise InvalidTokenError("Unknown key id")
    key = ring().verification_key(kid)
    if key is None:
        raise InvalidTokenError("Unknown key id")
    if header.get("alg") != key.algorithm:
        raise InvalidTokenError("Algorithm not allowed for this key")
    return key
