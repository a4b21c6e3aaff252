"""Bearer-token verification on public PyJWT calls, with a cache of verified tokens.

A token is verified once, here, by :func:`decode`: its ``kid`` picks the key
from our own key ring (``jku``/``jwk``/``x5u`` headers are ignored), the key's
one algorithm is pinned, the signature, ``iss``, ``aud``, ``exp`` and ``nbf``
(with ``JWT_DECODE_LEEWAY``) are checked by :func:`jwt.decode`, and the claims
the contract names are required. No private part of flask-jwt-extended is used:
flask-jwt-extended only *issues* tokens; routes read the claims through
:func:`claims` (``flask_jwt_extended.get_jwt()`` is not set by this path).

The cache is keyed by the exact ``Authorization`` header value: only bytes that
passed full verification are ever stored, so tampered bytes are a miss and get
verified (and refused) in full. On a hit, everything that can change over time
is checked again: ``exp``/``nbf`` against the clock, the signing key still being
in the key ring (a retired key drops its entries), the token type and
freshness, and the revocation check, made on every request as before.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from flask import current_app, g, request

from . import signing
from .keys import Key

MAX_ENTRIES = 1024  # about 2.5 KB each
HEADER_NAME = "Authorization"
SCHEME = "Bearer"
MAX_KID_LENGTH = 128
_FIELDS = re.compile(r",\s*")

Claims = dict[str, Any]
Entry = tuple[dict[str, Any], Claims, Key]


class Rejected(Exception):
    """A request whose bearer token is missing or not acceptable (401)."""

    def __init__(self, detail: str, *, token_given: bool = True) -> None:
        super().__init__(detail)
        self.detail = detail
        self.token_given = token_given


class VerifiedTokens:
    """LRU of ``header value -> (jwt header, claims, key)``, at most ``size`` entries."""

    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self.size = size
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, value: object) -> bool:
        return value in self._entries

    def get(self, value: str, leeway: float) -> Entry | None:
        """The entry for ``value`` if its token is still within its lifetime and key."""
        with self._lock:
            entry = self._entries.get(value)
            if entry is None:
                return None
            self._entries.move_to_end(value)
        header, claims, key = entry
        now = time.time()
        if (
            claims["exp"] <= now - leeway
            or claims.get("nbf", 0) > now + leeway
            or signing.ring().verification_key(header["kid"]) is not key
        ):
            self.discard(value)
            return None  # let the full path decide (and word the error)
        return entry

    def put(self, value: str, header: Mapping[str, Any], claims: Claims, key: Key | None) -> None:
        if key is None or self.size <= 0:
            return
        with self._lock:
            self._entries[value] = (dict(header), _copy(claims), key)
            self._entries.move_to_end(value)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def discard(self, value: str) -> None:
        with self._lock:
            self._entries.pop(value, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _copy(claims: Claims) -> Claims:
    return {name: list(v) if isinstance(v, list) else v for name, v in claims.items()}


def bearer_token(value: str | None) -> str:
    """The token in an ``Authorization: Bearer <token>`` value (RFC 6750 §2.1).

    No header, or none with the Bearer scheme, is a missing token; a Bearer
    field that is not exactly ``Bearer <token>`` is a malformed one.
    """
    value = (value or "").strip().strip(",")
    if not value:
        raise Rejected("Missing bearer token.", token_given=False)
    fields = [f for f in _FIELDS.split(value) if f and f.split()[0] == SCHEME]
    if len(fields) != 1:
        raise Rejected("Missing bearer token.", token_given=False)
    parts = fields[0].split()
    if len(parts) != 2:
        raise Rejected(f"Bad {HEADER_NAME} header. Expected '{HEADER_NAME}: {SCHEME} <JWT>'.")
    return parts[1]


def decode(token: str, *, allow_expired: bool = False) -> tuple[dict[str, Any], Claims, Key]:
    """Verify ``token`` in full; its header, claims and the key that signed it.

    Raises :class:`jwt.PyJWTError` (an :class:`jwt.InvalidTokenError`) when the
    token is not one of ours, is tampered with, or is outside its lifetime.
    """
    header = jwt.get_unverified_header(token)
    kid = header.get("kid")
    if not isinstance(kid, str) or len(kid) > MAX_KID_LENGTH:
        raise jwt.InvalidTokenError("Unknown key id")
    key = signing.ring().verification_key(kid)
    if key is None:
        raise jwt.InvalidTokenError("Unknown key id")
    if header.get("alg") != key.algorithm:
        raise jwt.InvalidTokenError("Algorithm not allowed for this key")
    config = current_app.config
    claims: Claims = jwt.decode(
        token,
        key.public,  # a cryptography public key, or HMAC bytes
        algorithms=[key.algorithm],
        audience=config["JWT_DECODE_AUDIENCE"],
        issuer=config["JWT_DECODE_ISSUER"],
        leeway=config["JWT_DECODE_LEEWAY"],
        options={"require": list(signing.REQUIRED_CLAIMS), "verify_exp": not allow_expired},
    )
    if claims["type"] not in ("access", "refresh"):
        raise jwt.InvalidTokenError("Unknown token type")
    if claims["type"] == "access" and header.get("typ") != signing.ACCESS_TYP:
        raise jwt.InvalidTokenError("Access tokens must have typ at+jwt")
    return header, claims, key


def verify_request(
    cache: VerifiedTokens,
    *,
    fresh: bool = False,
    refresh: bool = False,
    is_revoked: Callable[[Claims], bool] | None = None,
) -> Claims:
    """Verify this request's bearer token, check it is not revoked, and keep its claims.

    Raises :class:`Rejected` (401) when it is missing, invalid, expired, of the
    wrong type, not fresh when ``fresh`` is asked, or revoked.
    """
    value = request.headers.get(HEADER_NAME)
    leeway = current_app.config["JWT_DECODE_LEEWAY"]
    entry = cache.get(value, leeway) if value else None
    if entry is None:
        token = bearer_token(value)
        try:
            header, claims, key = decode(token)
        except jwt.ExpiredSignatureError:
            raise Rejected("Token has expired.") from None
        except jwt.PyJWTError as error:
            raise Rejected(_reason(error)) from None
        cache.put(value or "", header, claims, key)
    else:
        header, claims, key = entry
    claims = _copy(claims)  # a route may change what claims() returns; not the cache
    if refresh and claims["type"] != "refresh":
        raise Rejected("Only refresh tokens are allowed here.")
    if not refresh and claims["type"] != "access":
        raise Rejected("Only access tokens are allowed here.")
    if fresh and not _is_fresh(claims):
        raise Rejected("Fresh token required: log in again.")
    if is_revoked is not None and is_revoked(claims):
        raise Rejected("Token has been revoked.")
    g.verified_claims = claims
    return claims


def claims() -> Claims:
    """The claims of this request's verified token (inside an ``auth_required`` view)."""
    found: Claims | None = g.get("verified_claims")
    if found is None:
        raise RuntimeError("claims() needs a view protected with auth_required()")
    return found


def _is_fresh(claims: Claims) -> bool:
    fresh = claims.get("fresh", False)
    if isinstance(fresh, bool):
        return fresh
    return isinstance(fresh, int | float) and fresh >= time.time()


def _reason(error: Exception) -> str:
    """A short, safe sentence from a PyJWT message."""
    reason = str(error).strip() or "Invalid token"
    return (reason[:200].rstrip(".") + ".").replace("\n", " ")
