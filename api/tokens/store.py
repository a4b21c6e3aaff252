"""Token state behind one interface, in SQL (the embedded default) or Redis.

A session row (or hash) per login holds the one live refresh token id of that
session and the user's token epoch it belongs to. The per-request check asks,
in one round trip, whether the token id is revoked and whether its session is
still alive under the user's current epoch. Every SQL method commits nothing:
the service decides the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from flask import current_app
from sqlalchemy import Integer, column, delete, func, select, table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ..core.database import rowcount
from ..core.extensions import db
from .lookup import SessionLookup, supported
from .models import Revocation
from .models import Session as SessionRow

SPENT = "spent"
FRESH = "fresh"
UNKNOWN = "unknown"

# The users table as far as tokens need it (no import of the users package).
USERS = table("users", column("id", Integer), column("token_epoch", Integer))


@dataclass(frozen=True)
class SessionRecord:
    """What a store keeps of one session."""

    id: str
    user_id: int
    epoch: int
    refresh_jti: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None = None
    ip: str | None = None


class EpochMoved(Exception):
    """The user's epoch moved on (password changed, user deleted) while logging in."""


class TokenStore(Protocol):
    """What the token service needs from a store (SQL or Redis)."""

    def is_revoked(self, jti: str, family: str | None, user_id: int) -> bool: ...

    def revoke(self, key: str, expires_at: datetime) -> None: ...

    def create_session(self, record: SessionRecord, max_sessions: int) -> None: ...

    def rotate(
        self,
        family: str,
        user_id: int,
        old_jti: str,
        new_jti: str,
        now: datetime,
        expires_at: datetime,
    ) -> str: ...

    def sessions_of(self, user_id: int) -> list[SessionRecord]: ...

    def end_session(self, user_id: int, family: str) -> bool: ...

    def end_sessions(self, user_id: int, *, keep: str | None = None) -> int: ...

    def move_epoch(self, user_id: int, epoch: int, *, keep: str | None) -> None: ...

    def purge(self) -> int: ...


def now() -> datetime:
    return datetime.now(UTC)


class SqlTokenStore:
    """Sessions and revocations in SQL tables (same database as the users)."""

    def is_revoked(self, jti: str, family: str | None, user_id: int) -> bool:
        """Revoked unless the jti is not revoked and its session lives in the user's epoch."""
        if family is None:
            return True
        fast = _lookup()
        answer = fast(jti, family, user_id) if fast is not None else None
        if answer is not None:
            return answer
        revoked = select(Revocation.key).where(Revocation.key == jti).exists()
        alive = (
            select(SessionRow.id)
            .join(USERS, USERS.c.id == SessionRow.user_id)
            .where(
                SessionRow.id == family,
                SessionRow.user_id == user_id,
                SessionRow.epoch == USERS.c.token_epoch,
            )
            .exists()
        )
        row = db.session.execute(select(revoked, alive)).one()
        return bool(row[0]) or not bool(row[1])

    def revoke(self, key: str, expires_at: datetime) -> None:
        """Revoke a token id until ``expires_at`` (idempotent)."""
        insert = _insert_for(db.session.get_bind().dialect.name)
        statement = insert(Revocation).values(key=key, expires_at=expires_at)
        db.session.execute(statement.on_conflict_do_nothing(index_elements=["key"]))

    def create_session(self, record: SessionRecord, max_sessions: int) -> None:
        """Insert the session; a user deleted meanwhile raises :class:`EpochMoved`.

        The epoch is the one read with the password hash that was verified: if a
        password change commits in between, the new session is dead on arrival.
        """
        db.session.add(SessionRow(**record.__dict__))
        try:
            db.session.flush()
        except IntegrityError:  # the user row is gone (foreign key)
            db.session.rollback()
            raise EpochMoved() from None
        oldest = (
            select(SessionRow.id)
            .where(SessionRow.user_id == record.user_id)
            .order_by(SessionRow.last_used_at.desc(), SessionRow.id)
            .offset(max_sessions)
        )
        extra = list(db.session.scalars(oldest))
        if extra:
            db.session.execute(delete(SessionRow).where(SessionRow.id.in_(extra)))

    def rotate(
        self,
        family: str,
        user_id: int,
        old_jti: str,
        new_jti: str,
        now: datetime,
        expires_at: datetime,
    ) -> str:
        """Swap the session's refresh token id: FRESH once; SPENT (session ended) on reuse.

        The conditional UPDATE lets exactly one of concurrent presentations win.
        """
        result = db.session.execute(
            update(SessionRow)
            .where(
                SessionRow.id == family,
                SessionRow.user_id == user_id,
                SessionRow.refresh_jti == old_jti,
            )
            .values(refresh_jti=new_jti, last_used_at=now, expires_at=expires_at)
        )
        if rowcount(result) == 1:
            return FRESH
        if self.end_session(user_id, family):
            return SPENT
        return UNKNOWN

    def sessions_of(self, user_id: int) -> list[SessionRecord]:
        """The user's live sessions, most recently used first."""
        query = (
            select(SessionRow)
            .join(USERS, USERS.c.id == SessionRow.user_id)
            .where(
                SessionRow.user_id == user_id,
                SessionRow.expires_at > now(),
                SessionRow.epoch == USERS.c.token_epoch,
            )
            .order_by(SessionRow.last_used_at.desc(), SessionRow.id)
        )
        return [_record(row) for row in db.session.scalars(query)]

    def end_session(self, user_id: int, family: str) -> bool:
        result = db.session.execute(
            delete(SessionRow).where(SessionRow.id == family, SessionRow.user_id == user_id)
        )
        return rowcount(result) == 1

    def end_sessions(self, user_id: int, *, keep: str | None = None) -> int:
        statement = delete(SessionRow).where(SessionRow.user_id == user_id)
        if keep is not None:
            statement = statement.where(SessionRow.id != keep)
        return rowcount(db.session.execute(statement))

    def move_epoch(self, user_id: int, epoch: int, *, keep: str | None) -> None:
        """The user is now in ``epoch`` (already written): ``keep`` moves along, others end."""
        if keep is not None:
            db.session.execute(
                update(SessionRow)
                .where(SessionRow.id == keep, SessionRow.user_id == user_id)
                .values(epoch=epoch)
            )
        self.end_sessions(user_id, keep=keep)

    def count(self) -> int:
        return int(db.session.scalar(select(func.count()).select_from(SessionRow)) or 0)

    def purge(self) -> int:
        """Delete expired revocations and sessions; return how many."""
        moment = now()
        revocations = db.session.execute(delete(Revocation).where(Revocation.expires_at <= moment))
        sessions = db.session.execute(delete(SessionRow).where(SessionRow.expires_at <= moment))
        return rowcount(revocations) + rowcount(sessions)


def _record(row: SessionRow) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        user_id=row.user_id,
        epoch=row.epoch,
        refresh_jti=row.refresh_jti,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        user_agent=row.user_agent,
        ip=row.ip,
    )


def _lookup() -> SessionLookup | None:
    """The app's persistent-connection look-up (made on first use), if its database has one."""
    extensions = current_app.extensions
    found = extensions.get("session_lookup")
    if found is None:
        engine = db.engine
        found = extensions["session_lookup"] = SessionLookup(engine) if supported(engine) else False
    return cast(SessionLookup, found) if found else None


def _insert_for(dialect_name: str) -> Any:
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert
