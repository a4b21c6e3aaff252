"""Password login shared by ``POST /auth/login`` and the OAuth 2 password grant.

No request objects here: the routes pass what they read from the request.
"""

from collections.abc import Mapping
from typing import Any

from ..core import audit, throttle
from ..core.throttle import RateLimited
from ..mfa import service as mfa
from ..users import service as users
from ..users.models import User
from ..users.names import canonical

LOGIN_FAILED = "Invalid username or password."
__all__ = [
    "LOGIN_FAILED",
    "LoginFailed",
    "RateLimited",
    "SecondFactorRequired",
    "count_refresh",
    "password_login",
    "username_key",
]


class LoginFailed(Exception):
    """Unknown user or wrong password (one answer for both: no enumeration)."""


class SecondFactorRequired(LoginFailed):
    """The password is right but the user has TOTP on: no tokens without a code.

    A :class:`LoginFailed`, so a caller that knows nothing of second factors
    (e.g. a password grant) refuses the login instead of issuing tokens;
    ``POST /auth/login`` catches it and answers an ``mfa_token`` instead.
    """

    def __init__(self, user: User) -> None:
        super().__init__(
            "This account uses two-factor authentication: log in with POST /auth/login, "
            "then POST /auth/mfa with a code."
        )
        self.user = user


def username_key(username: str) -> str:
    """The per-username limit's key: the canonical form accounts are looked up in,
    hashed (the raw attempt, often a mistyped password, is never stored)."""
    return throttle.digest(canonical(username))


def password_login(username: str, password: str) -> User:
    """The user whose password this is; audits the attempt.

    The attempt is counted against ``RATELIMIT_LOGIN_USERNAME`` before the
    password is verified, and given back when the password is right, so only
    failures count and concurrent guesses cannot overshoot the limit. Raises
    :class:`LoginFailed`, :class:`SecondFactorRequired` (a subclass) for a right
    password of a user with TOTP on, or :class:`RateLimited` without verifying anything.
    """
    attempt = throttle.hit("RATELIMIT_LOGIN_USERNAME", username_key(username))
    user = users.authenticate(username, password)
    if user is None:
        # never the raw text (often a password typed into the wrong field): a keyed hash
        # of the canonical form correlates attempts on one account
        audit.event("login.failure", username_hmac=audit.keyed_hash(canonical(username)))
        raise LoginFailed(LOGIN_FAILED)
    throttle.refund(attempt)  # the password was right
    if mfa.is_enabled(user):
        raise SecondFactorRequired(user)
    audit.event("login.success", user_id=user.id)
    return user


def count_refresh(claims: Mapping[str, Any]) -> None:
    """Count a refresh against ``RATELIMIT_REFRESH`` for its session (the ``fam`` claim).

    Raises :class:`RateLimited` before anything is spent or issued.
    """
    session = claims.get("fam") or f"user-{claims['sub']}"
    throttle.hit("RATELIMIT_REFRESH", str(session))
