"""Tables of the second factor: the TOTP secret, recovery codes, login challenges."""

from datetime import UTC, datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..core.dbtypes import UTCDateTime
from ..core.extensions import BaseModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class TotpFactor(BaseModel):
    """A user's TOTP secret (encrypted), pending until confirmed with a code.

    ``last_step`` is the highest RFC 6238 time step ever accepted: a code is
    accepted only for a later step, so each code works once (RFC 6238 §5.2).
    ``failures`` / ``failures_since`` count code attempts in a fixed window,
    shared by every worker (the per-user limit).
    """

    __tablename__ = "mfa_totp"

    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    failures_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RecoveryCode(BaseModel):
    """One single-use recovery code, stored as a keyed hash (HMAC-SHA256)."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MfaChallenge(BaseModel):
    """A pending second-factor login (SQL store): the hash of its ``mfa_token``."""

    __tablename__ = "mfa_challenges"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    # the user's token epoch when the password was verified: a password change
    # before the second step moves it, and the second step then issues nothing
    epoch: Mapped[int] = mapped_column(Integer, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
