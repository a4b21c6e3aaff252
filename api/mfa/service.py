"""TOTP enrolment, verification and second-factor login. No request objects here.

TOTP is RFC 6238 as authenticator apps expect it: SHA-1, 6 digits, 30-second
steps, computed by pyotp. A code is accepted for the current step or one step
either side (clock skew), compared in constant time, and only for a step
later than the last one accepted for that user (one atomic UPDATE, so of
concurrent requests with the same code exactly one wins, on any worker).

Every code check first reserves an attempt in the user's failure window
(``MFA_MAX_FAILURES`` per ``MFA_FAILURE_WINDOW`` seconds, atomic as well);
a success resets it. Login challenges (``mfa_token``) also allow only
``MFA_TOKEN_MAX_ATTEMPTS`` attempts each.
"""

import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from flask import Flask, current_app
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.sql import case, literal

from ..core import audit
from ..core.database import rowcount
from ..core.dbtypes import UTCDateTime
from ..core.extensions import db
from ..tokens import service as tokens
from ..users import service as users
from ..users.models import User
from . import crypto
from .models import RecoveryCode, TotpFactor
from .store import UNKNOWN, ChallengeRefused, ChallengeStore, make_store

__all__ = ["ChallengeRefused"]

STEP = 30  # seconds per RFC 6238 time step
DIGITS = 6
SKEW = 1  # steps accepted either side of the current one
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/i/l
RECOVERY_LENGTH = 10  # about 49.5 bits


class MfaError(Exception):
    """A second-factor operation that must be refused."""


class WrongPassword(MfaError):
    """The current password given for enrolment is wrong (401)."""


class InvalidCode(MfaError):
    """The code or recovery code is wrong, expired or already used (401)."""


class Conflict(MfaError):
    """The factor is not in the state the operation needs (409)."""


class TooManyAttempts(MfaError):
    """The user's failure window is full (429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many second-factor attempts; try again later.")
        self.retry_after = retry_after


def init_app(app: Flask) -> None:
    crypto.init_app(app)
    app.extensions["mfa_clock"] = time.time
    app.extensions["mfa_challenges"] = make_store(app.extensions, app.config["REDIS_KEY_PREFIX"])


def clock() -> float:
    """Seconds since the epoch (tests put a frozen clock in ``extensions["mfa_clock"]``)."""
    now: Callable[[], float] = current_app.extensions["mfa_clock"]
    return now()


def _now() -> datetime:
    return datetime.fromtimestamp(clock(), UTC)


def _setting(name: str) -> int:
    return int(current_app.config[name])


def _challenges() -> ChallengeStore:
    store: ChallengeStore = current_app.extensions["mfa_challenges"]
    return store


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP)


def _factor(user: User) -> TotpFactor | None:
    return db.session.get(TotpFactor, user.id)


def is_enabled(user: User) -> bool:
    return bool(user.mfa_enabled)


# --- enrolment --------------------------------------------------------------------------


def begin_enrolment(user: User, password: str) -> dict[str, str]:
    """A new pending secret (replacing a pending one); answers it and its otpauth URI."""
    try:
        users.check_current_password(user, password)  # RateLimited (429) past the budget
    except users.WrongPassword:
        audit.event("mfa.enrol_failed", user_id=user.id, reason="wrong password")
        raise WrongPassword("The current password is wrong.") from None
    if is_enabled(user):
        raise Conflict("Two-factor authentication is already on; turn it off first.")
    secret = pyotp.random_base32()
    factor = _factor(user) or TotpFactor(user_id=user.id)
    factor.secret = crypto.keys().seal(secret, user.id)
    factor.created_at = _now()
    factor.confirmed_at = None
    factor.last_step = None
    factor.failures = 0
    factor.failures_since = None
    db.session.add(factor)
    db.session.commit()
    audit.event("mfa.enrolled", user_id=user.id)
    issuer = current_app.config["MFA_ISSUER"]
    uri = _totp(secret).provisioning_uri(name=user.username, issuer_name=issuer)
    return {"secret": secret, "otpauth_uri": uri}


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Turn the pending factor on with a valid code; answers the recovery codes."""
    factor = _factor(user)
    if factor is None or factor.confirmed_at is not None:
        raise Conflict("No pending enrolment: start one with POST /users/me/mfa/totp.")
    _verify(user, factor, code=code)
    factor.confirmed_at = _now()
    user.mfa_enabled = True
    codes = _replace_recovery_codes(user.id)
    db.session.commit()
    audit.event("mfa.confirmed", user_id=user.id)
    return codes


def disable(
    user: User, *, code: str | None, recovery_code: str | None, keep_family: str | None
) -> None:
    """Turn the factor off (a code or recovery code needed); end every other session."""
    factor = _enabled_factor(user)
    _verify(user, factor, code=code, recovery_code=recovery_code)
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.delete(factor)
    user.mfa_enabled = False
    tokens.revoke_user(user.id, keep_family=keep_family)
    db.session.commit()
    audit.event("mfa.disabled", user_id=user.id)


def regenerate_recovery_codes(user: User, code: str) -> list[str]:
    """Replace every recovery code (a current TOTP code needed)."""
    factor = _enabled_factor(user)
    _verify(user, factor, code=code)
    codes = _replace_recovery_codes(user.id)
    db.session.commit()
    audit.event("mfa.recovery_codes_regenerated", user_id=user.id)
    return codes


def _enabled_factor(user: User) -> TotpFactor:
    factor = _factor(user)
    if factor is None or factor.confirmed_at is None or not is_enabled(user):
        raise Conflict("Two-factor authentication is not on for this account.")
    return factor


def _replace_recovery_codes(user_id: int) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    keys = crypto.keys()
    db.session.add_all(
        RecoveryCode(user_id=user_id, digest=keys.code_digest(user_id, _normal(code)))
        for code in codes
    )
    return codes


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def _normal(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


# --- verification -----------------------------------------------------------------------


def _verify(
    user: User, factor: TotpFactor, *, code: str | None = None, recovery_code: str | None = None
) -> None:
    """Check one code or recovery code within the user's attempt budget; raise if wrong."""
    _reserve_attempt(user.id)
    method = "totp" if code is not None else "recovery_code"
    if code is not None:
        ok = _accept_totp(user.id, factor.secret, code)
    else:
        ok = recovery_code is not None and _use_recovery_code(user.id, recovery_code)
    if not ok:
        db.session.commit()
        audit.event("mfa.failed", user_id=user.id, method=method)
        raise InvalidCode("The code is invalid or has already been used.")
    db.session.execute(
        update(TotpFactor)
        .where(TotpFactor.user_id == user.id)
        .values(failures=0, failures_since=None)
        .execution_options(synchronize_session=False)
    )
    if recovery_code is not None:
        left = db.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        audit.event("mfa.recovery_code_used", user_id=user.id, remaining=left)
    db.session.commit()


def _reserve_attempt(user_id: int) -> None:
    """Count an attempt in the user's fixed window, or raise :class:`TooManyAttempts`."""
    now = _now()
    window = _setting("MFA_FAILURE_WINDOW")
    limit = _setting("MFA_MAX_FAILURES")
    cut = literal(now - timedelta(seconds=window), UTCDateTime())
    new_window = or_(TotpFactor.failures_since.is_(None), TotpFactor.failures_since <= cut)
    result = db.session.execute(
        update(TotpFactor)
        .where(TotpFactor.user_id == user_id, or_(new_window, TotpFactor.failures < limit))
        .values(
            failures=case((new_window, 1), else_=TotpFactor.failures + 1),
            failures_since=case(
                (new_window, literal(now, UTCDateTime())), else_=TotpFactor.failures_since
            ),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if rowcount(result) == 1:
        return
    since = db.session.scalar(
        select(TotpFactor.failures_since).where(TotpFactor.user_id == user_id)
    )
    retry_after = window if since is None else (since - now).total_seconds() + window
    audit.event("mfa.locked", user_id=user_id)
    raise TooManyAttempts(max(1, math.ceil(retry_after)))


def _accept_totp(user_id: int, sealed: str, code: str) -> bool:
    """Whether ``code`` is valid now and for a step never accepted before (claims it)."""
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return False
    totp = _totp(crypto.keys().open(sealed, user_id))
    current = int(clock() // STEP)
    steps = range(current - SKEW, current + SKEW + 1)
    # every candidate is compared, in constant time, whatever matches first
    matches = [
        step
        for step in steps
        if hmac.compare_digest(totp.generate_otp(step).encode(), code.encode())
    ]
    if not matches:
        return False
    step = max(matches)
    claimed = db.session.execute(
        update(TotpFactor)
        .where(
            TotpFactor.user_id == user_id,
            or_(TotpFactor.last_step.is_(None), TotpFactor.last_step < step),
        )
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    return rowcount(claimed) == 1


def _use_recovery_code(user_id: int, recovery_code: str) -> bool:
    """Spend a recovery code (single use: one atomic UPDATE)."""
    normal = _normal(recovery_code)
    if len(normal) != RECOVERY_LENGTH:
        return False
    digest = crypto.keys().code_digest(user_id, normal)
    result = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.digest == digest,
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=_now())
        .execution_options(synchronize_session=False)
    )
    return rowcount(result) == 1


# --- login ------------------------------------------------------------------------------


def _token_digest(mfa_token: str) -> str:
    return hashlib.sha256(mfa_token.encode()).hexdigest()


def start_login(user: User) -> dict[str, Any]:
    """The password was right and the user has TOTP on: a challenge for ``POST /auth/mfa``."""
    token = secrets.token_urlsafe(32)
    lifetime = _setting("MFA_TOKEN_EXPIRES")
    # bound to this login: its user and the token epoch its password check saw
    epoch = getattr(user, "verified_epoch", None)
    epoch = user.token_epoch if epoch is None else epoch
    _challenges().create(_token_digest(token), user.id, int(epoch), _now(), lifetime)
    audit.event("login.mfa_required", user_id=user.id)
    return {"mfa_required": True, "mfa_token": token, "expires_in": lifetime}


def finish_login(
    mfa_token: str, *, code: str | None, recovery_code: str | None
) -> tuple[User, int]:
    """The user of a challenge whose second factor is right, and the token epoch of
    its login (for ``tokens.issue_pair``, which refuses it if a password change
    moved the epoch since); the challenge is spent.

    Raises :class:`ChallengeRefused` (unknown, expired, used, too many attempts),
    :class:`InvalidCode` or :class:`TooManyAttempts`.
    """
    digest = _token_digest(mfa_token)
    now = _now()
    try:
        user_id, epoch = _challenges().attempt(digest, now, _setting("MFA_TOKEN_MAX_ATTEMPTS"))
    except ChallengeRefused as refused:
        audit.event("mfa.challenge_refused", reason=refused.reason)
        raise
    user = users.get(user_id)
    factor = _factor(user) if user is not None else None
    if user is None or factor is None or factor.confirmed_at is None or not is_enabled(user):
        raise ChallengeRefused(UNKNOWN)  # deleted, or MFA turned off since the login
    if user.token_epoch != epoch:
        raise ChallengeRefused(UNKNOWN)  # the password changed since the login
    _verify(user, factor, code=code, recovery_code=recovery_code)
    if not _challenges().spend(digest, now):
        audit.event("mfa.challenge_refused", user_id=user.id, reason="used")
        raise ChallengeRefused("used")
    audit.event("mfa.verified", user_id=user.id, method="totp" if code else "recovery_code")
    return user, epoch
