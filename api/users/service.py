"""User accounts: create, authenticate, look up, delete. No request objects here."""

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from ..core import throttle
from ..core.extensions import db
from ..tokens import service as tokens
from .models import User
from .names import canonical
from .passwords import Passwords


class UsernameTaken(Exception):
    """The username is already registered (409)."""


class WrongPassword(Exception):
    """The current password given for a change is wrong (401)."""


def passwords() -> Passwords:
    found: Passwords = current_app.extensions["passwords"]
    return found


def create(username: str, password: str, *, is_admin: bool = False) -> User:
    """Create a user; the unique constraint, not a prior read, decides conflicts."""
    user = User(
        username=username,
        username_canonical=canonical(username),
        password_hash=passwords().hash(password),
        is_admin=is_admin,
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise UsernameTaken(username) from None
    return user


def authenticate(username: str, password: str) -> User | None:
    """The user if the password matches, else None, at the same cost either way.

    The user's token epoch is read in the same row as the hash that is verified
    and kept as ``user.verified_epoch``: a session started from this login lives
    only while that epoch is current (see api.tokens.service).
    """
    user = None
    if "\x00" not in username:  # no username has NUL, and PostgreSQL text cannot hold it
        query = select(User).where(User.username_canonical == canonical(username))
        user = db.session.execute(query).scalar_one_or_none()
    verified_epoch = user.token_epoch if user else None
    # verify first, for the same cost either way (it is False without a user)
    if not passwords().verify(user.password_hash if user else None, password) or user is None:
        return None
    if passwords().needs_rehash(user.password_hash):
        _rehash(user, password, verified_epoch)
    user.verified_epoch = verified_epoch
    return user


def _rehash(user: User, password: str, epoch: int | None) -> None:
    """Store a hash with today's parameters, unless the password changed meanwhile."""
    db.session.execute(
        update(User)
        .where(User.id == user.id, User.token_epoch == epoch)
        .values(password_hash=passwords().hash(password))
    )
    db.session.commit()


def get(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def page(page_number: int, page_size: int) -> tuple[list[User], int]:
    """One page of users by id, and the total count."""
    total = db.session.scalar(select(func.count()).select_from(User)) or 0  # COUNT: never NULL
    offset = (page_number - 1) * page_size
    if offset >= total:  # also keeps huge page numbers out of SQL (64-bit OFFSET)
        return [], total
    query = select(User).order_by(User.id).offset(offset).limit(page_size)
    return list(db.session.scalars(query)), total


def check_current_password(user: User, password: str) -> None:
    """Check the signed-in user's password (password change, MFA enrolment).

    Every such check shares one budget per user, ``RATELIMIT_PASSWORD_CHANGE``,
    counted before the hash is verified and given back when it matches, so a
    stolen access token cannot be used to guess the password through any of them:
    raises :class:`~api.core.throttle.RateLimited` or :class:`WrongPassword`.
    """
    attempt = throttle.hit("RATELIMIT_PASSWORD_CHANGE", str(user.id))
    if not passwords().verify(user.password_hash, password):
        raise WrongPassword()
    throttle.refund(attempt)


def change_password(
    user: User, current_password: str, new_password: str, *, keep_family: str | None
) -> None:
    """Set a new password and end every other session of the user.

    ``current_password`` is checked by :func:`check_current_password` (rate
    limited per user): raises :class:`~api.core.throttle.RateLimited` or
    :class:`WrongPassword`.
    """
    check_current_password(user, current_password)
    user.password_hash = passwords().hash(new_password)
    tokens.revoke_user(user.id, keep_family=keep_family)
    db.session.commit()


def delete(user: User) -> None:
    """Delete a user; every token they hold stops working at once."""
    tokens.revoke_user(user.id)
    db.session.delete(user)
    db.session.commit()
