"""Issue, rotate and revoke tokens (RFC 9700 §4.14 refresh rotation).

Each login starts a refresh *family*; every token of the session carries its
id in the ``fam`` claim. Refreshing spends the presented refresh token and
issues a new pair in the same family. Presenting a spent refresh token again
is treated as theft: the whole family is revoked, which also ends every
access token of that session.
"""

import uuid
from datetime import UTC, datetime

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import PyJWTError

from ..extensions import db
from . import signing
from .redis_store import RedisTokenStore
from .store import FRESH, SPENT, SqlTokenStore


class TokenError(Exception):
    """A refresh or logout request that must be refused (401)."""


class TokenReused(TokenError):
    """A spent refresh token came back: its family is now revoked."""


def store():
    return current_app.extensions["token_store"]


def init_app(app):
    """Keep token state in Redis when ``REDIS_URL`` is set, else in the database."""
    client = app.extensions.get("redis")
    if client is not None:
        app.extensions["token_store"] = RedisTokenStore(client, app.config["REDIS_KEY_PREFIX"])
    else:
        app.extensions["token_store"] = SqlTokenStore()


def _lifetime(name):
    value = current_app.config[name]
    return value.total_seconds() if hasattr(value, "total_seconds") else int(value)


def _expiry(name):
    return datetime.fromtimestamp(datetime.now(UTC).timestamp() + _lifetime(name), UTC)


def issue_pair(user, *, fresh, family=None):
    """A new access + refresh token pair for ``user`` (committed)."""
    family = family or str(uuid.uuid4())
    key = signing.signing_key()
    refresh_jti = str(uuid.uuid4())
    identity = str(user.id)
    access = create_access_token(
        identity,
        fresh=fresh,
        additional_claims={
            "roles": user.roles,
            "preferred_username": user.username,
            "fam": family,
        },
        additional_headers={"kid": key.kid, "typ": signing.ACCESS_TYP},
    )
    refresh = create_refresh_token(
        identity,
        additional_claims={"fam": family, "jti": refresh_jti},
        additional_headers={"kid": key.kid},
    )
    store().add_refresh(refresh_jti, family, user.id, _expiry("JWT_REFRESH_TOKEN_EXPIRES"))
    db.session.commit()
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": int(_lifetime("JWT_ACCESS_TOKEN_EXPIRES")),
    }


def is_revoked(claims):
    """The per-request check: is this token or its session revoked?"""
    keys = [claims["jti"]]
    if claims.get("fam"):
        keys.append(claims["fam"])
    return store().is_revoked(*keys)


def rotate(claims, load_user):
    """Spend the refresh token in ``claims`` and issue the next pair.

    ``load_user(user_id)`` returns the user or None (deleted).
    """
    # the user is read first: a database outage then fails the request before
    # the token is spent, so the client can retry with the same refresh token
    user = load_user(int(claims["sub"]))
    state = store().spend_refresh(claims["jti"])
    if state == SPENT:
        revoke_family(claims["fam"])
        db.session.commit()
        raise TokenReused("Refresh token reuse detected; the session has been revoked.")
    if state != FRESH or user is None:
        db.session.rollback()
        raise TokenError("Token has been revoked.")
    return issue_pair(user, fresh=False, family=claims["fam"])


def revoke_family(family):
    store().revoke(family, _expiry("JWT_REFRESH_TOKEN_EXPIRES"))


def logout(claims, refresh_token=None):
    """End this session: the access token and its refresh family (committed).

    A refresh token given in the body is revoked too when it belongs to the
    same user; one that does not verify or belongs to someone else is refused.
    """
    other = None
    if refresh_token:
        # checked before anything is written: a refused logout revokes nothing
        other = _decode_refresh(refresh_token)
        if other is None or other["sub"] != claims["sub"]:
            raise TokenError("The refresh token is invalid for this user.")
    store().revoke(claims["jti"], datetime.fromtimestamp(claims["exp"], UTC))
    revoke_family(claims["fam"])
    if other is not None and other["fam"] != claims["fam"]:
        revoke_family(other["fam"])
    db.session.commit()


def _decode_refresh(token):
    try:
        decoded = decode_token(token, allow_expired=True)
    except (PyJWTError, JWTExtendedException):
        return None
    return decoded if decoded.get("type") == "refresh" else None


def revoke_user(user_id, *, keep_family=None):
    """End every session of a user, except ``keep_family`` (not committed)."""
    for family in store().families_of(user_id):
        if family != keep_family:
            revoke_family(family)
