"""Issue, rotate and revoke tokens; sessions (RFC 9700 §4.14 refresh rotation).

Each login starts a *session* (its id is the ``fam`` claim of every token it
issues). The session holds its one live refresh token id: refreshing swaps it
for the next one; presenting any other refresh token of the session is
treated as theft and ends the session, which also ends its access tokens.

A password change or a user's deletion moves the user to a new *token epoch*.
A session is created under the epoch read together with the password hash that
was verified, and is valid only while that is still the user's epoch: a login
that verified the old password cannot outlive the change, whatever the timing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt import PyJWTError
from sqlalchemy import update

from ..core.database import rowcount
from ..core.extensions import db
from . import signing
from .models import IP_MAX, USER_AGENT_MAX
from .store import (
    FRESH,
    SPENT,
    USERS,
    EpochMoved,
    SessionRecord,
    SqlTokenStore,
    TokenStore,
    now,
)

__all__ = ["Client", "EpochMoved", "SessionRecord", "TokenError", "TokenReused"]

HEAL_ATTEMPTS = 3


class TokenError(Exception):
    """A refresh or logout request that must be refused (401)."""


class TokenReused(TokenError):
    """A spent refresh token came back: its session is now ended."""


class LoginRefused(Exception):
    """The password verified is no longer the user's (changed or deleted meanwhile)."""


class TokenOwner(Protocol):
    """What issuing needs of a user (the users package's ``User``)."""

    id: int
    username: str
    token_epoch: int

    @property
    def roles(self) -> list[str]: ...  # read-only on User


@dataclass(frozen=True)
class Client:
    """Who is logging in or refreshing, as the sessions list shows it."""

    user_agent: str | None = None
    ip: str | None = None

    def trimmed(self) -> Client:
        agent = (self.user_agent or "")[:USER_AGENT_MAX] or None
        return Client(agent, (self.ip or "")[:IP_MAX] or None)


def store() -> TokenStore:
    return current_app.extensions["token_store"]  # type: ignore[no-any-return]


def init_app(app: Any) -> None:
    """Keep token state in Redis when ``REDIS_URL`` is set, else in the database."""
    client = app.extensions.get("redis")
    if client is not None:
        from .redis_store import RedisTokenStore  # redis-py only where Redis is used

        app.extensions["token_store"] = RedisTokenStore(client, app.config["REDIS_KEY_PREFIX"])
    else:
        app.extensions["token_store"] = SqlTokenStore()


def _lifetime(name: str) -> float:
    value = current_app.config[name]
    return value.total_seconds() if hasattr(value, "total_seconds") else int(value)


def _expiry(name: str) -> datetime:
    return datetime.fromtimestamp(datetime.now(UTC).timestamp() + _lifetime(name), UTC)


def _sign_pair(user: TokenOwner, *, fresh: bool, family: str, refresh_jti: str) -> dict[str, Any]:
    key = signing.signing_key()
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
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": int(_lifetime("JWT_ACCESS_TOKEN_EXPIRES")),
    }


def issue_pair(
    user: TokenOwner, *, fresh: bool, epoch: int | None = None, client: Client | None = None
) -> dict[str, Any]:
    """Start a session for ``user`` and return its first token pair (committed).

    ``epoch`` is the user's token epoch read in the same row as the password
    hash that was verified (``user.verified_epoch`` after
    ``users.service.authenticate``); it defaults to ``user.token_epoch``.
    Raises :class:`LoginRefused` when the user's epoch moved on meanwhile.
    """
    if epoch is None:
        epoch = getattr(user, "verified_epoch", None)
    if epoch is None:
        epoch = user.token_epoch
    client = (client or Client()).trimmed()
    family, refresh_jti, moment = str(uuid.uuid4()), str(uuid.uuid4()), now()
    for _ in range(HEAL_ATTEMPTS):
        record = SessionRecord(
            id=family,
            user_id=user.id,
            epoch=epoch,
            refresh_jti=refresh_jti,
            created_at=moment,
            last_used_at=moment,
            expires_at=_expiry("JWT_REFRESH_TOKEN_EXPIRES"),
            user_agent=client.user_agent,
            ip=client.ip,
        )
        try:
            store().create_session(record, current_app.config["MAX_SESSIONS_PER_USER"])
            break
        except EpochMoved as moved:
            if not moved.args:  # SQL: the user row is gone
                raise LoginRefused() from None
            epoch = _adopt_epoch(user.id, epoch, moved.args[0])
    else:
        raise LoginRefused()
    pair = _sign_pair(user, fresh=fresh, family=family, refresh_jti=refresh_jti)
    db.session.commit()
    return pair


def _adopt_epoch(user_id: int, verified: int, newer: int) -> int:
    """Redis is ahead of the database (a password change in flight, or one whose
    database commit failed after Redis moved). Move the user's row from the
    verified epoch to Redis' one *only if it is still the verified epoch*: an
    in-flight change holds the row until it commits, after which this matches
    nothing and the login is refused; a failed change left the row as it was,
    and the login goes on under the newer epoch."""
    db.session.commit()  # a fresh transaction: SQLite cannot upgrade a stale read
    moved = db.session.execute(
        update(USERS)
        .where(USERS.c.id == user_id, USERS.c.token_epoch == verified)
        .values(token_epoch=newer)
    )
    db.session.commit()
    if rowcount(moved) != 1:
        raise LoginRefused()
    return newer


def is_revoked(claims: dict[str, Any]) -> bool:
    """The per-request check (one round trip): the token id revoked, its session ended,
    or the session no longer in its user's epoch."""
    try:
        user_id = int(claims["sub"])
    except (KeyError, TypeError, ValueError):
        return True
    return store().is_revoked(claims["jti"], claims.get("fam"), user_id)


def rotate(
    claims: dict[str, Any],
    load_user: Callable[[int], TokenOwner | None],
    client: Client | None = None,
) -> dict[str, Any]:
    """Spend the refresh token in ``claims`` and issue the session's next pair.

    ``load_user(user_id)`` returns the user or None (deleted).
    """
    # the user is read first: a database outage then fails the request before
    # the token is spent, so the client can retry with the same refresh token
    user_id = int(claims["sub"])
    user = load_user(user_id)
    new_jti = str(uuid.uuid4())
    state = store().rotate(
        claims["fam"], user_id, claims["jti"], new_jti, now(), _expiry("JWT_REFRESH_TOKEN_EXPIRES")
    )
    if state == SPENT:
        db.session.commit()
        raise TokenReused("Refresh token reuse detected; the session has been revoked.")
    if state != FRESH or user is None:
        db.session.rollback()
        raise TokenError("Token has been revoked.")
    pair = _sign_pair(user, fresh=False, family=claims["fam"], refresh_jti=new_jti)
    db.session.commit()
    return pair


def logout(claims: dict[str, Any], refresh_token: str | None = None) -> None:
    """End this session (and the session of ``refresh_token``, same user) (committed).

    A refresh token that does not verify or belongs to someone else is refused
    before anything is written.
    """
    other = None
    if refresh_token:
        other = _decode_refresh(refresh_token)
        if other is None or other["sub"] != claims["sub"]:
            raise TokenError("The refresh token is invalid for this user.")
    user_id = int(claims["sub"])
    store().end_session(user_id, claims["fam"])
    if other is not None and other["fam"] != claims["fam"]:
        store().end_session(user_id, other["fam"])
    db.session.commit()


def revoke_token_id(claims: dict[str, Any]) -> None:
    """Revoke one token by its ``jti`` until it expires (not committed)."""
    store().revoke(claims["jti"], datetime.fromtimestamp(claims["exp"], UTC))


def _decode_refresh(token: str) -> dict[str, Any] | None:
    try:
        decoded = decode_token(token, allow_expired=True)
    except (PyJWTError, JWTExtendedException):
        return None
    return decoded if decoded.get("type") == "refresh" else None


def sessions_of(user_id: int) -> list[SessionRecord]:
    """The user's live sessions, most recently used first."""
    return store().sessions_of(user_id)


def end_session(user_id: int, session_id: str) -> bool:
    """End one session of the user (committed); False if the user has no such session."""
    ended = store().end_session(user_id, session_id)
    db.session.commit()
    return ended


def end_sessions(user_id: int, *, keep: str | None = None) -> int:
    """End every session of the user except ``keep`` (committed); how many ended."""
    ended = store().end_sessions(user_id, keep=keep)
    db.session.commit()
    return ended


def revoke_user(user_id: int, *, keep_family: str | None = None) -> int:
    """Move the user to a new token epoch: every session ends except ``keep_family``,
    including sessions being created right now. Not committed: the caller commits
    the change (new password, deletion) in the same transaction.

    The database row is written first and holds its lock until the caller
    commits, so a racing login either read the old epoch (and its session dies)
    or waits and sees the new one. On the Redis store the new epoch is in Redis
    before the commit; if the commit then fails, sessions have ended, which is
    the safe side, and logins heal the epoch (see :func:`_adopt_epoch`).
    """
    epoch = db.session.execute(
        update(USERS)
        .where(USERS.c.id == user_id)
        .values(token_epoch=USERS.c.token_epoch + 1)
        .returning(USERS.c.token_epoch)
    ).scalar_one()
    store().move_epoch(user_id, int(epoch), keep=keep_family)
    return int(epoch)
