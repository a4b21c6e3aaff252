"""Tables of the SQL token store: sessions and revoked token ids.

A *session* is one login: every token it issues carries its id in the ``fam``
claim. It holds the id of its one live refresh token (so a session keeps one
refresh record however often it refreshes) and the user's token epoch it was
created under: a password change or a deletion moves the user to a new epoch,
and a session is valid only while its epoch is the user's.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..core.dbtypes import UTCDateTime
from ..core.extensions import BaseModel

USER_AGENT_MAX = 200
IP_MAX = 45  # an IPv6 address in text form


class Session(BaseModel):
    """One login: its live refresh token, epoch and what the user may want to see."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    epoch: Mapped[int] = mapped_column(Integer, nullable=False)
    refresh_jti: Mapped[str] = mapped_column(String(36), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_MAX))
    ip: Mapped[str | None] = mapped_column(String(IP_MAX))


class Revocation(BaseModel):
    """A revoked token id (``jti``), kept until the token would have expired."""

    __tablename__ = "revocations"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
