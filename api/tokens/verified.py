"""A bounded cache of already verified tokens, so a token's signature is checked once.

Keyed by the exact ``Authorization`` header value: only bytes that passed full
verification are ever stored, so tampered bytes are a miss and get verified
(and refused) in full. On a hit, everything that can change over time is
checked again: ``exp``/``nbf`` against the clock, the signing key still being
in the key ring (a retired key drops its entries), the token type and
freshness, and the revocation check, made on every request as before.
"""

import threading
import time
from collections import OrderedDict

from flask import g, request
from flask_jwt_extended import verify_jwt_in_request
from flask_jwt_extended.config import config as jwt_config
from flask_jwt_extended.internal_utils import (
    custom_verification_for_token,
    verify_token_not_blocklisted,
    verify_token_type,
)
from flask_jwt_extended.view_decorators import _load_user, _verify_token_is_fresh

from . import signing

MAX_ENTRIES = 4096


class VerifiedTokens:
    """LRU of ``header value -> (jwt header, claims, key)``, at most ``size`` entries."""

    def __init__(self, size=MAX_ENTRIES):
        self.size = size
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._entries)

    def __contains__(self, value):
        return value in self._entries

    def get(self, value, leeway):
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

    def put(self, value, header, claims, key):
        if key is None:
            return
        with self._lock:
            self._entries[value] = (dict(header), _copy(claims), key)
            self._entries.move_to_end(value)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def discard(self, value):
        with self._lock:
            self._entries.pop(value, None)

    def clear(self):
        with self._lock:
            self._entries.clear()


def _copy(claims):
    return {name: list(v) if isinstance(v, list) else v for name, v in claims.items()}


def verify_request(cache, *, fresh=False, refresh=False):
    """``verify_jwt_in_request`` with the signature check skipped for a cached token."""
    value = request.headers.get(jwt_config.header_name)
    cacheable = (
        value is not None
        and request.method not in jwt_config.exempt_methods
        and list(jwt_config.token_location) == ["headers"]
    )
    entry = cache.get(value, jwt_config.leeway) if cacheable else None
    if entry is None:
        verified = verify_jwt_in_request(fresh=fresh, refresh=refresh)
        if cacheable and verified:
            header, claims = verified
            cache.put(value, header, claims, signing.ring().verification_key(header["kid"]))
        return
    header, claims, _key = entry
    claims = _copy(claims)  # a route may change what get_jwt() returns; not the cache
    verify_token_type(claims, refresh)
    if fresh:
        _verify_token_is_fresh(header, claims)
    verify_token_not_blocklisted(header, claims)
    custom_verification_for_token(header, claims)
    # what verify_jwt_in_request leaves for get_jwt / get_jwt_header / current_user
    g._jwt_extended_jwt_user = _load_user(header, claims)
    g._jwt_extended_jwt_header = dict(header)
    g._jwt_extended_jwt = claims
    g._jwt_extended_jwt_location = "headers"
