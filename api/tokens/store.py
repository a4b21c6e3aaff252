"""Token state: issued refresh tokens, their families, and revocations.

:class:`SqlTokenStore` keeps it in the SQL database (the embedded default).
Every method commits nothing: the service decides the transaction.
"""

from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from .lookup import RevocationLookup, supported
from .models import RefreshToken, Revocation

SPENT = "spent"
FRESH = "fresh"
UNKNOWN = "unknown"


def _now():
    return datetime.now(UTC)


class SqlTokenStore:
    """Revocations and refresh families in SQL tables."""

    def is_revoked(self, *keys):
        """Whether any of ``keys`` (a jti, a family id) is revoked."""
        fast = _lookup()
        answer = fast(keys) if fast is not None else None
        if answer is not None:
            return answer
        query = select(Revocation.key).where(Revocation.key.in_(keys)).limit(1)
        return db.session.execute(query).first() is not None

    def revoke(self, key, expires_at):
        """Revoke a jti or family until ``expires_at`` (idempotent)."""
        insert = _insert_for(db.session.get_bind().dialect.name)
        statement = insert(Revocation).values(key=key, expires_at=expires_at)
        db.session.execute(statement.on_conflict_do_nothing(index_elements=["key"]))

    def add_refresh(self, jti, family, user_id, expires_at):
        db.session.add(RefreshToken(jti=jti, family=family, user_id=user_id, expires_at=expires_at))

    def spend_refresh(self, jti):
        """Mark a refresh token used: FRESH the first time, SPENT after, UNKNOWN if never issued.

        The conditional UPDATE makes concurrent presentations race safely: only
        one of them sees a row change.
        """
        result = db.session.execute(
            update(RefreshToken)
            .where(RefreshToken.jti == jti, RefreshToken.spent_at.is_(None))
            .values(spent_at=_now())
        )
        if result.rowcount == 1:
            return FRESH
        exists = db.session.execute(select(RefreshToken.jti).where(RefreshToken.jti == jti))
        return SPENT if exists.first() else UNKNOWN

    def families_of(self, user_id):
        """Every refresh family (one per login) of a user that may still be live."""
        query = (
            select(RefreshToken.family)
            .where(RefreshToken.user_id == user_id, RefreshToken.expires_at > _now())
            .distinct()
        )
        return list(db.session.scalars(query))

    def purge(self):
        """Delete expired revocations and refresh records; return how many."""
        now = _now()
        revocations = db.session.execute(delete(Revocation).where(Revocation.expires_at <= now))
        refresh = db.session.execute(delete(RefreshToken).where(RefreshToken.expires_at <= now))
        return revocations.rowcount + refresh.rowcount


def _lookup():
    """The app's persistent-connection look-up (made on first use), if its database has one."""
    extensions = current_app.extensions
    found = extensions.get("revocation_lookup")
    if found is None:
        engine = db.engine
        found = extensions["revocation_lookup"] = (
            RevocationLookup(engine) if supported(engine) else False
        )
    return found or None


def _insert_for(dialect_name):
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert
