"""The user account table."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from ..core.dbtypes import UTCDateTime
from ..core.extensions import BaseModel


def utcnow() -> datetime:
    return datetime.now(UTC)


MAX_ID = 2**31 - 1  # an SQL INTEGER (PostgreSQL int4): larger ids cannot exist


class User(BaseModel):
    """An account: unique username, argon2id hash, admin flag."""

    __tablename__ = "users"
    __table_args__ = {"sqlite_autoincrement": True}  # never reuse a deleted user's id

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    # NFKC + casefold of username (api.users.names.canonical): lookups and uniqueness
    username_canonical: Mapped[str] = mapped_column(
        String(255), nullable=False, unique=True, index=True
    )
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # set by api.mfa once a TOTP factor is confirmed: login then asks for a code
    mfa_enabled: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # moved on by a password change or deletion: sessions of an older epoch are dead
    token_epoch: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")

    if TYPE_CHECKING:
        # not a column: set by users.service.authenticate on the user it returns
        verified_epoch: int | None

    @property
    def roles(self) -> list[str]:
        return ["user", "admin"] if self.is_admin else ["user"]
