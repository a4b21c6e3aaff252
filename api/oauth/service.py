"""The OAuth 2 grants, revocation and introspection, on top of tokens and auth.

No request objects here: the routes pass what they read from the form. Every
refusal is an :class:`OAuthError` naming its RFC 6749 §5.2 error code.
"""

from typing import Any

from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import PyJWTError

from ..auth import service as auth
from ..core import audit
from ..core.extensions import db
from ..tokens import service as tokens
from ..users import service as users
from .schemas import TOKEN_MAX

INACTIVE: dict[str, Any] = {"active": False}


class OAuthError(Exception):
    """A refused OAuth request: ``error`` is the RFC 6749 code, the message its description."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.status = status


def decode(token: str) -> dict[str, Any] | None:
    """The claims of a token we issued that verifies now (any type), else None.

    Signature, key, ``typ``, ``iss``, ``aud``, ``exp`` and ``nbf`` are checked
    as on every request; revocation is not (see :func:`live_claims`).
    """
    if not token or len(token) > TOKEN_MAX or "\x00" in token:
        return None
    try:
        claims: dict[str, Any] = decode_token(token)
    except (PyJWTError, JWTExtendedException, ValueError, TypeError):
        return None
    return claims


def live_claims(token: str, token_type: str) -> dict[str, Any] | None:
    """The claims of an unrevoked token of ``token_type`` (``access``/``refresh``), or None."""
    claims = decode(token)
    if claims is None or claims.get("type") != token_type or tokens.is_revoked(claims):
        return None
    return claims


def password_grant(username: str, password: str, client: tokens.Client) -> dict[str, Any]:
    """RFC 6749 §4.3: the shared password login, then a fresh token pair (a new session)."""
    try:
        user = auth.password_login(username, password)
        return tokens.issue_pair(user, fresh=True, client=client)
    except auth.SecondFactorRequired:
        # /auth/login answers an mfa_token here too: the right password is no secret to
        # its owner, and the grant has no second step to offer
        raise OAuthError(
            "invalid_grant",
            "This account uses two-factor authentication: log in with POST /auth/login, "
            "then POST /auth/mfa.",
        ) from None
    except (auth.LoginFailed, tokens.LoginRefused):
        raise OAuthError("invalid_grant", auth.LOGIN_FAILED) from None


def refresh_grant(refresh_token: str, client: tokens.Client) -> dict[str, Any]:
    """RFC 6749 §6: the same rotation and reuse detection as ``POST /auth/refresh``."""
    claims = decode(refresh_token)
    if claims is None or claims.get("type") != "refresh":
        raise OAuthError("invalid_grant", "The refresh token is invalid or expired.")
    auth.count_refresh(claims)  # the same per-session budget: RateLimited before any work
    if tokens.is_revoked(claims):
        raise OAuthError("invalid_grant", "Token has been revoked.")
    try:
        return tokens.rotate(claims, users.get, client)
    except tokens.TokenReused as error:
        audit.event("refresh.reuse_detected", user_id=int(claims["sub"]), family=claims["fam"])
        raise OAuthError("invalid_grant", str(error)) from None
    except tokens.TokenError as error:
        raise OAuthError("invalid_grant", str(error)) from None


def revoke(token: str) -> None:
    """RFC 7009: an access token is revoked, a refresh token ends its session.

    Anything else (unknown, expired, malformed, already revoked) is ignored:
    the endpoint answers 200 either way (§2.2).
    """
    claims = decode(token)
    if claims is None:
        return
    if claims.get("type") == "access":
        tokens.revoke_token_id(claims)
        db.session.commit()
    elif claims.get("type") == "refresh" and isinstance(claims.get("fam"), str):
        tokens.end_session(int(claims["sub"]), claims["fam"])
    else:
        return
    audit.event("token.revoked", user_id=int(claims["sub"]), token_type=claims["type"])


def introspect(token: str) -> dict[str, Any]:
    """RFC 7662 §2.2: what a resource server may know about an access token."""
    claims = live_claims(token, "access")
    if claims is None:
        return INACTIVE
    roles = [str(role) for role in claims.get("roles") or ()]
    answer: dict[str, Any] = {
        "active": True,
        "sub": claims["sub"],
        "username": claims.get("preferred_username"),
        "token_type": "Bearer",
        "exp": claims["exp"],
        "iat": claims["iat"],
        "nbf": claims.get("nbf"),
        "jti": claims["jti"],
        "iss": claims.get("iss"),
        "aud": claims.get("aud"),
        "scope": " ".join(roles),
        "roles": roles,
    }
    return {name: value for name, value in answer.items() if value is not None}
