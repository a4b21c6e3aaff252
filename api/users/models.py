"""The user account table."""

from datetime import UTC, datetime

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..dbtypes import UTCDateTime
from ..extensions import db


def utcnow():
    return datetime.now(UTC)


MAX_ID = 2**31 - 1  # an SQL INTEGER (PostgreSQL int4): larger ids cannot exist


class User(db.Model):
    """An account: unique username, argon2id hash, admin flag."""

    __tablename__ = "users"
    __table_args__ = {"sqlite_autoincrement": True}  # never reuse a deleted user's id

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    @property
    def roles(self):
        return ["user", "admin"] if self.is_admin else ["user"]
